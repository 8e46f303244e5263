"""A fast encoder for byte-level BPE tokenizers (ids identical to `tokenizers`), built on the numba kernel.

What it matches: HF `Tokenizer.encode(text, add_special_tokens=False)` for a tokenizer.json whose model is BPE over the
256 ByteLevel chars, whose pre-tokenizer is ByteLevel (regex), Sequence[Split(Regex, isolated), ByteLevel(no regex)] or
Sequence[Split(\\p{N}, isolated) or Digits(individual), ByteLevel(regex)] (SmolLM2's),
and whose normalizer is none, NFC or NFKC. Added tokens (special or not) found in the text are emitted as their ids, exactly
as HF does; `encode_special_tokens=True` treats special ones as plain text (HF's flag of the same name).
Anything else raises `Unsupported` from `from_tokenizer_json` (an internal signal, never shown to users), so callers
can fall back to `tokenizers`.
"""

from __future__ import annotations

import concurrent.futures
import copy
import functools
import hashlib
import json
import logging
import queue
import unicodedata
from pathlib import Path
from typing import NamedTuple

import numpy as np
import regex

from tokbench.errors import InputError, TokbenchError, WorkError
from tokbench.io import default_threads
from tokbench.tokenizer import formats, presets
from tokbench.tokenizer.bytelevel import char_to_byte

GPT2_PATTERN = presets.pattern("gpt2")  # ByteLevel's built-in split
SMOLLM_PATTERN = presets.pattern("smollm")  # Split(\p{N}) then ByteLevel's split, as one regex
WHITESPACE_PATTERN = presets.pattern("whitespace")  # HF's Whitespace pre-tokenizer (drops the whitespace)

log = logging.getLogger(__name__)

CACHE_WORDS = 1_000_000  # the word cache starts over past this many distinct pre-tokens
CHUNK_CHARS = 1 << 18  # characters per kernel call in encode_batch (bounds working memory)
# A process encodes its first SMALL_BUDGET characters without numba (the `regex` split and `_merge_small`, array code
# in numpy): about what loading numba and the encoding kernels costs (~0.25 s), so a short command never pays for it.
# Past the budget, or once the kernels are loaded, every batch takes the kernels.
SMALL_BUDGET = 1 << 16
SMALL_PIECE = 256  # a piece longer than this (bytes) goes to the kernels: _merge_small does one merge per round
NO_RANK = 2**31 - 1  # kernels.bpe_encode.NO_RANK
TABLES_VERSION = 2  # bump when Tables or how they are built changes: cached tables of older versions are rebuilt
_small_left = [SMALL_BUDGET]  # characters the no-numba path may still encode in this process


def use_kernels() -> None:
    """From now on every batch is encoded by the numba kernels (`tokbench warmup`, long runs)."""
    _small_left[0] = 0


def _kernels():
    """tokbench.kernels.bpe_encode, imported on first need (it imports numba)."""
    from tokbench.kernels import bpe_encode

    return bpe_encode


class Tables(NamedTuple):
    """An encoder's arrays. Token id i's bytes: pool[offs[i]:offs[i+1]] (empty: none); v_slots/v_hashes index them by
    bytes (kernels.tables); byte_ids[b]: the id of the one-byte token b. Merges: m_table, the hash table the kernels
    probe (kernels.bpe_encode.build_merge_table), and the same pairs as m_keys (left << 32 | right, sorted ascending,
    so numpy can searchsorted them) with their rank and new id."""

    pool: np.ndarray
    offs: np.ndarray
    v_slots: np.ndarray
    v_hashes: np.ndarray
    byte_ids: np.ndarray
    m_table: np.ndarray
    m_keys: np.ndarray
    m_ranks: np.ndarray
    m_new: np.ndarray


def build_tables(token_pool, token_offs, merges, vocab_index=None) -> Tables:
    """Tables from token bytes by id and merge rows (left_id, right_id, new_id) in rank order (kernels);
    vocab_index: (v_slots, v_hashes) when the caller built them already."""
    K = _kernels()
    offs = np.ascontiguousarray(token_offs, np.int64)
    pool = np.ascontiguousarray(token_pool, np.uint8)
    pool = pool if pool.size else np.zeros(1, np.uint8)
    slots, hashes = vocab_index if vocab_index is not None else K.build_bytes_table(pool, offs)
    byte_ids = K.byte_token_ids(pool, offs, slots, hashes)
    m = np.asarray(merges, np.int32).reshape(-1, 3)
    m_table, keys, ranks, new = K.build_merge_table(m[:, 0].copy(), m[:, 1].copy(), m[:, 2].copy())
    order = np.argsort(keys, kind="stable")
    return Tables(pool, offs, slots, hashes, byte_ids, m_table, keys[order], ranks[order], new[order])


