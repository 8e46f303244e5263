"""The fast validity mask and ByteLM against brute force (tests/byteprob/brute.py): canonical covers enumerated by
re-encoding with probe continuations, at whitespace runs before digits, punctuation and letters.

Toy byte-level BPEs (GPT-2's split, and SmolLM2's: digits first) are checked in full, next-byte distributions
included, to 1e-9 with a float64 toy LM; the real SmolLM2 vocabulary (with both splits) mask by mask on the tokens that
whitespace and digits decide, and its next-byte distribution after a number table.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from tests.byteprob.brute import BruteCanon, ToyLM, brute_next_bytes
from tokbench.byteprob import ByteLM
from tokbench.byteprob.tables import utf8_shape
from tokbench.tokenizer import load_tokenizer, presets
from tokbench.tokenizer.hf import HFTokenizer

PREFIXES = ["a:  1\nb:  2\nc: ", "I am  ", "x   ", "Total:  ", "1234", "f(x)\n    ", "- \u00a0"]


def _corpus() -> list[str]:
    rng = np.random.default_rng(5)
    words = ["a", "b", "c", "I", "am", "Total", "x", "the", "of", "f", "return", "items"]
    puncts = [":", "-", "(", ")", ",", ".", "!", "'s"]
    spaces = [" ", "  ", "   ", "\t", "\n", "\n    ", "\u00a0", " \u2003", "\u3000"]
    lines = []
    for _ in range(4000):
        parts = []
        for _ in range(int(rng.integers(2, 8))):
            kind = rng.integers(4)
            pool = words if kind == 0 else puncts if kind == 1 else spaces if kind == 2 else [str(rng.integers(0, 2000))]
            parts.append(pool[int(rng.integers(len(pool)))])
        lines.append("".join(parts))
    return lines


def _toy(digits: bool) -> HFTokenizer:
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = presets.hf_pretokenizer("smollm" if digits else "gpt2")
    tr = trainers.BpeTrainer(vocab_size=420, special_tokens=["<|endoftext|>"], show_progress=False,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator(_corpus(), tr)
    return HFTokenizer(hf, "toy-digits" if digits else "toy-gpt2")


def _brute(tok) -> BruteCanon:
    hf = tok.hf()
    tb = tok.all_token_bytes()
    usable = np.array([bool(b) and t not in tok.special_ids for t, b in enumerate(tb)])
    return BruteCanon(lambda texts: [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)], tb, usable)


@pytest.fixture(scope="module", params=["gpt2", "digits"])
def toy(request):
    tok = _toy(request.param == "digits")
    eos = tok.special_tokens["<|endoftext|>"]
    blm = ByteLM(tok, ToyLM(tok.vocab_size, eos, seed=3))
    return tok, blm, _brute(tok), eos


def test_toy_vocabulary_has_the_cases(toy):
    tok, blm, brute, eos = toy
    tb = set(tok.all_token_bytes())
    assert {b"  ", b"   ", b" 1", b"\xc2\xa0"} <= tb or {b"  ", b"   ", b"\xc2\xa0"} <= tb
    assert len(brute.states(b"c:  ")) >= 2  # "c:  " has another canonical cut before a non-space


@pytest.mark.parametrize("prefix", PREFIXES)
def test_toy_masks_and_next_byte_distribution_equal_brute_force(toy, prefix):
    tok, blm, brute, eos = toy
    y = prefix.encode()
    tb = blm.tables.token_bytes
    for A in brute.states(y):
        fast = blm.validity.mask(A, y)
        truth = np.zeros_like(fast)
        truth[brute.usable] = brute.valid(A, y)
        assert [tb[t] for t in np.nonzero(fast != truth)[0]] == [], (prefix, [tb[t] for t in A])
    got = blm.state(y).next_byte_logprobs()
    want = brute_next_bytes(brute, blm.lm, y, lambda b: tok.encode(b.decode()), eos)
    fin = np.isfinite(want)
    assert np.array_equal(np.isfinite(got), fin)
    assert np.max(np.abs(got[fin] - want[fin])) < 1e-9


@pytest.fixture(scope="module", params=["zoo", "gpt2-split"])
def smollm2(request):
    """The zoo's SmolLM2 (digits split first) and the same vocabulary with GPT-2's split alone (as transformers'
    GGUF loader converts it)."""
    tok = load_tokenizer("smollm2")
    if request.param == "gpt2-split":
        spec = json.loads(tok.hf().to_str())
        spec["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        tok = HFTokenizer(Tokenizer.from_str(json.dumps(spec)), "smollm2-gpt2-split")
    blm = ByteLM(tok, ToyLM(tok.vocab_size, tok.roles["eos"], seed=1))
    return tok, blm, _brute(tok)


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["c:  ", "1234"])
def test_smollm2_masks_equal_brute_force_where_whitespace_decides(smollm2, prefix):
    """Every token that does not start with a letter (or a space and a letter), and a sample of those that do;
    exact for tokens that end on a character (or up to two bytes short of it), and the brute force (one completion
    per class when three bytes are missing) a lower bound for the others."""
    tok, blm, brute = smollm2
    tb = blm.tables.token_bytes
    rng = np.random.default_rng(0)
    ids = np.array([t for t in np.nonzero(brute.usable)[0]
                    if not tb[t].lstrip(b" ")[:1].isalpha() or rng.random() < 0.03])
    owed = np.array([utf8_shape(tb[t])[2] for t in ids])
    y = prefix.encode()
    for A in brute.states(y):
        fast = blm.validity.mask(A, y)[ids]
        truth = brute.valid(A, y, ids)
        exact = owed <= 2
        assert [tb[t] for t in ids[exact & (fast != truth)]] == [], (prefix, [tb[t] for t in A])
        assert [tb[t] for t in ids[~exact & truth & ~fast]] == [], (prefix, [tb[t] for t in A])
        assert truth.sum() > 100


@pytest.mark.slow
@pytest.mark.parametrize("smollm2", ["zoo"], indirect=True)  # the full enumeration takes seconds per state
def test_smollm2_next_byte_distribution_equals_brute_force(smollm2):
    tok, blm, brute = smollm2
    y = b"a:  1\nb:  2\nc: "
    got = blm.state(y).next_byte_logprobs()
    want = brute_next_bytes(brute, blm.lm, y, lambda b: tok.encode(b.decode()), tok.roles["eos"])
    fin = np.isfinite(want)
    assert np.array_equal(np.isfinite(got), fin)
    assert np.max(np.abs(got[fin] - want[fin])) < 1e-9
