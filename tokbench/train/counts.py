"""Word-count tables: count pre-tokens of a corpus in numba, merge tables from shards, save/load them as parquet.

A `WordCounts` is the whole input the BPE trainer needs: each word is the UTF-8 of one pre-token (as HF's trainer sees
it after running the pre-tokenizer on one line at a time), with its int64 count. Tables are canonical (one row per
word, sorted by word bytes), so equal counts give byte-identical files however they were sharded.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import itertools
import queue
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from tokbench.errors import InputError, UsageError, param
from tokbench.io import atomic_dir, atomic_write, default_threads
from tokbench.kernels import partition as KH
from tokbench.kernels import pretokenize as KP
from tokbench.kernels import wordcount as KW
from tokbench.tokenizer import presets

_META_PRETOK = b"tokbench.pretokenizer"
_META_NORM = b"tokbench.normalizer"
_META_FORMAT = b"tokbench.format"
_FORMAT = b"word-counts/1"


class WordCounts:
    """Mergeable word -> count table, tagged with the pre-tokenizer and normalizer that produced it.

    Held as numpy arrays (flat UTF-8 bytes, int64 offsets, int64 counts), one row per word sorted by bytes; pyarrow is
    imported only to save or load, which keeps counting-then-training light on memory."""

    def __init__(self, data, offsets, counts, pretokenizer: str, normalizer: str | None = "none", *, canonical=False):
        presets.kind(pretokenizer)
        self.pretokenizer = pretokenizer
        self.normalizer = presets.normalizer_name(normalizer)
        data = np.ascontiguousarray(data, np.uint8)
        offsets = np.ascontiguousarray(offsets, np.int64)
        counts = np.ascontiguousarray(counts, np.int64)
        if not canonical:
            data, offsets, counts = KW.canonicalize(data, offsets, counts)
        self._data, self._offsets, self._counts = data, offsets, counts

    # --- construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, counts: dict[bytes, int], pretokenizer: str, normalizer: str | None = "none") -> WordCounts:
        words = list(counts)
        offsets = np.zeros(len(words) + 1, np.int64)
        np.cumsum([len(w) for w in words], out=offsets[1:])
        data = np.frombuffer(b"".join(words), np.uint8)
        return cls(data, offsets, np.array(list(counts.values()), np.int64), pretokenizer, normalizer)

    # --- views ----------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._counts)

    @property
    def words(self) -> list[bytes]:
        raw, offs = self._data.tobytes(), self._offsets.tolist()
        return [raw[a:b] for a, b in zip(offs, offs[1:])]

    @property
    def counts(self) -> np.ndarray:
        return self._counts

    @property
    def total(self) -> int:
        """Number of pre-tokens counted (sum of counts)."""
        return int(self._counts.sum())

    def to_dict(self) -> dict[bytes, int]:
        return dict(zip(self.words, self._counts.tolist()))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(flat uint8 word bytes, int64 offsets of length len+1, int64 counts), sorted by word bytes: numba-ready."""
        return self._data, self._offsets, self._counts

    # --- merging ----------------------------------------------------------------------------------------------------
    def _check_compatible(self, other: WordCounts, where: str = "") -> None:
        for attr in ("pretokenizer", "normalizer"):
            a, b = getattr(self, attr), getattr(other, attr)
            if a != b:
                raise InputError(f"{where or 'word counts'}: {attr} {b!r} does not match {a!r} of the other counts")

    def __add__(self, other: WordCounts) -> WordCounts:
        if not isinstance(other, WordCounts):
            return NotImplemented
        return WordCounts.sum([self, other])

    @staticmethod
    def sum(tables: Sequence[WordCounts], where: Sequence[str] = ()) -> WordCounts:
        """The exact sum of many tables; int64 counts, so sums past 2**32 stay exact. `where` names each table for
        the mismatch error. Every table is canonical (sorted, one row per word), so tables are merged pairwise in
        linear passes (a balanced tree: each word is copied log2(tables) times), never re-sorted."""
        tables = list(tables)
        first = tables[0]
        for k, t in enumerate(tables[1:], 1):
            first._check_compatible(t, where[k] if k < len(where) else "")
        while len(tables) > 1:
            tables = [a._merge(b) for a, b in zip(tables[::2], tables[1::2])] + tables[len(tables) & ~1:]
        return tables[0]

    def _merge(self, other: WordCounts) -> WordCounts:
        if not len(other):
            return self
        if not len(self):
            return other
        merged = KW.merge_sorted(*self.arrays(), *other.arrays())
        return WordCounts(*merged, self.pretokenizer, self.normalizer, canonical=True)

    def partition(self, parts: int) -> list[WordCounts]:
        """Split into `parts` disjoint tables by a hash of each word's bytes (the same in every process): every
        shard sends a word to the same partition, so partition p of the sum is the sum of the shards' partitions p."""
        if parts == 1:
            return [self]
        which = KH.partition_of(self._data, self._offsets, parts)
        return [self._take(np.flatnonzero(which == p)) for p in range(parts)]

    def at_least(self, min_count: int) -> WordCounts:
        """The words counted at least `min_count` times (--min-word-count; exact only after the full sum)."""
        return self if min_count <= 1 else self._take(np.flatnonzero(self._counts >= min_count))

    def _take(self, idx: np.ndarray) -> WordCounts:
        data, offsets = KH.take_words(self._data, self._offsets, idx.astype(np.int64))
        return WordCounts(data, offsets, self._counts[idx], self.pretokenizer, self.normalizer, canonical=True)

    def __eq__(self, other) -> bool:
        if not isinstance(other, WordCounts):
            return NotImplemented
        return (self.pretokenizer, self.normalizer) == (other.pretokenizer, other.normalizer) and all(
            np.array_equal(a, b) for a, b in zip(self.arrays(), other.arrays())
        )

    def __repr__(self) -> str:
        return f"WordCounts({len(self)} words, {self.total} tokens, {self.pretokenizer}, {self.normalizer})"

    # --- persistence ------------------------------------------------------------------------------------------------
    def to_arrow(self):
        """A pyarrow Table (word: binary, count: int64) with the presets in its schema metadata."""
        import pyarrow as pa

        # Arrays from the numpy buffers as they are: pa.array(ndarray) and .cast() would import pyarrow.compute and
        # pandas (0.3 s, paid by every Dask worker that writes a part). Offsets go to int32 (binary) while they fit.
        n = len(self)
        if self._offsets[-1] < 1 << 31:
            words = pa.BinaryArray.from_buffers(
                pa.binary(), n, [None, pa.py_buffer(self._offsets.astype(np.int32)), pa.py_buffer(self._data)])
        else:
            words = pa.LargeBinaryArray.from_buffers(
                pa.large_binary(), n, [None, pa.py_buffer(self._offsets), pa.py_buffer(self._data)])
        counts = pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(self._counts)])
        meta = {_META_FORMAT: _FORMAT, _META_PRETOK: self.pretokenizer.encode(), _META_NORM: self.normalizer.encode()}
        return pa.Table.from_arrays([words, counts], names=["word", "count"]).replace_schema_metadata(meta)

    def save(self, path) -> Path:
        """Write parquet (word: binary, count: int64; pre-tokenizer and normalizer in the schema metadata) atomically."""
        import pyarrow.parquet as pq

        path = Path(path)
        with atomic_write(path, "wb") as f:
            pq.write_table(self.to_arrow(), f, compression="zstd")
        return path

    @classmethod
    def load(cls, paths, *, allow_empty: bool = False) -> WordCounts:
        """Sum one or more count files or datasets (folders of parts, as `tokbench count -o DIR` writes); they must
        share pre-tokenizer and normalizer. Errors name the file."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if not paths:
            raise UsageError("no word-count files given")
        files = [f for path in paths for f in dataset_files(Path(path))]
        total = cls.sum([_read_one(f) for f in files], [str(f) for f in files])
        if not allow_empty and len(total) == 0:
            raise InputError(f"{', '.join(map(str, paths))}: word counts are empty (no words)")
        return total


PART = "part-{:05d}.parquet"
DEFAULT_PARTS = 8


def dataset_files(path: Path) -> list[Path]:
    """A count file is itself; a dataset folder is its visible .parquet parts in name order."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.glob("*.parquet") if not p.name.startswith((".", "_")))
    if not files:
        raise InputError(f"{path}: folder holds no word-count parts (*.parquet)")
    return files


