"""Word oracles, morpheme lists and the Turkish analyser behind %TR / %Pure (Bayram et al. 2025).

Two methods, chosen with `tokbench eval --tr-method`:

`paper` (default) follows the authors' code (github malibayram/tokenizer_benchmark: the benchmark notebook,
`is_turkish.py`, `is_pure.py`), with their web service replaced by offline oracles:
  strings     every id used in the text is decoded on its own (the adapter's exact `token_bytes`, so Ġ/▁ arrive as a
              space; a partial UTF-8 character becomes U+FFFD, as `tokenizer.decode([id])` gives it), then split at
              whitespace (the paper joins the decoded tokens with spaces and lets the service split them), NFC-
              normalised, U+2019 read as the ASCII apostrophe. The DISTINCT strings are scored: " ve" and "ve" are one.
  no verdict  a string with no letter (punctuation, digits, U+FFFD): it stays in the denominator, counted as neither
              word nor pure (the paper keeps whatever its service echoes), and its share is reported on its own
              (no_verdict_unique), so the share among judged strings is tr% / (1 - no_verdict%).
  word        the language's hunspell dictionary accepts the string AS WRITTEN (hunspell's casing rules: a lowercase
              entry also accepts Initial-capital and UPPER forms; a proper noun or abbreviation only its capitalised
              forms: "Ankara" is a word, "ankara" is not).
  pure        Turkish only: a valid suffix (data/tr_suffixes.txt, lowercase, with a vowel, an apostrophe in front
              allowed: "'da") or a root: a word by the same oracle that zeyrek reads as one bare stem ("ev", "Ev").
`lexicon` (tokbench's first variant): each distinct id is judged on its lowercased text; word = zeyrek parses it or
wordfreq's list has it (not a bare suffix); pure = zeyrek root or listed suffix; other languages: wordfreq.

Both: the frequency-weighted forms (every occurrence counted) are tokbench's extension; `--lexicon FILE` replaces the
word oracle (a hunspell `.dic` with its `.aff` beside it is used through hunspell under `paper`; any other file is a
list, one entry per line), `--morphemes FILE` the pure-morpheme sources. `word_percent_*` is the generic name of the
word share; `tr_percent_*` (the paper's name) carries the same number.
"""
from __future__ import annotations

import functools
import itertools
import json
import logging
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import regex

from tokbench.errors import InputError, param

_HAS_LETTER = regex.compile(r"\p{L}")
_TR_VOWEL = regex.compile(r"[aeıioöuüâîû]")
_TURKIC = {"tr", "az"}
_SUFFIX_FILE = Path(__file__).with_name("data") / "tr_suffixes.txt"
METHODS = ("paper", "lexicon")
HUNSPELL_DIRS = (Path("/usr/share/hunspell"), Path("/usr/share/myspell/dicts"), Path("/usr/share/myspell"))
# Bumped whenever tokbench changes how zeyrek is patched: cached analyses from older patches are not reused.
ANALYSIS_VERSION = 2


def base_lang(lang: str | None) -> str | None:
    """'tr-TR', 'tur_Latn', 'TR' -> 'tr' (langcodes ships with wordfreq)."""
    if not lang:
        return None
    import langcodes

    try:
        return langcodes.standardize_tag(lang.replace("_", "-")).split("-")[0].lower()
    except (ValueError, LookupError):
        return lang.split("-")[0].split("_")[0].lower()


def normalize(s: str) -> str:
    """NFC (a decomposed 'İ' = I + U+0307 becomes one letter) and the typographic apostrophe U+2019 as ASCII "'"."""
    return unicodedata.normalize("NFC", s).replace("\u2019", "'")


def lower(s: str, lang: str | None) -> str:
    """Lowercase after NFC, with Turkish dotted/dotless I rules for Turkish and Azerbaijani."""
    s = unicodedata.normalize("NFC", s)
    if base_lang(lang) in _TURKIC:
        s = s.replace("I", "ı").replace("İ", "i")
    return s.lower()


# ------------------------------------------------------------------------------------------------- list files
def read_list(path: str | Path, keep_case: bool = False) -> set[str]:
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
        out.add(normalize(entry) if keep_case else entry)
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
    """Every surface form of the suffix templates, consonant-only forms after a vowel ('m' of '(I)m') included."""
    out: set[str] = set()
    for line in _SUFFIX_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out |= expand_suffix_template(line)
    return frozenset(out)


@functools.lru_cache(maxsize=1)
def pure_suffixes() -> frozenset[str]:
    """The suffix forms that count as pure tokens: those with a vowel. A consonant-only form ('m', 'n', 'k', 'r')
    exists only glued to a vowel-final stem; as a token of its own it is indistinguishable from a letter fragment, so
    (like every Turkish syllable) a pure suffix token needs a vowel."""
    return frozenset(s for s in turkish_suffixes() if _TR_VOWEL.search(s))


