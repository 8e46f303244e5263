"""Tokenizers whose tokens cross word boundaries (SuperBPE, TokenAdapt supertokens) or are capped in characters
(KL3M-style char-BPE), all on tokbench's numba BPE engine and all saved as a standard byte-level tokenizer.json.

- superbpe: stage 1 is plain byte-level BPE (the engine, merge for merge HF's trainer) up to the transition vocabulary;
  stage 2 re-splits every line with the stage-2 pattern (SUPER_PATTERNS: letters and single punctuation marks joined
  by single spaces stay together, with the line end; digits keep stage 1's rule; runs of punctuation and whitespace are
  split), encodes each piece with stage 1's merges (lowest rank first, as any BPE encoder would), and resumes merging,
  refusing tokens of more than `max_words` words. The saved pre-tokenizer is that pattern: `tokenizers` then applies
  all merges in rank order to its pieces, which is what tokbench's encoder does too (tested id for id).
- supertoken: each line is cut into pieces of random length (chunk_min..chunk_max characters, seeded), exactly as if
  a separator had been inserted there and BPE split on it; the saved tokenizer splits on newlines only.
- char-bpe: BPE with the usual pre-tokenizer, refusing merges whose token has more than `max_token_chars` characters;
  the vocabulary can be padded to a power of two with unused special tokens.

supertoken and char-bpe (and superbpe's stage 2) run `kernels.bpe_limited.train_merges_resume`: greedy BPE (highest
count, ties to the smallest id pair) over pair positions, not HF's trainer, whose tie quirks only matter for stage 1.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, pre_tokenizers

from tokbench.errors import InputError, UsageError, WorkError
from tokbench.kernels import bpe_limited as KL
from tokbench.kernels.bpe_encode import build_bytes_table, build_merge_table, encode_pieces
from tokbench.tokenizer import presets
from tokbench.tokenizer.bytelevel import byte_to_char, to_bytes
from tokbench.train.bpe import build_tokenizer, initial_tokens, learn_merges, reachable_vocab
from tokbench.train.counts import WordCounts, count_pieces, word_splitter

# superbpe's stage-2 pattern per stage-1 preset: its digit rule comes from the preset table (presets.Preset.superbpe)
SUPER_PATTERNS = {name: {"digits": KL.SUPER_PATTERN_DIGITS, "digits3": KL.SUPER_PATTERN_DIGITS3}[row.superbpe]
                  for name, row in presets.PRESETS.items() if row.superbpe is not None}
LINES_PATTERN = r"\n|[^\n]+"  # supertoken's saved split: a newline is its own piece, nothing else is split
BATCH_CHARS = 1 << 20


@dataclass
class Trained:
    """A trained tokenizer and what the run did (merges per stage, refused merges, seconds)."""

    hf: Tokenizer
    info: dict = field(default_factory=dict)


# --- counting -------------------------------------------------------------------------------------------------------


def _count(lines: Iterable[str], splitters, normalizer: str = "none") -> list[WordCounts]:
    """Count the pieces of each splitter over the same lines (the tags say only how a table was made: never saved)."""
    return count_pieces(lines, splitters, "gpt2", normalizer, batch_chars=BATCH_CHARS)


def _super_splitter(pretokenizer: str):
    cls, digits3 = presets.class_table(), SUPER_PATTERNS[pretokenizer] == KL.SUPER_PATTERN_DIGITS3
    return lambda cps, bounds: KL.split_super(cps, bounds, cls, digits3)


def splitters(algo: str, pretokenizer: str = "gpt2") -> list:
    """What `algo` counts, one splitter per table, each piece counted per line: superbpe counts its stage-1 words
    and its stage-2 phrases, char-bpe its words. Tables of per-line counts sum over shards, so these algorithms
    train from counts made anywhere; supertoken cannot (its seeded cuts run over the corpus in order)."""
    if algo == "superbpe":
        return [word_splitter(pretokenizer), _super_splitter(pretokenizer)]
    if algo == "char-bpe":
        return [word_splitter(pretokenizer)]
    raise UsageError(f"{algo} does not train from word counts")


class _Chunker:
    """TokenAdapt's augmentation: pieces of random length per line, as if a separator were inserted between them.

    A line's "\\n" is a piece of its own (the saved tokenizer splits there). One seeded stream of lengths runs over the
    whole corpus in order, so the pieces depend on the seed and the text."""

    def __init__(self, chunk_min: int, chunk_max: int, seed: int):
        self.rng = np.random.default_rng(seed)
        self.lo, self.hi = chunk_min, chunk_max
        self.left = np.zeros(0, np.int64)

    def __call__(self, cps, bounds):
        cut = np.flatnonzero(cps == 10)  # every "\n" becomes a one-character segment of its own
        bounds = np.unique(np.concatenate([bounds, cut, cut + 1]))
        whole = np.zeros(len(bounds) - 1, np.bool_)
        whole[np.searchsorted(bounds, cut)] = True
        need = len(cps) - len(self.left)
        if need > 0:
            self.left = np.concatenate([self.left, self.rng.integers(self.lo, self.hi + 1, need, dtype=np.int64)])
        starts, ends, used = KL.chunk_spans(bounds, whole, self.left)
        self.left = self.left[used:]
        return starts, ends


# --- merges -> tokens -----------------------------------------------------------------------------------------------


def _token_table(tokens: list[str]):
    """(uint8 pool, int64 offsets) of the tokens' bytes; specials that are not byte strings have none."""
    tok_bytes = [to_bytes(t) or b"" for t in tokens]
    offs = np.zeros(len(tokens) + 1, np.int64)
    np.cumsum([len(b) for b in tok_bytes], out=offs[1:])
    return np.frombuffer(b"".join(tok_bytes) or b"\0", dtype=np.uint8).copy(), offs


