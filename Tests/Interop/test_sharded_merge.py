"""Sharded merges: `merge --shard I/N --parts DIR` on N "nodes" then `assemble DIR` writes what one
machine writes, byte for byte (models in any format, factors, report but its timing); through a
real local Slurm (`amalgam slurm merge --submit --wait`), with a task killed mid-way named by the
assemble job; Kubernetes manifests checked against the batch/v1 schema; zstd model files against
the reference zstandard library, and decompression bombs refused."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import zstandard
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(__file__))
from helpers import SMOLLM2  # noqa: E402
from slurm_cluster import SlurmCluster  # noqa: E402
from test_mergekit_parity import llama_config, llama_shapes  # noqa: E402

AMALGAM = os.path.abspath(os.environ.get("AMALGAM", ".build/release/amalgam"))


def run(*args, cwd=None, check=True):
    done = subprocess.run([AMALGAM, *args], capture_output=True, text=True, cwd=cwd)
    if check and done.returncode != 0:
        raise AssertionError(f"amalgam {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


def same_bytes(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()


def report_without_timing(path):
    with open(path) as file:
        report = json.load(file)
    report.pop("seconds")
    return report


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A synthetic llama base, two fine-tunes (HF folders) and a third as a Q8_0 GGUF."""
    root = tmp_path_factory.mktemp("shard_models")
    rng = np.random.default_rng(18)
    base = {n: (rng.standard_normal(s) * 0.05 + (1.0 if len(s) == 1 else 0.0)).astype(np.float32)
            for n, s in llama_shapes().items()}
    for name, tensors in [("base", base)] + [
        (f"ft{k}", {n: (v + rng.standard_normal(v.shape).astype(np.float32) * 0.01).astype(np.float32)
                    for n, v in base.items()}) for k in range(3)
    ]:
        folder = root / name
        folder.mkdir()
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
        (folder / "config.json").write_text(json.dumps(llama_config()))
    run("convert", str(root / "ft2"), str(root / "ft2.gguf"), "--quant", "q8_0")
    return root


def merge_arguments(models, method, extra=()):
    return ["--base", str(models / "base"), "--source", str(models / "ft0"), "--source", str(models / "ft1"),
            "--source", str(models / "ft2.gguf"), "--method", method, *extra]


@pytest.mark.parametrize("method, extra", [
    ("axis", []), ("tsv", []), ("ties", ["--density", "0.4"]), ("task_arithmetic", []), ("average", []),
])
def test_parts_assemble_to_what_one_machine_writes(tmp_path, models, method, extra):
    merge = merge_arguments(models, method, extra)
    outputs = ["--output", "merged/", "--factors", "factors.safetensors", "--report", "report.json"]
    one, parts = tmp_path / "one", tmp_path / "parts"
    one.mkdir()
    run("merge", *merge, *outputs, cwd=one)
    # Three "nodes" each compute their part; the outputs named are what the parts must keep.
    for index in range(3):
        run("merge", *merge, *outputs, "--shard", f"{index}/3", "--parts", str(parts), cwd=tmp_path)
    assert not (tmp_path / "merged").exists() and not (tmp_path / "report.json").exists()
    manifests = sorted(p for p in os.listdir(parts) if p.endswith(".json"))
    assert manifests == [f"part-000{i}-of-0003.json" for i in (1, 2, 3)]
    plans = {json.load(open(parts / m))["plan_hash"] for m in manifests}
    assert len(plans) == 1
    # Every merged tensor is in exactly one part; copies (none here) come from the base.
    held = [t["name"] for m in manifests for t in json.load(open(parts / m))["tensors"]]
    assert sorted(held) == sorted(llama_shapes()) and len(held) == len(set(held))

    two = tmp_path / "two"
    two.mkdir()
    run("assemble", str(parts), cwd=two)
    for name in ["merged/model.safetensors", "merged/config.json", "factors.safetensors"]:
        assert same_bytes(one / name, two / name), name
    assert report_without_timing(one / "report.json") == report_without_timing(two / "report.json")


