"""An exactly enumerable byte-level Markov source and the token LM it induces through a tokenizer."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np

ALPHA = "abc"


class MarkovSource:
    """First-order Markov chain over ALPHA with a per-state stop probability and a hard maximum length."""

    def __init__(self, seed: int = 0, max_len: int = 7):
        rng = np.random.default_rng(seed)
        k = len(ALPHA)
        self.init = rng.dirichlet(np.ones(k) * 0.7)
        self.trans = rng.dirichlet(np.ones(k) * 0.5, size=k)
        self.stop = rng.uniform(0.1, 0.35, size=k)
        self.max_len = max_len
        self.prob: dict[str, float] = {}
        for n in range(1, max_len + 1):
            for w in itertools.product(ALPHA, repeat=n):
                self.prob["".join(w)] = self._p("".join(w))
        self.prob[""] = 0.0  # every string has at least one character
        self.prefix = defaultdict(float)
        for w, p in self.prob.items():
            for i in range(len(w) + 1):
                self.prefix[w[:i]] += p

    def _p(self, w: str) -> float:
        idx = [ALPHA.index(c) for c in w]
        p = self.init[idx[0]]
        for a, b in zip(idx, idx[1:]):
            p *= (1 - self.stop[a]) * self.trans[a, b]
        if len(w) < self.max_len:
            p *= self.stop[idx[-1]]
        return float(p)

    def next_byte(self, x: str) -> np.ndarray:
        """Probability of each next byte (index 256 = end) after prefix x."""
        out = np.zeros(257)
        px = self.prefix[x]
        for c in ALPHA:
            out[ord(c)] = self.prefix[x + c] / px
        out[256] = self.prob.get(x, 0.0) / px
        return out


class ExactTokenLM:
    """The token LM induced by the source and a tokenizer: masses of canonical-encoding prefixes, exactly."""

    def __init__(self, source: MarkovSource, tok, eos_id: int):
        self.eos_id = eos_id
        self.V = tok.vocab_size
        self.mass = defaultdict(float)
        self.end = defaultdict(float)
        self.enc = {}
        self.calls = 0
        for w, p in source.prob.items():
            ids = tuple(tok.encode(w))
            self.enc[w] = ids
            for i in range(len(ids) + 1):
                self.mass[ids[:i]] += p
            self.end[ids] += p

    def canonical_prefixes(self):
        return [s for s, m in self.mass.items()]

    def next_logprobs(self, ids):
        self.calls += 1
        ids = tuple(ids)
        m = self.mass.get(ids, 0.0)
        out = np.full(self.V, -np.inf)
        if m <= 0:
            return np.full(self.V, -np.log(self.V))
        with np.errstate(divide="ignore"):
            for t in range(self.V):
                v = self.mass.get(ids + (t,), 0.0)
                out[t] = np.log(v / m) if v > 0 else -np.inf
            e = self.end.get(ids, 0.0)
            out[self.eos_id] = np.log(e / m) if e > 0 else -np.inf
        return out