def _extend(tokens: list[str], left, right, new) -> list[tuple[int, int]]:
    """Append the new tokens the kernel made (in creation order) and return its merges as id pairs."""
    for a, b, n in zip(left.tolist(), right.tolist(), new.tolist()):
        if n == len(tokens):
            tokens.append(tokens[a] + tokens[b])
    return list(zip(left.tolist(), right.tolist()))


def _hf_merges(tokens: list[str], pairs: Sequence[tuple[int, int]]) -> list[tuple[str, str]]:
    """HF keeps merges in a map pair -> rank: a pair merged twice keeps its last rank."""
    last = {}
    for rank, pair in enumerate(pairs):
        last[pair] = rank
    return [(tokens[a], tokens[b]) for (a, b), _ in sorted(last.items(), key=lambda kv: kv[1])]


def _byte_ids(tokens: list[str]) -> np.ndarray:
    ids = {t: i for i, t in enumerate(tokens)}
    return np.array([ids[c] for c in byte_to_char()], dtype=np.int32)


def _resume(tokens: list[str], syms, offs, counts, vocab_size, min_frequency, limit_kind, limit, forced=None):
    """The position merge loop from `tokens` (extended in place); returns (id pairs merged, times refused)."""
    pool, tok_offs = _token_table(tokens)
    forced = np.zeros((0, 3), np.int32) if forced is None else forced
    vocab_size = min(vocab_size, reachable_vocab(len(tokens), offs, forced=len(forced)))
    left, right, new, refused = KL.train_merges_resume(
        np.ascontiguousarray(syms, np.int32), np.ascontiguousarray(offs, np.int64),
        np.ascontiguousarray(counts, np.int64), pool, tok_offs, forced[:, 0].copy(), forced[:, 1].copy(),
        forced[:, 2].copy(), vocab_size, min_frequency, limit_kind, limit)
    return _extend(tokens, left, right, new), int(refused)


def encode_phrases(tokens: list[str], merges: Sequence[tuple[str, str]], flat, offs):
    """Encode each piece flat[offs[i]:offs[i+1]] with the merges, lowest rank first (as `tokenizers` would).

    Pieces are cut before each space that follows a non-space byte, and the cut pieces encoded once each (the
    encoder's cache): exact as long as no token holds a non-space byte followed by a space, so no merge can join
    across such a cut. Stage 1's
    presets (gpt2, cl100k, llama3) never make one; otherwise the pieces are encoded whole. Returns (ids, offsets)."""
    ids = {t: i for i, t in enumerate(tokens)}
    rows = np.array([(ids[a], ids[b], ids[a + b]) for a, b in merges], np.int32).reshape(-1, 3)
    m_table, *_ = build_merge_table(rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy())
    pool, tok_offs = _token_table(tokens)
    v_slots, v_hashes = build_bytes_table(pool, tok_offs)
    safe = not any(re.search(rb"[^\s] ", to_bytes(t) or b"") for t in tokens)
    cut = np.zeros(len(flat), np.bool_)
    if safe and len(flat) > 1:  # a space right after a non-space byte
        space = (flat == 32) | ((flat >= 9) & (flat <= 13))
        cut[1:] = (flat[1:] == 32) & ~space[:-1]
    cut[offs[:-1][offs[:-1] < len(flat)]] = True
    starts = np.flatnonzero(cut)
    ends = np.append(starts[1:], offs[-1])
    cache = (np.empty(1024, np.uint8), np.zeros(1, np.int64), np.empty(16, np.int64), np.full(16, -1, np.int64),
             np.empty(1024, np.int32), np.zeros(1, np.int64), 0)
    buf = np.ascontiguousarray(flat, np.uint8) if len(flat) else np.zeros(1, np.uint8)
    out, piece_offs, *_ = encode_pieces(buf, starts.astype(np.int64), ends.astype(np.int64),
                                        np.full(len(starts), -1, np.int32), _byte_ids(tokens), m_table, False, pool,
                                        tok_offs, v_slots, v_hashes, *cache)
    first = np.searchsorted(starts, offs)  # the cut piece where each phrase piece starts (and the end)
    return out, piece_offs[first]