def test_assemble_writes_any_format_from_zstd_parts(tmp_path, models):
    merge = merge_arguments(models, "axis")
    one = tmp_path / "one"
    one.mkdir()
    run("merge", *merge, "--output", "merged.gguf", "--quant", "q4_k", cwd=one)
    for index in range(4):
        run("merge", *merge, "--shard", f"{index}/4", "--parts", "parts", "--parts-zstd", "5", cwd=tmp_path)
    parts = sorted(os.listdir(tmp_path / "parts"))
    assert "part-0001-of-0004.safetensors.zst" in parts
    # A part is a zstd frame of a safetensors file the reference reads.
    with open(tmp_path / "parts" / "part-0002-of-0004.safetensors.zst", "rb") as file:
        raw = zstandard.ZstdDecompressor().decompress(file.read())
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert header["__metadata__"]["amalgam.shard"] == "1/4"
    assert all(v["dtype"] == "F32" for k, v in header.items() if k != "__metadata__")
    # The merge named no output: assemble is given it.
    run("assemble", *[f"parts/part-000{i}-of-0004.json" for i in range(1, 5)], "--output", "merged.gguf",
        "--quant", "q4_k", cwd=tmp_path)
    assert same_bytes(one / "merged.gguf", tmp_path / "merged.gguf")


def test_assembly_refuses_what_does_not_fit(tmp_path, models):
    merge = merge_arguments(models, "ties")
    for index in range(3):
        run("merge", *merge, "--shard", f"{index}/3", "--parts", "parts", cwd=tmp_path)
    # A missing part is named with its tensors; nothing is written.
    kept = tmp_path / "kept"
    shutil.copytree(tmp_path / "parts", kept)
    os.remove(kept / "part-0002-of-0003.json")
    failed = run("assemble", str(kept), "--output", "out.safetensors", cwd=tmp_path, check=False)
    manifest = json.load(open(tmp_path / "parts" / "part-0002-of-0003.json"))
    missing = [t["name"] for t in manifest["tensors"]]
    assert failed.returncode == 1
    assert f"part 2 of 3 missing (not written, or its task failed): {len(missing)} tensors not merged: " \
           f"'{missing[0]}'" in failed.stderr
    assert not (tmp_path / "out.safetensors").exists()
    # Parts of another split of the same merge.
    run("merge", *merge, "--shard", "0/2", "--parts", "other", cwd=tmp_path)
    mixed = run("assemble", "parts/part-0001-of-0003.json", "parts/part-0002-of-0003.json",
                "other/part-0001-of-0002.json", "--output", "out.safetensors", cwd=tmp_path, check=False)
    assert mixed.returncode == 1 and "is not of the merge of" in mixed.stderr
    # A part given twice.
    twice = run("assemble", "parts", "parts/part-0001-of-0003.json", "--output", "out.safetensors", cwd=tmp_path,
                check=False)
    assert twice.returncode == 64 and "part 1 of 3 is given twice" in twice.stderr
    # Factors the parts did not keep.
    nofactors = run("assemble", "parts", "--output", "out.safetensors", "--factors", "f.safetensors",
                    cwd=tmp_path, check=False)
    assert nofactors.returncode == 64 and "the parts kept no factors" in nofactors.stderr
    # An input changed since the parts were merged.
    changed = tmp_path / "changed"
    shutil.copytree(models, changed)
    run("merge", *merge_arguments(changed, "ties"), "--shard", "0/1", "--parts", "solo", cwd=tmp_path)
    tensors = load_file(str(changed / "ft0" / "model.safetensors"))
    tensors["model.norm.weight"] += 1
    save_file(tensors, str(changed / "ft0" / "model.safetensors"), metadata={"format": "pt"})
    stale = run("assemble", "solo", "--output", "out.safetensors", cwd=tmp_path, check=False)
    assert stale.returncode == 1 and f"{changed / 'ft0'}: changed since the parts were merged" in stale.stderr
    assert not (tmp_path / "out.safetensors").exists()
    # --shard's syntax.
    bad = run("merge", *merge, "--shard", "3/3", "--parts", "p", cwd=tmp_path, check=False)
    assert bad.returncode == 64 and "--shard takes I/N with 0 <= I < N (part I of N, from 0), not '3/3'" in bad.stderr
    orphan = run("merge", *merge, "--output", "x.safetensors", "--parts", "p", cwd=tmp_path, check=False)
    assert orphan.returncode == 64 and "--parts applies to --shard" in orphan.stderr


