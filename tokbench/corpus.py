"""Text from files, folders, globs, stdin, `.gz` and `.jsonl`, streamed with bounded memory.

A corpus is a list of specs. `documents()` yields one string per file (or per JSONL record); `lines()` yields lines with
their "\\n" kept, which is how Hugging Face `tokenizers` reads files when training. Invalid UTF-8 is an InputError naming
the file and the byte offset, unless errors="replace".
"""

from __future__ import annotations

import glob
import gzip
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
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
    """Turn specs (files, folders, globs, "-") into sources in a deterministic order."""
    if not specs:
        raise UsageError("no corpus given")
    sources: list[Source] = []
    for spec in specs:
        spec = str(spec)
        if spec == "-":
            sources.append(Source("-"))
            continue
        path = Path(spec)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path)))
            files = [p for p in files if p.name not in ("MANIFEST.json", "README.md")]
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
        else:
            raise InputError(f"{spec}: no such file or folder")
    return sources


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _decode(data: bytes, where: str, offset: int, errors: str) -> str:
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: invalid UTF-8 at byte offset {offset + exc.start} (use --errors replace)") from None


def _check_text(head: bytes, where: str) -> None:
    if b"\x00" in head[:_SNIFF]:
        raise InputError(f"{where}: looks like a binary file (NUL bytes), not text")


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
            offset = 0
            with source.open() as handle:
                first = True
                for raw in handle:
                    if first:
                        _check_text(raw, source.path)
                        first = False
                    yield _decode(raw, source.path, offset, self.errors)
                    offset += len(raw)
                    empty = False
        if empty:
            raise InputError(f"{self._label()}: corpus is empty (no text)")

    def _records(self, source: Source) -> Iterator[str]:
        with source.open() as handle:
            for lineno, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                line = _decode(raw, source.path, 0, self.errors)
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
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputError(f"{where}: cannot read: {exc}") from None

    def _label(self) -> str:
        return ", ".join(str(s) for s in self.specs)


def head(documents: Iterable[str], max_bytes: int | None = None) -> Iterator[str]:
    """Documents until `max_bytes` UTF-8 bytes in all (None: every one), the last cut at a character boundary."""
    for doc in documents:
        if max_bytes is not None:
            if max_bytes <= 0:
                return
            data = doc.encode("utf-8")
            if len(data) > max_bytes:
                doc = data[:max_bytes].decode("utf-8", errors="ignore")
            max_bytes -= len(data)
        if doc:
            yield doc


def read_texts(specs: Sequence[str], max_bytes: int | None = None) -> list[str]:
    """The documents of a corpus (at most `max_bytes` in all) as a list; InputError if there is no text."""
    texts = list(head(Corpus(list(specs)).documents(), max_bytes))
    if not texts:
        raise InputError(f"{', '.join(specs)}: no text to score")
    return texts