# --------------------------------------------------------------------------------------------- Turkish analyser
class TurkishAnalyser:
    """zeyrek's rule-based analyser, used offline through `MorphAnalyzer._parse` (its public analyze() needs an NLTK
    download), with its two shared-state leaks patched (`_fix_zeyrek`), so an analysis does not depend on which words
    were analysed before. Results are cached per distinct lowercased string (~1-3 ms per new word) and, with
    `persist`, on disk under a name that carries zeyrek's version and tokbench's ANALYSIS_VERSION."""

    def __init__(self, persist: bool = True):
        self._m = _zeyrek_analyzer()
        self._cache: dict[str, list[list[str]]] = {}
        self._new = 0
        self._path = None
        if not persist:
            return
        try:
            from tokbench.io import cache_dir

            self._path = cache_dir("eval") / f"zeyrek-{_version('zeyrek')}-v{ANALYSIS_VERSION}-analyses.json"
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
        """Surface segmentations (stem first, empty morphemes dropped) of every analysis of a lowercased word, in a
        canonical (sorted) order: zeyrek's own order varies with Python's hash seed."""
        r = self._cache.get(word)
        if r is None:
            r = self._cache[word] = self.parse(word)
            self._new += 1
        return r

    def parse(self, word: str) -> list[list[str]]:
        """`morphs` without the cache: zeyrek's analyses now."""
        try:
            res = self._m._parse(word)
        except Exception:  # zeyrek raises on some odd inputs; that is "no analysis"
            res = []
        return [list(segs) for segs in sorted({tuple(s for _, s in a.morphemes if s) for a in res} - {()})]

    def is_word(self, word: str) -> bool:
        return bool(self.morphs(word))

    def is_root(self, word: str) -> bool:
        return any(len(segs) == 1 and segs[0] == word for segs in self.morphs(word))

    def boundaries(self, word: str) -> tuple[int, ...] | None:
        """Internal morpheme boundaries (character offsets) of the analysis with the shortest root among those whose
        surfaces spell the word (ışık+lar over ışıkla+r); ties go to the finer, then the lexicographically first
        segmentation."""
        spelled = [segs for segs in self.morphs(word) if "".join(segs) == word]
        if not spelled:
            return None
        segs = min(spelled, key=lambda x: (len(x[0]), -len(x), x))
        return tuple(itertools.accumulate(len(s) for s in segs[:-1]))


def _fix_zeyrek() -> None:
    """Make zeyrek 0.1.3's analyses independent of the words analysed before. Two sets leak between words:
    1. `calculate_phonetic_attributes` is lru-cached and returns a set its callers (morphotactics and the rule-based
       analyser, which imports its own reference) then mutate: one word's attributes leak into the next ("adı" could
       lose its analysis).
    2. `SearchPath.initial` hands the search the stem transition's own attribute set, which the analyser mutates
       (`attributes.discard/add` when a suffix consumes the whole tail): a dictionary stem is damaged for every later
       word ("başlayalım", "olarak" lose their readings after a few thousand other words).
    Each caller gets a fresh copy instead. Idempotent."""
    import zeyrek.attributes as at
    import zeyrek.morphotactics as mt
    import zeyrek.rulebasedanalyzer as rba

    if getattr(mt, "_tokbench_fixed", 0) >= ANALYSIS_VERSION:
        return
    orig = at.calculate_phonetic_attributes

    def fresh(word, predecessor_attrs=None):
        return set(orig(word, predecessor_attrs))

    mt.calculate_phonetic_attributes = rba.calculate_phonetic_attributes = fresh
    initial = mt.SearchPath.initial.__func__

    def initial_copy(cls, stem_transition, tail):
        path = initial(cls, stem_transition, tail)
        path.phonetic_attributes = set(path.phonetic_attributes)
        return path

    mt.SearchPath.initial = classmethod(initial_copy)
    # Its search logs every path with f-strings (evaluated even when logging is off): SearchPath.__str__ was half of
    # the analysis time. Only those log lines use it.
    mt.SearchPath.__str__ = lambda self: "<path>"
    mt._tokbench_fixed = ANALYSIS_VERSION


@functools.lru_cache(maxsize=1)
def _zeyrek_analyzer():
    """One patched zeyrek MorphAnalyzer (seconds to build) for every TurkishAnalyser: with the leaks fixed it keeps no
    state from word to word."""
    logging.getLogger("zeyrek").setLevel(logging.ERROR)
    import zeyrek

    _fix_zeyrek()
    return zeyrek.MorphAnalyzer()


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


