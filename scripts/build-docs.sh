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
# Every ```swift block of the articles type-checks against the modules just built (a block
# without imports continues the article's first, so it gets `import Amalgam`).
snippets="$graphs/snippets"
rm -rf "$snippets" && mkdir -p "$snippets"
python3 - "$snippets" Sources/Amalgam/Amalgam.docc/*.md <<'PY'
import re, sys
for path in sys.argv[2:]:
    for index, block in enumerate(re.findall(r"```swift\n(.*?)```", open(path).read(), re.S)):
        name = path.rsplit("/", 1)[-1][:-3]
        source = block if block.startswith("import ") else "import Amalgam\n" + block
        open(f"{sys.argv[1]}/{name}-{index}.swift", "w").write(source)
PY
includes=()
for library in Sources/CLibraries/*/; do includes+=(-I "$library"); done
for snippet in "$snippets"/*.swift; do
  swiftc -typecheck -I .build/docs-build/debug/Modules "${includes[@]}" \
    -Xcc -fmodule-map-file=.build/docs-build/debug/CONNXProto.build/module.modulemap \
    -Xcc -Iformats/onnx/CONNXProto/include "$snippet" \
    || { echo "a code block of the documentation does not compile: $snippet" >&2; exit 1; }
done
docc convert Sources/Amalgam/Amalgam.docc --additional-symbol-graph-dir "$graphs/Amalgam" \
  --fallback-display-name Amalgam --fallback-bundle-identifier org.amalgam.Amalgam \
  --transform-for-static-hosting --warnings-as-errors \
  --output-path .build/docs/Amalgam.doccarchive
echo ".build/docs/Amalgam.doccarchive"
