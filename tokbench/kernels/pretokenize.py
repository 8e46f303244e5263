"""numba scanners that split code points into pre-tokens exactly as the `regex` package does for the preset patterns.

Each scanner is a hand-written matcher for one regex: at every position it takes the first alternative that matches,
with the same greedy/backtracking outcome `regex` would produce. Character classes come from a uint16 table over all
0x110000 code points (bit flags below) built from `regex` itself, so Unicode versions and the odd corners of `\\s`
(U+001C..U+001F are not `\\s` in `regex`, unlike str.isspace) agree by construction. Hugging Face's Oniguruma splits
the same way on every code point assigned in Python's Unicode database; it differs only on the ~17.5k code points
assigned in later Unicode versions (which `regex` knows) and, for `\\w`, on ²³¹¼½¾ and ZWJ/ZWNJ.

Pure functions on arrays: no I/O, no tokbench imports. Code points are int32; spans are int32 [start, end) indices.
"""

from __future__ import annotations

import numpy as np

from tokbench.kernels.jit import njit

# --- character-class bits -------------------------------------------------------------------------------------------
LETTER = 1  # \p{L}
NUMBER = 2  # \p{N}
SPACE = 4  # \s
WORD = 8  # \w
# letters as `(?i)` matches them (e.g. U+017F LONG S matches `(?i)s`), for the case-insensitive contractions
CI_S, CI_D, CI_M, CI_T, CI_L, CI_V, CI_E, CI_R = 16, 32, 64, 128, 256, 512, 1024, 2048
UPPERISH = 4096  # [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (o200k)
LOWERISH = 8192  # [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k)
_CI_LETTERS = {"s": CI_S, "d": CI_D, "m": CI_M, "t": CI_T, "l": CI_L, "v": CI_V, "e": CI_E, "r": CI_R}

# --- scanner kinds: one per pre-tokenizer preset (the regexes they reproduce: tokbench.tokenizer.presets) -----------
GPT2, CL100K, LLAMA3, WHITESPACE, QWEN2, O200K, WHITESPACE_KEPT, NONE, TEKKEN, SMOLLM = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
N_CODEPOINTS = 0x110000
TABLE_VERSION = 2  # bump whenever the class bits change (names the on-disk cache)


def build_class_table() -> np.ndarray:
    """uint16 flags for every code point, read off the `regex` package itself (about 0.1 s)."""
    import regex

    every = "".join(map(chr, range(N_CODEPOINTS)))
    table = np.zeros(N_CODEPOINTS, np.uint16)
    classes = [(r"\p{L}+", LETTER), (r"\p{N}+", NUMBER), (r"\s+", SPACE), (r"\w+", WORD)]
    classes += [(f"(?i:{c})+", bit) for c, bit in _CI_LETTERS.items()]
    classes += [(r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+", UPPERISH), (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]+", LOWERISH)]
    for pattern, bit in classes:
        for m in regex.finditer(pattern, every):
            table[m.start() : m.end()] |= bit
    basic = table & (LETTER | NUMBER | SPACE)
    assert not np.any((basic != 0) & (basic & (basic - 1) != 0)), "L, N and \\s must be disjoint"
    assert not np.any((table & WORD != 0) & (table & SPACE != 0)), "\\w and \\s must be disjoint"
    return table


# --- scanners: each returns the end of the pre-token starting at i (line is cps[i:hi]) -------------------------------


@njit(cache=True)
def _run(cps, i, hi, cls, bits):
    """End of the run of code points at i whose class has any of `bits`."""
    while i < hi and cls[cps[i]] & bits:
        i += 1
    return i


@njit(cache=True)
def _run_punct(cps, i, hi, cls):
    """End of the run of [^\\s\\p{L}\\p{N}] at i."""
    while i < hi and not (cls[cps[i]] & (LETTER | NUMBER | SPACE)):
        i += 1
    return i