def write_part(table: WordCounts, folder, index: int) -> tuple[int, int]:
    """Write partition `index` of a dataset into `folder` (atomically: a retried task just writes it again);
    returns (distinct words, total count) for the caller's summary."""
    table.save(Path(folder) / PART.format(index))
    return len(table), table.total


def save_dataset(tables: Sequence[WordCounts], folder, force: bool = False) -> Path:
    """A count dataset: a folder of parquet parts (disjoint words), read by pandas/pyarrow as one table and by
    `WordCounts.load`; never replaces an existing folder without `force`."""
    folder = Path(folder)
    with atomic_dir(folder, force=force) as tmp:
        for k, table in enumerate(tables):
            write_part(table, tmp, k)
    return folder


def _read_one(path: Path) -> WordCounts:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not path.is_file():
        raise InputError(f"{path}: no such word-count file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{path}: not a readable word-count parquet file ({first})") from None
    meta = table.schema.metadata or {}
    if meta.get(_META_FORMAT) != _FORMAT or _META_PRETOK not in meta:
        raise InputError(f"{path}: not a tokbench word-count file (missing {_META_FORMAT.decode()} metadata)")
    names = set(table.column_names)
    if not {"word", "count"} <= names:
        raise InputError(f"{path}: word-count file needs columns 'word' and 'count', has {sorted(names)}")
    word_t, count_t = table.schema.field("word").type, table.schema.field("count").type
    if not (pa.types.is_binary(word_t) or pa.types.is_large_binary(word_t)) or not pa.types.is_integer(count_t):
        raise InputError(f"{path}: columns must be word: binary and count: integer, got {word_t} and {count_t}")
    if table.column("word").null_count or table.column("count").null_count:
        raise InputError(f"{path}: word-count file has missing values")
    if table.num_rows and pc.min(table.column("count")).as_py() <= 0:
        raise InputError(f"{path}: word-count file has counts below 1")
    words = pa.concat_arrays(table.column("word").chunks).cast(pa.large_binary()) if table.num_rows else None
    if words is None:
        data, offsets = np.zeros(0, np.uint8), np.zeros(1, np.int64)
    else:
        _, offs, buf = words.buffers()
        offsets = np.frombuffer(offs, np.int64, len(words) + 1, words.offset * 8)
        data = np.frombuffer(buf, np.uint8, offsets[-1] - offsets[0], offsets[0]) if buf else np.zeros(0, np.uint8)
        offsets = offsets - offsets[0]
    counts = table.column("count").to_numpy().astype(np.int64)
    try:
        return WordCounts(data, offsets, counts, meta[_META_PRETOK].decode(), meta.get(_META_NORM, b"none").decode())
    except UsageError as e:
        raise InputError(f"{path}: {e}") from None


