"""Text from files, folders, globs, stdin, `.gz` and `.jsonl`, streamed with bounded memory.

A corpus is a list of specs. `documents()` yields one string per file (or per JSONL record); `lines()` yields lines with
their "\\n" kept, which is how Hugging Face `tokenizers` reads files when training. Invalid UTF-8 is an InputError naming
the file and the byte offset, unless errors="replace".
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tokbench.errors import InputError, UsageError, param
from tokbench.io import REPO_ROOT, open_input

BUNDLED_ROOT = REPO_ROOT / "corpora"


def bundled(name: str) -> Path:
    """The folder of a bundled corpus, e.g. `bundled("multi/tr")`; the full build wins over the committed sample."""
    for root in (BUNDLED_ROOT / "full", BUNDLED_ROOT):
        path = root / name
        if path.is_dir():
            return path
    raise UsageError(f"no bundled corpus named {name!r} under {BUNDLED_ROOT}")


@dataclass
class Source:
    """One readable input: a file path or stdin ("-"). `known_size`: its bytes when the folder listing already
    stat'ed it (a folder of 50,000 files is then stat'ed once, not once to list and again to cut shards)."""

    path: str
    known_size: int | None = field(default=None, compare=False, repr=False)

    @property
    def is_stdin(self) -> bool:
        return self.path == "-"

    @property
    def is_jsonl(self) -> bool:
        name = self.path[:-3] if self.path.endswith(".gz") else self.path
        return name.endswith(".jsonl")

    @property
    def is_url(self) -> bool:
        return "://" in self.path

    def size(self) -> int:
        """Bytes on disk (or at the URL)."""
        if self.known_size is not None:
            return self.known_size
        if self.is_url:
            import fsspec

            fs, path = fsspec.core.url_to_fs(self.path)
            return int(fs.size(path))
        return os.path.getsize(self.path)

    def open(self, buffered: bool = True) -> BinaryIO:
        """A binary handle (the caller closes it); `buffered=False` gives a plain file's raw handle, for readers that
        ask for large blocks themselves."""
        if self.is_stdin:
            return sys.stdin.buffer
        raw = open_input(self.path, url=self.is_url, buffered=buffered or self.path.endswith(".gz"))
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
        if spec == "-" or "://" in spec:  # stdin; a URL is opened by fsspec as given (no folders or globs)
            sources.append(Source(spec))
            continue
        path = Path(spec)
        if path.is_dir():
            files = [(p, n) for p, n in _walk(path) if os.path.basename(p) not in ("MANIFEST.json", "README.md")]
            if not files:
                raise InputError(f"{spec}: folder holds no files")
            sources += [Source(p, n) for p, n in files]
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


def _walk(root: Path) -> list[tuple[str, int]]:
    """(path, bytes) of every non-hidden regular file under `root`, sorted (in Path order: by components); unreadable
    folders and odd entries are errors. One stat per file (its size is kept), and no Path objects: a folder of 50,000
    small files is listed in a fraction of a second."""

    def fail(exc: OSError) -> None:
        raise InputError(f"{exc.filename}: cannot read folder: {exc.strerror}")

    files = []
    for base, dirs, names in os.walk(root, onerror=fail, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.startswith("."):
                continue
            p = os.path.join(base, name)
            try:
                st = os.stat(p)
            except FileNotFoundError:
                raise InputError(f"{p}: is a broken link") from None
            except OSError as exc:
                raise InputError(f"{p}: cannot read: {exc.strerror}") from None
            if not stat.S_ISREG(st.st_mode):
                raise InputError(f"{p}: not a regular file (a pipe, socket or device)")
            files.append((p, st.st_size))
    files.sort(key=lambda item: item[0].split(os.sep))
    return files


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _decode(data: bytes, where: str, offset: int, errors: str, line: int | None = None) -> str:
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        at = f"line {line}, " if line is not None else ""
        raise InputError(f"{where}: invalid UTF-8 at {at}byte offset {offset + exc.start} "
                         f"(use {param('errors')} replace)") from None


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


DEFAULT_SHARD_SIZE = 64 << 20


@dataclass(frozen=True)
class Shard:
    """One unit of parallel work: the bytes [start, end) of one file, cut at line ends (end None = to the end).

    A shard is a plain, picklable value that reads itself: a worker on another machine needs only the path (so the
    path must be readable there: a shared filesystem). Line and record readers are those of `Corpus`, so a shard
    yields exactly the lines (or JSONL records) the whole file yields in that byte range, and errors name the file and
    the absolute byte offset."""

    path: str
    start: int = 0
    end: int | None = None
    text_field: str = "text"
    errors: str = "strict"

    @property
    def source(self) -> Source:
        return Source(self.path)

    def lines(self) -> Iterator[str]:
        return _lines(self.source, self.text_field, self.errors, self.start, self.end)

    def documents(self) -> Iterator[str]:
        return _documents(self.source, self.text_field, self.errors, self.start, self.end)

    def blocks(self) -> Iterator[str]:
        return _blocks(self.source, self.text_field, self.errors, self.start, self.end)

    def size(self) -> int:
        """Bytes of input in the shard (on disk: compressed size for .gz)."""
        if self.source.is_stdin:
            return 0
        total = self.source.size()
        return (total if self.end is None else self.end) - self.start

    def __str__(self) -> str:
        return self.path if self.start == 0 and self.end is None else f"{self.path}@{self.start}-{self.end or 'end'}"


@dataclass
class Corpus:
    """A named, re-iterable stream of text over one or more specs."""

    specs: Sequence[str]
    text_field: str = "text"
    errors: str = "strict"
    name: str = ""
    sources: list[Source] = field(init=False)
    _sizes_cache: list[int] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.specs, (str, Path)):
            self.specs = [str(self.specs)]
        if self.errors not in ("strict", "replace"):
            raise UsageError(f"{param('errors')} must be strict or replace, not {self.errors!r}")
        self.sources = expand(self.specs)
        if not self.name:
            first = str(self.specs[0])
            self.name = "stdin" if first == "-" else Path(first.rstrip("/")).name or first

    def documents(self) -> Iterator[str]:
        """One string per file, or per record of a JSONL file. Raises InputError if the corpus is empty."""
        return self._each(_documents)

    def lines(self) -> Iterator[str]:
        """Lines with their newline kept, streamed file by file (JSONL records are split into lines too)."""
        return self._each(_lines)

    def blocks(self) -> Iterator[str]:
        """The same text as `lines()` in blocks of whole lines (about BLOCK_SIZE bytes, cut after a "\\n"), so a
        counter can cut the lines itself instead of receiving one Python string per line."""
        return self._each(_blocks)

    def _each(self, reader) -> Iterator[str]:
        """reader(source, text_field, errors)'s strings, source after source; InputError at the end if all empty."""
        empty = True
        for source in self.sources:
            for text in reader(source, self.text_field, self.errors):
                empty = empty and not text
                yield text
        if empty:
            raise InputError(f"{self._label()}: corpus is empty (no text)")

    def shards(self, shard_size: int = DEFAULT_SHARD_SIZE, *, split_text: bool = True) -> list[Shard]:
        """The corpus as shards in reading order: one per file, files above `shard_size` bytes cut into byte ranges
        at line ends. `split_text=False` cuts only JSONL (where a line is a record), for readers of whole documents:
        a plain file is one document. `.gz` files and stdin cannot be cut (stdin cannot be sharded at all)."""
        return [shard for shard, _ in self._sized_shards(shard_size, split_text)]

    def _sized_shards(self, shard_size: int, split_text: bool) -> list[tuple[Shard, int]]:
        """(shard, bytes) pairs; each file is stat'ed once, and opened only when it is big enough to cut."""
        if shard_size < 1:
            raise UsageError(f"{param('shard_size')} must be at least 1 byte, not {shard_size}")
        out: list[tuple[Shard, int]] = []
        for source, size in zip(self.sources, self._sizes()):
            if source.is_stdin:
                raise UsageError("stdin (-) cannot be sharded over workers: give files or folders")
            cuts = [0, None]
            if size > shard_size and not source.path.endswith(".gz") and (split_text or source.is_jsonl):
                cuts = _cuts(source, shard_size, size)
            out += [(Shard(source.path, a, b, self.text_field, self.errors), (size if b is None else b) - a)
                    for a, b in zip(cuts, cuts[1:])]
        return out

    def _sizes(self) -> list[int]:
        """Bytes of each source on disk (0 for stdin), looked up once per corpus."""
        if self._sizes_cache is None:
            self._sizes_cache = [0 if s.is_stdin else s.size() for s in self.sources]
        return self._sizes_cache

    def tasks(self, shard_size: int = DEFAULT_SHARD_SIZE, workers: int = 1, *,
              split_text: bool = True) -> list[tuple[Shard, ...]]:
        """The corpus as units of work for `workers` processes: tasks of about equal bytes, at most `shard_size`
        each (plus a line), at least four per worker and a multiple of the workers, so all of them finish together
        (a 600 MB file in 64 MB shards was 9 full tasks and a half one on 2 workers: the last 2.3 s ran on one core).
        Small files are packed together (a task has a fixed cost on a cluster); the four per worker give way where
        tasks would fall below about 1 MB."""
        if shard_size < 1:
            raise UsageError(f"{param('shard_size')} must be at least 1 byte, not {shard_size}")
        workers = max(1, workers)
        total = sum(self._sizes())
        count = max(-(-total // shard_size), min(4 * workers, max(1, total >> 20)))
        if count >= workers:
            count = -(-count // workers) * workers
        size = max(1, -(-total // count))
        sized = self._sized_shards(size, split_text)
        return group_shards([s for s, _ in sized], size, [n for _, n in sized])

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


def group_shards(shards: Sequence[Shard], size: int = DEFAULT_SHARD_SIZE,
                 sizes: Sequence[int] | None = None) -> list[tuple[Shard, ...]]:
    """Consecutive shards packed into ceil(bytes / size) tasks of about equal bytes, so a folder of many small files
    costs a few tasks rather than one each (a task has a fixed cost on a cluster) and no task is a small remainder;
    order is kept, so results concatenate in order. A shard goes to the task its middle byte falls in.
    `sizes`: the shards' bytes when the caller knows them (else each is looked up)."""
    if not shards:
        return []
    sizes = [shard.size() for shard in shards] if sizes is None else list(sizes)
    total = sum(sizes)
    count = max(1, -(-total // max(1, size)))
    groups: dict[int, list[Shard]] = {}
    start = 0
    for shard, n in zip(shards, sizes):
        groups.setdefault(min(count - 1, (2 * start + n) * count // max(1, 2 * total)), []).append(shard)
        start += n
    return [tuple(groups[k]) for k in sorted(groups)]


def parse_size(text: str) -> int:
    """'64MB', '512k', '1G', '1000' -> bytes (binary multiples: k = 1024)."""
    import re

    m = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)i?b?\s*", str(text).lower())
    if not m:
        raise UsageError(f"{param('shard_size')} {text!r}: give bytes, e.g. 64MB, 512k or 1000000")
    size = int(m.group(1)) << (10 * " kmgt".index(m.group(2) or " "))
    if size < 1:
        raise UsageError(f"{param('shard_size')} must be at least 1 byte, not {text!r}")
    return size


def _cuts(source: Source, shard_size: int, size: int) -> list:
    """Byte offsets [0, c1, ..., None] cutting a file of `size` bytes after the first line end at or past each
    multiple of `shard_size` from the previous cut."""
    cuts: list = [0]
    with source.open() as handle:
        while cuts[-1] + shard_size < size:
            handle.seek(cuts[-1] + shard_size - 1)
            line = handle.readline()
            end = cuts[-1] + shard_size - 1 + len(line)
            if not line.endswith(b"\n") or end >= size:
                break
            cuts.append(end)
    return cuts + [None]


def _ranged(handle: BinaryIO, start: int, end: int | None, where: str) -> Iterator[bytes]:
    """The raw lines of handle from byte `start` up to `end` (a line end) or EOF, read to the end: a truncated or
    corrupt .gz or an OS error is an InputError naming the file (`where`)."""
    try:
        if start:
            handle.seek(start)
        offset = start
        it = iter(handle)
        while True:
            try:
                raw = next(it)
            except StopIteration:
                return
            if end is not None and offset >= end:
                return
            yield raw
            offset += len(raw)
    except _READ_ERRORS as exc:
        raise _read_error(exc, where) from None


def _lines(source: Source, text_field: str, errors: str, start: int = 0, end: int | None = None) -> Iterator[str]:
    if source.is_jsonl:
        for text in _records(source, text_field, errors, start, end):
            yield from text.splitlines(keepends=True)
        return
    offset = start
    with source.open() as handle:
        for raw in _ranged(handle, start, end, source.path):
            _check_text(raw, source.path, offset)  # every line: a NUL on the last line is as binary as on the first
            yield _decode(raw, source.path, offset, errors)
            offset += len(raw)


BLOCK_SIZE = 1 << 20  # 1 MB: a counting thread holds ~12 bytes per character of its block (code points, spans)


def _blocks(source: Source, text_field: str, errors: str, start: int = 0, end: int | None = None) -> Iterator[str]:
    """Lines of `_lines` joined into blocks of about BLOCK_SIZE bytes, each cut after a "\\n" (a file's last line may
    lack it). A JSONL record's lines are str.splitlines' (not cut at "\\n" only): each comes as a block of its own."""
    if source.is_jsonl:
        yield from _lines(source, text_field, errors, start, end)
        return
    offset, rest = start, b""
    with source.open(buffered=False) as handle:
        if start:
            handle.seek(start)
        size = _read_size(handle, start)
        while True:
            want = size if end is None else min(size, end - offset - len(rest))
            chunk = _read(handle, source.path, want) if want > 0 else b""
            data = rest + chunk
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            if not cut:
                if not chunk:
                    return
                rest = data
                continue
            _check_text(data[:cut], source.path, offset)  # every block: a NUL anywhere is a binary file
            yield _decode(data[:cut], source.path, offset, errors)
            offset += cut
            rest = data[cut:]
            if not chunk:
                return


def _read_size(handle: BinaryIO, start: int) -> int:
    """Bytes to ask for per read: BLOCK_SIZE, or the file's rest + 1 when that is less. read(n) allocates n bytes
    before it reads, so asking 1 MB of each of 45,000 small files costs 1.1 s more than asking their sizes."""
    try:
        rest = os.fstat(handle.fileno()).st_size - start
    except (AttributeError, OSError, ValueError):  # gzip, stdin, an fsspec file: no size to go by
        return BLOCK_SIZE
    return BLOCK_SIZE if rest <= 0 else min(BLOCK_SIZE, rest + 1)


def _documents(source: Source, text_field: str, errors: str, start: int = 0,
               end: int | None = None) -> Iterator[str]:
    if source.is_jsonl:
        yield from _records(source, text_field, errors, start, end)
        return
    with source.open() as handle:
        if start or end is not None:
            data = b"".join(_ranged(handle, start, end, source.path))
        else:
            data = _read(handle, source.path)
    _check_text(data, source.path, start)
    yield _decode(data, source.path, start, errors)


def _records(source: Source, text_field: str, errors: str, start: int = 0, end: int | None = None) -> Iterator[str]:
    """JSONL records' text fields; errors give the line number (from the file's start) or, in a shard that starts
    later, the byte offset of the record."""
    offset = start
    with source.open() as handle:
        for lineno, raw in enumerate(_ranged(handle, start, end, source.path), 1):
            where = f"{source.path}:{lineno}" if start == 0 else f"{source.path}: record at byte offset {offset}"
            here, offset = offset, offset + len(raw)
            _check_text(raw, where, here)
            if not raw.strip():
                continue
            line = _decode(raw, source.path, here, errors, line=lineno if start == 0 else None)
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: invalid JSON: {exc.msg}") from None
            if not isinstance(record, dict) or text_field not in record:
                raise InputError(f"{where}: no field {text_field!r} (see {param('text_field')})")
            value = record[text_field]
            if not isinstance(value, str):
                raise InputError(f"{where}: field {text_field!r} is not a string")
            yield value


def _read(handle: BinaryIO, where: str, size: int = -1) -> bytes:
    try:
        return handle.read(size)
    except _READ_ERRORS as exc:
        raise _read_error(exc, where) from None


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
