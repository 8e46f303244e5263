"""Tokenizer metrics: one function per metric over accumulated `Stats`, plus the registry.

A record is `{tokenizer, corpus, lang}` plus one value per registered metric.  A metric that does not apply to a
tokenizer/corpus (no unknown token, no lexicon for the language, no parallel reference...) is None, never 0.

Word segmentation (fertility, continued words, words per token, morphology): a word is a maximal run of Unicode
letters, marks and digits, optionally joined by inner apostrophes (``WORD_RE``: "İstanbul'da", "don't" are one word);
punctuation and whitespace are not words.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import regex

WORD_RE = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*")
_CROSS_WS = regex.compile(r"\S\s+\S")
_HAS_WORDCHAR = regex.compile(r"[\p{L}\p{M}\p{N}]")
_BYTE_FALLBACK = regex.compile(r"<0x[0-9A-Fa-f]{2}>")

DEFAULT_ALPHA = 2.5


# ---------------------------------------------------------------------------------------------------------- helpers
def ratio(num, den):
    """num/den, or None when the denominator is 0 or either side is missing (a metric that does not apply)."""
    if num is None or den is None or den == 0:
        return None
    return float(num) / float(den)


def renyi_entropy(counts, alpha: float = DEFAULT_ALPHA) -> float | None:
    """Rényi entropy H_a (bits) of the unigram distribution given by `counts`; alpha=1 is Shannon entropy."""
    c = np.asarray(counts, dtype=np.float64)
    c = c[c > 0]
    if c.size == 0:
        return None
    p = c / c.sum()
    if alpha == 1:
        return float(-(p * np.log2(p)).sum())
    return float(np.log2((p ** alpha).sum()) / (1.0 - alpha))


def renyi_efficiency(counts, vocab_size: int | None = None, alpha: float = DEFAULT_ALPHA) -> float | None:
    """H_a / log2|V| (Zouhar et al. 2023). |V| = `vocab_size` (nominal) or, when None, the number of distinct tokens
    observed in `counts`. None when |V| < 2 (log2|V| = 0) or nothing was counted."""
    c = np.asarray(counts)
    v = int((c > 0).sum()) if vocab_size is None else int(vocab_size)
    h = renyi_entropy(c, alpha)
    if h is None or v < 2:
        return None
    return h / math.log2(v)


def word_byte_spans(text: str) -> np.ndarray:
    """(n, 2) array of [start, end) UTF-8 byte offsets of the words of `text` (``WORD_RE``)."""
    spans = [m.span() for m in WORD_RE.finditer(text)]
    if not spans:
        return np.zeros((0, 2), dtype=np.int64)
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    width = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)
    offs = np.zeros(len(cps) + 1, dtype=np.int64)
    np.cumsum(width, out=offs[1:])
    return offs[np.asarray(spans, dtype=np.int64)]


def tokens_per_word(token_ends: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """How many tokens overlap each word span, given the cumulative byte end of every token."""
    if len(spans) == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.searchsorted(token_ends, spans[:, 0], side="right")
    last = np.searchsorted(token_ends, spans[:, 1] - 1, side="right")
    return last - first + 1


def boundary_prf(pairs) -> tuple[int, int, int]:
    """Sum over (predicted, gold) boundary sets of (true positives, |predicted|, |gold|)."""
    tp = npred = ngold = 0
    for pred, gold in pairs:
        pred, gold = set(pred), set(gold)
        tp += len(pred & gold)
        npred += len(pred)
        ngold += len(gold)
    return tp, npred, ngold


def prf(tp: int, npred: int, ngold: int) -> tuple[float | None, float | None, float | None]:
    """Precision, recall, F1 from counts; None where a denominator is 0."""
    p, r = ratio(tp, npred), ratio(tp, ngold)
    f = None if p is None or r is None else (0.0 if p + r == 0 else 2 * p * r / (p + r))
    return p, r, f


# ------------------------------------------------------------------------------------------- per-tokenizer tables
@dataclass
class TokenTable:
    """Per-id facts computed once per tokenizer, so per-token metrics become weighted sums over the id counts."""

    lengths: np.ndarray  # byte length of each token
    cross_ws: np.ndarray  # bool: token text crosses whitespace ("of the")
    words_in: np.ndarray  # number of words the token's own text touches
    byte_fallback: np.ndarray | None  # bool: <0xNN> byte-fallback token; None when the vocabulary has none
    special: np.ndarray  # bool
    unk_id: int | None

    @classmethod
    def build(cls, tok) -> "TokenTable":
        raw = tok.all_token_bytes()
        n = tok.vocab_size
        lengths = np.zeros(n, dtype=np.int64)
        cross = np.zeros(n, dtype=bool)
        words = np.zeros(n, dtype=np.int64)
        fallback = np.zeros(n, dtype=bool)
        special = np.zeros(n, dtype=bool)
        scan_fallback = getattr(tok, "byte_fallback", True) is not False  # the adapter says when there are none
        for i in range(n):
            b = raw[i] if i < len(raw) else b""
            lengths[i] = len(b)
            s = b.decode("utf-8", errors="replace")
            cross[i] = bool(_CROSS_WS.search(s))
            words[i] = len(WORD_RE.findall(s))
            if scan_fallback:
                piece = tok.id_to_token(i)
                fallback[i] = bool(piece) and bool(_BYTE_FALLBACK.fullmatch(piece))
        for i in tok.special_ids:
            if 0 <= i < n:
                special[i] = True
        unk = tok.roles.get("unk") if getattr(tok, "roles", None) else None
        return cls(lengths, cross, words, fallback if fallback.any() else None, special, unk)


# --------------------------------------------------------------------------------------------------- accumulator
@dataclass
class Stats:
    """Everything a (tokenizer, corpus) pass accumulates; the metric functions read only this."""

    tokenizer: str
    corpus: str
    lang: str | None
    vocab_size: int
    table: TokenTable | None = None
    counts: np.ndarray | None = None  # unigram id counts (specials excluded)
    tokens: int = 0
    bytes: int = 0
    chars: int = 0
    words: int = 0
    documents: int = 0
    roundtrip_ok: int = 0
    roundtrip_checked: int = 0
    aligned_words: int = 0  # words in documents whose token bytes tile the prepared text
    continued: int = 0
    encode_seconds: float = 0.0
    morph: tuple[int, int, int] | None = None  # (tp, npred, ngold)
    lexicon: dict | None = None  # the %TR/%Pure fields, filled by lexicons.lexicon_scores
    premium: float | None = None
    corpus_hash: str | None = None  # content_hash of the corpus's documents (the gate checks it matches)
    extra: dict = field(default_factory=dict)

    def add_counts(self, ids: np.ndarray) -> None:
        """Accumulate unigram counts of `ids` (specials already removed)."""
        if self.counts is None:
            self.counts = np.zeros(self.vocab_size, dtype=np.int64)
        if len(ids):
            bc = np.bincount(ids, minlength=self.vocab_size)
            if len(bc) > len(self.counts):  # ids beyond vocab_size (added tokens): grow
                self.counts = np.concatenate([self.counts, np.zeros(len(bc) - len(self.counts), np.int64)])
            self.counts[: len(bc)] += bc

    def weighted(self, per_id: np.ndarray) -> float:
        """Sum over counted tokens of a per-id value."""
        c = self.counts
        n = min(len(c), len(per_id))
        return float((c[:n] * per_id[:n]).sum())


# ------------------------------------------------------------------------------------------------ metric functions
def tokens(s: Stats):
    return s.tokens


def bytes_(s: Stats):
    return s.bytes


def chars(s: Stats):
    return s.chars


def words(s: Stats):
    return s.words


def bytes_per_token(s: Stats):
    return ratio(s.bytes, s.tokens)


def chars_per_token(s: Stats):
    return ratio(s.chars, s.tokens)


def tokens_per_kb(s: Stats):
    """Tokens per 1000 UTF-8 bytes: comparable across tokenizers, unlike raw counts."""
    r = ratio(s.tokens, s.bytes)
    return None if r is None else 1000.0 * r


def fertility(s: Stats):
    """Tokens per word (``WORD_RE`` words of the original text)."""
    return ratio(s.tokens, s.words)


def continued_words(s: Stats):
    """Share of words split into 2+ tokens (PCW, Rust et al.), over documents whose tokens tile the prepared text."""
    return ratio(s.continued, s.aligned_words)


def _renyi(s: Stats, nominal: bool):
    if s.counts is None or s.tokens == 0:
        return None
    return renyi_efficiency(s.counts, s.vocab_size if nominal else None, DEFAULT_ALPHA)


def renyi_efficiency_nominal(s: Stats):
    """Rényi efficiency, alpha 2.5, |V| = the tokenizer's nominal vocabulary size."""
    return _renyi(s, nominal=True)