class _Counter:
    """Grows the numba hash table's arrays as distinct words arrive; memory ~ distinct words, not input."""

    def __init__(self, words: int = 1 << 14):
        self.slots = np.full(4 * words, -1, np.int32)
        self.whash = np.empty(words, np.int64)
        self.woff = np.empty(words, np.int64)
        self.wlen = np.empty(words, np.int32)
        self.wcount = np.empty(words, np.int64)
        self.store = np.empty(8 * words, np.int32)
        self.state = np.zeros(2, np.int64)

    def add(self, cps, starts, ends) -> None:
        p = 0
        while True:
            p = KW.count_spans(
                cps, starts, ends, p, self.slots, self.whash, self.woff, self.wlen, self.wcount, self.store, self.state
            )
            if p == len(starts):
                return
            self._grow(int(ends[p] - starts[p]))

    def _grow(self, need_chars: int) -> None:
        nw, su = int(self.state[0]), int(self.state[1])
        if nw >= len(self.whash):
            n = 2 * len(self.whash)
            for name in ("whash", "woff", "wlen", "wcount"):
                old = getattr(self, name)
                new = np.empty(n, old.dtype)
                new[:nw] = old[:nw]
                setattr(self, name, new)
        if su + need_chars > len(self.store):
            new = np.empty(max(2 * len(self.store), su + need_chars), np.int32)
            new[:su] = self.store[:su]
            self.store = new
        if 2 * (nw + 1) > len(self.slots):
            self.slots = np.full(2 * len(self.slots), -1, np.int32)
            KW.rehash(self.slots, self.whash, nw)

    def result(self, pretokenizer: str, normalizer: str) -> WordCounts:
        nw = int(self.state[0])
        data, offsets = KW.utf8_words(self.store, self.woff, self.wlen, nw)
        return WordCounts(data, offsets, self.wcount[:nw], pretokenizer, normalizer)  # sorts; words are distinct


def count_words(
    lines: Iterable[str], pretokenizer: str, normalizer: str | None = None, *, batch_chars: int = 1 << 18,
    threads: int | None = None,
) -> WordCounts:
    """Count pre-tokens, running the pre-tokenizer on each line separately (as HF's train_from_files does).

    Lines are normalized, batched into one code-point array of about `batch_chars`, split and counted in numba;
    only the table of distinct words is kept between batches. `threads` (default: all cores) count batches side by
    side, each into its own table; the tables are summed, so the result is the same for any number of threads."""
    (counts,) = count_pieces(lines, [word_splitter(pretokenizer)], pretokenizer, normalizer, batch_chars=batch_chars,
                             threads=threads)
    return counts


