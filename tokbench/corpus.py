"""Text from files, folders, globs, stdin, `.gz` and `.jsonl`, streamed with bounded memory.

A corpus is a list of specs. `documents()` yields one string per file (or per JSONL record); `lines()` yields lines with
their "\\n" kept, which is how Hugging Face `tokenizers` reads files when training. Invalid UTF-8 is an InputError naming
the file and the byte offset, unless errors="replace".
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tokbench.errors import InputError, UsageError
from tokbench.io import REPO_ROOT

BUNDLED_ROOT = REPO_ROOT / "corpora"
_SNIFF = 8192


def bundled(name: str) -> Path:
    """The folder of a bundled corpus, e.g. `bundled("multi/tr")`; the full build wins over the committed sample."""
    for root in (BUNDLED_ROOT / "full", BUNDLED_ROOT):
        path = root / name
        if path.is_dir():
            return path
    raise UsageError(f"no bundled corpus named {name!r} under {BUNDLED_ROOT}")


@dataclass
class Source:
    """One readable input: a file path or stdin ("-")."""

    path: str

    @property
    def is_stdin(self) -> bool:
        return self.path == "-"

    @property
    def is_jsonl(self) -> bool:
        name = self.path[:-3] if self.path.endswith(".gz") else self.path
        return name.endswith(".jsonl")

    def open(self) -> BinaryIO:
        if self.is_stdin:
            return sys.stdin.buffer
        try:
            raw = open(self.path, "rb")  # noqa: SIM115 - closed by the caller
        except FileNotFoundError:
            raise InputError(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{self.path}: is a folder") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror}") from None
        if self.path.endswith(".gz"):
            return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
        return raw


def expand(specs: Sequence[str]) -> list[Source]:
    """Turn specs (files, folders, globs, "-") into sources in a deterministic order. A folder entry that cannot be
    read (an unreadable subfolder, a broken link, a device or pipe) is an InputError naming it, never skipped."""
    if not specs:
        raise UsageError("no corpus given")
    if sum(str(s) == "-" for s in specs) > 1:
        raise UsageError("stdin (-) is given more than once; it can be read only once")
    sources: list[Source] = []
    for spec in specs:
        spec = str(spec)
        if spec == "-":
            sources.append(Source("-"))
            continue
        path = Path(spec)
        if path.is_dir():
            files = [p for p in _walk(path) if p.name not in ("MANIFEST.json", "README.md")]
            if not files:
                raise InputError(f"{spec}: folder holds no files")
            sources += [Source(str(p)) for p in files]
        elif path.exists():
            sources.append(Source(spec))
        elif any(ch in spec for ch in "*?["):
            matches = sorted(glob.glob(spec, recursive=True))
            matches = [m for m in matches if Path(m).is_file()]
            if not matches:
                raise InputError(f"{spec}: pattern matches no files")
            sources += [Source(m) for m in matches]
        elif os.path.lexists(spec):
            raise InputError(f"{spec}: is a broken link")
        else:
            raise InputError(f"{spec}: no such file or folder")
    return sources


def _walk(root: Path) -> list[Path]:
    """Every non-hidden regular file under `root`, sorted; unreadable folders and odd entries are errors."""

    def fail(exc: OSError) -> None:
        raise InputError(f"{exc.filename}: cannot read folder: {exc.strerror}")

    files = []
    for base, dirs, names in os.walk(root, onerror=fail, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.startswith("."):
                continue
            p = Path(base, name)
            if not p.exists():
                raise InputError(f"{p}: is a broken link")
            if not p.is_file():
                raise InputError(f"{p}: not a regular file (a pipe, socket or device)")
            files.append(p)
    return sorted(files)


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _decode(data: bytes, where: str, offset: int, errors: str, line: int | None = None) -> str:
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        at = f"line {line}, " if line is not None else ""
        raise InputError(f"{where}: invalid UTF-8 at {at}byte offset {offset + exc.start} (use --errors replace)"
                         ) from None


def _check_text(data: bytes, where: str, offset: int = 0) -> None:
    """NUL bytes anywhere (every reader checks every chunk it reads) mean a binary file, not text."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputError(f"{where}: looks like a binary file (NUL byte at offset {offset + nul}), not text")