def renyi_efficiency_observed(s: Stats):
    """Rényi efficiency, alpha 2.5, |V| = distinct tokens seen in this corpus (tokenization-scorer's convention)."""
    return _renyi(s, nominal=False)


def vocab_utilization(s: Stats):
    if s.counts is None or s.tokens == 0:
        return None
    return ratio(int((s.counts > 0).sum()), s.vocab_size)


def roundtrip_exact_rate(s: Stats):
    """Share of documents with decode(encode(doc)) == doc."""
    return ratio(s.roundtrip_ok, s.roundtrip_checked)


def unk_rate(s: Stats):
    """Share of tokens that are the unknown token; None when the tokenizer has no unknown token."""
    t = s.table
    if t is None or t.unk_id is None or s.counts is None or s.tokens == 0:
        return None
    return ratio(int(s.counts[t.unk_id]) if t.unk_id < len(s.counts) else 0, s.tokens)


def byte_fallback_rate(s: Stats):
    """Share of tokens that are <0xNN> byte-fallback tokens; None when the vocabulary has none."""
    t = s.table
    if t is None or t.byte_fallback is None or s.tokens == 0:
        return None
    return ratio(s.weighted(t.byte_fallback), s.tokens)


def cross_whitespace_share(s: Stats):
    """Share of tokens whose text has whitespace between non-whitespace ("of the": a supertoken)."""
    t = s.table
    if t is None or s.tokens == 0:
        return None
    return ratio(s.weighted(t.cross_ws), s.tokens)


