"""Shared helpers for the interop tests: running the CLI and generating reference data."""

import os
import subprocess

import numpy as np

AMALGAM = os.environ.get("AMALGAM", os.path.join(os.path.dirname(__file__), "../../.build/debug/amalgam"))


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