def count_blocks(
    blocks: Iterable[str], pretokenizer: str, normalizer: str | None = None, *, threads: int | None = None
) -> WordCounts:
    """count_words for text handed over in blocks of whole lines (`Corpus.blocks()`): each block is cut into lines
    after every "\\n" in numba, so no Python object is made per line. A block must not end inside a line unless its
    source ends there."""
    (counts,) = _count_batches(_text_batches(blocks, normalizer), [word_splitter(pretokenizer)], pretokenizer,
                               normalizer, threads)
    return counts


def word_splitter(pretokenizer: str):
    """The preset's pre-tokenizer as a splitter for `count_pieces`: (code points, line bounds) -> (starts, ends)."""
    kind = presets.kind(pretokenizer)
    cls = presets.class_table()
    return lambda cps, bounds: KP.split_lines(cps, bounds, kind, cls)


def word_splitters(pretokenizer: str) -> list:
    """[word_splitter]: the one table plain BPE counts (a picklable factory for `count_shard`)."""
    return [word_splitter(pretokenizer)]


def count_pieces(lines: Iterable[str], splitters, pretokenizer: str, normalizer: str | None = None, *,
                 batch_chars: int = 1 << 18, threads: int = 1) -> list[WordCounts]:
    """Count the pieces of each splitter over the same lines; a splitter maps (code points, line bounds) to
    (starts, ends). The tables are tagged with `pretokenizer`, the preset the splitters stand for. One thread unless
    told: a splitter may keep state across batches (supertoken's seeded stream of lengths runs in corpus order)."""
    return _count_batches(_line_batches(lines, normalizer, batch_chars), splitters, pretokenizer, normalizer, threads)


def _normalizer(normalizer):
    norm = presets.normalizer_name(normalizer)
    return None if norm == "none" else functools.partial(unicodedata.normalize, norm.upper())


