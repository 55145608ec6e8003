#!/bin/sh
# Coverage-guided fuzzing of one reader with libFuzzer under AddressSanitizer.
#   scripts/fuzz.sh TARGET [SECONDS] [libFuzzer options...]
#   TARGET: safetensors gguf onnx npy npz pytorch json recipe report yaml
# The library's modules are built with ASan and libFuzzer's coverage (inline 8-bit counters, cmp
# tracing) into .build/fuzz; Fuzz/ReaderFuzzer.swift links them with -sanitize=fuzzer. The corpus
# is Tests/Fuzz/TARGET (seeds and every fault found, replayed by make test); new inputs go to
# .build/fuzz/corpus/TARGET, faults to .build/fuzz/crashes.
set -eu
target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS] (safetensors gguf onnx npy npz pytorch json recipe report yaml)}
seconds=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
case "$target" in
    safetensors|gguf|onnx|npy|npz|pytorch|json|recipe|report|yaml) ;;
    *) echo "unknown target '$target' (safetensors gguf onnx npy npz pytorch json recipe report yaml)" >&2; exit 64 ;;
esac
build=.build/fuzz
fuzzer=$build/reader-fuzzer
if [ ! -x "$fuzzer" ] || [ -n "$(find Sources formats Fuzz -newer "$fuzzer" -name '*.swift' | head -1)" ]; then
    swift build --build-path "$build" --target Amalgam \
        -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
        >/dev/null
    modules="AmalgamCore SafetensorsFormat GGUFFormat NPZFormat ONNXFormat CONNXProto PyTorchFormat LinearAlgebra MergeKernel Tuning Reports Amalgam"
    objects=$(for module in $modules; do ls "$build"/debug/"$module".build/*.o; done)
    swiftc -sanitize=fuzzer,address -parse-as-library -I "$build/debug/Modules" \
        -Xcc -fmodule-map-file=Sources/CLibraries/COpenBLAS/module.modulemap \
        -Xcc -fmodule-map-file=Sources/CLibraries/CZlib/module.modulemap \
        -Xcc -fmodule-map-file=Sources/CLibraries/CProtobufC/module.modulemap \
        -Xcc -fmodule-map-file=Sources/CLibraries/CMalloc/module.modulemap \
        -Xcc -fmodule-map-file="$build/debug/CONNXProto.build/module.modulemap" \
        Fuzz/ReaderFuzzer.swift $objects -lz -lprotobuf-c -lopenblas -llapacke -o "$fuzzer" 2>&1 \
        | grep -v "Cannot export local symbol" || true
fi
mkdir -p "$build/corpus/$target" "$build/crashes"
dictionary=""
[ -f "Tests/Fuzz/$target.dict" ] && dictionary="-dict=Tests/Fuzz/$target.dict"
# A small input must never make a reader allocate gigabytes: -rss_limit_mb and -malloc_limit_mb.
AMALGAM_FUZZ_TARGET=$target exec "$fuzzer" "$build/corpus/$target" "Tests/Fuzz/$target" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=65536 \
    -artifact_prefix="$build/crashes/$target-" $dictionary "$@"
