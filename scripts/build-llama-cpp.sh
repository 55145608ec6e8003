#!/usr/bin/env bash
# Builds llama.cpp's command-line tools once per machine into ~/.cache/amalgam/llama.cpp-VERSION
# (the tree vendored in PyPI's llama-cpp-python source distribution; prebuilt wheels need a newer
# glibc than Debian 12's). Prints the folder holding the binaries. Reused while it is complete.
set -euo pipefail
version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
cache=${AMALGAM_CACHE:-$HOME/.cache/amalgam}
root=$cache/llama.cpp-$version
bin=$root/build/bin
tools="llama-completion llama-perplexity llama-quantize llama-simple llama-imatrix llama-tokenize llama-gguf-split"
complete=1
for tool in $tools; do [ -x "$bin/$tool" ] || complete=0; done
if [ $complete = 1 ]; then echo "$bin"; exit 0; fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.llama-build-XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v c++ >/dev/null || {
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
  else echo "llama.cpp needs a C++ compiler: sudo apt-get install -y g++" >&2; exit 1; fi; }
python3 -m venv "$work/venv"
# cmake from PyPI, and scikit-build-core beside it, or pip's metadata step for the sdist hangs.
"$work/venv/bin/pip" install -q --disable-pip-version-check cmake scikit-build-core >&2
cmake=$work/venv/bin/cmake
"$work/venv/bin/pip" download -q --disable-pip-version-check --no-deps --no-build-isolation --no-binary :all: \
  -d "$work" "llama-cpp-python==$version" >&2
tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
rm -rf "$root" && mkdir -p "$root"
mv "$work"/llama_cpp_python-*/vendor/llama.cpp "$root/src"
"$cmake" -S "$root/src" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >&2
"$cmake" --build "$root/build" -j"$(nproc)" --target $tools >&2
for tool in $tools; do [ -x "$bin/$tool" ] || { echo "llama.cpp build did not produce $tool" >&2; exit 1; }; done
echo "$bin"
