"""One short run of the real SmolLM2-135M (slow): exact byte-level vs token-level probabilities agree in the limit."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def blm():
    from tokbench.byteprob import ByteLM
    from tokbench.byteprob.models import load_model

    tok, lm = load_model("smollm2")
    return ByteLM(tok, lm)


def test_smollm2_exact_bytes(blm):
    text = "The capital of France is Paris."
    data = text.encode()
    blm.root()
    calls0 = blm.stats.lm_calls
    lp_bytes = blm.byte_logprobs(data)
    assert np.all(np.isfinite(lp_bytes))
    assert blm.stats.lm_calls - calls0 == len(data)  # one LM call per byte
    # a trained LM puts nearly all mass on canonical paths, so byte-level log P(text) is close to (and, as a sum over
    # more token sequences, above) the token-level log P(enc(text)) of the same text
    from tokbench.byteprob.commands import token_logprob

    tok_lp, _ = token_logprob(blm, text)
    assert lp_bytes.sum() >= tok_lp - 0.05
    assert abs(lp_bytes.sum() - tok_lp) < 2.0
    # cut mid-word: the next byte of "Pari|s" is predicted from covers, not from the non-canonical "Pari" token path
    d = blm.state(b"The capital of France is Pari").next_byte_logprobs()
    assert int(np.argmax(d)) == ord("s")
    assert math.exp(d[ord("s")]) > 0.5


def test_smollm2_tokenizer_splits_digits_as_the_model_was_trained(blm):
    """SmolLM2 was trained on `smollm` pieces (digits first: "  1" is "  " "1"); with GPT-2's split P(' ') here is
    0.017 (issue 19), with the model's own split (0.88) the model expects the second space of the column."""
    d = blm.state(b"a:  1\nb:  2\nc: ").next_byte_logprobs()
    assert math.exp(d[ord(" ")]) > 0.5
