"""Real tokenizers (gpt2, llama3, smollm2, mistral-v1) with a tiny random Llama standing in for the LM."""

from __future__ import annotations

import numpy as np
import pytest

from tokbench.byteprob import ByteLM
from tokbench.byteprob.hf import HFTokenLM, tiny_random_llama
from tokbench.tokenizer import load_tokenizer

NAMES = ["gpt2", "llama3", "smollm2", "mistral-v1"]
EDGE = [
    "日本語 ok 😀👍🏽!",  # CJK, emoji with a skin-tone modifier
    "İstanbul'da ışık, IĞDIR ığdır",  # Turkish dotted/dotless i, apostrophe suffix, Ğ (byte fallback in Mistral)
    "a   b\t\tc \n\n  d",  # whitespace runs
    "def f(x):\n    return x**2  # 12345",  # code, digit runs
]


@pytest.fixture(scope="module", params=NAMES)
def blm(request):
    tok = load_tokenizer(request.param)
    eos = tok.roles["eos"]
    bos = tok.roles.get("bos")
    lm = HFTokenLM(tiny_random_llama(tok.vocab_size, seed=1), eos_id=eos, bos_id=bos if bos is not None else eos)
    return ByteLM(tok, lm)


@pytest.mark.parametrize("text", EDGE)
def test_edge_strings_walk_the_canonical_path(blm, text):
    data = text.encode()
    s = blm.root()
    calls0, resync0, alt0 = blm.stats.lm_calls, blm.stats.resyncs, blm.stats.alt_states
    with_t = 0
    for b in data:
        d = s.next_byte_logprobs()
        assert np.isfinite(d[b])
        assert abs(np.logaddexp.reduce(d)) < 1e-9
        s = s.advance(b)
        with_t += s.T is not None
    # every committed state was the tokenizer's own encoding (the per-byte check never had to resync)
    assert blm.stats.resyncs == resync0
    assert s.T == tuple(blm.encode_bytes(blm.dummy + data))
    # one LM call per byte that ends a committed state (all at character boundaries); after a whitespace run an
    # alternative cut of the run costs a scoring call and a next-token call
    alts = blm.stats.alt_states - alt0
    calls = blm.stats.lm_calls - calls0
    assert with_t >= len(text)
    if "  " not in text and "\t\t" not in text and "\n\n" not in text:
        assert alts == 0 and calls == with_t
    else:
        assert with_t + alts <= calls <= with_t + 3 * alts


def test_prefix_inside_a_character_keeps_the_canonical_token_among_covers(blm):
    text = "café 日本語"
    full = blm.encode_bytes(blm.dummy + text.encode())
    tb = blm.tables.token_bytes
    cut = len(blm.dummy) + len("café 日".encode()) + 1  # one byte into 本
    data = (blm.dummy + text.encode())[len(blm.dummy):cut]
    s = blm.state(data, warm=False)
    d = s.next_byte_logprobs()
    assert np.isfinite(d[text.encode()[len(data)]])
    assert not np.isfinite(d[256])  # the text cannot end inside a character
    # the token of the canonical encoding that crosses the cut is a cover, with its canonical history
    pos, i = 0, 0
    while pos + len(tb[full[i]]) <= cut:
        pos += len(tb[full[i]])
        i += 1
    covers = {seq for seq, lp in s.covers()}
    assert tuple(full[: i + 1]) in covers


@pytest.mark.parametrize("prefix", ["x  ", "1234", "İstanbul'"])
def test_fast_mask_equals_reencode_check(blm, prefix):
    y = blm.dummy + prefix.encode()
    T = tuple(blm.encode_bytes(y))
    mask = blm.validity.mask(T, y)
    tb = blm.tables.token_bytes
    cand, texts = [], []
    ids = np.nonzero(blm.tables.usable)[0]
    ids = np.random.default_rng(0).choice(ids, size=min(len(ids), 8000), replace=False)
    for t in ids:
        try:
            texts.append((y + tb[t])[len(blm.dummy):].decode("utf-8"))
            cand.append(int(t))
        except UnicodeDecodeError:
            pass
    encs = blm.tok.encode_batch(texts)
    # the re-encode check, extended to canonical *prefixes*: a token ending in whitespace is also valid when
    # T + [t] survives re-encoding with a non-space after it (pre-tokenizers cut `\s+(?!\S)` differently there)
    probe = blm.tok.encode_batch([x + "x" for x in texts])
    truth = np.array([list(e) == [*T, t] or (tb[t][-1:] in (b" ", b"\t", b"\n", b"\r") and list(p[: len(T) + 1]) == [*T, t])
                      for t, e, p in zip(cand, encs, probe)])
    got = mask[np.array(cand)]
    wrong = [tb[t] for t, a, b in zip(cand, got, truth) if a != b]
    assert truth.sum() > 200
    assert wrong == []


def test_warm_start_gives_the_same_state(blm):
    text = "The quick brown fox jumps over the lazy dog; it's fine, isn't it".encode()
    cold = blm.state(text, warm=False).next_byte_logprobs()
    lm2 = HFTokenLM(blm.lm.model, eos_id=blm.lm.eos_id, bos_id=blm.lm.bos_id)
    warm_lm = ByteLM(blm.tok, lm2)
    warm = warm_lm.state(text, warm=True)
    assert np.allclose(np.exp(warm.next_byte_logprobs()), np.exp(cold), atol=1e-5)
    assert warm_lm.stats.lm_calls < 20 < len(text)