def rank_file_tables(path, id_offset: int = 0) -> Tables:
    """The Tables of a `.tiktoken` file (ids = rank + id_offset), cached on disk by the file's sha256: a cached file
    loads without numba in milliseconds (memory-mapped, copy on write); a new one is parsed and checked by kernels
    (InputError names the bad line) and its tables written atomically to cache_dir("encoder")."""
    data = _read_rank_file(path)
    folder = _tables_folder(_cache_key(data, f"offset{id_offset}"))
    if folder is not None:
        try:
            return _load_tables(folder)
        except (OSError, ValueError):
            pass  # not there yet (or damaged): build it
    pool, starts, ends, ranks = _parse_ranks(path, np.frombuffer(data, np.uint8))
    tables = tables_from_ranks(pool, starts, ends, ranks + id_offset)
    if folder is not None:
        _save_tables(folder, tables)
    return tables


def tables_from_ranks(pool, starts, ends, ids) -> Tables:
    """Tables of tiktoken ranks: token k is pool[starts[k]:ends[k]] with id ids[k]. tiktoken merges any adjacent pair
    whose bytes form a token, at that token's rank; so every split of a token into two tokens is a merge at its rank."""
    K = _kernels()
    size = int(ids.max()) + 1 if ids.size else 0
    pool, offs = K.tokens_by_id(pool, starts, ends, ids, size)
    slots, hashes = K.build_bytes_table(pool, offs)
    return build_tables(pool, offs, K.rank_merges(pool, offs, slots, hashes), (slots, hashes))


def _cache_key(data: bytes, kind: str) -> str:
    """The cache entry's name for tables built from a file's bytes `data`: its sha256, what was built, the version."""
    return f"{hashlib.sha256(data).hexdigest()[:40]}-{kind}-v{TABLES_VERSION}"


def _tables_folder(key: str) -> Path | None:
    from tokbench.io import cache_dir

    try:
        return cache_dir("encoder") / key
    except WorkError:  # the folder cannot be made (a full disk): build the tables, cache nothing
        return None  # (a TOKBENCH_CACHE that is a file is a UsageError, as for every other cache)


def _load_tables(folder: Path) -> Tables:
    """The cached arrays; ValueError unless they fit together (a damaged entry is rebuilt, never read past its end)."""
    t = Tables(*(np.asarray(np.load(folder / f"{name}.npy", mmap_mode="c")) for name in Tables._fields))
    n_keys = len(t.m_keys)
    cap = len(t.m_table)
    if not (t.offs.ndim == 1 and len(t.offs) >= 1 and t.offs[0] == 0 and t.offs[-1] <= len(t.pool)
            and len(t.v_hashes) == len(t.offs) - 1 and t.byte_ids.shape == (256,)
            and t.m_table.shape == (cap, 2) and cap >= 2 * n_keys and cap & (cap - 1) == 0
            and len(t.v_slots) & (len(t.v_slots) - 1) == 0 and len(t.m_ranks) == len(t.m_new) == n_keys):
        raise ValueError(f"{folder}: cached encoder tables do not fit together")
    return t


def _save_tables(folder: Path, tables: Tables, settings: str | None = None) -> None:
    from tokbench.io import atomic_dir

    try:
        with atomic_dir(folder, force=True) as tmp:
            for name, array in zip(Tables._fields, tables):
                np.save(tmp / f"{name}.npy", array)
            if settings is not None:
                (tmp / "settings.json").write_text(settings, encoding="utf-8")
    except TokbenchError:
        pass  # a full or read-only cache only costs the rebuild next time


class Unsupported(Exception):
    """The fast encoder does not reproduce this tokenizer (the caller falls back to `tokenizers`); not a user error."""


