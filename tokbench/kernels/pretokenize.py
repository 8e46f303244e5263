"""numba scanners that split code points into pre-tokens exactly as the `regex` package does for the preset patterns.

Each scanner is a hand-written matcher for one regex: at every position it takes the first alternative that matches,
with the same greedy/backtracking outcome `regex` would produce. Character classes come from a uint16 table over all
0x110000 code points (bit flags below) built from `regex` itself, so Unicode versions and the odd corners of `\\s`
(U+001C..U+001F are not `\\s` in `regex`, unlike str.isspace) agree by construction.

Pure functions on arrays: no I/O, no tokbench imports. Code points are int32; spans are int32 [start, end) indices.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --- character-class bits -------------------------------------------------------------------------------------------
LETTER = 1  # \p{L}
NUMBER = 2  # \p{N}
SPACE = 4  # \s
WORD = 8  # \w
# letters as `(?i)` matches them (e.g. U+017F LONG S matches `(?i)s`), for the case-insensitive contractions
CI_S, CI_D, CI_M, CI_T, CI_L, CI_V, CI_E, CI_R = 16, 32, 64, 128, 256, 512, 1024, 2048
_CI_LETTERS = {"s": CI_S, "d": CI_D, "m": CI_M, "t": CI_T, "l": CI_L, "v": CI_V, "e": CI_E, "r": CI_R}

# --- patterns (kernel ids and the regexes they reproduce) -----------------------------------------------------------
GPT2, CL100K, LLAMA3, WHITESPACE = 0, 1, 2, 3
PATTERNS = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "cl100k": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""",
    "llama3": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "whitespace": r"""\w+|[^\w\s]+""",
}
KINDS = {"gpt2": GPT2, "cl100k": CL100K, "llama3": LLAMA3, "whitespace": WHITESPACE}
N_CODEPOINTS = 0x110000


def build_class_table() -> np.ndarray:
    """uint16 flags for every code point, read off the `regex` package itself (about 0.1 s)."""
    import regex

    every = "".join(map(chr, range(N_CODEPOINTS)))
    table = np.zeros(N_CODEPOINTS, np.uint16)
    classes = [(r"\p{L}+", LETTER), (r"\p{N}+", NUMBER), (r"\s+", SPACE), (r"\w+", WORD)]
    classes += [(f"(?i:{c})+", bit) for c, bit in _CI_LETTERS.items()]
    for pattern, bit in classes:
        for m in regex.finditer(pattern, every):
            table[m.start() : m.end()] |= bit
    basic = table & (LETTER | NUMBER | SPACE)
    assert not np.any((basic != 0) & (basic & (basic - 1) != 0)), "L, N and \\s must be disjoint"
    return table


# --- scanners: each returns the end of the pre-token starting at i (line is cps[i:hi]) -------------------------------


@njit(cache=True, inline="always")
def _run(cps, i, hi, cls, bits):
    """End of the run of code points at i whose class has any of `bits`."""
    while i < hi and cls[cps[i]] & bits:
        i += 1
    return i


@njit(cache=True, inline="always")
def _run_punct(cps, i, hi, cls):
    """End of the run of [^\\s\\p{L}\\p{N}] at i."""
    while i < hi and not (cls[cps[i]] & (LETTER | NUMBER | SPACE)):
        i += 1
    return i


@njit(cache=True, inline="always")
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
def _cl100k_piece(cps, i, hi, cls):
    """cl100k and llama3 behave the same: their possessive and plain quantifiers meet disjoint classes."""
    c = cps[i]
    if c == 39 and i + 1 < hi:  # '(?i:[sdmt]|ll|ve|re)
        d = cls[cps[i + 1]]
        if d & (CI_S | CI_D | CI_M | CI_T):
            return i + 2
        if i + 2 < hi:
            e = cls[cps[i + 2]]
            if (d & CI_L and e & CI_L) or (d & (CI_V | CI_R) and e & CI_E):
                return i + 3
    k = cls[c]
    if k & LETTER:  # [^\r\n\p{L}\p{N}]?\p{L}+
        return _run(cps, i, hi, cls, LETTER)
    if not (k & NUMBER) and c != 10 and c != 13 and i + 1 < hi and cls[cps[i + 1]] & LETTER:
        return _run(cps, i + 1, hi, cls, LETTER)
    if k & NUMBER:  # \p{N}{1,3}
        return min(_run(cps, i, hi, cls, NUMBER), i + 3)
    j = i  # ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    if c == 32 and i + 1 < hi and not (cls[cps[i + 1]] & (LETTER | NUMBER | SPACE)):
        j = i + 1
    if not (cls[cps[j]] & SPACE):
        e = _run_punct(cps, j, hi, cls)
        while e < hi and (cps[e] == 10 or cps[e] == 13):
            e += 1
        return e
    e = _run(cps, i, hi, cls, SPACE)  # \s*[\r\n]: up to the last \r or \n of the run
    for k2 in range(e - 1, i - 1, -1):
        if cps[k2] == 10 or cps[k2] == 13:
            return k2 + 1
    if e < hi and e - 1 > i:
        return e - 1
    return e


@njit(cache=True)
def _split_range(cps, lo, hi, kind, cls, starts, ends, n):
    """Append the spans of the pre-tokens of cps[lo:hi] (one string for the regex) at starts/ends[n:]; new n."""
    i = lo
    if kind == WHITESPACE:  # \w+|[^\w\s]+ ; whitespace between matches is dropped
        while i < hi:
            k = cls[cps[i]]
            if k & WORD:
                e = _run(cps, i, hi, cls, WORD)
            elif k & SPACE:
                i += 1
                continue
            else:
                e = i + 1
                while e < hi and not (cls[cps[e]] & (WORD | SPACE)):
                    e += 1
            starts[n] = i
            ends[n] = e
            n += 1
            i = e
        return n
    while i < hi:
        if kind == GPT2:
            e = _gpt2_piece(cps, i, hi, cls)
        else:
            e = _cl100k_piece(cps, i, hi, cls)
        starts[n] = i
        ends[n] = e
        n += 1
        i = e
    return n


@njit(cache=True)
def split_lines(cps, bounds, kind, cls):
    """Pre-token spans of every line cps[bounds[j]:bounds[j+1]], each line scanned as its own string."""
    starts = np.empty(len(cps), np.int32)
    ends = np.empty(len(cps), np.int32)
    n = 0
    for j in range(len(bounds) - 1):
        n = _split_range(cps, bounds[j], bounds[j + 1], kind, cls, starts, ends, n)
    return starts[:n], ends[:n]


def codepoints(text: str) -> np.ndarray:
    """int32 code points of a str (no copy beyond the UTF-32 encoding)."""
    return np.frombuffer(text.encode("utf-32-le"), np.int32)
