"""Atomic writes and cache folders (minimal stand-in; the lead's version replaces it at merge)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def atomic_write(path, mode: str = "w"):
    """Write to a temp file next to `path` and rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cache_dir(*parts: str) -> Path:
    """A cache folder under $TOKBENCH_CACHE or <repo>/.cache, created on demand."""
    root = Path(os.environ.get("TOKBENCH_CACHE") or _REPO / ".cache")
    d = root.joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
    return d
