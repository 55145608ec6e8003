#!/usr/bin/env bash
# Builds the Amalgam module's documentation (Sources/Amalgam/Amalgam.docc and the symbols'
# doc comments) with the toolchain's docc into .build/docs/Amalgam.doccarchive, ready for
# static hosting. Unresolved links and other docc warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."
# A build folder of its own (the symbol-graph flags would otherwise rebuild the main one); the
# graphs live in it, so they are emitted again whenever it is built from scratch.
graphs="$PWD/.build/docs-build/symbol-graphs"
rm -rf "$graphs/Amalgam" .build/docs/Amalgam.doccarchive
mkdir -p "$graphs/all" "$graphs/Amalgam" .build/docs
swift build --build-path .build/docs-build --target Amalgam \
  -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc "$graphs/all" >/dev/null
cp "$graphs"/all/Amalgam.symbols.json "$graphs"/all/Amalgam@*.symbols.json "$graphs/Amalgam/"
docc convert Sources/Amalgam/Amalgam.docc --additional-symbol-graph-dir "$graphs/Amalgam" \
  --fallback-display-name Amalgam --fallback-bundle-identifier org.amalgam.Amalgam \
  --transform-for-static-hosting --warnings-as-errors \
  --output-path .build/docs/Amalgam.doccarchive
echo ".build/docs/Amalgam.doccarchive"
