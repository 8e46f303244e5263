"""Imports of the shared core API (errors, io, tokenizer adapter), with small stand-ins until the lead's modules are
merged into this branch. Delete the fallbacks once `tokbench.errors`, `tokbench.io` and `tokbench.tokenizer` exist."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import tokbench

_HERE = Path(tokbench.__file__).resolve().parent


def _local(name: str) -> bool:
    """True when module `name` lives in this checkout (an editable install elsewhere must not leak in)."""
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:
        return False
    return spec is not None and spec.origin is not None and Path(spec.origin).resolve().is_relative_to(_HERE)


try:
    if not _local("tokbench.errors"):
        raise ImportError
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
    if not _local("tokbench.io"):
        raise ImportError
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
    if not _local("tokbench.tokenizer"):
        raise ImportError
    from tokbench.tokenizer import load_tokenizer
except ImportError:  # pragma: no cover - only before the merge
    from tokbench.transplant._tokshim import load_tokenizer


try:
    if not _local("tokbench.corpus"):
        raise ImportError
    from tokbench.corpus import Corpus
except ImportError:  # pragma: no cover - only before the merge
    from pathlib import Path as _Path

    class Corpus:  # files and folders of UTF-8 text, one document per file
        def __init__(self, specs, text_field="text", errors="strict"):
            self.specs = list(specs)
            self.name = ",".join(self.specs)

        def documents(self):
            for spec in self.specs:
                p = _Path(spec)
                files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
                for f in files:
                    try:
                        yield f.read_text(encoding="utf-8")
                    except (OSError, UnicodeDecodeError) as exc:
                        raise InputError(f"{f}: cannot read as UTF-8 text: {exc}") from None

__all__ = ["TokbenchError", "UsageError", "InputError", "WorkError", "atomic_dir", "atomic_write", "cache_dir",
           "load_tokenizer", "Corpus"]
