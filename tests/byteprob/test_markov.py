"""The exact offline test: a Markov byte source, its induced token LM, and byte conditionals recovered by covers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tokenizers import Tokenizer, models, trainers

from tests.byteprob.markov import ALPHA, ExactTokenLM, MarkovSource
from tests.byteprob.shim import HFShim, LPMTokenizer
from tokbench.byteprob import ByteLM


def _bpe(source: MarkovSource) -> HFShim:
    hf = Tokenizer(models.BPE())
    tr = trainers.BpeTrainer(vocab_size=3 + 12, special_tokens=["</s>"], initial_alphabet=list(ALPHA),
                             show_progress=False)
    rng = np.random.default_rng(1)
    words = list(source.prob)
    p = np.array([source.prob[w] for w in words])
    sample = rng.choice(len(words), size=3000, p=p / p.sum())
    hf.train_from_iterator([words[i] for i in sample], tr)
    return HFShim(hf, "markov-bpe")


def _lpm() -> LPMTokenizer:
    return LPMTokenizer(["a", "b", "c", "ab", "bc", "ca", "aa", "abc", "bca", "cab", "aab", "cc", "ccc"])


@pytest.fixture(scope="module")
def source():
    return MarkovSource(seed=3, max_len=6)


@pytest.fixture(scope="module", params=["bpe", "lpm"])
def setup(request, source):
    tok = _bpe(source) if request.param == "bpe" else _lpm()
    eos = tok.special_tokens["</s>"] if request.param == "bpe" else tok.eos_id
    lm = ExactTokenLM(source, tok, eos)
    return request.param, tok, lm


def _prefixes(n):
    for k in range(n):
        for w in itertools.product(ALPHA, repeat=k):
            yield "".join(w)


def test_tokenizer_is_nontrivial(setup):
    kind, tok, lm = setup
    n_tok = sum(len(ids) for ids in lm.enc.values())
    n_chr = sum(len(w) for w in lm.enc)
    assert n_tok < 0.8 * n_chr  # multi-byte tokens in use
    assert any(len(tok.all_token_bytes()[t]) >= 2 for t in range(tok.vocab_size))


def test_next_byte_matches_source_and_naive_does_not(setup, source):
    kind, tok, lm = setup
    blm = ByteLM(tok, lm)
    assert blm.validity.kind == ("bpe" if kind == "bpe" else "reencode")
    tb = tok.all_token_bytes()
    worst, worst_naive = 0.0, 0.0
    for x in _prefixes(source.max_len):
        got = np.exp(blm.next_byte_logprobs(x.encode()))
        want = source.next_byte(x)
        worst = max(worst, float(np.max(np.abs(got - want))))
        # naive: condition on the canonical encoding of x and read the first byte of the next token
        q = np.exp(lm.next_logprobs(lm.enc.get(x) or tuple(tok.encode(x))))
        naive = np.zeros(257)
        for t in range(tok.vocab_size):
            if tb[t]:
                naive[tb[t][0]] += q[t]
        naive[256] = q[lm.eos_id]
        worst_naive = max(worst_naive, float(np.max(np.abs(naive - want))))
    assert worst < 1e-9
    assert worst_naive > 0.1
    assert blm.stats.resyncs == 0 and blm.stats.dropped == 0


def test_sums_chain_rule_covers_and_eos(setup, source):
    kind, tok, lm = setup
    blm = ByteLM(tok, lm)
    for x in ["", "a", "ab", "abc", "cab", "bbca", "acbac"]:
        s = blm.state(x.encode())
        d = s.next_byte_logprobs()
        assert abs(np.logaddexp.reduce(d)) < 1e-12
        chain = blm.logprob(x.encode())
        assert chain == pytest.approx(s.log_mass(), abs=1e-10)  # chain rule == logsumexp over covers
        assert chain == pytest.approx(np.log(source.prefix[x]), abs=1e-10)
        # covers == brute force: canonical prefixes whose bytes start with x and whose last token crosses |x|
        tb = tok.all_token_bytes()
        want = set()
        for seq in lm.canonical_prefixes():
            bs = b"".join(tb[t] for t in seq)
            before = b"".join(tb[t] for t in seq[:-1]) if seq else b""
            if bs.startswith(x.encode()) and (len(before) < len(x) or seq == ()) and (len(bs) > len(x) or bs == x.encode()):
                if len(bs) == len(x) and seq != lm.enc.get(x, tuple(tok.encode(x))):
                    continue
                want.add(seq)
        got = {c for c, lp in s.covers() if lp > -np.inf}
        assert got == want
        if x:
            # byte-level P(x then end) == token-level P(enc(x) then end)
            ids = lm.enc[x]
            tok_lp = sum(lm.next_logprobs(ids[:i])[ids[i]] for i in range(len(ids))) + lm.next_logprobs(ids)[lm.eos_id]
            assert blm.logprob(x.encode(), eos=True) == pytest.approx(tok_lp, abs=1e-10)


def test_one_lm_call_per_byte(setup):
    kind, tok, lm = setup
    blm = ByteLM(tok, lm)
    s = blm.state(b"ab")
    before = blm.stats.lm_calls
    for b in b"cab":
        s = s.advance(b)
        s.next_byte_logprobs()
    assert blm.stats.lm_calls - before == 3
