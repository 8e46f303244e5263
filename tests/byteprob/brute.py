"""Brute-force references for the byte-level LM: canonical covers enumerated by re-encoding with probe continuations.

Independent of tokbench.byteprob.validity: a token sequence S is a canonical prefix iff some string that starts with
bytes(S) encodes to S followed by more tokens. The "some string" is searched over a fixed set of continuations (every
completion class of an unfinished character, then probes of every character class the pre-tokenizer regexes tell
apart: letters, digits, punctuation, ASCII and Unicode spaces, newlines, apostrophes, marks, CJK, emoji), each
re-encoded with the tokenizer itself.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np

PROBES = ["", "x", "0", "!", " ", " x", " 0", "\n", "\t", "'s", "\u00a0x", "\u2003x", "\u0301", "\U0001f600",
          "\u00b2", "\r\n"]


def _owed(data: bytes) -> int:
    """Continuation bytes still owed by the last character of data (0 when it ends on a character boundary)."""
    for back in range(1, min(4, len(data)) + 1):
        b = data[-back]
        if b < 0x80:
            return 0
        if b >= 0xC0:
            need = 1 if b < 0xE0 else 2 if b < 0xF0 else 3
            return max(0, need - (back - 1))
    return 0


@functools.lru_cache(maxsize=None)
def completions(frag: bytes) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(every completion, one per class) of the unfinished last character of frag: byte strings that finish it.
    "Every" is every character when one or two bytes are missing, else one per (category, space, digit) class among
    every 16th code point (four-byte characters: a lower bound)."""
    need = _owed(frag)
    if not need:
        return (b"",), (b"",)
    start = len(frag) - 1
    while 0x80 <= frag[start] <= 0xBF:
        start -= 1
    head = frag[start:]
    width = len(head) + need
    bits = head[0] & (0x7F >> width)
    for b in head[1:]:
        bits = (bits << 6) | (b & 0x3F)
    lo = bits << (6 * need)
    every, reps = [], {}
    for cp in range(lo, min(lo + (1 << (6 * need)), 0x110000), 16 if need == 3 else 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        enc = c.encode("utf-8")
        if not enc.startswith(head):
            continue
        every.append(enc[len(head):])
        reps.setdefault((unicodedata.category(c), c.isspace(), c.isnumeric()), enc[len(head):])
    reps = tuple(reps.values())
    return (tuple(every) if need <= 2 else reps), reps


class BruteCanon:
    """Canonical prefixes and next-token validity by re-encoding (``encode_batch(list[str]) -> list[list[int]]``)."""

    def __init__(self, encode_batch, token_bytes: list[bytes], usable: np.ndarray):
        self.encode_batch = encode_batch
        self.tb = token_bytes
        self.usable = usable
        self._memo: dict[tuple, np.ndarray] = {}

    def states(self, y: bytes) -> list[tuple[int, ...]]:
        """Every canonical prefix whose bytes are exactly y (y ends on a character boundary)."""
        out: list[tuple[int, ...]] = []
        texts = [(y + p.encode()).decode("utf-8") for p in PROBES]
        for e in self.encode_batch(texts):
            n, k = 0, 0
            while k < len(e) and n < len(y):
                n += len(self.tb[e[k]])
                k += 1
            if n == len(y) and tuple(e[:k]) not in out:
                out.append(tuple(e[:k]))
        return out

    def valid(self, A: tuple[int, ...], y: bytes, ids=None) -> np.ndarray:
        """valid[t] for t in ids (default: every usable token): A + [t] is a canonical prefix (A has bytes y)."""
        ids = np.nonzero(self.usable)[0] if ids is None else np.asarray(ids, np.int64)
        key = (A, y, ids.tobytes())
        if key not in self._memo:
            self._memo[key] = self._valid(A, y, ids)
        return self._memo[key]

    def _valid(self, A, y, ids) -> np.ndarray:
        ok = np.zeros(len(ids), bool)
        want = list(A)
        todo = list(range(len(ids)))
        for p in PROBES:
            if not todo:
                break
            texts, owners = [], []
            for i in todo:
                head = y + self.tb[ids[i]]
                every, reps = completions(head[-4:])
                for c in (every if not p else reps):
                    try:
                        texts.append((head + c + p.encode()).decode("utf-8"))
                    except UnicodeDecodeError:  # starts inside a character y does not leave open
                        break
                    owners.append(i)
            for i, e in zip(owners, self.encode_batch(texts)):
                if not ok[i] and list(e[: len(want) + 1]) == want + [int(ids[i])]:
                    ok[i] = True
            todo = [i for i in todo if not ok[i]]
        return ok


class ToyLM:
    """A float64 token LM with pseudo-random next-token distributions (a function of the whole context)."""

    def __init__(self, V: int, eos_id: int, seed: int = 0, scale: float = 2.0):
        self.V, self.eos_id, self.seed, self.scale = V, eos_id, seed, scale
        self._memo: dict[tuple, np.ndarray] = {}

    def next_logprobs(self, ids):
        key = tuple(int(i) for i in ids)
        hit = self._memo.get(key)
        if hit is None:
            h = hash((self.seed,) + key) & ((1 << 63) - 1)
            z = np.random.default_rng(h).normal(size=self.V) * self.scale
            z -= z.max()
            hit = z - np.log(np.exp(z).sum())
            self._memo[key] = hit
        return hit


def brute_next_bytes(canon: BruteCanon, lm, x: bytes, enc, eos_id: int) -> np.ndarray:
    """Normalised next-byte log-probabilities after x (index 256: end of text) from the covers of x + b, enumerated:
    every canonical prefix A with bytes x[:k] and every valid t whose bytes start with x[k:] and go past x."""
    out = brute_next_masses(canon, lm, x, enc, eos_id)
    return out - np.logaddexp.reduce(out[np.isfinite(out)])


def brute_next_masses(canon: BruteCanon, lm, x: bytes, enc, eos_id: int, specials=()) -> np.ndarray:
    """The unnormalised log masses behind brute_next_bytes, and after index 256 one per token of `specials`: the
    special follows x's own encoding T, log P(T) + log q(special | T)."""
    tb = canon.tb
    acc = [[] for _ in range(257 + len(specials))]

    def lp_of(A):
        return sum(float(lm.next_logprobs(A[:i])[A[i]]) for i in range(len(A)))

    for k in range(len(x) + 1):
        rest = x[k:]
        ids = [t for t in np.nonzero(canon.usable)[0] if tb[t].startswith(rest) and len(tb[t]) > len(rest)]
        if not ids:
            continue
        for A in canon.states(x[:k]):
            ok = canon.valid(A, x[:k], ids)
            if not ok.any():
                continue
            base = lp_of(A)
            q = lm.next_logprobs(A)
            for t, v in zip(ids, ok):
                if v:
                    acc[tb[t][len(rest)]].append(base + float(q[t]))
    T = tuple(enc(x))
    q = lm.next_logprobs(T)
    for i, t in enumerate([eos_id, *specials]):
        acc[256 + i].append(lp_of(T) + float(q[t]))
    return np.array([np.logaddexp.reduce(a) if a else -np.inf for a in acc])