def mean_words_per_token(s: Stats):
    """Mean number of words a token touches, over tokens that touch at least one word (1.0 without supertokens)."""
    t = s.table
    if t is None or s.tokens == 0:
        return None
    has = t.words_in > 0
    return ratio(s.weighted(t.words_in), s.weighted(has))


def _lex(key: str) -> Callable[[Stats], float | None]:
    def f(s: Stats):
        return None if s.lexicon is None else s.lexicon.get(key)

    f.__name__ = key
    f.__doc__ = f"{key}: see tokbench.eval.lexicons.lexicon_scores."
    return f


def _morph(i: int) -> Callable[[Stats], float | None]:
    def f(s: Stats):
        return None if s.morph is None else prf(*s.morph)[i]

    return f


def premium(s: Stats):
    """tokens(text in this language) / tokens(same text in the reference language), parallel corpora only."""
    return s.premium


def throughput_mb_s(s: Stats):
    """MB (1e6 bytes) of text encoded per second of encode_batch time."""
    if s.encode_seconds <= 0:
        return None
    return s.bytes / 1e6 / s.encode_seconds


# ---------------------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Metric:
    key: str
    fn: Callable[[Stats], float | int | None]
    better: str | None  # "higher", "lower", or None (a property of the corpus, not a quality)
    doc: str


IDENTITY_KEYS = ("tokenizer", "corpus", "lang")