@pytest.fixture(scope="module")
def slurm():
    folder = tempfile.mkdtemp(prefix="amalgam-slurm-")
    cluster = SlurmCluster(folder).start()
    yield cluster
    cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_slurm_array_merge_equals_one_machine(tmp_path, models, slurm):
    merge = merge_arguments(models, "axis") + ["--output", "merged/", "--report", "report.json"]
    one = tmp_path / "one"
    one.mkdir()
    run("merge", *merge, cwd=one)
    work = tmp_path / "cluster"
    work.mkdir()
    done = subprocess.run([AMALGAM, "slurm", "merge", "--nodes", "4", "--parts", "parts", "--submit", "--wait",
                           *merge], capture_output=True, text=True, cwd=work, env=slurm.env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "submitted job array" in done.stdout and "finished" in done.stdout
    script = open(work / "parts" / "merge-array.sbatch").read()
    assert "#SBATCH --array=0-3" in script and '--shard "$SLURM_ARRAY_TASK_ID"/4 ' in script
    assert "--dependency" not in script
    for name in ["merged/model.safetensors", "merged/config.json"]:
        assert same_bytes(one / name, work / name), name
    assert report_without_timing(one / "report.json") == report_without_timing(work / "report.json")


def test_slurm_task_killed_midway_fails_the_assemble_job(tmp_path, slurm):
    """SmolLM2-135M (f32) and two fine-tunes, tied, 4 parts: part 3 is killed while it runs."""
    base = tmp_path / "base"
    run("convert", SMOLLM2, str(base) + "/", "--dtype", "f32")
    tensors = load_file(str(base / "model.safetensors"))
    rng = np.random.default_rng(3)
    for k in range(2):
        folder = tmp_path / f"ft{k}"
        folder.mkdir()
        save_file({n: v + rng.standard_normal(v.shape, dtype=np.float32) * 0.002 for n, v in tensors.items()},
                  str(folder / "model.safetensors"))
    merge = ["--base", "base", "--source", "ft0", "--source", "ft1", "--method", "tsv", "--output", "merged/"]
    done = run("slurm", "merge", "--nodes", "4", "--parts", "parts", *merge, cwd=tmp_path)
    assert "wrote parts/merge-array.sbatch" in done.stdout
    array = subprocess.run(["sbatch", "--parsable", "parts/merge-array.sbatch"], capture_output=True, text=True,
                           cwd=tmp_path, env=slurm.env, check=True).stdout.strip().split(";")[0]
    # Kill task 2 (part 3) once it is running.
    deadline = time.time() + 120
    while time.time() < deadline:
        state = subprocess.run(["squeue", "-h", "-j", f"{array}_2", "-o", "%T"], capture_output=True, text=True,
                               env=slurm.env).stdout.strip()
        if state == "RUNNING":
            time.sleep(1)
            subprocess.run(["scancel", "--signal=KILL", f"{array}_2"], env=slurm.env, check=True)
            break
        time.sleep(0.2)
    else:
        pytest.fail("task 2 never ran")
    assemble = subprocess.run(["sbatch", "--parsable", f"--dependency=afterany:{array}", "--wait",
                               "parts/assemble.sbatch"], capture_output=True, text=True, cwd=tmp_path, env=slurm.env)
    assert assemble.returncode != 0
    log = open(tmp_path / "parts" / "logs" / "assemble.log").read()
    assert "part 3 of 4 missing (not written, or its task failed):" in log
    assert "tensors not merged: 'model." in log
    assert not (tmp_path / "merged").exists()
    assert not (tmp_path / "parts" / "part-0003-of-0004.json").exists()
    # Rerunning the killed part alone completes the merge.
    run("merge", *merge, "--shard", "2/4", "--parts", "parts", cwd=tmp_path)
    run("assemble", "parts", cwd=tmp_path)
    assert load_file(str(tmp_path / "merged" / "model.safetensors")).keys() == tensors.keys()


def test_kubernetes_manifests_follow_the_batch_v1_schema(tmp_path, models):
    import kubernetes_validate

    merge = merge_arguments(models, "axis") + ["--output", "merged.gguf", "--quant", "q8_0"]
    done = run("k8s", "merge", "--nodes", "6", "--parts", "parts", "--image", "registry.example/amalgam:1",
               "--volume-claim", "models", "--cpus-per-task", "8", *merge, cwd=tmp_path)
    assert "kubectl wait --for=condition=complete" in done.stdout
    job = json.load(open(tmp_path / "parts" / "amalgam-merge.json"))
    assemble = json.load(open(tmp_path / "parts" / "amalgam-merge-assemble.json"))
    for manifest in (job, assemble):
        kubernetes_validate.validate(manifest, "1.30", strict=True)
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == 6 and spec["parallelism"] == 6
    container = spec["template"]["spec"]["containers"][0]
    assert container["args"][-4:] == ["--shard", "$(JOB_COMPLETION_INDEX)/6", "--parts", "parts"]
    assert container["env"][0]["name"] == "JOB_COMPLETION_INDEX"
    assert spec["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "models"
    assert assemble["spec"]["template"]["spec"]["containers"][0]["args"] == ["assemble", "parts"]
    # A broken manifest is caught by the same check (the check can fail).
    broken = json.loads(json.dumps(job))
    broken["spec"]["completions"] = "six"
    with pytest.raises(Exception):
        kubernetes_validate.validate(broken, "1.30", strict=True)


# zstd model files.


def test_zstd_outputs_are_the_plain_files_compressed(tmp_path, models):
    source = str(models / "ft0")
    for name in ["m.safetensors", "m.gguf"]:
        run("convert", source, str(tmp_path / name))
        run("convert", source, str(tmp_path / (name + ".zst")), "--zstd", "7")
        with open(tmp_path / (name + ".zst"), "rb") as file:
            frame = file.read()
        params = zstandard.get_frame_parameters(frame)
        plain = open(tmp_path / name, "rb").read()
        assert params.content_size == len(plain) and params.has_checksum
        assert zstandard.ZstdDecompressor().decompress(frame) == plain
        assert len(frame) < len(plain)


def test_zstd_inputs_read_as_the_plain_files(tmp_path, models):
    plain = tmp_path / "model.safetensors"
    shutil.copy(models / "ft1" / "model.safetensors", plain)
    shutil.copy(models / "ft1" / "config.json", tmp_path / "config.json")
    # Compressed by the reference library, as a stream (no declared size) and with one.
    for name, data in [
        ("model.safetensors.zst", zstandard.ZstdCompressor(level=3).compress(plain.read_bytes())),
        ("stream.safetensors.zst", b"".join(zstandard.ZstdCompressor(level=1).read_to_iter(open(plain, "rb")))),
        ("ft2.gguf.zst", zstandard.ZstdCompressor().compress((models / "ft2.gguf").read_bytes())),
    ]:
        (tmp_path / name).write_bytes(data)
    for compressed, reference in [("model.safetensors.zst", str(plain)), ("stream.safetensors.zst", str(plain)),
                                  ("ft2.gguf.zst", str(models / "ft2.gguf"))]:
        run("convert", str(tmp_path / compressed), str(tmp_path / (compressed + ".out.safetensors")), "--force")
        run("convert", reference, str(tmp_path / (compressed + ".ref.safetensors")), "--force")
        ours = load_file(str(tmp_path / (compressed + ".out.safetensors")))
        theirs = load_file(str(tmp_path / (compressed + ".ref.safetensors")))
        assert ours.keys() == theirs.keys()
        assert all(np.array_equal(ours[k], theirs[k]) for k in ours)
        assert "ok" in run("verify", str(tmp_path / compressed)).stdout
    # A Hugging Face name keeps its folder's config.json (the architecture comes from it).
    assert "llama" in run("inspect", str(tmp_path / "model.safetensors.zst")).stdout
    # A zstd merge source.
    run("merge", "--base", str(models / "base"), "--source", str(tmp_path / "model.safetensors.zst"),
        "--source", str(models / "ft0"), "--method", "average", "--output", str(tmp_path / "a.safetensors"))
    run("merge", "--base", str(models / "base"), "--source", str(plain), "--source", str(models / "ft0"),
        "--method", "average", "--output", str(tmp_path / "b.safetensors"))
    assert same_bytes(tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    leftovers = [n for n in os.listdir(tempfile.gettempdir()) if n.startswith(".amalgam-zstd-")]
    assert leftovers == []


def test_zstd_bombs_and_broken_frames_are_refused(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    model = len(header).to_bytes(8, "little") + header + bytes(16)
    padded = model + bytes(50_000_000)  # 50 MB of zeros past what the header gives the file
    cases = {
        # The frame declares 50 MB, the header implies 88 bytes.
        "declared.safetensors.zst": zstandard.ZstdCompressor().compress(padded),
        # No declared size: stopped once the output passes the header's size.
        "streamed.safetensors.zst": b"".join(zstandard.ZstdCompressor().read_to_iter(iter_bytes(padded))),
        "truncated.safetensors.zst": zstandard.ZstdCompressor().compress(model)[:-7],
        "garbage.safetensors.zst": b"\x28\xb5\x2f\xfd" + bytes(range(200)),
        "model.npz.zst": zstandard.ZstdCompressor().compress(b"PK\x03\x04"),
        "unnamed.zst": zstandard.ZstdCompressor().compress(model),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    expected = {
        "declared.safetensors.zst": f"declared.safetensors.zst: at byte 0: zstd frame declares {len(padded)} bytes, "
                                    f"but the header it holds implies a {len(model)}-byte file (a decompression bomb?)",
        "streamed.safetensors.zst": f"zstd data decompresses past the {len(model)} bytes its header implies "
                                    "(a decompression bomb?)",
        "truncated.safetensors.zst": "zstd: the compressed data ends inside a frame (truncated?)",
        "garbage.safetensors.zst": "garbage.safetensors.zst: at byte 0: zstd: ",
        "model.npz.zst": "zstd-compressed NumPy .npz files are not read (only formats whose header states the file "
                         "size: safetensors, GGUF)",
        "unnamed.zst": "the name without .zst does not tell the format inside",
    }
    for name, message in expected.items():
        failed = run("convert", str(tmp_path / name), str(tmp_path / "out.safetensors"), cwd=tmp_path, check=False)
        assert failed.returncode == 1, name
        assert message in failed.stderr, (name, failed.stderr)
        assert not (tmp_path / "out.safetensors").exists()
    # zstd is for single safetensors and GGUF files.
    for output, extra, message in [
        ("out.safetensors", ["--zstd", "3"], "--zstd writes one compressed file whose name ends in .zst"),
        ("out/", ["--zstd", "3"], "--zstd writes one compressed file"),
        ("out.npz.zst", [], "zstd output is for single safetensors and GGUF files"),
    ]:
        (tmp_path / "m.safetensors").write_bytes(model)
        failed = run("convert", str(tmp_path / "m.safetensors"), str(tmp_path / output), *extra, check=False)
        assert failed.returncode == 64 and message in failed.stderr, failed.stderr


def iter_bytes(data, chunk=1 << 20):
    class Reader:
        position = 0

        def read(self, size=-1):
            size = chunk if size < 0 else size
            piece = data[self.position:self.position + size]
            self.position += len(piece)
            return piece

    return Reader()