def _checks(algo: str, vocab_size: int, special_tokens: Sequence[str], min_frequency: int, normalizer: str,
            pretokenizer: str = "gpt2") -> list[str]:
    """The registry's shared checks (tokbench.train.trainers.check_common), for callers of these functions too."""
    from tokbench.train import trainers

    specials = tuple(special_tokens)
    trainers.check_common(trainers.Common(vocab_size, min_frequency, specials, pretokenizer, normalizer), algo)
    return list(specials)


def _empty_check(wc: WordCounts, what: str) -> None:
    if len(wc) == 0:
        raise InputError(f"{what}: the corpus has no text to train on")


def _split_tokenizer(hf: Tokenizer, pattern: str) -> Tokenizer:
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    return hf


def _normalized(hf: Tokenizer, normalizer: str) -> Tokenizer:
    from tokenizers import normalizers

    if presets.normalizer_name(normalizer) == "nfc":
        hf.normalizer = normalizers.NFC()
    return hf


# --- the trainers -----------------------------------------------------------------------------------------------------


def transition_size(transition: float, vocab_size: int, alphabet: int) -> int:
    """The vocabulary size where stage 2 starts: a fraction of vocab_size when < 1 (at least the alphabet), else a
    size."""
    if transition <= 0:
        raise UsageError(f"transition must be > 0, got {transition}")
    # a fraction never asks for less than the alphabet (a small vocabulary then has no stage-1 merges)
    size = max(int(round(transition * vocab_size)), alphabet) if transition < 1 else int(transition)
    if size != transition and transition >= 1:
        raise UsageError(f"transition {transition}: give a fraction below 1 or a whole vocabulary size")
    if not alphabet <= size <= vocab_size:
        raise UsageError(f"transition gives stage 1 a vocabulary of {size}; it must lie between the alphabet "
                         f"({alphabet}) and the vocabulary size ({vocab_size})")
    return size


def train_superbpe(lines: Iterable[str], vocab_size: int, transition: float = 0.6, max_words: int = 4,
                   min_frequency: int = 0, special_tokens: Sequence[str] = (), pretokenizer: str = "gpt2",
                   normalizer: str = "none", counted: Sequence[WordCounts] | None = None) -> Trained:
    """SuperBPE: plain BPE up to the transition vocabulary, then merges across single spaces (<= max_words words).
    `counted`: the two tables of `splitters("superbpe")` counted elsewhere (on a cluster); `lines` is then unused."""
    from tokbench.train.trainers import SuperBPEOptions

    SuperBPEOptions(transition, max_words)  # its checks
    specials = _checks("superbpe", vocab_size, special_tokens, min_frequency, normalizer, pretokenizer)
    t_size = transition_size(transition, vocab_size, len(initial_tokens(specials)))
    started = time.process_time()
    words1, words2 = counted or _count(lines, splitters("superbpe", pretokenizer), normalizer)
    _empty_check(words1, "superbpe")
    counted = time.process_time()

    tokens, merges1 = learn_merges(words1.words, words1.counts, t_size, min_frequency, specials)
    n1 = len(tokens)
    stage1 = time.process_time()

    # stage 2: encode the phrase pieces with stage 1's merges, then keep merging over word boundaries
    flat, offs, counts = words2.arrays()
    ids = {t: i for i, t in enumerate(tokens)}
    pairs1 = [(ids[x], ids[y]) for x, y in merges1]
    syms, sym_offs = encode_phrases(tokens, merges1, flat, offs)
    pairs2, refused = _resume(tokens, syms, sym_offs, counts, vocab_size, min_frequency, KL.LIMIT_WORDS, max_words)
    if set(pairs1) & set(pairs2):  # stage-1 encoding leaves no stage-1 pair adjacent
        raise WorkError("superbpe: stage 2 merged a pair of stage 1 again (stage-1 encoding of phrases is wrong)")
    merges = _hf_merges(tokens, pairs1 + pairs2)
    hf = _split_tokenizer(build_tokenizer(tokens, merges, specials, pretokenizer),
                          SUPER_PATTERNS[pretokenizer])
    done = time.process_time()
    return Trained(_normalized(hf, normalizer), {
        "algo": "superbpe", "vocab_size": len(tokens), "transition_vocab": t_size, "stage1_vocab": n1,
        "stage1_merges": len(merges1), "stage2_merges": len(merges) - len(merges1), "refused_merges": refused,
        "max_words": max_words, "pretokenizer": pretokenizer, "stage1_words": len(words1),
        "stage2_pieces": len(words2), "cpu_seconds": {"count": counted - started, "stage1": stage1 - counted,
                                                 "stage2": done - stage1, "total": done - started}})


