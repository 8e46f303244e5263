"""tokbench's numba kernels: pure array code, compiled once and cached in a user cache folder.

Importing this package (before any kernel module) points numba's on-disk cache at `kernel_cache_dir()`:
`$NUMBA_CACHE_DIR` if set, else `$TOKBENCH_CACHE/numba`, else `$XDG_CACHE_HOME/tokbench/numba` (default
`~/.cache/tokbench/numba`), never the source tree. numba keys every cached function by its source file's path,
modification time and size, its signature and the CPU, so a changed kernel (or another checkout) recompiles instead of
loading stale code. `tokbench warmup` (run by `make setup`) fills the cache, so no user command compiles. Kernels take
`njit` from `kernels/jit.py`, where a cache write that fails (a full disk) costs the cache, not the command.

Why numba's cache and not ahead-of-time compilation (`numba.pycc`): pycc is deprecated, its exported functions hold
the GIL (no threaded counting or encoding), need one fixed signature each, and a C toolchain at install time; the JIT
cache keeps one source of truth for every kernel and, once warm, loads in well under a second.
"""

import os
import sys
from pathlib import Path


def kernel_cache_dir() -> Path:
    """Where numba caches tokbench's compiled kernels."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    if os.environ.get("TOKBENCH_CACHE"):
        return Path(os.environ["TOKBENCH_CACHE"]) / "numba"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tokbench" / "numba"


def _use_cache_dir() -> None:
    folder = str(kernel_cache_dir())
    os.environ["NUMBA_CACHE_DIR"] = folder
    numba = sys.modules.get("numba")
    if numba is not None:  # numba read its config already: tell it directly (kernels are not decorated yet)
        numba.config.CACHE_DIR = folder


_use_cache_dir()