class BPEEncoder:
    """Byte-level BPE: token bytes per id, merges in rank order (`Tables`), a split regex."""

    def __init__(
        self,
        tables: Tables,
        pattern: str = GPT2_PATTERN,
        added_tokens: dict[str, tuple[int, bool]] | None = None,
        normalizer: str | None = None,
        ignore_merges: bool = False,
        encode_special_tokens: bool = False,
        isolated: bool = True,
        engine: str = "regex",
    ):
        """tables: `build_tables`, `tables_from_ranks` or `rank_file_tables`. isolated: text the pattern does not
        match is kept as pieces (HF Split "isolated"); False drops it (Whitespace). engine: who reads `pattern`,
        "regex" (tiktoken's pat_str) or "hf" (a tokenizer.json Split, Oniguruma). Nothing here loads numba: the
        kernels load at the first batch that needs them (see SMALL_BUDGET)."""
        self.pattern_text, self.engine = pattern, engine
        self.normalizer = normalizer
        self.ignore_merges = ignore_merges
        self.isolated = isolated
        missing = np.flatnonzero(tables.byte_ids < 0)
        if missing.size:
            raise Unsupported(f"not a byte-level BPE vocabulary: no token for byte {bytes([missing[0]])!r}")
        self._tables = tables
        self.byte_ids = tables.byte_ids
        self.added_tokens = dict(added_tokens or {})
        self.encode_special_tokens = encode_special_tokens
        matched = [t for t, (_, special) in self.added_tokens.items() if not (special and encode_special_tokens)]
        self._added_re = _matcher(matched)
        self._allowing: dict[frozenset, BPEEncoder] = {}
        self.scanner = presets.scanner_preset(pattern, engine) if isolated else (
            "whitespace" if pattern == WHITESPACE_PATTERN else None)
        self._reset_cache()

    @property
    def _vocab(self):
        t = self._tables
        return t.pool, t.offs, t.v_slots, t.v_hashes

    @property
    def _merges(self):
        t = self._tables
        return t.m_table, t.m_keys, t.m_ranks, t.m_new

    @functools.cached_property
    def _scanner(self):
        """(kind, class table, split_lines) of the numba scanner, or None (pre-tokenize in Python); loaded lazily."""
        return _scanner(self.scanner)

    def allowing(self, allowed) -> "BPEEncoder":
        """This encoder with the special tokens in `allowed` (texts, or "all") matched as their ids, as tiktoken's
        `allowed_special`; the tables and word caches are shared."""
        specials = {t for t, (_, special) in self.added_tokens.items() if special}
        allowed = frozenset(specials if allowed == "all" else set(allowed) & specials)
        if not allowed or not self.encode_special_tokens:
            return self
        if allowed not in self._allowing:
            other = copy.copy(self)
            other._added_re = _matcher([t for t, (_, special) in self.added_tokens.items()
                                        if not special or t in allowed])
            self._allowing[allowed] = other
        return self._allowing[allowed]

    @property
    def token_bytes(self) -> list[bytes | None]:
        """Bytes of every id (None: no bytes)."""
        pool, offs = self._vocab[0].tobytes(), self._vocab[1].tolist()
        return [pool[a:b] if b > a else None for a, b in zip(offs, offs[1:])]

    # --- construction

    @classmethod
    def from_tokenizer_json(cls, spec, encode_special_tokens: bool = False) -> "BPEEncoder":
        """From a tokenizer.json path, its parsed dict, or a `tokenizers.Tokenizer`; Unsupported if it does not apply.
        A path's tables and settings are cached on disk by the file's sha256 (as rank_file_tables): a cached one
        loads without parsing the JSON or loading numba."""
        if not isinstance(spec, (str, Path)):
            tables, settings = _tokenizer_json_parts(spec if isinstance(spec, dict) else json.loads(spec.to_str()))
            return cls(tables, **settings, encode_special_tokens=encode_special_tokens)
        try:
            data = Path(spec).read_bytes()
        except OSError as err:
            raise InputError(f"{spec}: cannot read tokenizer.json ({err.strerror})") from None
        folder = _tables_folder(_cache_key(data, "json"))
        try:
            if folder is None:
                raise OSError("no cache folder")
            tables = _load_tables(folder)
            settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
            settings["added_tokens"] = {t: (i, special) for t, i, special in settings["added_tokens"]}
        except (OSError, ValueError, TypeError, KeyError):  # not cached yet (or damaged): build it
            try:
                parsed = json.loads(data.decode("utf-8"))
            except ValueError as err:
                raise InputError(f"{spec}: cannot read tokenizer.json ({err})") from None
            tables, settings = _tokenizer_json_parts(parsed, str(spec))
            if folder is not None:
                listed = {**settings, "added_tokens": [[t, i, sp] for t, (i, sp) in settings["added_tokens"].items()]}
                _save_tables(folder, tables, json.dumps(listed, ensure_ascii=False))
        return cls(tables, **settings, encode_special_tokens=encode_special_tokens)

    @classmethod
    def from_ranks(
        cls, ranks: dict[bytes, int], pattern: str, normalizer: str | None = None, id_offset: int = 0
    ) -> "BPEEncoder":
        """From tiktoken mergeable ranks (ids = rank + id_offset), matching `Encoding.encode_ordinary`."""
        tokens = list(ranks)
        lengths = np.fromiter(map(len, tokens), np.int64, len(tokens))
        ends = np.cumsum(lengths)
        pool = np.frombuffer(b"".join(tokens) or b"\0", np.uint8)
        ids = np.fromiter(ranks.values(), np.int64, len(ranks)) + id_offset
        return cls.from_rank_arrays(pool, ends - lengths, ends, ids, pattern, normalizer)

    @classmethod
    def from_rank_arrays(cls, pool, starts, ends, ids, pattern, normalizer=None, added_tokens=None) -> "BPEEncoder":
        """Token k is pool[starts[k]:ends[k]] with id ids[k] (`tables_from_ranks`). added_tokens: {text: (id, special)};
        special ones are plain text unless allowed (`allowing`), as tiktoken's `encode_ordinary`; the others are always
        matched."""
        return cls.from_rank_tables(tables_from_ranks(pool, starts, ends, ids), pattern, normalizer, added_tokens)

    @classmethod
    def from_rank_tables(cls, tables: Tables, pattern, normalizer=None, added_tokens=None) -> "BPEEncoder":
        """tiktoken-style: the Tables of ranks (`rank_file_tables`), a pat_str, specials as in from_rank_arrays."""
        return cls(tables, pattern, added_tokens, normalizer.upper() if normalizer else None,
                   encode_special_tokens=True)

    @classmethod
    def from_descriptor(cls, path) -> "BPEEncoder":
        """From a zoo tiktoken descriptor (.json naming a ranks file, the pattern, specials, normaliser, id offset)."""
        desc = formats.read_descriptor(path)
        if desc.get("normalizer") not in (None, "NFC", "NFKC"):
            raise Unsupported(f"{path}: fast encoder does not support normalizer {desc['normalizer']}")
        return cls.from_rank_tables(rank_file_tables(desc["ranks"], desc["id_offset"]), desc["pattern"],
                                    desc.get("normalizer"))

    # --- encoding

    def encode_batch(self, texts: list[str], threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ids of all texts as one int32 array, and int64 offsets: text i is ids[offsets[i]:offsets[i+1]].

        A small batch early in a process goes through without numba (SMALL_BUDGET). Otherwise texts go through the
        kernels in chunks of about CHUNK_CHARS characters, so working memory stays small for big batches. `threads`
        (default: all cores) encode chunks side by side: the kernels release the GIL and each thread keeps its own
        word cache, so the ids are the same for any number of threads (and for either path)."""
        texts = list(texts)
        sizes = np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)))
        if self._small(int(sizes[-1]) if len(texts) else 0):
            parts = [self._encode_chunk(texts, small=True)]
        else:
            parts = self._encode_chunks(texts, sizes, threads)
        id_parts, offset_parts, done = [], [np.zeros(1, np.int64)], 0
        for ids, offsets in parts:
            id_parts.append(ids)
            offset_parts.append(offsets[1:] + done)
            done += len(ids)
        ids = np.concatenate(id_parts) if id_parts else np.zeros(0, np.int32)
        return ids, np.concatenate(offset_parts)

    def _small(self, chars: int) -> bool:
        """Take the no-numba path for this many characters (and count them against the budget)?"""
        if chars > _small_left[0]:
            use_kernels()
            return False
        _small_left[0] -= chars
        return True

    def _encode_chunks(self, texts, sizes, threads):
        chunks, start = [], 0
        while start < len(texts):
            before = sizes[start - 1] if start else 0
            stop = min(int(np.searchsorted(sizes, before + CHUNK_CHARS, "left")) + 1, len(texts))
            chunks.append(texts[start:stop])
            start = stop
        threads = min(default_threads() if threads is None else max(1, int(threads)), len(chunks))
        if threads <= 1:
            return [self._encode_chunk(chunk) for chunk in chunks]
        # longest chunks first (one long document can be a chunk of its own): the threads then finish together
        chars = [sum(map(len, chunk)) for chunk in chunks]
        with concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="tokbench-encode") as pool:
            done = {i: pool.submit(self._encode_chunk, chunks[i]) for i in sorted(range(len(chunks)),
                                                                                 key=lambda i: -chars[i])}
            return [done[i].result() for i in range(len(chunks))]

    def _encode_chunk(self, texts: list[str], small: bool = False) -> tuple[np.ndarray, np.ndarray]:
        buf, starts, ends, fixed, text_pieces = self._split(texts, small)
        ids, piece_offs = self._encode_pieces(buf, starts, ends, fixed, small)
        return ids, piece_offs[text_pieces]

    def _encode_pieces(self, buf, starts, ends, fixed, small: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """BPE of the pieces buf[starts[k]:ends[k]] (fixed[k] >= 0: that id): ids and per-piece id offsets."""
        if small and (not len(starts) or int((ends - starts).max()) <= SMALL_PIECE):
            return _merge_small(self._tables, buf, starts, ends, fixed, self.ignore_merges)
        use_kernels()
        t = self._tables
        try:
            cache = self._caches.get_nowait()  # one word cache per thread at a time
        except queue.Empty:
            cache = _empty_cache()
        ids, piece_offs, *cache = _kernels().encode_pieces(
            buf, starts, ends, fixed, t.byte_ids, t.m_table, self.ignore_merges, t.pool, t.offs, t.v_slots,
            t.v_hashes, *cache,
        )
        self._caches.put(tuple(cache) if cache[-1] <= CACHE_WORDS else _empty_cache())
        return ids, piece_offs

    def encode_bytes(self, data: bytes) -> list[int]:
        """Ids of raw bytes, as tiktoken's `_encode_bytes`: valid UTF-8 is encoded as text; otherwise the valid prefix
        is, and its last piece (grown over the all-whitespace tokens before it, as tiktoken does for cl100k's newline
        runs) is encoded again together with the bytes after the prefix, as one piece."""
        try:
            return self.encode(data.decode("utf-8"))
        except UnicodeDecodeError as err:
            valid = err.start
        ids: list[int] = []
        last = 0  # tokens of the prefix's last piece
        small = self._small(len(data))
        if valid:
            buf, starts, ends, fixed, _ = self._split([data[:valid].decode("utf-8")], small)
            found, piece_offs = self._encode_pieces(buf, starts, ends, fixed, small)
            ids, last = found.tolist(), int(piece_offs[-1] - piece_offs[-2]) if len(piece_offs) > 1 else 0
        pool, offs = self._tables.pool, self._tables.offs

        def spaces(i: int) -> bool:
            return offs[i + 1] > offs[i] and all(b in b" \n\t" for b in pool[offs[i]:offs[i + 1]].tobytes())

        if last and spaces(ids[-last]):
            while last < len(ids) and spaces(ids[-last - 1]):
                last += 1
        unstable = b"".join(pool[offs[i]:offs[i + 1]].tobytes() for i in ids[len(ids) - last:]) + data[valid:]
        del ids[len(ids) - last:]
        buf = np.frombuffer(unstable, np.uint8)
        tail, _ = self._encode_pieces(buf, np.zeros(1, np.int64), np.full(1, len(buf), np.int64),
                                      np.full(1, -1, np.int32), small)
        return ids + tail.tolist()

    def encode(self, text: str) -> list[int]:
        ids, _ = self.encode_batch([text], threads=1)
        return ids.tolist()

    def _reset_cache(self):
        self._caches = queue.SimpleQueue()

    def _segments(self, texts):
        """Normalised texts cut at added tokens: (segments, fixed id per segment or -1, segment index of each text)."""
        if not self.normalizer and self._added_re is None:  # nothing to do: every text is one segment
            return texts, np.full(len(texts), -1, np.int32), np.arange(len(texts) + 1)
        segs: list[str] = []
        fixed: list[int] = []
        first = np.zeros(len(texts) + 1, np.int64)
        for t, text in enumerate(texts):
            if self.normalizer:
                text = unicodedata.normalize(self.normalizer, text)
            if self._added_re is not None and self._added_re.search(text):
                pos = 0
                for m in self._added_re.finditer(text):
                    if m.start() > pos:
                        segs.append(text[pos : m.start()])
                        fixed.append(-1)
                    segs.append("")
                    fixed.append(self.added_tokens[m.group()][0])
                    pos = m.end()
                text = text[pos:]
            if text:
                segs.append(text)
                fixed.append(-1)
            first[t + 1] = len(segs)
        return segs, np.array(fixed, np.int32), first

    def _split(self, texts, small: bool = False):
        """Pieces of the batch: (utf-8 buffer, piece starts, ends, fixed id or -1, piece index where each text starts);
        by the numba scanner, or (small batches, patterns without a scanner) by `_split_regex`."""
        segs, seg_fixed, seg_first = self._segments(texts)
        if small or self._scanner is None:
            return self._split_regex(segs, seg_fixed, seg_first)
        kind, classes, self._split_lines = self._scanner
        joined = "".join(segs)
        cps = np.frombuffer(joined.encode("utf-32-le"), np.int32)
        bounds = np.zeros(len(segs) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, segs), np.int64, len(segs)), out=bounds[1:])
        starts, ends = self._split_lines(cps, bounds, kind, classes)
        # every segment's first piece; added tokens (empty segments) go in before the next segment's pieces
        seg_piece = np.searchsorted(starts, bounds[:-1], "left") if len(segs) else np.zeros(0, np.int64)
        where = np.flatnonzero(seg_fixed >= 0)
        K = _kernels()
        buf, byte_pos = K.utf8_encode(cps)  # the bytes in a kernel: str.encode would hold the GIL (threads)
        starts, ends = K.spans_at(byte_pos, starts, ends)
        if not len(where):
            seg_piece_all = np.append(seg_piece, len(starts))
            return buf, starts, ends, np.full(len(starts), -1, np.int32), seg_piece_all[seg_first]
        starts = np.insert(starts, seg_piece[where], 0)
        ends = np.insert(ends, seg_piece[where], 0)
        fixed = np.insert(np.full(len(starts) - len(where), -1, np.int32), seg_piece[where], seg_fixed[where])
        # piece index where each text starts: the first piece of its first segment, counting inserted added tokens
        added_before = np.concatenate([[0], np.cumsum(seg_fixed >= 0)])
        seg_piece_all = np.append(seg_piece, len(starts) - len(where))
        text_pieces = seg_piece_all[seg_first] + added_before[seg_first]
        return buf, starts, ends, fixed, text_pieces

    def _split_regex(self, segs, seg_fixed, seg_first):
        """The pre-tokenizer in Python (the `regex` package): for small batches (no numba to load), and the FALLBACK
        for split patterns the numba scanners do not cover."""
        if self.scanner is None:
            log.debug("no numba scanner splits like %r; pre-tokenizing with %s in Python (slower)", self.pattern_text,
                      "the `regex` package" if self.engine == "regex" else "`tokenizers`")
        chunks: list[bytes] = []
        fixed_at: list[tuple[int, int]] = []
        seg_piece = np.zeros(len(segs) + 1, np.int64)
        for j, seg in enumerate(segs):
            if seg_fixed[j] >= 0:
                fixed_at.append((len(chunks), int(seg_fixed[j])))
                chunks.append(b"")
            else:
                self._split_text(seg, chunks)
            seg_piece[j + 1] = len(chunks)
        lengths = np.fromiter(map(len, chunks), np.int64, len(chunks))
        ends = np.cumsum(lengths)
        starts = ends - lengths
        fixed = np.full(len(chunks), -1, np.int32)
        for i, tid in fixed_at:
            fixed[i] = tid
        buf = np.frombuffer(b"".join(chunks) or b"\0", np.uint8)
        return buf, starts, ends, fixed, seg_piece[seg_first]

    @functools.cached_property
    def pattern(self):
        """The split regex compiled for the Python fallback: `regex`, or `tokenizers`' own Split for an HF pattern."""
        if self.engine == "hf":
            from tokenizers import Regex, pre_tokenizers

            return pre_tokenizers.Split(Regex(self.pattern_text), behavior="isolated", invert=False)
        return regex.compile(self.pattern_text)

    def _split_text(self, text: str, out: list[bytes]) -> None:
        if not text:
            return
        if self.engine == "hf":
            out.extend(p.encode() for p, _ in self.pattern.pre_tokenize_str(text))
            return
        pieces = self.pattern.findall(text)
        if self.isolated and sum(map(len, pieces)) != len(text):  # keep what the pattern skipped as pieces too
            pieces, pos = [], 0
            for m in self.pattern.finditer(text):
                if m.start() > pos:
                    pieces.append(text[pos : m.start()])
                pieces.append(m.group())
                pos = m.end()
            if pos < len(text):
                pieces.append(text[pos:])
        out.extend(p.encode() for p in pieces)


def _tokenizer_json_parts(spec: dict, name: str = "tokenizer") -> tuple[Tables, dict]:
    """(Tables, BPEEncoder settings) of a parsed tokenizer.json; Unsupported where the fast encoder does not apply."""
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        raise Unsupported(f"{name}: fast encoder needs a BPE model, not {model.get('type')}")
    for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            raise Unsupported(f"{name}: fast encoder does not support BPE {key}={model[key]!r}")
    if model.get("byte_fallback"):
        raise Unsupported(f"{name}: fast encoder does not support byte_fallback")
    normalizer = spec.get("normalizer")
    if normalizer is not None and normalizer.get("type") not in ("NFC", "NFKC"):
        raise Unsupported(f"{name}: fast encoder does not support normalizer {normalizer.get('type')}")
    pattern, isolated = _split_pattern(spec.get("pre_tokenizer"), name)
    for tok in spec.get("added_tokens") or []:
        if tok.get("single_word") or tok.get("lstrip") or tok.get("rstrip"):
            raise Unsupported(f"{name}: fast encoder does not support added token options of {tok['content']!r}")

    vocab = model["vocab"]
    size = max(vocab.values(), default=-1) + 1
    added = {}
    for tok in spec.get("added_tokens") or []:
        size = max(size, tok["id"] + 1)
        added[tok["content"]] = (tok["id"], bool(tok.get("special")))
    blank = {i for t, (i, _) in added.items() if t not in vocab}  # an added token's id has no bytes
    entries = [(t, i) for t, i in vocab.items() if i not in blank] if blank else list(vocab.items())
    tokens = [t for t, _ in entries]
    bounds = np.zeros(len(tokens) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, tokens), np.int64, len(tokens)), out=bounds[1:])
    K = _kernels()
    pool, offs = K.map_chars(np.frombuffer("".join(tokens).encode("utf-32-le"), np.int32), bounds, _char_bytes())
    ids = np.fromiter((i for _, i in entries), np.int64, len(entries))
    pool, offs = K.tokens_by_id(pool, offs[:-1], offs[1:], ids, size)
    pairs = [m.split(" ") if isinstance(m, str) else m for m in model.get("merges") or []]
    try:
        merges = [(vocab[a], vocab[b], vocab[a + b]) for a, b in pairs]
    except KeyError:
        a, b = next((a, b) for a, b in pairs if a not in vocab or b not in vocab or a + b not in vocab)
        raise InputError(f"{name}: merge {a!r} {b!r} names a token missing from the vocabulary") from None
    engine = "regex" if pattern in (GPT2_PATTERN, WHITESPACE_PATTERN) else "hf"  # ByteLevel's own regex, or a Split
    return build_tables(pool, offs, merges), {
        "pattern": pattern, "added_tokens": added, "normalizer": normalizer["type"] if normalizer is not None else None,
        "ignore_merges": bool(model.get("ignore_merges")), "isolated": isolated, "engine": engine}