_M = [
    Metric("tokens", tokens, "lower", "tokens (special tokens excluded)"),
    Metric("bytes", bytes_, None, "UTF-8 bytes of the text"),
    Metric("chars", chars, None, "characters of the text"),
    Metric("words", words, None, "words (Unicode letter/digit runs, inner apostrophes kept)"),
    Metric("bytes_per_token", bytes_per_token, "higher", "UTF-8 bytes per token"),
    Metric("chars_per_token", chars_per_token, "higher", "characters per token"),
    Metric("tokens_per_kb", tokens_per_kb, "lower", "tokens per 1000 bytes"),
    Metric("fertility", fertility, "lower", "tokens per word"),
    Metric("continued_words", continued_words, "lower", "share of words split into 2+ tokens"),
    Metric("renyi_efficiency", renyi_efficiency_nominal, "higher", "Rényi efficiency a=2.5, nominal |V|"),
    Metric("renyi_efficiency_observed", renyi_efficiency_observed, "higher", "Rényi efficiency a=2.5, observed |V|"),
    Metric("vocab_utilization", vocab_utilization, "higher", "distinct tokens used / |V|"),
    Metric("roundtrip_exact_rate", roundtrip_exact_rate, "higher", "share of documents decoding back exactly"),
    Metric("unk_rate", unk_rate, "lower", "share of unknown tokens"),
    Metric("byte_fallback_rate", byte_fallback_rate, "lower", "share of <0xNN> byte-fallback tokens"),
    Metric("cross_whitespace_share", cross_whitespace_share, None, "share of tokens crossing whitespace"),
    Metric("mean_words_per_token", mean_words_per_token, None, "mean words touched per word-bearing token"),
    Metric("tr_percent_unique", _lex("tr_percent_unique"), "higher", "% distinct tokens that are valid words"),
    Metric("tr_percent_weighted", _lex("tr_percent_weighted"), "higher", "% tokens (by frequency) valid words"),
    Metric("pure_percent_unique", _lex("pure_percent_unique"), "higher", "% distinct tokens that are pure morphemes"),
    Metric("pure_percent_weighted", _lex("pure_percent_weighted"), "higher", "% tokens (by frequency) pure"),
    Metric("no_verdict_unique", _lex("no_verdict_unique"), None, "% distinct tokens with no verdict"),
    Metric("morph_precision", _morph(0), "higher", "token boundaries on morpheme boundaries / token boundaries"),
    Metric("morph_recall", _morph(1), "higher", "morpheme boundaries hit / morpheme boundaries"),
    Metric("morph_f1", _morph(2), "higher", "F1 of morpheme-boundary alignment"),
    Metric("premium", premium, "lower", "tokens vs the same text in the reference language"),
    Metric("throughput_mb_s", throughput_mb_s, "higher", "encode MB/s"),
    Metric("bits_per_byte", lambda s: s.extra.get("bits_per_byte"), "lower",
           "model: token-level NLL / (ln 2 x bytes) (--model)"),
    Metric("exact_bits_per_byte", lambda s: s.extra.get("exact_bits_per_byte"), "lower",
           "model: exact byte-level bits per byte over the first --exact-bytes of each document (--model)"),
]
METRICS: dict[str, Metric] = {m.key: m for m in _M}
CHECK_KEYS = ("corpus_hash",)  # not a metric: says which text was measured
RECORD_KEYS: tuple[str, ...] = IDENTITY_KEYS + tuple(METRICS) + CHECK_KEYS


def content_hash(documents: Iterable[bytes], start: int = 0) -> int:
    """An order-free hash of a corpus: the sum of each document's 128-bit BLAKE2b digest mod 2**128, so shards hash
    separately and add up to the whole corpus's value (pass the running sum as `start`)."""
    total = start
    for doc in documents:
        total += int.from_bytes(hashlib.blake2b(doc, digest_size=16).digest(), "big")
    return total % (1 << 128)


def _clean(v):
    if v is None:
        return None
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    v = float(v)
    return None if math.isnan(v) else v


def record(s: Stats) -> dict:
    """The JSON record for one (tokenizer, corpus): identity keys then every registered metric, in registry order."""
    out = {"tokenizer": s.tokenizer, "corpus": s.corpus, "lang": s.lang}
    for m in _M:
        out[m.key] = _clean(m.fn(s))
    out["corpus_hash"] = s.corpus_hash
    return out
