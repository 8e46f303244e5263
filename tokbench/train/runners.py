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
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tokbench.console import meter
from tokbench.errors import UsageError, WorkError

DEFAULT_SCHEDULER_TIMEOUT = 10.0


class Runner:
    """In-process runner: the reference the cluster runner must equal; also what runs without --workers/--scheduler
    when a caller wants shards anyway."""

    workers = 1

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
    """The same calls on a Dask cluster: a LocalCluster of worker processes, or the scheduler at an address."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 timeout: float = DEFAULT_SCHEDULER_TIMEOUT):
        import logging

        from distributed import Client, LocalCluster

        self.cluster = None
        if scheduler is None:
            # one thread per worker process: the kernels hold the GIL-free work, processes give the parallelism
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                        dashboard_address=None, silence_logs=logging.CRITICAL)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError, ValueError) as exc:
                raise WorkError(f"--scheduler {scheduler}: no Dask scheduler reachable within {timeout:g}s "
                                f"({type(exc).__name__})") from None
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

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

        submit = self.client.submit
        futures = self.client.map(fn, list(items), pure=False)
        totals: list = [None] * parts
        with _ticker(label, len(futures)) as tick:
            for future in as_completed(futures):
                _raise_if_failed(future)
                for p in range(parts):  # the piece is cut where the shard's result lives, then folded into p's sum
                    piece = submit(operator.getitem, future, p, pure=False)
                    totals[p] = piece if totals[p] is None else submit(combine, totals[p], piece, pure=False)
                future.release()
                tick.advance()
        done = [submit(finish, t, p, pure=False) for p, t in enumerate(totals)]
        return self.client.gather(done)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


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
        raise UsageError(f"--workers {value!r}: give a number of worker processes or auto") from None
    if n < 1:
        raise UsageError(f"--workers must be at least 1, not {n}")
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

    def open(self) -> Runner | None:
        """A DaskRunner when a cluster is asked for, else None."""
        self.check()
        return open_runner(self.workers, self.scheduler, self.timeout)


def open_runner(workers: str | int | None = None, scheduler: str | None = None,
                timeout: float = DEFAULT_SCHEDULER_TIMEOUT, dry: bool = False) -> Runner | None:
    """A DaskRunner for --workers or --scheduler, or None when neither is given (the caller's one-process path)."""
    n = parse_workers(workers)
    if n is not None and scheduler:
        raise UsageError("give --workers (a cluster on this machine) or --scheduler (an existing one), not both")
    if scheduler is not None and not scheduler.strip():
        raise UsageError("--scheduler needs an address, e.g. tcp://host:8786")
    if timeout <= 0:
        raise UsageError(f"--scheduler-timeout must be positive, not {timeout:g}")
    if dry or (n is None and scheduler is None):
        return None
    return DaskRunner(n, scheduler, timeout)


def _ticker(label: str, total: int):
    """Progress over shards (console.meter): a bar on a terminal, else a plain line every ~10% (a log keeps them)."""
    return meter(f"{label}:", total, unit="shards done")


__all__ = ["Runner", "DaskRunner", "Cluster", "open_runner", "parse_workers", "DEFAULT_SCHEDULER_TIMEOUT"]
