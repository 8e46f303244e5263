"""Imports of the shared core API (errors, io, tokenizer adapter), with small stand-ins until the lead's modules are
merged into this branch. Delete the fallbacks once `tokbench.errors`, `tokbench.io` and `tokbench.tokenizer` exist."""

from __future__ import annotations

try:
    from tokbench.errors import InputError, TokbenchError, UsageError, WorkError
except ImportError:  # pragma: no cover - only before the merge

    class TokbenchError(Exception):
        exit_code = 1

    class UsageError(TokbenchError):
        exit_code = 2

    class InputError(TokbenchError):
        pass

    class WorkError(TokbenchError):
        pass


try:
    from tokbench.io import atomic_dir, atomic_write, cache_dir
except ImportError:  # pragma: no cover - only before the merge
    import contextlib
    import os
    import shutil
    import tempfile
    from pathlib import Path

    def cache_dir(*parts: str) -> Path:
        root = Path(os.environ.get("TOKBENCH_CACHE") or Path(__file__).resolve().parents[2] / ".cache")
        path = root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextlib.contextmanager
    def atomic_write(path, mode="w", encoding="utf-8"):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
            with os.fdopen(fd, mode, **kwargs) as handle:
                yield handle
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def atomic_dir(path, force=False):
        path = Path(path)
        if path.exists() and not force:
            raise UsageError(f"{path}: already exists (use --force to replace it)")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        try:
            yield tmp
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


try:
    from tokbench.tokenizer import load_tokenizer
except ImportError:  # pragma: no cover - only before the merge
    from tokbench.transplant._tokshim import load_tokenizer

__all__ = ["TokbenchError", "UsageError", "InputError", "WorkError", "atomic_dir", "atomic_write", "cache_dir",
           "load_tokenizer"]