def _read_error(exc: BaseException, where: str) -> InputError:
    """A failed read as one line naming the file: a truncated or corrupt .gz, or an OS error."""
    if isinstance(exc, EOFError):
        return InputError(f"{where}: truncated gzip file (it ends before its end-of-stream marker)")
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)):
        return InputError(f"{where}: corrupt gzip file ({exc})")
    if isinstance(exc, OSError):
        return InputError(f"{where}: cannot read: {exc.strerror or exc}")
    return InputError(f"{where}: cannot read: {exc}")


_READ_ERRORS = (OSError, EOFError, zlib.error)


def _raw_lines(source: "Source") -> Iterator[tuple[int, bytes]]:
    """(offset, line bytes) of a source, read to its end; every read error names the file."""
    offset = 0
    with source.open() as handle:
        it = iter(handle)
        while True:
            try:
                raw = next(it)
            except StopIteration:
                return
            except _READ_ERRORS as exc:
                raise _read_error(exc, source.path) from None
            yield offset, raw
            offset += len(raw)


@dataclass
class Corpus:
    """A named, re-iterable stream of text over one or more specs."""

    specs: Sequence[str]
    text_field: str = "text"
    errors: str = "strict"
    name: str = ""
    sources: list[Source] = field(init=False)

    def __post_init__(self) -> None:
        if isinstance(self.specs, (str, Path)):
            self.specs = [str(self.specs)]
        if self.errors not in ("strict", "replace"):
            raise UsageError(f"--errors must be strict or replace, not {self.errors!r}")
        self.sources = expand(self.specs)
        if not self.name:
            first = str(self.specs[0])
            self.name = "stdin" if first == "-" else Path(first.rstrip("/")).name or first

    def documents(self) -> Iterator[str]:
        """One string per file, or per record of a JSONL file. Raises InputError if the corpus is empty."""
        empty = True
        for source in self.sources:
            if source.is_jsonl:
                for text in self._records(source):
                    empty = empty and not text
                    yield text
                continue
            with source.open() as handle:
                data = self._read(handle, source.path)
            _check_text(data, source.path)
            text = _decode(data, source.path, 0, self.errors)
            empty = empty and not text
            yield text
        if empty:
            raise InputError(f"{self._label()}: corpus is empty (no text)")

    def lines(self) -> Iterator[str]:
        """Lines with their newline kept, streamed file by file (JSONL records are split into lines too)."""
        empty = True
        for source in self.sources:
            if source.is_jsonl:
                for text in self._records(source):
                    for line in text.splitlines(keepends=True):
                        empty = False
                        yield line
                continue
            for offset, raw in _raw_lines(source):
                _check_text(raw, source.path, offset)
                yield _decode(raw, source.path, offset, self.errors)
                empty = False
        if empty:
            raise InputError(f"{self._label()}: corpus is empty (no text)")

    def _records(self, source: Source) -> Iterator[str]:
        for lineno, (offset, raw) in enumerate(_raw_lines(source), 1):
            _check_text(raw, f"{source.path}:{lineno}", offset)
            if not raw.strip():
                continue
            line = _decode(raw, source.path, offset, self.errors, line=lineno)
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{source.path}:{lineno}: invalid JSON: {exc.msg}") from None
            if not isinstance(record, dict) or self.text_field not in record:
                raise InputError(f"{source.path}:{lineno}: no field {self.text_field!r} (see --text-field)")
            value = record[self.text_field]
            if not isinstance(value, str):
                raise InputError(f"{source.path}:{lineno}: field {self.text_field!r} is not a string")
            yield value

    @staticmethod
    def _read(handle: BinaryIO, where: str) -> bytes:
        try:
            return handle.read()
        except _READ_ERRORS as exc:
            raise _read_error(exc, where) from None

    def _label(self) -> str:
        return ", ".join(str(s) for s in self.specs)


def read_text_arg(value: str, name: str = "TEXT") -> str:
    """A TEXT argument where "-" means stdin. Bytes that are not UTF-8 (the shell passes them through as surrogate
    escapes) are an InputError, not a crash deep inside an encoder."""
    if value == "-":
        from tokbench.io import read_bytes

        data = read_bytes("-")
        _check_text(data, "stdin")
        return _decode(data, "stdin", 0, "strict")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"{name} argument is not valid UTF-8 (byte {exc.start} cannot be decoded)") from None
    return value
