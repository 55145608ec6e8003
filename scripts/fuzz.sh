#!/bin/sh
# Coverage-guided fuzzing of a reader with libFuzzer under AddressSanitizer.
#   scripts/fuzz.sh pytorch [SECONDS] [libFuzzer options...]
# The reader's modules are built with ASan and libFuzzer's coverage (inline 8-bit counters, cmp) into .build/fuzz; the harness
# (Fuzz/<Name>Fuzzer.swift) links them with -sanitize=fuzzer. The corpus is Tests/Fuzz/<reader>
# (seeds and every crasher found, replayed by make test); new inputs go to .build/fuzz/corpus.
set -eu
reader=${1:?usage: scripts/fuzz.sh pytorch [SECONDS]}
seconds=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
case "$reader" in
    pytorch) harness=Fuzz/PyTorchFuzzer.swift; modules="AmalgamCore PyTorchFormat" ;;
    *) echo "unknown reader '$reader' (pytorch)" >&2; exit 64 ;;
esac
build=.build/fuzz
for module in $modules; do
    swift build --build-path "$build" --target "$module" \
        -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table >/dev/null
done
objects=$(for module in $modules; do ls "$build"/debug/"$module".build/*.o; done)
swiftc -sanitize=fuzzer,address -parse-as-library -enable-testing -I "$build/debug/Modules" \
    "$harness" $objects -o "$build/$reader-fuzzer" 2>&1 | grep -v "Cannot export local symbol" || true
mkdir -p "$build/corpus/$reader" "$build/crashes"
# A 64-byte input must never make the reader allocate gigabytes: -rss_limit_mb and -malloc_limit_mb.
exec "$build/$reader-fuzzer" "$build/corpus/$reader" "Tests/Fuzz/$reader" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=65536 -artifact_prefix="$build/crashes/$reader-" \
    -dict="Tests/Fuzz/$reader.dict" "$@"