@njit(cache=True)
def _space_tail(cps, i, hi, cls):
    """`\\s+(?!\\S)|\\s+` at a whitespace code point i: the run, less its last char when a non-space follows."""
    e = _run(cps, i, hi, cls, SPACE)
    if e < hi and e - 1 > i:
        return e - 1
    return e


@njit(cache=True)
def _gpt2_piece(cps, i, hi, cls):
    c = cps[i]
    if c == 39 and i + 1 < hi:  # 's 't 're 've 'm 'll 'd (case-sensitive)
        d = cps[i + 1]
        if d == 115 or d == 116 or d == 109 or d == 100:
            return i + 2
        if i + 2 < hi:
            e = cps[i + 2]
            if (e == 101 and (d == 114 or d == 118)) or (d == 108 and e == 108):
                return i + 3
    j = i
    if c == 32 and i + 1 < hi and not (cls[cps[i + 1]] & SPACE):
        j = i + 1  # ` ?` joins whatever non-space class follows
    k = cls[cps[j]]
    if k & LETTER:
        return _run(cps, j, hi, cls, LETTER)
    if k & NUMBER:
        return _run(cps, j, hi, cls, NUMBER)
    if not (k & SPACE):
        return _run_punct(cps, j, hi, cls)
    return _space_tail(cps, i, hi, cls)


@njit(cache=True)
def _contraction_end(cps, i, hi, cls):
    """End of `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at i, or i when there is none."""
    if cps[i] == 39 and i + 1 < hi:
        d = cls[cps[i + 1]]
        if d & (CI_S | CI_D | CI_M | CI_T):
            return i + 2
        if i + 2 < hi:
            e = cls[cps[i + 2]]
            if (d & CI_L and e & CI_L) or (d & (CI_V | CI_R) and e & CI_E):
                return i + 3
    return i


@njit(cache=True)
def _space_newline_tail(cps, i, hi, cls):
    r"""`\s*[\r\n]+|\s+(?!\S)|\s+` at a whitespace code point i (`\s*[\r\n]` ends the same way)."""
    e = _run(cps, i, hi, cls, SPACE)
    for k in range(e - 1, i - 1, -1):  # up to the last \r or \n of the run
        if cps[k] == 10 or cps[k] == 13:
            return k + 1
    if e < hi and e - 1 > i:
        return e - 1
    return e


@njit(cache=True)
def _punct_newlines(cps, i, hi, cls, slash):
    r"""` ?[^\s\p{L}\p{N}]+[\r\n]*` at i (`[\r\n/]*` when slash, for o200k), or -1."""
    j = i
    if cps[i] == 32 and i + 1 < hi and not (cls[cps[i + 1]] & (LETTER | NUMBER | SPACE)):
        j = i + 1
    if cls[cps[j]] & (LETTER | NUMBER | SPACE):
        return -1
    e = _run_punct(cps, j, hi, cls)
    while e < hi and (cps[e] == 10 or cps[e] == 13 or (slash and cps[e] == 47)):
        e += 1
    return e


@njit(cache=True)
def _cl100k_piece(cps, i, hi, cls, max_digits, end_run):
    r"""cl100k, llama3 (max_digits 3) and qwen2 (1) behave alike: possessive or not, their quantifiers meet disjoint
    classes, and `\s*[\r\n]` ends where `\s*[\r\n]+` does. end_run: tiktoken's cl100k `\s++$` branch, tried
    before `\s*[\r\n]`: whitespace that runs to the end of the text is one piece (`"a\n "` -> `a`, `"\n "`)."""
    c = cps[i]
    e = _contraction_end(cps, i, hi, cls)
    if e > i:
        return e
    k = cls[c]
    if k & LETTER:  # [^\r\n\p{L}\p{N}]?\p{L}+
        return _run(cps, i, hi, cls, LETTER)
    if not (k & NUMBER) and c != 10 and c != 13 and i + 1 < hi and cls[cps[i + 1]] & LETTER:
        return _run(cps, i + 1, hi, cls, LETTER)
    if k & NUMBER:  # \p{N}{1,3}
        return min(_run(cps, i, hi, cls, NUMBER), i + max_digits)
    e = _punct_newlines(cps, i, hi, cls, False)
    if e >= 0:
        return e
    if end_run and _run(cps, i, hi, cls, SPACE) == hi:
        return hi
    return _space_newline_tail(cps, i, hi, cls)