def read_ranks_arrays(path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A `.tiktoken` file as arrays (pool, starts, ends, ranks), parsed by a kernel; InputError names the bad line."""
    return _parse_ranks(path, np.frombuffer(_read_rank_file(path), np.uint8))


def _read_rank_file(path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


def _parse_ranks(path, data: np.ndarray):
    pool, starts, ends, ranks, bad = _kernels().parse_tiktoken(data, _base64_values())
    if bad:
        raise InputError(f"{path}: line {bad} is not `base64 rank`")
    check_ranks(path, pool, starts, ends, ranks)
    return pool, starts, ends, ranks


def check_ranks(path, pool, starts, ends, ranks) -> None:
    """What encoders assume of a rank file (tiktoken's Rust core panics otherwise): ranks 0..N-1, each once, and every
    token once. InputError names the file and the first line at fault."""
    order = np.argsort(ranks, kind="stable")
    ordered = np.asarray(ranks)[order]
    dup = np.flatnonzero(ordered[1:] == ordered[:-1])
    if dup.size:
        line = int(max(order[dup[0]], order[dup[0] + 1])) + 1
        raise InputError(f"{path}: line {line}: rank {int(ordered[dup[0]])} appears twice")
    gap = np.flatnonzero(ordered != np.arange(len(ordered)))
    if gap.size:
        raise InputError(f"{path}: rank {int(gap[0])} is missing (ranks must run 0..{len(ordered) - 1} without gaps)")
    seen: dict[bytes, int] = {}
    buf = np.asarray(pool).tobytes()
    for i, (a, b) in enumerate(zip(np.asarray(starts).tolist(), np.asarray(ends).tolist())):
        token = buf[a:b]
        if token in seen:
            raise InputError(f"{path}: line {i + 1}: token {token!r} appears twice (first on line {seen[token] + 1})")
        seen[token] = i


@functools.lru_cache(maxsize=1)
def _base64_values() -> np.ndarray:
    values = np.full(256, -1, np.int16)
    for v, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"):
        values[c] = v
    return values


@functools.lru_cache(maxsize=1)
def _char_bytes() -> np.ndarray:
    """ByteLevel's char -> byte map as an array over code points (-1: not a ByteLevel char)."""
    table = char_to_byte()
    out = np.full(max(map(ord, table)) + 1, -1, np.int16)
    for c, b in table.items():
        out[ord(c)] = b
    return out


def _merge_small(t: Tables, buf, starts, ends, fixed, ignore_merges=False) -> tuple[np.ndarray, np.ndarray]:
    """encode_pieces (same ids, same piece offsets) in numpy, for small batches: no numba to load. Every piece still
    merging does one merge per round, its lowest-ranked pair (the leftmost of equals), all pieces at once; a piece
    leaves the rounds when nothing in it merges. Rounds <= the longest piece, hence SMALL_PIECE. ignore_merges: a
    piece that is a whole token is that token (`_whole_tokens`)."""
    n_pieces = len(starts)
    lengths = (ends - starts).astype(np.int64)
    fx = fixed >= 0
    one = ~fx & (lengths == 1)
    owner = [np.flatnonzero(fx), np.flatnonzero(one)]  # per emitted id: its piece
    out = [fixed[fx].astype(np.int32), t.byte_ids[buf[starts[one]]]]
    act = np.flatnonzero(~fx & (lengths >= 2))  # pieces still merging, in order
    if ignore_merges and len(act):
        whole = _whole_tokens(t, buf, starts[act], lengths[act])
        owner.append(act[whole >= 0])
        out.append(whole[whole >= 0].astype(np.int32))
        act = act[whole < 0]
    n_sym = lengths[act]
    first = np.zeros(len(act) + 1, np.int64)
    np.cumsum(n_sym, out=first[1:])
    sym = t.byte_ids[buf[np.repeat(starts[act] - first[:-1], n_sym) + np.arange(first[-1])]]
    m_keys, m_ranks = (t.m_keys, t.m_ranks) if len(t.m_keys) else (np.full(1, -1, np.int64), np.zeros(1, np.int32))
    while len(act):
        keys = (sym[:-1].astype(np.int64) << 32) | sym[1:].astype(np.int64)
        at = np.minimum(np.searchsorted(m_keys, keys), len(m_keys) - 1)
        rank = np.where(m_keys[at] == keys, m_ranks[at], NO_RANK).astype(np.int64)
        rank[first[1:-1] - 1] = NO_RANK  # the pair across two pieces
        best = np.minimum.reduceat((rank << 32) | np.arange(len(keys)), first[:-1])  # lowest rank, then leftmost
        merging = (best >> 32) != NO_RANK
        where = best[merging] & 0xFFFFFFFF
        sym[where] = t.m_new[at[where]]
        keep = np.ones(len(sym), bool)
        keep[where + 1] = False
        sym = sym[keep]
        n_sym = n_sym - merging
        done = ~merging | (n_sym == 1)
        if done.any():
            sym_done = np.repeat(done, n_sym)
            owner.append(np.repeat(act[done], n_sym[done]))
            out.append(sym[sym_done])
            sym, act, n_sym = sym[~sym_done], act[~done], n_sym[~done]
        first = np.zeros(len(act) + 1, np.int64)
        np.cumsum(n_sym, out=first[1:])
    owner_all = np.concatenate(owner)
    order = np.argsort(owner_all, kind="stable")  # a piece's ids were emitted together, in order
    piece_offs = np.zeros(n_pieces + 1, np.int64)
    np.cumsum(np.bincount(owner_all, minlength=n_pieces), out=piece_offs[1:])
    return np.concatenate(out).astype(np.int32)[order], piece_offs


def _whole_tokens(t: Tables, buf, starts, lengths) -> np.ndarray:
    """Id of the token whose bytes are buf[starts[k]:starts[k]+lengths[k]], else -1: kernels.tables.bytes_find on
    every piece at once (the same FNV-1a hash, probe order and byte check)."""
    h = np.full(len(starts), 14695981039346656037, np.uint64)
    for j in range(int(lengths.max()) if len(lengths) else 0):
        on = lengths > j
        h[on] = (h[on] ^ buf[starts[on] + j].astype(np.uint64)) * np.uint64(1099511628211)
    h = (h >> np.uint64(1)).astype(np.int64)
    found = np.full(len(starts), -1, np.int64)
    slot = h & (len(t.v_slots) - 1)
    todo = np.arange(len(starts))
    while len(todo):
        k = t.v_slots[slot[todo]]
        hit = k >= 0
        same = hit.copy()
        same[hit] = (t.v_hashes[k[hit]] == h[todo[hit]]) & (t.offs[k[hit] + 1] - t.offs[k[hit]] == lengths[todo[hit]])
        for j in range(int(lengths[todo[same]].max()) if same.any() else 0):
            on = np.flatnonzero(same)
            on = on[lengths[todo[on]] > j]
            same[on] = t.pool[t.offs[k[on]] + j] == buf[starts[todo[on]] + j]
        found[todo[same]] = k[same]
        todo = todo[hit & ~same]  # an empty slot ends the search (not found); another key: probe the next slot
        slot[todo] = (slot[todo] + 1) & (len(t.v_slots) - 1)
    return found


def _empty_cache():
    """A word cache for encode_pieces: (pool, offsets, hashes, slots, ids, id offsets, words)."""
    return (np.empty(1024, np.uint8), np.zeros(1, np.int64), np.empty(16, np.int64), np.full(16, -1, np.int64),
            np.empty(1024, np.int32), np.zeros(1, np.int64), 0)


def _split_pattern(pre, name: str) -> tuple[str, bool]:
    """(split regex, isolated) of a byte-level pre-tokenizer, or Unsupported."""
    if pre is None:
        raise Unsupported(f"{name}: fast encoder needs a ByteLevel pre-tokenizer")
    if pre.get("type") == "ByteLevel":
        if pre.get("add_prefix_space"):
            raise Unsupported(f"{name}: fast encoder does not support add_prefix_space")
        if pre.get("use_regex", True):
            return GPT2_PATTERN, True
        raise Unsupported(f"{name}: ByteLevel without a split regex is not supported by the fast encoder")
    if pre.get("type") == "Sequence":
        steps = pre.get("pretokenizers") or []
        if len(steps) == 2 and _is_digit_split(steps[0]) and steps[1].get("type") == "ByteLevel" \
                and not steps[1].get("add_prefix_space") and steps[1].get("use_regex", True):
            return SMOLLM_PATTERN, True  # digits first, then ByteLevel's regex (SmolLM2, llama.cpp `smollm`)
        if (
            len(steps) == 2
            and steps[1].get("type") == "ByteLevel"
            and not steps[1].get("add_prefix_space")
            and not steps[1].get("use_regex", True)
        ):
            if steps[0].get("type") == "Whitespace":
                return WHITESPACE_PATTERN, False
            if (
                steps[0].get("type") == "Split"
                and "Regex" in (steps[0].get("pattern") or {})
                and steps[0].get("behavior") == "Isolated"
                and not steps[0].get("invert")
            ):
                return steps[0]["pattern"]["Regex"], True
    raise Unsupported(f"{name}: fast encoder does not support pre-tokenizer {pre.get('type')}")



def _is_digit_split(step: dict) -> bool:
    """Split(\\p{N}, isolated) or Digits(individual_digits): every digit a piece of its own (HF's Digits uses Rust's
    char::is_numeric, the same Nd/Nl/No as \\p{N})."""
    if step.get("type") == "Digits":
        return bool(step.get("individual_digits"))
    return (step.get("type") == "Split" and (step.get("pattern") or {}).get("Regex") == r"\p{N}"
            and step.get("behavior") == "Isolated" and not step.get("invert"))


def _scanner(preset: str | None):
    """(kind, class table, split_lines) of a preset's numba scanner, or None (pre-tokenize in Python)."""
    if preset is None:
        return None
    from tokbench.kernels.pretokenize import split_lines

    return presets.kind(preset), presets.class_table(), split_lines


def _matcher(tokens: list[str]):
    """One regex for the added tokens matched in the text: leftmost-longest, as HF's added-vocabulary matcher."""
    tokens = sorted(tokens, key=lambda t: (-len(t), t))
    return regex.compile("|".join(regex.escape(t) for t in tokens)) if tokens else None


def fast_encoder(spec, encode_special_tokens: bool = True) -> BPEEncoder | None:
    """The numba encoder for a tokenizer.json (path, dict or `tokenizers.Tokenizer`) when it applies, else None.

    For the adapter: special-token text is plain text by default there (HF's `encode_special_tokens = True`), so that
    is the default here too; ids then equal the adapter's HF path exactly."""
    try:
        return BPEEncoder.from_tokenizer_json(spec, encode_special_tokens=encode_special_tokens)
    except Unsupported:
        return None
