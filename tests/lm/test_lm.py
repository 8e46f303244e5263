"""tokbench.lm on a tiny random Llama: bits per byte against brute-force references, the KV-cache hook, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.helpers import make_model, stdlib_text, train_bpe
from tokbench.errors import InputError, UsageError
from tokbench.lm import load_lm


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import textwrap

    root = tmp_path_factory.mktemp("lm")
    tok = train_bpe(stdlib_text(textwrap), 600, root / "tok.json")
    return load_lm(make_model(root / "model", tok, tied=False))


TEXT = "Bits per byte are comparable across tokenizers; token perplexity is not.\n" * 3


def brute_nll(lm, seq: list[int], first: int, context: int) -> float:
    """Sum over targets t >= first of -log p(seq[t] | up to context-1 previous tokens), one forward per target."""
    total = 0.0
    with torch.inference_mode():
        for t in range(first, len(seq)):
            ctx = seq[max(0, t - (context - 1)):t]
            logp = torch.log_softmax(lm.model(input_ids=torch.tensor([ctx])).logits[0, -1].double(), -1)
            total -= logp[seq[t]].item()
    return total


def test_bits_per_byte_matches_a_full_forward(tiny):
    ids = tiny.tokenizer.encode(TEXT)
    seq = tiny.start_ids + ids
    assert tiny.start_ids == [tiny.tokenizer.token_to_id("<|endoftext|>")]
    with torch.inference_mode():
        logits = tiny.model(input_ids=torch.tensor([seq])).logits[0].double()
    nll = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(seq[1:]), reduction="sum").item()
    r = tiny.bits_per_byte([TEXT], context=512, progress=False)
    assert r["tokens"] == len(ids) and r["bytes"] == len(TEXT.encode())
    assert r["nll"] == pytest.approx(nll, rel=1e-4)
    assert r["bits_per_byte"] == pytest.approx(nll / (math.log(2) * len(TEXT.encode())), rel=1e-4)


@pytest.mark.parametrize("context,stride", [(8, 1), (8, 3), (8, 8)])
def test_sliding_window_matches_brute_force(tiny, context, stride):
    text = TEXT[:60]
    seq = tiny.start_ids + tiny.tokenizer.encode(text)
    r = tiny.bits_per_byte([text], context=context, stride=stride, batch_size=3, progress=False)
    assert r["tokens"] == len(seq) - 1
    if stride == 1:  # every target sees exactly min(t, context - 1) previous tokens
        assert r["nll"] == pytest.approx(brute_nll(tiny, seq, 1, context), rel=1e-4)
    else:  # coarser strides see less context on average: never better than stride 1 by more than noise
        assert r["nll"] > 0


def test_documents_are_scored_independently(tiny):
    a = tiny.bits_per_byte(["first document.", "a second, longer document here."], context=64, progress=False)
    b1 = tiny.bits_per_byte(["first document."], context=64, progress=False)
    b2 = tiny.bits_per_byte(["a second, longer document here."], context=64, progress=False)
    assert a["tokens"] == b1["tokens"] + b2["tokens"]
    assert a["nll"] == pytest.approx(b1["nll"] + b2["nll"], rel=1e-5)


def test_allow_special_scores_special_tokens_as_the_model_sees_them(tiny):
    import dataclasses

    text = "one<|endoftext|>two"
    view = dataclasses.replace(tiny, tokenizer=tiny.tokenizer.allowing_special())
    eot = tiny.tokenizer.token_to_id("<|endoftext|>")
    assert eot in view.tokenizer.encode(text) and eot not in tiny.tokenizer.encode(text)
    allowed, plain = (lm.bits_per_byte([text], context=64, progress=False) for lm in (view, tiny))
    assert allowed["tokens"] == len(view.tokenizer.encode(text)) < plain["tokens"]
    assert allowed["bytes"] == plain["bytes"] == len(text.encode())


def test_incremental_logprobs_match_a_full_forward(tiny):
    ids = tiny.start_ids + tiny.tokenizer.encode(TEXT[:80])
    full, _ = tiny.logprobs_incremental(ids)
    first, past = tiny.logprobs_incremental(ids[:7])
    rest, _ = tiny.logprobs_incremental(ids[7:], past)
    np.testing.assert_allclose(np.concatenate([first, rest]), full, atol=1e-4)
    np.testing.assert_allclose(np.exp(full).sum(-1), 1.0, atol=1e-4)
    np.testing.assert_allclose(tiny.next_logprobs(ids), full[-1], atol=1e-5)


def test_bad_specs_and_arguments(tiny, tmp_path):
    with pytest.raises(InputError, match="no such model"):
        load_lm(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json"):
        load_lm(tmp_path / "empty")
    with pytest.raises(UsageError, match="stride"):
        tiny.bits_per_byte([TEXT], context=8, stride=9, progress=False)
    with pytest.raises(InputError, match="empty"):
        tiny.bits_per_byte(["", ""], progress=False)


def test_converted_gguf_folder_gets_its_tokenizer_refreshed(tmp_path):
    """A folder converted before the tokenizer took the GGUF's own pre-tokenizer (issue 19) gets new tokenizer files;
    the weights are left alone."""
    import json

    from tokbench.lm import core
    from tokbench.tokenizer.zoo import smollm2_gguf

    folder = tmp_path / "smollm2"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "source.json").write_text(json.dumps({"gguf": "x", "dtype": "float32"}))
    assert core._converted(smollm2_gguf(), folder) == folder
    spec = json.loads((folder / "tokenizer.json").read_text())
    assert [p["type"] for p in spec["pre_tokenizer"]["pretokenizers"]] == ["Split", "ByteLevel"]
    assert (folder / "model.safetensors").read_bytes() == b"weights"
    assert json.loads((folder / "source.json").read_text())["tokenizer_version"] == core.GGUF_TOKENIZER_VERSION
    assert not [p for p in folder.iterdir() if p.name.startswith(".tokenizer-")]  # no temp junk