# ------------------------------------------------------------------------------------------------ spell checker
def hunspell_dictionary(lang: str) -> Path | None:
    """The system hunspell dictionary (.dic with its .aff) for a base language code: tr -> tr_TR.dic (Debian's
    hunspell-tr), de -> de_DE.dic, ...; None when none is installed."""
    for d in HUNSPELL_DIRS:
        if not d.is_dir():
            continue
        found = sorted(p for p in d.glob("*.dic") if (p.stem == lang or p.stem.split("_")[0].split("-")[0] == lang)
                       and p.with_suffix(".aff").is_file())
        if found:
            prefer = [p for p in found if p.stem in (f"{lang}_{lang.upper()}", lang)]
            return (prefer or found)[0]
    return None


class SpellChecker:
    """A hunspell dictionary through the `hunspell` binding (the C library Debian ships: its casing, affix and
    compounding rules, exactly). Verdicts are memoised per string."""

    def __init__(self, dic: str | Path):
        try:
            import hunspell
        except ImportError:
            raise InputError("the hunspell Python binding is not installed (make setup installs it with "
                             "libhunspell-dev)") from None
        dic = Path(dic)
        self.path = dic
        self._h = hunspell.HunSpell(str(dic), str(dic.with_suffix(".aff")))
        self._enc = self._h.get_dic_encoding() or "UTF-8"
        self._memo: dict[str, bool] = {}

    def spell(self, word: str) -> bool:
        v = self._memo.get(word)
        if v is None:
            try:
                v = bool(self._h.spell(word.encode(self._enc)))
            except (UnicodeEncodeError, UnicodeDecodeError):  # not writable in the dictionary's charset
                v = False
            self._memo[word] = v
        return v


@functools.lru_cache(maxsize=16)
def spell_checker(dic: str) -> SpellChecker:
    return SpellChecker(dic)


class ListWords:
    """A user word list judged with hunspell's casing rule: an entry is accepted as written, a lowercase entry also
    in Initial-capital and UPPER case, a capitalised entry also in UPPER case."""

    def __init__(self, words: set[str], lang: str | None):
        self.lang = lang
        self.words = words
        self.lowered = {lower(w, lang): w for w in words}

    def spell(self, s: str) -> bool:
        if s in self.words:
            return True
        low = lower(s, self.lang)
        entry = self.lowered.get(low)
        if entry is None:
            return False
        upper_entry = _upper(entry, self.lang)
        if s == upper_entry:  # UPPER form of any entry
            return True
        return entry == low and s[:1] != s[:1].lower() and lower(s[1:], self.lang) == s[1:]  # Capitalised lowercase


def _upper(s: str, lang: str | None) -> str:
    if base_lang(lang) in _TURKIC:
        s = s.replace("i", "İ").replace("ı", "I")
    return s.upper()


# ------------------------------------------------------------------------------------------ lexicon (old method)
@dataclass
class Lexicon:
    """`--tr-method lexicon`: every distinct id judged on its lowercased text (see the module docstring)."""

    lang: str | None
    words: frozenset[str] | set[str] = frozenset()
    morphemes: frozenset[str] | set[str] | None = None  # None: no purity source
    analyser: TurkishAnalyser | None = None  # used for words and roots unless replaced by user lists
    analyser_words: bool = False
    analyser_roots: bool = False
    not_words: frozenset[str] = frozenset()
    sources: list[str] = field(default_factory=list)
    _memo: dict = field(default_factory=dict, repr=False)
    method = "lexicon"

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
        s = lower(normalize(s.strip()), self.lang)
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


def _lexicon_method(code: str | None, lexicon_file=None, morphemes_file=None) -> Lexicon | None:
    lex = Lexicon(lang=code)
    if lexicon_file:
        lex.words = {lower(normalize(w), code) for w in read_list(lexicon_file)}
        lex.sources.append(f"lexicon:{lexicon_file}")
    if morphemes_file:
        lex.morphemes = {lower(normalize(w), code) for w in read_list(morphemes_file)}
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
            lex.morphemes = pure_suffixes()
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


# -------------------------------------------------------------------------------------------- paper (default)
@dataclass
class PaperLexicon:
    """`--tr-method paper`: verdicts on the distinct decoded strings (see the module docstring)."""

    lang: str | None
    words: SpellChecker | ListWords
    morphemes: ListWords | None = None  # the user's --morphemes
    analyser: TurkishAnalyser | None = None  # Turkish roots for %Pure
    suffixes: frozenset[str] = frozenset()  # Turkish pure suffixes
    sources: list[str] = field(default_factory=list)
    _memo: dict = field(default_factory=dict, repr=False)
    method = "paper"

    @property
    def judges_purity(self) -> bool:
        return self.morphemes is not None or self.analyser is not None

    def verdict(self, s: str) -> tuple[bool, bool | None] | None:
        """(is_word, is_pure) for one normalised, whitespace-free string, or None when it has no letter."""
        v = self._memo.get(s, 0)
        if v != 0:
            return v
        if not _HAS_LETTER.search(s):
            v = None
        else:
            word = self.words.spell(s)
            pure = None
            if self.morphemes is not None:
                pure = self.morphemes.spell(s)
            elif self.analyser is not None:
                bare = s[1:] if s.startswith("'") else s  # "'da": a suffix after an apostrophe
                pure = bare in self.suffixes or (word and "'" not in s and self.analyser.is_root(lower(s, self.lang)))
            v = (word, pure)
        self._memo[s] = v
        return v


