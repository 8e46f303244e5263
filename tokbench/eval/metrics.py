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
from collections import Counter
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


def char_byte_offsets(text: str) -> np.ndarray:
    """UTF-8 byte offset of every character position of `text` (len(text) + 1 entries)."""
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    width = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)
    offs = np.zeros(len(cps) + 1, dtype=np.int64)
    np.cumsum(width, out=offs[1:])
    return offs


def word_byte_spans(text: str) -> np.ndarray:
    """(n, 2) array of [start, end) UTF-8 byte offsets of the words of `text` (``WORD_RE``)."""
    spans = [m.span() for m in WORD_RE.finditer(text)]
    if not spans:
        return np.zeros((0, 2), dtype=np.int64)
    return char_byte_offsets(text)[np.asarray(spans, dtype=np.int64)]


def tokens_per_word(token_ends: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """How many tokens overlap each word span, given the cumulative byte end of every token."""
    if len(spans) == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.searchsorted(token_ends, spans[:, 0], side="right")
    last = np.searchsorted(token_ends, spans[:, 1] - 1, side="right")
    return last - first + 1


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
    utf8_invalid: np.ndarray | None = None  # bool: the token's bytes are not valid UTF-8 on their own

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
        allowed = {tok.special_tokens[t] for t in getattr(tok, "allowed_special", ())}  # read from the text: counted
        for i in tok.special_ids - allowed:
            if 0 <= i < n:
                special[i] = True
        unk = tok.roles.get("unk") if getattr(tok, "roles", None) else None
        return cls(lengths, cross, words, fallback if fallback.any() else None, special, unk, utf8_invalid(raw, n))


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
    content_sum: int = 0  # content_hash of the documents seen (a sum: shards merge by adding, mod 2**128)
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

    SUMMED = ("tokens", "bytes", "chars", "words", "documents", "roundtrip_ok", "roundtrip_checked", "aligned_words",
              "continued", "encode_seconds")

    def merge(self, other: "Stats") -> "Stats":
        """Add the statistics of another shard of the same (tokenizer, corpus) into this one, exactly: sums, the
        per-id count histogram (which the unique-token and per-token metrics read) and the boundary counts, and the sums
        in `extra`. The derived fields (lexicon, premium, model scores) are computed after the merge."""
        for name in self.SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.content_sum = (self.content_sum + other.content_sum) % (1 << 128)
        if other.counts is not None:
            if self.counts is None:
                self.counts = other.counts.copy()
            else:
                n = max(len(self.counts), len(other.counts))
                merged = np.zeros(n, np.int64)
                merged[: len(self.counts)] += self.counts
                merged[: len(other.counts)] += other.counts
                self.counts = merged
        if other.morph is not None:
            self.morph = other.morph if self.morph is None else tuple(x + y for x, y in zip(self.morph, other.morph))
        for key, value in other.extra.items():  # observe_document's sums, and its Counter (keys in first-seen order)
            if isinstance(value, Counter):
                self.extra.setdefault(key, Counter()).update(value)
            else:
                self.extra[key] = self.extra.get(key, 0) + value
        return self

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
    """MB (1e6 bytes) of text encoded per second, warm (eval.run times it apart from the pass: `_time_throughput`);
    without that figure, bytes over the pass's encode time."""
    if "throughput_mb_s" in s.extra:
        return s.extra["throughput_mb_s"]
    if s.encode_seconds <= 0:
        return None
    return s.bytes / 1e6 / s.encode_seconds


# ------------------------------------------------------------- distribution, digits, code, UTF-8, parity spread
# Metrics from TokEval, tokenization-scorer and Petrov et al. that tokbench adds. The boundary metrics need more than
# the id counts: `doc_facts` finds what a document offers once (its digit runs, its Python lexical tokens), and
# `observe_document` folds each tokenizer's token ends into plain sums and one Counter in `Stats.extra`, so statistics
# of two shards still merge by addition.
_DIGIT_RUN = regex.compile(rb"[0-9]{2,}")


def utf8_invalid(raw: list[bytes], n: int) -> np.ndarray:
    """bool per id: the token's bytes alone are not valid UTF-8 (a character cut in two, a lone byte-fallback byte)."""
    out = np.zeros(n, dtype=bool)
    for i, b in enumerate(raw[:n]):
        try:
            b.decode("utf-8")
        except UnicodeDecodeError:
            out[i] = True
    return out


def gini(counts) -> float | None:
    """Gini coefficient of the positive counts: 0 when every used token is equally frequent, towards 1 when a few
    tokens take nearly all occurrences. Unused vocabulary is left out (it would make every small corpus look ~1)."""
    c = np.asarray(counts, dtype=np.float64)
    c = np.sort(c[c > 0])
    if c.size == 0:
        return None
    i = np.arange(1, c.size + 1)
    return float(2.0 * (i * c).sum() / (c.size * c.sum()) - (c.size + 1) / c.size)


def mean_frequency_rank(counts) -> float | None:
    """Mean, over token occurrences, of the token's frequency rank in this corpus (1 = most frequent; TokEval's
    average token rank). Ties do not matter: tokens of equal count contribute the same whatever their order."""
    c = np.asarray(counts, dtype=np.float64)
    c = np.sort(c[c > 0])[::-1]
    if c.size == 0:
        return None
    return float((np.arange(1, c.size + 1) * c).sum() / c.sum())


def digit_groups(n: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Token boundaries (offsets inside a run of n digits) of 3-digit groups from the left (123|45, as cl100k and
    llama3 pre-tokenize) and from the right (12|345, thousands as people write them)."""
    return tuple(range(3, n, 3)), tuple(range(n % 3 or 3, n, 3))


@dataclass
class DocFacts:
    """What a document offers the boundary metrics, found once and shared by every tokenizer."""

    digit_runs: np.ndarray  # (n, 2) UTF-8 byte spans of runs of 2+ ASCII digits
    code_spans: np.ndarray | None  # (n, 2) byte spans of Python lexical tokens; None when the text is not Python


def doc_facts(text: str, data: bytes) -> DocFacts:
    runs = np.asarray([m.span() for m in _DIGIT_RUN.finditer(data)], dtype=np.int64).reshape(-1, 2)
    return DocFacts(runs, python_spans(text))


def python_spans(text: str) -> np.ndarray | None:
    """UTF-8 byte spans of the lexical tokens Python's own `tokenize` finds (newlines, indentation and other whitespace
    left out: whitespace between lexical tokens is free for a tokenizer to attach either way), or None when the text is
    not Python. A text is Python when `ast.parse` accepts it and it has a statement other than a bare expression (a
    word or a number alone parses too). Corpus documents carry no file name, so other languages get None: their
    lexers would have to be guessed from the content."""
    import ast
    import io
    import tokenize
    import warnings

    if not text.strip():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
        if all(isinstance(node, ast.Expr) for node in tree.body):
            return None
        skip = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
        toks = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type not in skip and t.string.strip()]
    except (SyntaxError, ValueError, RecursionError, tokenize.TokenError):
        return None
    line_start = np.zeros(text.count("\n") + 2, dtype=np.int64)  # char offset of each line (tokenize rows)
    np.cumsum([len(line) + 1 for line in text.split("\n")], out=line_start[1:])
    chars = np.asarray([(line_start[t.start[0] - 1] + t.start[1], line_start[t.end[0] - 1] + t.end[1]) for t in toks],
                       dtype=np.int64).reshape(-1, 2)
    return char_byte_offsets(text)[chars]


def _add(extra: dict, key: str, value) -> None:
    extra[key] = extra.get(key, 0) + int(value)


def observe_document(s: Stats, facts: DocFacts, prepared: bytes, encoded: bytes, ends: np.ndarray) -> None:
    """Fold one document into the boundary sums of `s.extra`. `ends` are the cumulative byte ends of its tokens, which
    tile `prepared` (the text as the tokenizer sees it); digit and code spans of `encoded` (the original UTF-8) are
    used where `prepared` is the same bytes, or the same after one dummy-prefix space."""
    x = s.extra
    inner = ends[:-1]  # the token boundaries inside the document
    b = np.frombuffer(prepared, dtype=np.uint8)
    cont = (b & 0xC0) == 0x80  # UTF-8 continuation bytes: a boundary before one cuts a character
    _add(x, "utf8_chars", len(b) - int(cont.sum()))
    cut = inner[cont[inner]]
    if len(cut):
        _add(x, "split_chars", len(np.unique(np.cumsum(~cont)[cut])))
    shift = 0 if prepared == encoded else 1 if prepared[:1] == b" " and prepared[1:] == encoded else None
    if shift is None:
        return
    if len(facts.digit_runs):
        runs = facts.digit_runs + shift
        lo = np.searchsorted(inner, runs[:, 0], side="right")
        hi = np.searchsorted(inner, runs[:, 1], side="left")
        splits = x.setdefault("digit_splits", Counter())  # (run length, boundary offsets inside the run) -> runs
        for (a, e), i, j in zip(runs.tolist(), lo.tolist(), hi.tolist()):
            splits[(e - a, tuple((inner[i:j] - a).tolist()))] += 1
    if facts.code_spans is not None and len(facts.code_spans):
        lex = facts.code_spans + shift
        starts = np.concatenate([[0], inner])
        overlapped = np.searchsorted(lex[:, 0], ends, side="left") - np.searchsorted(lex[:, 1], starts, side="right")
        _add(x, "code_tokens", len(ends))
        _add(x, "code_tokens_aligned", int((overlapped <= 1).sum()))
        gap_from, gap_to = lex[:-1, 1], lex[1:, 0]  # between two lexical tokens (whitespace included)
        k = np.searchsorted(inner, gap_from, side="left")
        hit = (k < len(inner)) & (inner[np.minimum(k, len(inner) - 1)] <= gap_to) if len(inner) else k < 0
        _add(x, "code_gaps", len(gap_from))
        _add(x, "code_gaps_hit", int(hit.sum()))


def gini_coefficient(s: Stats):
    """Gini coefficient of the token frequencies (TokEval), over the distinct tokens used."""
    return None if s.counts is None or s.tokens == 0 else gini(s.counts)


def avg_token_rank(s: Stats):
    """Mean frequency rank of the tokens (TokEval's average token rank; 1 = every token is the most frequent one)."""
    return None if s.counts is None or s.tokens == 0 else mean_frequency_rank(s.counts)


def digit_group_share(s: Stats):
    """Share of digit runs (2+ digits) whose token boundaries are exactly 3-digit groups, from the left or the right
    (runs of 2-3 digits: kept whole). None when the text has no such run."""
    splits = s.extra.get("digit_splits")
    if not splits:
        return None
    ok = sum(c for (n, cuts), c in splits.items() if cuts in digit_groups(n))
    return ratio(ok, sum(splits.values()))


def digit_split_entropy(s: Stats):
    """Entropy (bits) of how digit runs are split, given their length: H(boundary offsets | run length). 0 when every
    number of a length is always cut the same way; high when the cuts depend on which digits they are (gpt2)."""
    splits = s.extra.get("digit_splits")
    if not splits:
        return None
    by_len: dict[int, list[int]] = {}
    for (n, _cuts), c in splits.items():
        by_len.setdefault(n, []).append(c)
    total = sum(splits.values())
    return float(sum(sum(cs) / total * renyi_entropy(cs, 1) for cs in by_len.values()))


def code_token_alignment(s: Stats):
    """Python documents: share of tokens lying within one lexical token (whitespace around it free)."""
    return ratio(s.extra.get("code_tokens_aligned"), s.extra.get("code_tokens"))


def code_boundary_recall(s: Stats):
    """Python documents: share of the boundaries between consecutive lexical tokens that a token boundary falls on
    (anywhere in the whitespace between them)."""
    return ratio(s.extra.get("code_gaps_hit"), s.extra.get("code_gaps"))


def invalid_utf8_token_share(s: Stats):
    """Share of tokens (by frequency) whose bytes alone are not valid UTF-8."""
    t = s.table
    if t is None or t.utf8_invalid is None or s.counts is None or s.tokens == 0:
        return None
    return ratio(s.weighted(t.utf8_invalid), s.tokens)


def split_char_share(s: Stats):
    """Share of characters whose UTF-8 bytes are split across two or more tokens (documents whose tokens tile)."""
    return ratio(s.extra.get("split_chars", 0) if "utf8_chars" in s.extra else None, s.extra.get("utf8_chars"))


def _premium_quantile(key: str) -> Callable[[Stats], float | None]:
    def f(s: Stats):
        return s.extra.get(key)

    f.__name__ = key
    return f


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
    Metric("vocab_size", lambda s: s.vocab_size, None, "nominal vocabulary size |V|"),
    Metric("gini", gini_coefficient, "lower", "Gini coefficient of token frequencies (0 = even use; TokEval)"),
    Metric("avg_token_rank", avg_token_rank, None, "mean frequency rank of the tokens (1 = most frequent; TokEval)"),
    Metric("digit_group_share", digit_group_share, "higher",
           "share of 2+-digit numbers cut exactly into 3-digit groups (from the left or the right)"),
    Metric("digit_split_entropy", digit_split_entropy, "lower",
           "entropy (bits) of digit-run splits given the run length (0 = always cut the same way)"),
    Metric("code_token_alignment", code_token_alignment, "higher",
           "Python documents: share of tokens within one lexical token (tokenize module)"),
    Metric("code_boundary_recall", code_boundary_recall, "higher",
           "Python documents: share of lexical-token boundaries that are token boundaries"),
    Metric("invalid_utf8_token_share", invalid_utf8_token_share, "lower",
           "share of tokens that are not valid UTF-8 on their own"),
    Metric("split_char_share", split_char_share, "lower", "share of characters split across tokens"),
    Metric("roundtrip_exact_rate", roundtrip_exact_rate, "higher", "share of documents decoding back exactly"),
    Metric("unk_rate", unk_rate, "lower", "share of unknown tokens"),
    Metric("byte_fallback_rate", byte_fallback_rate, "lower", "share of <0xNN> byte-fallback tokens"),
    Metric("cross_whitespace_share", cross_whitespace_share, None, "share of tokens crossing whitespace"),
    Metric("mean_words_per_token", mean_words_per_token, None, "mean words touched per word-bearing token"),
    Metric("word_percent_unique", _lex("word_percent_unique"), "higher", "% distinct token strings that are words"),
    Metric("word_percent_weighted", _lex("word_percent_weighted"), "higher", "% tokens (by frequency) words"),
    Metric("tr_percent_unique", _lex("tr_percent_unique"), "higher", "%TR: word_percent_unique (the paper's name)"),
    Metric("tr_percent_weighted", _lex("tr_percent_weighted"), "higher", "% tokens (by frequency) valid words"),
    Metric("pure_percent_unique", _lex("pure_percent_unique"), "higher", "% distinct tokens that are pure morphemes"),
    Metric("pure_percent_weighted", _lex("pure_percent_weighted"), "higher", "% tokens (by frequency) pure"),
    Metric("no_verdict_unique", _lex("no_verdict_unique"), None, "% distinct tokens with no verdict"),
    Metric("morph_precision", _morph(0), "higher", "token boundaries on morpheme boundaries / token boundaries"),
    Metric("morph_recall", _morph(1), "higher", "morpheme boundaries hit / morpheme boundaries"),
    Metric("morph_f1", _morph(2), "higher", "F1 of morpheme-boundary alignment"),
    Metric("premium", premium, "lower", "tokens vs the same text in the reference language"),
    Metric("premium_min", _premium_quantile("premium_min"), "lower",
           "lowest premium of one parallel document (FLORES: one sentence)"),
    Metric("premium_median", _premium_quantile("premium_median"), "lower", "median premium over parallel documents"),
    Metric("premium_max", _premium_quantile("premium_max"), "lower", "highest premium of one parallel document"),
    Metric("throughput_mb_s", throughput_mb_s, "higher", "encode MB/s, warm (after a first encode)"),
    Metric("throughput_cpu_mb_s", lambda s: s.extra.get("throughput_cpu_mb_s"), "higher",
           "encode MB per CPU-second of the process (the same encodes): other processes' load does not count"),
    Metric("first_use_s", lambda s: s.extra.get("first_use_s"), None,
           "seconds to load the tokenizer and run its first encode (compiles, tables), not in throughput_mb_s"),
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
    """The JSON record for one (tokenizer, corpus): identity keys then every registered metric, in registry order,
    the corpus hash, and a `reason` only where a figure is null because it cannot be computed for this record."""
    out = {"tokenizer": s.tokenizer, "corpus": s.corpus, "lang": s.lang}
    for m in _M:
        out[m.key] = _clean(m.fn(s))
    out["corpus_hash"] = f"{s.content_sum:032x}" if s.documents else None
    if s.extra.get("reason"):  # why a figure is null that would otherwise be computed (ModelScorer._exact)
        out["reason"] = s.extra["reason"]
    return out
