"""Morpheme-boundary alignment: precision/recall/F1 of token boundaries inside words against gold boundaries.

Gold comes from a user's segmentation TSV (`word<TAB>seg ments`, any language) or, for Turkish, from zeyrek's analysis
(the first analysis whose morph surfaces spell the word). Only boundaries strictly inside a word count; word-initial
and word-final positions are not boundaries. Scores are micro-averaged over word occurrences in running text, so a
tokenizer is judged on the segmentation it really produces in context. Words with an apostrophe are skipped for zeyrek
(it drops the apostrophe from its surfaces).
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from tokbench.errors import InputError
from tokbench.eval import lexicons
from tokbench.eval.metrics import word_byte_spans


def _byte_offsets(word: str, char_bounds) -> tuple[int, ...]:
    widths = [len(c.encode("utf-8")) for c in word]
    cum = [0, *itertools.accumulate(widths)]
    return tuple(cum[b] for b in char_bounds)


def load_gold_tsv(path: str | Path) -> dict[str, tuple[int, ...]]:
    """word -> internal boundaries (character offsets) from `word<TAB>seg ments` lines; '#' lines are comments."""
    from tokbench.io import read_lines

    p = Path(path)
    lines = read_lines(p)
    gold: dict[str, tuple[int, ...]] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise InputError(f"{p}:{n}: expected 'word<TAB>seg ments'")
        word, segs = parts[0].strip(), parts[1].split()
        if "".join(segs) != word:
            raise InputError(f"{p}:{n}: segments {' '.join(segs)!r} do not spell {word!r}")
        gold[word] = tuple(itertools.accumulate(len(s) for s in segs[:-1]))
    if not gold:
        raise InputError(f"{p}: no segmentations")
    return gold


class GoldSegmenter:
    """Gold boundaries (byte offsets inside the word) per distinct word, cached; None when the word has no gold."""

    def __init__(self, table: dict[str, tuple[int, ...]] | None = None, lang: str | None = None,
                 analyser: lexicons.TurkishAnalyser | None = None):
        self.table, self.lang, self.analyser = table, lang, analyser
        self._cache: dict[str, tuple[int, ...] | None] = {}

    def __call__(self, word: str) -> tuple[int, ...] | None:
        if word in self._cache:
            return self._cache[word]
        out = None
        if self.table is not None:
            b = self.table.get(word)
            if b is None:
                b = self.table.get(lexicons.lower(word, self.lang))
            if b is not None:
                out = _byte_offsets(word, b)
        elif self.analyser is not None and "'" not in word and "’" not in word:
            low = lexicons.lower(word, self.lang)
            if len(low) == len(word):
                b = self.analyser.boundaries(low)
                if b is not None:
                    out = _byte_offsets(word, b)
        self._cache[word] = out
        return out


def gold_for(lang: str | None, gold_tsv: str | Path | None = None) -> GoldSegmenter | None:
    """The gold source for a corpus: the user's TSV when given, zeyrek for Turkish, else None (morph fields null)."""
    if gold_tsv:
        return GoldSegmenter(load_gold_tsv(gold_tsv), lang)
    if lexicons.base_lang(lang) == "tr":
        return GoldSegmenter(None, "tr", lexicons.turkish_analyser())
    return None


def score_text(prepared: bytes, token_ends: np.ndarray, gold: GoldSegmenter) -> tuple[int, int, int]:
    """(true positives, predicted, gold) boundary counts over the words of one text whose tokens tile `prepared`."""
    text = prepared.decode("utf-8", errors="replace")
    spans = word_byte_spans(text)
    if len(spans) == 0:
        return 0, 0, 0
    starts = np.searchsorted(token_ends, spans[:, 0], side="right")
    lasts = np.searchsorted(token_ends, spans[:, 1] - 1, side="right")
    tp = npred = ngold = 0
    for (s, e), i, j in zip(spans.tolist(), starts.tolist(), lasts.tolist()):
        g = gold(prepared[s:e].decode("utf-8", errors="replace"))
        if g is None:
            continue
        pred = {int(b) - s for b in token_ends[i:j]}
        gs = set(g)
        tp += len(pred & gs)
        npred += len(pred)
        ngold += len(gs)
    return tp, npred, ngold