def _paper_method(code: str | None, lexicon_file=None, morphemes_file=None) -> PaperLexicon | None:
    sources = []
    if lexicon_file:
        p = Path(lexicon_file)
        if p.suffix == ".dic" and p.with_suffix(".aff").is_file():
            words = spell_checker(str(p))
            sources.append(f"hunspell:{p}")
        else:
            words = ListWords(read_list(p, keep_case=True), code)
            sources.append(f"lexicon:{p}")
    else:
        dic = hunspell_dictionary(code) if code else None
        if dic is None:
            if code == "tr":
                logging.getLogger("tokbench").warning("no hunspell dictionary for Turkish (install hunspell-tr: make "
                                                      "setup): %%TR/%%Pure are null; %s lexicon needs none",
                                                      param("tr_method"))
            return None
        words = spell_checker(str(dic))
        sources.append(f"hunspell:{dic.stem}")
    lex = PaperLexicon(code, words, sources=sources)
    if morphemes_file:
        lex.morphemes = ListWords(read_list(morphemes_file, keep_case=True), code)
        sources.append(f"morphemes:{morphemes_file}")
    elif code == "tr":
        lex.analyser, lex.suffixes = turkish_analyser(), pure_suffixes()
        sources += ["zeyrek-roots", "tr_suffixes"]
    return lex


def check_method(method: str) -> None:
    """UsageError unless `method` is one of METHODS (eval's tr_method)."""
    if method not in METHODS:
        from tokbench.errors import UsageError

        raise UsageError(f"{param('tr_method')} {method!r}: choose {' or '.join(METHODS)}")


def lexicon_for(lang: str | None, lexicon_file=None, morphemes_file=None, method: str = "paper"):
    """The judge of tokens for `lang` under `method` ('paper' or 'lexicon'), or None when nothing covers the language
    (the %TR/%Pure fields stay null)."""
    check_method(method)
    code = base_lang(lang)
    if method == "lexicon":
        return _lexicon_method(code, lexicon_file, morphemes_file)
    return _paper_method(code, lexicon_file, morphemes_file)


def token_strings(token_bytes: list[bytes], counts: np.ndarray) -> Counter:
    """The paper's token strings: each used id decoded on its own (U+FFFD for a partial character), normalised, split
    at whitespace; string -> occurrences of the ids that produce it."""
    out: Counter = Counter()
    for i in np.flatnonzero(counts):
        b = token_bytes[i] if i < len(token_bytes) else b""
        for part in normalize(b.decode("utf-8", errors="replace")).split():
            out[part] += int(counts[i])
    return out


def lexicon_scores(token_bytes: list[bytes], counts: np.ndarray, lex) -> dict:
    """%TR (= word %) / %Pure in percent over the distinct units (strings under 'paper', ids under 'lexicon') used in
    the text, and frequency-weighted; units with no verdict stay in the denominator and are their own bucket."""
    if lex.method == "paper":
        units = [(lex.verdict(s), c) for s, c in token_strings(token_bytes, counts).items()]
    else:
        ids = np.flatnonzero(counts)
        units = [(lex.verdict(token_bytes[i] if i < len(token_bytes) else b""), int(counts[i])) for i in ids]
    n_u, n_w = len(units), sum(c for _, c in units)
    word_u = pure_u = none_u = word_w = pure_w = 0
    for v, c in units:
        if v is None:
            none_u += 1
            continue
        word_u += v[0]
        word_w += c * v[0]
        pure_u += bool(v[1])
        pure_w += c * bool(v[1])
    pct = lambda a, b: None if b == 0 else 100.0 * a / b  # noqa: E731
    purity = lex.judges_purity
    word_unique, word_weighted = pct(word_u, n_u), pct(word_w, n_w)
    return {
        "word_percent_unique": word_unique,
        "word_percent_weighted": word_weighted,
        "tr_percent_unique": word_unique,
        "tr_percent_weighted": word_weighted,
        "pure_percent_unique": pct(pure_u, n_u) if purity else None,
        "pure_percent_weighted": pct(pure_w, n_w) if purity else None,
        "no_verdict_unique": pct(none_u, n_u),
    }
