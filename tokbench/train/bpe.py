"""tokbench's BPE engine: word counts in, a byte-level BPE tokenizer.json out, merge-for-merge identical to HF.

The reference is `tokenizers`' BpeTrainer with `initial_alphabet=ByteLevel.alphabet()` on the same pre-tokenizer; the
merge loop itself is the numba kernel `tokbench.kernels.bpe_train.train_merges`.
"""

from __future__ import annotations

import numpy as np
from tokenizers import AddedToken, Tokenizer, decoders, models

from tokbench.errors import InputError, UsageError
from tokbench.kernels.bpe_train import train_merges
from tokbench.tokenizer import presets
from tokbench.tokenizer.bytelevel import byte_to_char, to_bytes

def initial_tokens(special_tokens) -> list[str]:
    """Ids in HF's order: special tokens, then the ByteLevel alphabet sorted by code point (no string twice)."""
    tokens = []
    for s in special_tokens:
        if s not in tokens:
            tokens.append(s)
    seen = set(tokens)
    tokens += [c for c in sorted(byte_to_char()) if c not in seen]
    return tokens


def reachable_vocab(n_tokens: int, offsets, forced: int = 0) -> int:
    """The largest vocabulary merging can reach from `n_tokens` on these words (word i spans offsets[i]:offsets[i+1]):
    every merge joins two symbols of some distinct word, so there are at most sum(len - 1) of them (plus `forced`
    replayed merges). The merge kernels size their tables by the vocabulary they are asked for: asking for
    min(vocab_size, this) gives the same result without allocating for a --vocab-size of 1e9."""
    lengths = np.diff(np.asarray(offsets, dtype=np.int64))
    return n_tokens + forced + int(np.maximum(lengths - 1, 0).sum())


def learn_merges(words: list[bytes], counts: np.ndarray, vocab_size: int, min_frequency: int = 0, special_tokens=()):
    """Run the engine on words (UTF-8 bytes) and counts; returns (tokens: list[str] by id, merges: [(str, str)])."""
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    offsets = np.zeros(len(words) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.frombuffer(b"".join(words) or b"\0", dtype=np.uint8)[: offsets[-1]]
    return learn_merges_arrays(flat, offsets, counts, vocab_size, min_frequency, special_tokens)


def learn_merges_arrays(flat, offsets, counts, vocab_size: int, min_frequency: int = 0, special_tokens=()):
    """learn_merges on word bytes already packed: word i is flat[offsets[i]:offsets[i+1]] (WordCounts.arrays())."""
    tokens = initial_tokens(special_tokens)
    if vocab_size < len(tokens):
        raise UsageError(
            f"vocab size {vocab_size} is smaller than the alphabet ({len(tokens)} tokens: 256 bytes"
            f" + {len(tokens) - 256} special)"
        )
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    if len(offsets) != len(counts) + 1:
        raise InputError(f"word counts: {len(offsets) - 1} words but {len(counts)} counts")
    ids = {t: i for i, t in enumerate(tokens)}
    byte_id = np.array([ids[c] for c in byte_to_char()], dtype=np.int32)
    word_syms = byte_id[np.asarray(flat, dtype=np.uint8)]
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)

    tok_bytes = [to_bytes(t) or b"" for t in tokens]
    tok_offs = np.zeros(len(tokens) + 1, np.int64)
    np.cumsum([len(b) for b in tok_bytes], out=tok_offs[1:])
    tok_pool = np.frombuffer(b"".join(tok_bytes) or b"\0", dtype=np.uint8)

    vocab_size = min(vocab_size, reachable_vocab(len(tokens), offsets))
    left, right, new = train_merges(word_syms, offsets, counts, tok_pool, tok_offs, vocab_size, min_frequency)

    for a, b, n in zip(left.tolist(), right.tolist(), new.tolist()):
        if n == len(tokens):
            tokens.append(tokens[a] + tokens[b])
    # HF keeps merges in a map pair -> rank: a pair merged twice keeps its last rank
    last = {}
    for rank, pair in enumerate(zip(left.tolist(), right.tolist())):
        last[pair] = rank
    merges = [(tokens[a], tokens[b]) for (a, b), _ in sorted(last.items(), key=lambda kv: kv[1])]
    return tokens, merges


def build_tokenizer(
    tokens: list[str], merges, special_tokens=(), pretokenizer: str = "gpt2", normalizer: str = "none"
) -> Tokenizer:
    """A byte-level BPE Tokenizer laid out as HF's trainer leaves it (same components as backends.train_hf)."""
    model = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=list(merges))
    tok = Tokenizer(model)
    tok.normalizer = presets.hf_normalizer(normalizer)
    tok.pre_tokenizer = presets.hf_pretokenizer(pretokenizer)
    tok.decoder = decoders.ByteLevel()
    if special_tokens:
        tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in special_tokens])
    return tok


def train_bpe(
    words: list[bytes],
    counts: np.ndarray,
    vocab_size: int,
    min_frequency: int = 0,
    special_tokens=(),
    pretokenizer: str = "gpt2",
    normalizer: str = "none",
) -> Tokenizer:
    """Train byte-level BPE on word counts (words as UTF-8 bytes, split by the preset's pre-tokenizer, line by line)."""
    presets.check_trainable(pretokenizer, normalizer)  # before the work
    special_tokens = list(special_tokens)
    tokens, merges = learn_merges(words, counts, vocab_size, min_frequency, special_tokens)
    return build_tokenizer(tokens, merges, special_tokens, pretokenizer, normalizer)


def train_bpe_counts(word_counts, vocab_size: int, min_frequency: int = 0, special_tokens=()) -> Tokenizer:
    """Train on a `tokbench.train.counts.WordCounts` (its pre-tokenizer and normaliser go into the file)."""
    presets.check_trainable(word_counts.pretokenizer, word_counts.normalizer)
    special_tokens = list(special_tokens)
    flat, offsets, counts = word_counts.arrays()
    tokens, merges = learn_merges_arrays(flat, offsets, counts, vocab_size, min_frequency, special_tokens)
    return build_tokenizer(tokens, merges, special_tokens, word_counts.pretokenizer, word_counts.normalizer)


def train_bpe_lines(
    lines, vocab_size: int, min_frequency: int = 0, special_tokens=(), pretokenizer: str = "gpt2", normalizer="none"
) -> Tokenizer:
    """Count words of lines (each keeping its "\n", as HF reads files) in numba, then train: the `train` path."""
    from tokbench.train.counts import count_words

    presets.check_trainable(pretokenizer, normalizer)
    return train_bpe_counts(count_words(lines, pretokenizer, normalizer), vocab_size, min_frequency, special_tokens)
