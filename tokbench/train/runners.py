"""Run a pure function over shards in this process or on a Dask cluster, and fold the results: the scale-out layer
that `count`, `train` and `eval` share.

    with open_runner(workers="2") as runner:            # or scheduler="tcp://host:8786", or neither: in-process
        parts = runner.map_fold(count_one, shards, combine, parts=8, finish=write_part)
        stats = runner.map(eval_one, shards)

The same task functions run either way, and their results merge exactly (count tables sum, eval statistics are sums
and histograms), so a cluster gives what one process gives. Dask is imported only when a cluster is asked for.

Why fold as results arrive (`map_fold`): each shard's result is split into `parts` pieces by a hash of the key
(`WordCounts.partition`), and piece p is added to partition p's running sum as soon as its shard finishes. A shard's
table is released once folded, so memory on a worker grows with one shard plus 1/parts of the distinct words, never
with the number of shards; the reduce is spread over the workers, and no process holds the whole table unless the
caller gathers it (train does: its merge loop needs every word).

Faults: a worker that dies loses its tasks and the results it held; the scheduler reruns them on the others (its
`allowed-failures`, 3 by default), and since tasks are pure the result is the same. An error raised by a task (bad
input, say) is not retried: it fails the run with its own one-line message.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tokbench.console import meter
from tokbench.errors import UsageError, WorkError, param
from tokbench.io import default_threads, threads_asked

DEFAULT_SCHEDULER_TIMEOUT = 10.0


class Runner:
    """In-process runner: the reference the cluster runner must equal; also what runs without --workers/--scheduler
    when a caller wants shards anyway."""

    workers = 1

    @property
    def task_threads(self) -> int:
        """Threads one task may count with: this process's --threads (default: all cores)."""
        return default_threads()

    def map(self, fn: Callable, items: Sequence, label: str = "shards") -> list:
        """fn(item) for every item, results in the items' order."""
        out = []
        with _ticker(label, len(items)) as tick:
            for item in items:
                out.append(fn(item))
                tick.advance()
        return out

    def map_fold(self, fn: Callable, items: Sequence, combine: Callable, parts: int, finish: Callable,
                 label: str = "shards") -> list:
        """fn(item) -> `parts` pieces; piece p of every item is folded with combine(a, b) (associative and
        commutative, so the order items finish in does not matter); returns [finish(total_p, p) for each p]."""
        totals: list = [None] * parts
        with _ticker(label, len(items)) as tick:
            for item in items:
                pieces = fn(item)
                totals = [p if t is None else combine(t, p) for t, p in zip(totals, pieces)]
                tick.advance()
        return [finish(t, p) for p, t in enumerate(totals)]

    def close(self) -> None:
        pass

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DaskRunner(Runner):
    """The same calls on a Dask cluster: a LocalCluster of worker processes, or the scheduler at an address.

    A LocalCluster starts in a background thread (Dask's import, the worker processes' start-up and `warm`, run on
    every worker: imports and numba cache loads), so the caller lists its corpus and cuts its shards meanwhile; the
    first call that needs the cluster waits for it. Its workers are one process and one Dask thread each, and a task
    counts with the cores split among them (`task_threads`: cores // workers, or --threads), so `--workers 1` uses
    the cores one process uses. On a remote cluster a task counts with one thread: its Dask threads are the
    parallelism there."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 timeout: float = DEFAULT_SCHEDULER_TIMEOUT, warm: Callable | None = None):
        self.cluster = self._client = self._failed = None
        self._starting: threading.Thread | None = None
        if scheduler is None:
            self.workers = workers or default_threads()
            self._threads = threads_asked() or max(1, default_threads() // self.workers)
            self._starting = threading.Thread(target=self._start_local, args=(self.workers, warm), daemon=True,
                                              name="tokbench-cluster-start")
            self._starting.start()
            return
        from distributed import Client

        try:
            self._client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise WorkError(f"{param('scheduler')} {scheduler}: no Dask scheduler reachable within {timeout:g}s "
                            f"({type(exc).__name__})") from None
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))
        self._threads = threads_asked() or 1

    def _start_local(self, workers: int, warm: Callable | None) -> None:
        import logging

        try:
            import dask
            from distributed import Client, LocalCluster

            # One Dask thread per worker process: a task's own kernel threads (task_threads) use the cores. Dask
            # starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also pins glibc's mmap threshold at 128 KB: every
            # block's arrays are then fresh mmaps, page-faulted in and unmapped again (counting took 1.6x as long,
            # most of it system time); unset, the workers allocate as one process does. Workers are forked from one
            # forkserver that has imported and loaded the counting code once (`worker_preload`), not spawned fresh.
            _forkserver_preload()
            with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                                  "distributed.worker.multiprocessing-method": "forkserver"}):
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            host="127.0.0.1", dashboard_address=None, silence_logs=logging.CRITICAL)
            self._client = Client(self.cluster)
            if warm is not None:
                self._client.run(warm)
        except BaseException as exc:  # re-raised in the caller's thread by `client`
            self._failed = exc

    @property
    def task_threads(self) -> int:
        return self._threads

    @property
    def client(self):
        """The Dask client, once the cluster is up (a failed start is raised here, in the caller's thread)."""
        if self._starting is not None:
            self._starting.join()
            self._starting = None
            if self._failed is not None:
                exc, self._failed = self._failed, None
                if isinstance(exc, Exception) and not isinstance(exc, (UsageError, WorkError)):
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    raise WorkError(f"{param('workers')} {self.workers}: the local Dask cluster failed to start "
                                    f"({first})"
                                    ) from exc
                raise exc
        return self._client

    def map(self, fn, items, label="shards"):
        from distributed import as_completed

        futures = self.client.map(fn, list(items), pure=False)
        with _ticker(label, len(futures)) as tick:
            for future in as_completed(futures):
                _raise_if_failed(future)
                tick.advance()
        return self.client.gather(futures)

    def map_fold(self, fn, items, combine, parts, finish, label="shards"):
        import operator

        from distributed import as_completed

        # the folds outrank the shard tasks (Dask runs the earliest submitted first): a worker folds a finished
        # shard before it counts the next, so it holds one shard's pieces, not every shard's until the end
        submit = functools.partial(self.client.submit, pure=False, priority=1)
        futures = self.client.map(fn, list(items), pure=False)
        totals: list = [None] * parts
        with _ticker(label, len(futures)) as tick:
            for future in as_completed(futures):
                _raise_if_failed(future)
                for p in range(parts):  # the piece is cut where the shard's result lives, then folded into p's sum
                    piece = submit(operator.getitem, future, p)
                    totals[p] = piece if totals[p] is None else submit(combine, totals[p], piece)
                future.release()
                tick.advance()
        done = [submit(finish, t, p) for p, t in enumerate(totals)]
        return self.client.gather(done)

    def close(self) -> None:
        """Stop the workers (a LocalCluster still starting is waited for first); their memory is released here."""
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


def _forkserver_preload() -> None:
    """What the forkserver imports before forking workers: Dask and `tokbench.train.worker_preload`. Dask would set
    its own list the first time it asks for the context, importing pandas and a dozen optional packages into this
    process to do so (0.2 s); it is told that the list is set."""
    import multiprocessing

    from distributed import utils

    multiprocessing.get_context("forkserver").set_forkserver_preload(["distributed", "tokbench.train.worker_preload"])
    utils._forkserver_preload_set = True


def _raise_if_failed(future) -> None:
    if future.status == "error":
        raise future.exception()


def parse_workers(value: str | int | None) -> int | None:
    """--workers N or auto (the machine's cores)."""
    if value is None:
        return None
    if str(value).strip().lower() == "auto":
        return os.cpu_count() or 1
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"{param('workers')} {value!r}: give a number of worker processes or auto") from None
    if n < 1:
        raise UsageError(f"{param('workers')} must be at least 1, not {n}")
    return n


