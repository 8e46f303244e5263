"""`njit` for every kernel: numba's own, with its on-disk cache made best-effort.

numba writes a kernel's cache files right after compiling it, in the middle of the user's command. On a full disk (or
a cache folder that cannot be written) that write raises OSError, although the compiled code is already in memory and
the command does not need the cache. Here such a failure costs only the cache: one warning line on stderr naming the
folder, no more cache writes in this process, and the command carries on with the kernels compiled in memory (the next
run compiles again, until the cache can be written). `tokbench warmup`, whose work is the cache, asks
`cache_write_error()` and fails instead.

The cache is only ever the user cache folder (`tokbench.kernels.kernel_cache_dir`): where numba cannot make that folder
it would fall back to the source tree's `__pycache__` (or ~/.cache), or fail at import with "no locator available";
here it keeps the folder, finds nothing to load there, and the first save fails as above (a folder named by
TOKBENCH_CACHE or NUMBA_CACHE_DIR that is a file is a usage error, as for tokbench's other caches).
"""

from __future__ import annotations

import contextlib
import os
import sys

import numba
from numba import njit
from numba.core import caching, config
from numba.core.runtime import rtsys

# numba 0.68, whose Cache.load_overload is "refresh, then _load_overload in the I/O guard" (other releases: theirs)
_NUMBA_TESTED = numba.__version__.split(".")[:2] == ["0", "68"]

_failed: list[str] = []  # the first failed write: "FOLDER: reason"
warn = True  # print the warning line (`tokbench warmup` reports the failure as its error instead)


def cache_write_error() -> str | None:
    """'FOLDER: reason' when this process could not write numba's kernel cache, else None."""
    return _failed[0] if _failed else None


class _UserCacheUnchecked(caching.UserProvidedCacheLocator):
    """The user cache folder even when it cannot be made or written (numba's own locator then declines it)."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if not config.CACHE_DIR or not os.path.exists(py_file):
            return None
        return cls(py_func, py_file)


def _load_cached(self, sig, target_context):
    """numba's Cache.load_overload without its `target_context.refresh()`: that refresh imports and registers every
    typing and lowering registry numba has (~75 modules, 0.15-0.3 s of a process's first kernel call), which only
    compiling needs (numba's compiler refreshes both contexts itself before it compiles). Loading cached machine code
    needs the runtime (NRT) started, which the refresh also did: done here. Measured on a 10 MB training run: the
    first kernel call 189 ms -> ~20 ms, same tokenizer.json."""
    rtsys.initialize(target_context)
    with self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)
    return None  # the guard swallowed a spurious I/O error: compile instead


def _loads_or_compiles(load_overload):
    def load(self, sig, target_context):
        try:
            return load_overload(self, sig, target_context)
        except OSError:  # an index that cannot be read (the folder is not one): compile instead
            return None

    return load


def _best_effort(save_overload):
    def save(self, sig, data):
        if _failed:
            return
        try:
            save_overload(self, sig, data)
        except (NotADirectoryError, FileExistsError) as exc:  # not a full disk: the folder named is a file
            from tokbench.errors import UsageError

            raise UsageError(f"kernel cache {self.cache_path}: {exc.strerror} (TOKBENCH_CACHE or NUMBA_CACHE_DIR "
                             "must name a folder)") from None
        except OSError as exc:
            _failed.append(f"{self.cache_path}: {exc.strerror or exc}")
            if not warn:
                return
            with contextlib.suppress(OSError, ValueError):  # stderr itself may be on the full disk, or closed
                print(f"tokbench: warning: cannot write the kernel cache in {_failed[0]}; the kernels are compiled "
                      "in memory for this run", file=sys.stderr, flush=True)

    save.tokbench_best_effort = True
    return save


if not getattr(caching.Cache.save_overload, "tokbench_best_effort", False):
    caching.Cache.save_overload = _best_effort(caching.Cache.save_overload)
    caching.Cache.load_overload = _loads_or_compiles(
        _load_cached if _NUMBA_TESTED else caching.Cache.load_overload)
    caching.CacheImpl._locator_classes = [caching.UserProvidedCacheLocator, _UserCacheUnchecked]

__all__ = ["njit", "cache_write_error"]