@njit(cache=True)
def _o200k_lower_first(cps, j, hi, cls, contractions):
    """`[Lu Lt Lm Lo M]*[Ll Lm Lo M]+(?i:'s|...)?` at j (as the backtracking regex resolves it), or -1."""
    u = _run(cps, j, hi, cls, UPPERISH)
    if u < hi and cls[cps[u]] & LOWERISH:
        return _suffix_end(cps, _run(cps, u, hi, cls, LOWERISH), hi, cls, contractions)
    for k in range(u - 1, j - 1, -1):  # give back upper-ish chars until one that is also lower-ish
        if cls[cps[k]] & LOWERISH:
            return _suffix_end(cps, k + 1, hi, cls, contractions)
    return -1


@njit(cache=True)
def _o200k_upper_first(cps, j, hi, cls, contractions):
    """`[Lu Lt Lm Lo M]+[Ll Lm Lo M]*(?i:'s|...)?` at j, or -1."""
    u = _run(cps, j, hi, cls, UPPERISH)
    if u == j:
        return -1
    return _suffix_end(cps, _run(cps, u, hi, cls, LOWERISH), hi, cls, contractions)


@njit(cache=True)
def _suffix_end(cps, i, hi, cls, contractions):
    """o200k's optional contraction after a word; Tekken's words have none."""
    return _contraction_end(cps, i, hi, cls) if contractions and i < hi else i


@njit(cache=True)
def _o200k_piece(cps, i, hi, cls, contractions, max_digits):
    """o200k (contractions, max_digits 3) and Tekken (none, 1): the same alternatives otherwise."""
    c = cps[i]
    k = cls[c]
    prefix = not (k & (LETTER | NUMBER)) and c != 10 and c != 13 and i + 1 < hi  # [^\r\n\p{L}\p{N}]?
    # both word alternatives start with an upper-ish or lower-ish char at j (i, or i + 1 after the prefix): when
    # neither is one, skip trying them (most punctuation, space and digit pieces)
    wordish = k & (UPPERISH | LOWERISH) or (prefix and cls[cps[i + 1]] & (UPPERISH | LOWERISH))
    for alt in range(2 if wordish else 0):  # each alternative tries with the prefix char first, then without
        for j in range(i + 1 if prefix else i, i - 1, -1):
            if alt == 0:
                e = _o200k_lower_first(cps, j, hi, cls, contractions)
            else:
                e = _o200k_upper_first(cps, j, hi, cls, contractions)
            if e >= 0:
                return e
    if k & NUMBER:
        return min(_run(cps, i, hi, cls, NUMBER), i + max_digits)
    e = _punct_newlines(cps, i, hi, cls, True)
    if e >= 0:
        return e
    return _space_newline_tail(cps, i, hi, cls)


# --- per-line drivers: one compiled function per scanner, so a run compiles (and caches) only the one it uses; they
# release the GIL, so threads scan batches side by side -------------------------------------------------------------


@njit(cache=True, nogil=True)
def split_gpt2(cps, bounds, cls, isolate_digits):
    """Pre-token spans of every line cps[bounds[j]:bounds[j+1]] (each line is its own string for the regex).

    isolate_digits: llama.cpp's `smollm` (SmolLM, StarCoder): every \\p{N} is a piece of its own first, then the
    GPT-2 regex runs on the text between digits, so a space run before a digit stays whole ("  1" is "  ", "1")."""
    starts, ends = np.empty(len(cps), np.int32), np.empty(len(cps), np.int32)
    n = 0
    for j in range(len(bounds) - 1):
        i, hi = bounds[j], bounds[j + 1]
        seg = i  # end of the digit-free segment at i
        while i < hi:
            starts[n] = i
            if isolate_digits:
                if cls[cps[i]] & NUMBER:
                    i += 1
                else:
                    if seg <= i:
                        seg = i
                        while seg < hi and not (cls[cps[seg]] & NUMBER):
                            seg += 1
                    i = _gpt2_piece(cps, i, seg, cls)
            else:
                i = _gpt2_piece(cps, i, hi, cls)
            ends[n] = i
            n += 1
    return starts[:n], ends[:n]


