"""Imported once by the Dask forkserver of a local cluster (`runners.DaskRunner`), before it forks the workers.

A worker forked from this warm process starts with Dask, numpy, numba and the counting kernels already imported
and loaded from the numba cache. A spawned worker starts a fresh interpreter and does all of that itself: 0.8 CPU
seconds per worker on every run, and on 2 cores that time is taken from the counting. A forked worker also exits
without tearing numba and LLVM down again, which makes closing the cluster 0.03 s instead of 0.7 s.

Nothing here may stop the server. If the kernels cannot be loaded (an unwritable cache, say), each worker's own
warm-up (`counts.warm_worker`) meets the same problem again and reports it.
"""

import contextlib
import functools

from tokbench.train import counts

with contextlib.suppress(Exception):
    counts.warm_worker(functools.partial(counts.word_splitters, "gpt2"))
