"""Human-facing output: rich tables and progress bars, always on stderr so stdout stays machine-readable."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Iterator
from typing import Any


@functools.cache
def console():
    from rich.console import Console

    return Console(stderr=True)


def print_table(records: list[dict[str, Any]], title: str = "", digits: int = 3) -> None:
    from rich.table import Table

    table = Table(title=title or None)
    if not records:
        console().print(f"{title}: nothing to show")
        return
    columns = list(records[0])
    for col in columns:
        table.add_column(str(col), justify="right" if isinstance(records[0][col], (int, float)) else "left")
    for rec in records:
        table.add_row(*(_cell(rec.get(c), digits) for c in columns))
    console().print(table)


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


def progress(items: Iterable, description: str, total: float | None = None, unit_of=None) -> Iterator:
    """Yield items while a transient progress bar on stderr advances by `unit_of(item)` (default 1 per item)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    if not sys.stderr.isatty():
        yield from items
        return
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,.0f}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=console(), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task, unit_of(item) if unit_of else 1)
