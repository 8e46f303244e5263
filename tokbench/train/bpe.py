"""tokbench's BPE engine: word counts in, a byte-level BPE tokenizer.json out, merge-for-merge identical to HF.

The reference is `tokenizers`' BpeTrainer with `initial_alphabet=ByteLevel.alphabet()` on the same pre-tokenizer; the
merge loop itself is the numba kernel `tokbench.kernels.bpe_train.train_merges`.
"""

from __future__ import annotations

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

from tokbench.bytelevel import byte_to_char, to_bytes
from tokbench.errors import InputError, UsageError
from tokbench.kernels.bpe_train import train_merges

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# cl100k's split in the form HF (Oniguruma) reads as tiktoken does: tiktoken's own pattern uses possessive quantifiers,
# and Oniguruma reads `\p{N}{1,3}+` as "one or more runs of 1-3 digits", which splits numbers differently.
# Llama-3 ships this very pattern in its tokenizer.json.
CL100K_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
LLAMA3_PATTERN = CL100K_PATTERN
# preset -> regex the words were split with (gpt2 is ByteLevel's built-in regex)
PRETOKENIZER_PATTERNS = {"gpt2": GPT2_PATTERN, "cl100k": CL100K_PATTERN, "llama3": LLAMA3_PATTERN}


def hf_pre_tokenizer(pretokenizer: str):
    """The HF pre-tokenizer a preset stands for (what HF trains with, and what the saved tokenizer.json holds)."""
    if pretokenizer == "gpt2":
        return pre_tokenizers.ByteLevel(add_prefix_space=False)
    if pretokenizer not in PRETOKENIZER_PATTERNS:
        raise UsageError(f"unknown pre-tokenizer {pretokenizer!r}; choose one of {', '.join(PRETOKENIZER_PATTERNS)}")
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZER_PATTERNS[pretokenizer]), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def initial_tokens(special_tokens) -> list[str]:
    """Ids in HF's order: special tokens, then the ByteLevel alphabet sorted by code point (no string twice)."""
    tokens = []
    for s in special_tokens:
        if s not in tokens:
            tokens.append(s)
    seen = set(tokens)
    tokens += [c for c in sorted(byte_to_char()) if c not in seen]
    return tokens


def learn_merges(words: list[bytes], counts: np.ndarray, vocab_size: int, min_frequency: int = 0, special_tokens=()):
    """Run the engine; returns (tokens: list[str] indexed by id, merges: list[(str, str)] in rank order)."""
    tokens = initial_tokens(special_tokens)
    if vocab_size < len(tokens):
        raise UsageError(
            f"vocab size {vocab_size} is smaller than the alphabet ({len(tokens)} tokens: 256 bytes"
            f" + {len(tokens) - 256} special)"
        )
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    if len(words) != len(counts):
        raise InputError(f"word counts: {len(words)} words but {len(counts)} counts")
    ids = {t: i for i, t in enumerate(tokens)}
    byte_id = np.array([ids[c] for c in byte_to_char()], dtype=np.int32)

    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    offs = np.zeros(len(words) + 1, np.int64)
    np.cumsum(lengths, out=offs[1:])
    flat = byte_id[np.frombuffer(b"".join(words), dtype=np.uint8)]

    tok_bytes = [to_bytes(t) or b"" for t in tokens]
    tok_offs = np.zeros(len(tokens) + 1, np.int64)
    np.cumsum([len(b) for b in tok_bytes], out=tok_offs[1:])
    tok_pool = np.frombuffer(b"".join(tok_bytes) or b"\0", dtype=np.uint8)

    left, right, new = train_merges(flat, offs, counts, tok_pool, tok_offs, vocab_size, min_frequency)

    for a, b, n in zip(left.tolist(), right.tolist(), new.tolist()):
        if n == len(tokens):
            tokens.append(tokens[a] + tokens[b])
    # HF keeps merges in a map pair -> rank: a pair merged twice keeps its last rank
    last = {}
    for rank, pair in enumerate(zip(left.tolist(), right.tolist())):
        last[pair] = rank
    merges = [(tokens[a], tokens[b]) for (a, b), _ in sorted(last.items(), key=lambda kv: kv[1])]
    return tokens, merges


def build_tokenizer(tokens: list[str], merges, special_tokens=(), pretokenizer: str = "gpt2") -> Tokenizer:
    """A byte-level BPE Tokenizer laid out as HF's trainer leaves it."""
    model = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=list(merges))
    tok = Tokenizer(model)
    tok.pre_tokenizer = hf_pre_tokenizer(pretokenizer)
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
) -> Tokenizer:
    """Train byte-level BPE on word counts (words as UTF-8 bytes, split by the preset's pre-tokenizer, line by line)."""
    hf_pre_tokenizer(pretokenizer)  # validate the preset before the work
    special_tokens = list(special_tokens)
    tokens, merges = learn_merges(words, counts, vocab_size, min_frequency, special_tokens)
    return build_tokenizer(tokens, merges, special_tokens, pretokenizer)
