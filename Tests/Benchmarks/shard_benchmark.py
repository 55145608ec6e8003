"""A sharded AXIS merge against the same merge on one machine, in one script: SmolLM2-135M (f32)
and three fine-tunes (the mergekit benchmark's models), merged once whole and once as N = 4 parts
(`merge --shard I/4`, each part a separate process with this machine's threads, as a node would run
it) then `assemble`. Printed: the one-machine seconds, each part's, the assembly's, the wall time
four such nodes would take (slowest part + assembly) and the total work, as ratios against the
one-machine run; and whether the assembled model is byte-identical to it.

Then zstd model files on the same base (538 MB f32): `convert BASE model.safetensors.zst --zstd 3`
against `convert BASE model.safetensors` followed by the zstd tool (`zstd -3 -T<threads>`), and
reading the compressed file (`convert model.safetensors.zst out.safetensors`) against `zstd -d`
followed by `convert`, with the compressed sizes."""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import mergekit_benchmark  # noqa: E402  (its models: SmolLM2-135M f32 and three fine-tunes)

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
FOLDER = os.path.join(os.environ.get("BENCH_DIR", ".build/bench"), "shard")
PARTS = 4


def timed(arguments):
    start = time.perf_counter()
    done = subprocess.run([AMALGAM, *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"amalgam {' '.join(arguments)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - start


def main():
    mergekit_benchmark.make_models()
    models = mergekit_benchmark.FOLDER
    shutil.rmtree(FOLDER, ignore_errors=True)
    os.makedirs(FOLDER)
    merge = ["merge", "--base", os.path.join(models, "base")]
    for k in range(3):
        merge += ["--source", os.path.join(models, f"ft{k}")]
    one = timed(merge + ["--output", os.path.join(FOLDER, "one") + "/"])
    parts = [timed(merge + ["--shard", f"{i}/{PARTS}", "--parts", os.path.join(FOLDER, "parts")])
             for i in range(PARTS)]
    assemble = timed(["assemble", os.path.join(FOLDER, "parts"), "--output", os.path.join(FOLDER, "two") + "/"])
    with open(os.path.join(FOLDER, "one", "model.safetensors"), "rb") as a, \
            open(os.path.join(FOLDER, "two", "model.safetensors"), "rb") as b:
        identical = a.read() == b.read()
    wall = max(parts) + assemble
    work = sum(parts) + assemble
    threads = os.cpu_count() or 1
    print(f"sharded AXIS merge: SmolLM2-135M f32 base + 3 fine-tunes, {PARTS} parts, {threads} threads each")
    print(f"  one machine:               {one:7.2f} s")
    print("  parts:                     " + ", ".join(f"{p:.2f}" for p in parts) + " s")
    print(f"  assemble:                  {assemble:7.2f} s")
    print(f"  {PARTS} nodes (slowest + assemble): {wall:7.2f} s   ratio {wall / one:.3f} against one machine")
    print(f"  work in all (sum):         {work:7.2f} s   ratio {work / one:.3f} against one machine")
    print(f"  assembled model byte-identical to the one-machine merge: {'yes' if identical else 'NO'}")
    if not identical:
        raise SystemExit("the assembled model differs from the one-machine merge")
    compressed_files(os.path.join(models, "base"), threads)


def shell(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def compressed_files(base, threads):
    if shutil.which("zstd") is None:
        print("the zstd tool is not installed: the zstd comparison is skipped")
        return
    folder = os.path.join(FOLDER, "zstd")
    os.makedirs(folder)
    ours = os.path.join(folder, "model.safetensors.zst")
    plain = os.path.join(folder, "plain", "model.safetensors")
    theirs = os.path.join(folder, "reference.safetensors.zst")
    write = timed(["convert", base, ours, "--zstd", "3"])
    write_plain = timed(["convert", base, os.path.dirname(plain) + "/"])
    compress = shell(["zstd", "-q", "-3", f"-T{threads}", plain, "-o", theirs])
    read = timed(["convert", ours, os.path.join(folder, "back.safetensors")])
    unpacked = os.path.join(folder, "unpacked.safetensors")
    decompress = shell(["zstd", "-q", "-d", theirs, "-o", unpacked])
    read_plain = timed(["convert", unpacked, os.path.join(folder, "back-plain.safetensors")])
    size, reference_size = os.path.getsize(ours), os.path.getsize(theirs)
    print(f"zstd level 3, SmolLM2-135M f32 ({os.path.getsize(plain) / 1e6:.0f} MB), {threads} threads")
    print(f"  write: convert --zstd 3 {write:.2f} s, {size / 1e6:.1f} MB; convert + zstd -3: "
          f"{write_plain + compress:.2f} s, {reference_size / 1e6:.1f} MB; ratio {write / (write_plain + compress):.3f}")
    print(f"  read:  convert FILE.zst {read:.2f} s; zstd -d + convert: {decompress + read_plain:.2f} s; "
          f"ratio {read / (decompress + read_plain):.3f}")


if __name__ == "__main__":
    main()