@njit(cache=True, nogil=True)
def split_cl100k(cps, bounds, cls, max_digits, end_run):
    """As split_gpt2 for cl100k (end_run) / llama3 (max_digits 3) and qwen2 (max_digits 1)."""
    starts, ends = np.empty(len(cps), np.int32), np.empty(len(cps), np.int32)
    n = 0
    for j in range(len(bounds) - 1):
        i, hi = bounds[j], bounds[j + 1]
        while i < hi:
            starts[n] = i
            i = _cl100k_piece(cps, i, hi, cls, max_digits, end_run)
            ends[n] = i
            n += 1
    return starts[:n], ends[:n]


@njit(cache=True, nogil=True)
def split_o200k(cps, bounds, cls, contractions, max_digits):
    """As split_gpt2 for o200k (contractions, max_digits 3) and Tekken (none, 1)."""
    starts, ends = np.empty(len(cps), np.int32), np.empty(len(cps), np.int32)
    n = 0
    for j in range(len(bounds) - 1):
        i, hi = bounds[j], bounds[j + 1]
        while i < hi:
            starts[n] = i
            i = _o200k_piece(cps, i, hi, cls, contractions, max_digits)
            ends[n] = i
            n += 1
    return starts[:n], ends[:n]


@njit(cache=True, nogil=True)
def split_whitespace(cps, bounds, cls, keep_space):
    """`\\w+|[^\\w\\s]+` per line; whitespace runs are pieces too when keep_space (`...|\\s+`), else dropped."""
    starts, ends = np.empty(len(cps), np.int32), np.empty(len(cps), np.int32)
    n = 0
    for j in range(len(bounds) - 1):
        i, hi = bounds[j], bounds[j + 1]
        while i < hi:
            k = cls[cps[i]]
            if k & SPACE and not keep_space:  # \w and \s are disjoint
                i += 1
                continue
            starts[n] = i
            if k & WORD:
                i = _run(cps, i, hi, cls, WORD)
            elif k & SPACE:
                i = _run(cps, i, hi, cls, SPACE)
            else:
                i += 1
                while i < hi and not (cls[cps[i]] & (WORD | SPACE)):
                    i += 1
            ends[n] = i
            n += 1
    return starts[:n], ends[:n]


def split_lines(cps: np.ndarray, bounds: np.ndarray, kind: int, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int32 (starts, ends) of the pre-tokens of each line cps[bounds[j]:bounds[j+1]] (bounds: int64, ascending)."""
    if kind == GPT2 or kind == SMOLLM:
        return split_gpt2(cps, bounds, cls, kind == SMOLLM)
    if kind == O200K or kind == TEKKEN:
        return split_o200k(cps, bounds, cls, kind == O200K, 3 if kind == O200K else 1)
    if kind == WHITESPACE or kind == WHITESPACE_KEPT:
        return split_whitespace(cps, bounds, cls, kind == WHITESPACE_KEPT)
    if kind == NONE:
        keep = np.flatnonzero(bounds[1:] > bounds[:-1])
        return bounds[keep].astype(np.int32), bounds[keep + 1].astype(np.int32)
    return split_cl100k(cps, bounds, cls, 1 if kind == QWEN2 else 3, kind == CL100K)


def codepoints(text: str) -> np.ndarray:
    """int32 code points of a str (lone surrogates, e.g. from surrogateescape decoding, pass through)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.int32)