def train_supertoken(lines: Iterable[str], vocab_size: int, chunk_min: int = 4, chunk_max: int = 23, seed: int = 0,
                     min_frequency: int = 0, special_tokens: Sequence[str] = (), normalizer: str = "none") -> Trained:
    """TokenAdapt supertokens: BPE over random-length pieces of each line; saved without the piece boundaries."""
    from tokbench.train.trainers import SupertokenOptions

    SupertokenOptions(chunk_min, chunk_max, seed)  # its checks
    specials = _checks("supertoken", vocab_size, special_tokens, min_frequency, normalizer)
    started = time.process_time()
    (pieces,) = _count(lines, [_Chunker(chunk_min, chunk_max, seed)], normalizer)
    _empty_check(pieces, "supertoken")
    tokens = initial_tokens(specials)
    flat, offs, counts = pieces.arrays()
    pairs, _ = _resume(tokens, _byte_ids(tokens)[flat], offs, counts, vocab_size, min_frequency, KL.LIMIT_NONE, 0)
    merges = _hf_merges(tokens, pairs)
    hf = _split_tokenizer(build_tokenizer(tokens, merges, specials, "gpt2"), LINES_PATTERN)
    return Trained(_normalized(hf, normalizer), {
        "algo": "supertoken", "vocab_size": len(tokens), "merges": len(merges), "chunk_min": chunk_min,
        "chunk_max": chunk_max, "seed": seed, "pieces": len(pieces),
        "cpu_seconds": {"total": time.process_time() - started}})


def train_char_bpe(lines: Iterable[str], vocab_size: int, max_token_chars: int = 4, pad_vocab_pow2: bool = False,
                   min_frequency: int = 0, special_tokens: Sequence[str] = (), pretokenizer: str = "gpt2",
                   normalizer: str = "none", counted: Sequence[WordCounts] | None = None) -> Trained:
    """KL3M-style character BPE: no token longer than max_token_chars characters; optional power-of-two padding.
    `counted`: the table of `splitters("char-bpe")` counted elsewhere; `lines` is then unused."""
    from tokbench.train.trainers import CharBPEOptions

    CharBPEOptions(max_token_chars, pad_vocab_pow2)  # its checks
    specials = _checks("char-bpe", vocab_size, special_tokens, min_frequency, normalizer, pretokenizer)
    started = time.process_time()
    (words,) = counted or _count(lines, splitters("char-bpe", pretokenizer), normalizer)
    _empty_check(words, "char-bpe")
    tokens = initial_tokens(specials)
    flat, offs, counts = words.arrays()
    syms = _byte_ids(tokens)[flat]
    pairs, refused = _resume(tokens, syms, offs, counts, vocab_size, min_frequency, KL.LIMIT_CHARS, max_token_chars)
    merges = _hf_merges(tokens, pairs)
    hf = _normalized(build_tokenizer(tokens, merges, specials, pretokenizer), normalizer)
    trained = len(tokens)
    padded = pad_to_pow2(hf) if pad_vocab_pow2 else 0
    return Trained(hf, {
        "algo": "char-bpe", "vocab_size": trained + padded, "trained_vocab": trained, "padding_tokens": padded,
        "merges": len(merges), "refused_merges": refused, "max_token_chars": max_token_chars,
        "pretokenizer": pretokenizer, "cpu_seconds": {"total": time.process_time() - started}})


def pad_to_pow2(hf: Tokenizer) -> int:
    """Add unused special tokens <|pad_N|> until the vocabulary is a power of two; returns how many were added."""
    size = hf.get_vocab_size(with_added_tokens=True)
    target = 1 << max(size - 1, 0).bit_length()
    vocab = hf.get_vocab(with_added_tokens=True)
    names, k = [], 0
    while size + len(names) < target:
        name = f"<|pad_{k}|>"
        if name not in vocab:
            names.append(name)
        k += 1
    if names:
        hf.add_special_tokens([AddedToken(n, special=True, normalized=False) for n in names])
    return len(names)

