"""byteprob's byte-level encode path is the adapter's `encode_bytes`, checked against tiktoken's `_encode_bytes` on
prompts cut inside a character; the canonical encoding (what the covers commit to) is None exactly there."""

from __future__ import annotations

import pytest

from tests.byteprob.brute import ToyLM
from tests.helpers import STRESS
from tokbench.byteprob import ByteLM
from tokbench.byteprob.commands import complete_healing, complete_naive
from tokbench.tokenizer import formats, load_tokenizer, zoo

TEXTS = ["café 日本語 ok 😀👍🏽!", "İstanbul'da ışık\n\n  Ğ", "x \t\n\u00e9\u00e9", *[t for t in STRESS[2:7] if t]]


class Recording(ToyLM):
    """ToyLM that remembers every context it was asked about."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.contexts: list[list[int]] = []

    def next_logprobs(self, ids):
        self.contexts.append([int(i) for i in ids])
        return super().next_logprobs(ids)


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_byte_level_encode_path_equals_tiktoken_mid_character(name):
    tok = load_tokenizer(name)
    enc, _ = formats.descriptor_encoding(zoo.resolve(name))
    lm = Recording(tok.vocab_size, tok.roles["eos"], seed=0)
    blm = ByteLM(tok, lm)
    mid = 0
    for text in TEXTS:
        data = text.encode()
        for k in range(1, len(data) + 1):
            cut = data[:k]
            assert blm.prompt_ids(cut) == enc._encode_bytes(cut), (name, cut)
            try:
                whole = cut.decode("utf-8")
            except UnicodeDecodeError:  # cut inside a character: no canonical encoding, the covers hold the state
                mid += 1
                assert blm.encode_bytes(cut) is None, cut
            else:
                assert blm.encode_bytes(cut) == enc.encode_ordinary(whole), cut
    assert mid > 20
    # the token-level baselines condition on those ids for a prompt that ends inside 本
    cut = "café 日本".encode()[:-1]
    lm.contexts.clear()
    complete_naive(blm, cut, 4)
    assert lm.contexts[0] == enc._encode_bytes(cut)
    lm.contexts.clear()
    complete_healing(blm, cut, 4)
    assert lm.contexts[0] == enc._encode_bytes(cut)[:-1]
