"""The one home for human-facing output: tables, progress bars and status lines, always on stderr unless asked.

stdout stays machine-readable (`--format`). On a terminal, progress is a transient rich bar; off one (a log, a pipe,
CI), `bar`/`progress` stay silent, `meter` (long loops: training steps, shards) prints a plain line now and then, and
tables are printed wide (220 columns) rather than squeezed into 80.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any


@functools.cache
def _console(stdout: bool):
    from rich.console import Console

    console = Console(stderr=not stdout)
    if not console.is_terminal:  # a log or a pipe: do not squeeze the columns into 80 characters
        console = Console(stderr=not stdout, width=220)
    return console


def console(stdout: bool = False):
    """The rich Console for stderr (or stdout)."""
    return _console(stdout)


def status(message: str) -> None:
    """One plain status line on stderr (warnings, "converting ... once")."""
    print(message, file=sys.stderr)


def print_table(table, title: str = "", digits: int = 3, to_stdout: bool = False) -> None:
    """Print a rich Table, or records (a list of dicts, one row each; a single record as key/value rows)."""
    if isinstance(table, list):
        if not table:
            console(to_stdout).print(f"{title}: nothing to show")
            return
        table = records_table(table, title, digits)
    console(to_stdout).print(table)


def records_table(records: list[dict[str, Any]], title: str = "", digits: int = 3):
    """A rich Table of records; one record is shown as key/value rows (it fits any terminal)."""
    from rich.table import Table

    table = Table(title=title or None)
    if len(records) == 1:
        table.add_column("")
        table.add_column("value", justify="right")
        for key, value in records[0].items():
            table.add_row(str(key), _cell(value, digits))
        return table
    columns = list(records[0])
    for col in columns:
        table.add_column(str(col), justify="right" if isinstance(records[0][col], (int, float)) else "left")
    for rec in records:
        table.add_row(*(_cell(rec.get(c), digits) for c in columns))
    return table


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@contextlib.contextmanager
def bar(description: str, total: float | None = None, enabled: bool = True) -> Iterator[Callable[[float], None]]:
    """A transient progress bar on stderr; yields advance(n). Silent off a terminal or when not enabled."""
    if not enabled or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    count = MofNCompleteColumn() if total else TextColumn("{task.completed:,.0f}")
    with Progress(TextColumn("{task.description}"), BarColumn(), count, TimeElapsedColumn(), console=console(),
                  transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def progress(items: Iterable, description: str, total: float | None = None, unit_of=None) -> Iterator:
    """Yield items while a progress bar advances by `unit_of(item)` (default 1 per item)."""
    with bar(description, total) as advance:
        for item in items:
            yield item
            advance(unit_of(item) if unit_of else 1)


class Meter:
    """What `meter` yields: `update(done, postfix)` sets the count (and the latest losses, rates...), `advance(n)`
    adds to it."""

    def __init__(self, label: str, total: int, done: int, unit: str, every: int, seconds: float, bar=None,
                 quiet: bool = False):
        self.label, self.total, self.done, self.unit, self.every, self.seconds = label, total, done, unit, every, seconds
        self.bar, self.task, self.quiet = bar, None, quiet
        self.started = self.last_line = time.perf_counter()

    def update(self, done: int, postfix: str = "") -> None:
        self.done = done
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(self.task, completed=done, info=postfix)
            return
        now = time.perf_counter()
        if done % self.every == 0 or done == self.total or now - self.last_line > self.seconds:
            self.last_line = now
            unit = f" {self.unit}" if self.unit else ""
            status(f"{self.label} {done}/{self.total}{unit} ({now - self.started:.1f}s)" + (f"  {postfix}" if postfix
                                                                                              else ""))

    def advance(self, n: int = 1, postfix: str = "") -> None:
        self.update(self.done + n, postfix)


@contextlib.contextmanager
def meter(label: str, total: int, done: int = 0, unit: str = "", every: int | None = None, seconds: float = 30.0,
          enabled: bool = True) -> Iterator[Meter]:
    """Progress of a long loop whose state is worth reading (losses, rates): on a terminal a transient rich bar with
    M/N, time left and the postfix; off one (a log keeps them) a plain line `label done/total unit (elapsed)  postfix`
    at every `every`-th unit (default: each tenth of the total), at the end, and after `seconds` without one."""
    every = every or max(1, total // 10)
    if not enabled or not sys.stderr.isatty():
        yield Meter(label, total, done, unit, every, seconds, quiet=not enabled)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.fields[info]}"), console=console(), transient=True) as bar:
        m = Meter(label, total, done, unit, every, seconds, bar)
        m.task = bar.add_task(label, total=total, completed=done, info="")
        yield m