def _line_batches(lines: Iterable[str], normalizer, batch_chars: int):
    """(text, line lengths, None) batches of about batch_chars characters, taken with islice/join/map (no loop per
    line)."""
    norm = _normalizer(normalizer)
    it = iter(lines)
    take = 1024
    while True:
        batch = list(itertools.islice(it, take))
        if not batch:
            return
        if norm is not None:
            batch = list(map(norm, batch))
        lengths = np.fromiter(map(len, batch), np.int64, len(batch))
        text = "".join(batch)
        yield text, lengths, None
        take = min(max(64, batch_chars * len(batch) // max(len(text), 1)), 1 << 20)


def _text_batches(blocks: Iterable[str], normalizer, batch_chars: int = 1 << 20):
    """(text, None, cuts) batches of about `batch_chars` characters joined from whole blocks: a folder of small files
    becomes one batch per ~1M characters, not one per file (each batch has a fixed cost in the kernels and, with
    threads, a hand-over between them). Lines are found in the kernel; a block that does not end with "\n" (a file
    whose last line lacks it) still ends its line: its end is in `cuts`, extra line bounds. Each block is normalized
    on its own; normalizing a whole block equals normalizing each line, as "\n" is a starter that composes with
    nothing."""
    norm = _normalizer(normalizer)
    batch: list[str] = []
    cuts: list[int] = []
    size = 0
    for block in blocks:
        if not block:
            continue
        if norm is not None:
            block = norm(block)
        batch.append(block)
        size += len(block)
        if not block.endswith("\n"):
            cuts.append(size)
        if size >= batch_chars:
            yield "".join(batch), None, (np.array(cuts, np.int64) if cuts else None)
            batch, cuts, size = [], [], 0
    if batch:
        yield "".join(batch), None, (np.array(cuts, np.int64) if cuts else None)


def _count_batches(batches, splitters, pretokenizer: str, normalizer, threads: int | None) -> list[WordCounts]:
    """Split and count every batch into per-thread tables; sum the tables at the end (canonical, so exact)."""
    norm = presets.normalizer_name(normalizer)
    threads = default_threads() if threads is None else max(1, int(threads))

    def work(item, counters):
        text, lengths, cuts = item
        cps = KP.codepoints(text)
        if lengths is None:
            bounds = KW.line_bounds(cps)
            if cuts is not None:
                bounds = np.union1d(bounds, cuts)
        else:
            bounds = np.zeros(len(lengths) + 1, np.int64)
            np.cumsum(lengths, out=bounds[1:])
        for split, counter in zip(splitters, counters):
            starts, ends = split(cps, bounds)
            counter.add(cps, starts, ends)

    if threads == 1:
        counters = [_Counter() for _ in splitters]
        for item in batches:
            work(item, counters)
        return [c.result(pretokenizer, norm) for c in counters]

    per_thread = [[_Counter() for _ in splitters] for _ in range(threads)]
    free = queue.SimpleQueue()  # each counter set is used by one thread at a time
    for counters in per_thread:
        free.put(counters)

    def task(item):
        counters = free.get()
        try:
            work(item, counters)
        finally:
            free.put(counters)

    with concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="tokbench-count") as pool:
        pending = collections.deque()
        for item in batches:
            pending.append(pool.submit(task, item))
            if len(pending) > threads:  # bounded look-ahead: one batch waiting per thread at most
                pending.popleft().result()
        for fut in pending:
            fut.result()
    return [WordCounts.sum([counters[j].result(pretokenizer, norm) for counters in per_thread])
            for j in range(len(splitters))]


def count_texts(texts: Iterable[str], pretokenizer: str, normalizer: str | None = None) -> WordCounts:
    """Count whole texts (documents) line by line: each is cut after every "\\n", as a file would be read."""
    return count_words((ln for t in texts for ln in _lines(t)), pretokenizer, normalizer)


def _lines(text: str) -> Iterable[str]:
    """Lines of a text cut after "\\n" only (not str.splitlines' other breaks), each keeping its "\\n"."""
    parts = text.split("\n")
    for part in parts[:-1]:
        yield part + "\n"
    if parts[-1]:
        yield parts[-1]


# --- sharded counting (tokbench.train.runners runs these on Dask workers or in process) -------------------------------


def count_shard(shards, splitters, pretokenizer: str, normalizer: str | None, parts: int,
                threads: int = 1) -> list[WordCounts]:
    """Worker task: count a group of `corpus.Shard`s with each splitter of `splitters()` (a factory, so only its
    name travels) on `threads` threads (the splitters of a sharded count keep no state across lines), then
    hash-partition each table: returns [table 0 part 0..parts-1, table 1 part 0.., ...]."""
    blocks = (block for shard in shards for block in shard.blocks())  # whole lines; the kernel cuts them
    tables = _count_batches(_text_batches(blocks, normalizer), splitters(), pretokenizer, normalizer, threads)
    return [piece for table in tables for piece in table.partition(parts)]


def warm_worker(splitters, normalizer: str | None = None) -> None:
    """What a worker does first, done as it starts (runners.DaskRunner's `warm`): import this module and pyarrow's
    writer, and load every kernel a shard task calls from the numba cache, on a line of text."""
    import pyarrow.parquet  # noqa: F401 - the partition tasks write parquet parts

    tables = _count_batches(_text_batches(["warm up, 12 words\n", "and one more"], normalizer), splitters(), "gpt2",
                            normalizer, 1)
    for table in tables:
        WordCounts.sum(table.partition(2)).at_least(2)


def count_sharded(runner, tasks, splitters, pretokenizer: str, normalizer: str | None = None, *, tables: int = 1,
                  parts: int = DEFAULT_PARTS, min_count: int = 1, folder=None, label: str = "counting"):
    """Count `tasks` (groups of shards: `Corpus.tasks`) on `runner` with a hash-partitioned reduce: partition p
    of every shard folds into one running sum, `min_count` applies to the exact sums. With `folder`, each partition
    task writes its part there and returns (words, total) (nothing large reaches this process); else returns one
    summed WordCounts per table. Each task counts with the runner's `task_threads`."""
    import functools

    if parts < 1:
        raise UsageError(f"{param('parts')} must be at least 1, not {parts}")
    if min_count < 1:
        raise UsageError(f"{param('min_count')} must be at least 1, not {min_count}")
    task = functools.partial(count_shard, splitters=splitters, pretokenizer=pretokenizer, normalizer=normalizer,
                             parts=parts, threads=runner.task_threads)
    finish = functools.partial(_finish_part, min_count=min_count, folder=None if folder is None else str(folder))
    results = runner.map_fold(task, list(tasks), _add, tables * parts, finish, label=label)
    if folder is not None:
        return results
    return [WordCounts.sum(results[t * parts:(t + 1) * parts]) for t in range(tables)]


def _add(a: WordCounts, b: WordCounts) -> WordCounts:
    return a + b


def _finish_part(table: WordCounts, index: int, min_count: int, folder: str | None):
    table = table.at_least(min_count)
    return table if folder is None else write_part(table, folder, index)