@dataclass(frozen=True)
class Cluster:
    """The scale-out flags of a command (--workers, --scheduler, --scheduler-timeout, --shard-size), checked once."""

    workers: str | None = None
    scheduler: str | None = None
    timeout: float = DEFAULT_SCHEDULER_TIMEOUT
    shard_size: str = "64MB"

    @property
    def wanted(self) -> bool:
        return self.workers is not None or self.scheduler is not None

    @property
    def shard_bytes(self) -> int:
        from tokbench.corpus import parse_size

        return parse_size(self.shard_size)

    def check(self) -> None:
        """UsageError for contradictory or malformed flags, before any work (or any Dask import)."""
        open_runner(self.workers, self.scheduler, self.timeout, dry=True)
        self.shard_bytes  # noqa: B018 - parses, raising UsageError on a bad size

    def open(self, warm: Callable | None = None) -> Runner | None:
        """A DaskRunner when a cluster is asked for, else None; `warm` runs once on each local worker as it starts."""
        self.check()
        return open_runner(self.workers, self.scheduler, self.timeout, warm=warm)


def open_runner(workers: str | int | None = None, scheduler: str | None = None,
                scheduler_timeout: float = DEFAULT_SCHEDULER_TIMEOUT, dry: bool = False,
                warm: Callable | None = None) -> Runner | None:
    """A DaskRunner for --workers or --scheduler, or None when neither is given (the caller's one-process path)."""
    n = parse_workers(workers)
    if n is not None and scheduler:
        raise UsageError(f"give {param('workers')} (a cluster on this machine) or {param('scheduler')} "
                         "(an existing one), not both")
    if scheduler is not None and not scheduler.strip():
        raise UsageError(f"{param('scheduler')} needs an address, e.g. tcp://host:8786")
    if scheduler_timeout <= 0:
        raise UsageError(f"{param('scheduler_timeout')} must be positive, not {scheduler_timeout:g}")
    if dry or (n is None and scheduler is None):
        return None
    return DaskRunner(n, scheduler, scheduler_timeout, warm=warm)


def _ticker(label: str, total: int):
    """Progress over shards (console.meter): a bar on a terminal, else a plain line every ~10% (a log keeps them)."""
    return meter(f"{label}:", total, unit="shards done")


__all__ = ["Runner", "DaskRunner", "Cluster", "open_runner", "parse_workers", "DEFAULT_SCHEDULER_TIMEOUT"]
