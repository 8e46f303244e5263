"""Transplant core on tiny random Llamas with real (tiny, trained here) BPE tokenizers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from tokbench.lm import load_lm
from tokbench.errors import InputError, UsageError
from tokbench.tokenizer import load_tokenizer
from tokbench.transplant.core import Context, transplant
from tokbench.transplant.methods import get_method, names
from tokbench.transplant import hypernet as hn


def logits(lm, text: str) -> torch.Tensor:
    ids = torch.tensor([lm.start_ids + lm.tokenizer.encode(text)])
    with torch.inference_mode():
        return lm.model(input_ids=ids).logits[0]


@pytest.mark.parametrize("kind", ["tied", "untied"])
def test_self_transplant_reproduces_logits_exactly(tmp_path, models, sample_text, kind):
    folder = models[kind]
    res = transplant(str(folder), str(folder / "tokenizer.json"), "random", out=tmp_path / "out")
    assert res.counts["approximated"] == 0 and res.counts["fallback"] == 0
    assert res.counts["copied"] + res.counts["special"] == res.counts["vocab_size"]
    before, after = load_lm(folder), load_lm(tmp_path / "out")
    assert torch.equal(logits(before, sample_text[:800]), logits(after, sample_text[:800]))
    tied_after = after.model.get_output_embeddings().weight.data_ptr() == after.model.get_input_embeddings().weight.data_ptr()
    assert tied_after == (kind == "tied")


def permuted_tokenizer(src: Path, dst: Path, seed: int = 1) -> Path:
    """The same BPE with its (non-special) ids shuffled: merges name strings, so tokenisation is unchanged."""
    spec = json.loads(src.read_text())
    vocab = spec["model"]["vocab"]
    special = {a["content"] for a in spec["added_tokens"]}
    movable = [t for t in vocab if t not in special]
    ids = [vocab[t] for t in movable]
    random.Random(seed).shuffle(ids)
    spec["model"]["vocab"] = {**{t: vocab[t] for t in special}, **dict(zip(movable, ids))}
    dst.write_text(json.dumps(spec))
    return dst


@pytest.mark.parametrize("kind", ["tied", "untied"])
def test_permuted_vocabulary_gives_identical_bits_per_byte(tmp_path, models, sample_text, kind):
    folder = models[kind]
    perm = permuted_tokenizer(folder / "tokenizer.json", tmp_path / "perm.json")
    res = transplant(str(folder), str(perm), "mean", out=tmp_path / "out")
    assert res.counts["copied"] + res.counts["special"] == res.counts["vocab_size"]
    before, after = load_lm(folder), load_lm(tmp_path / "out")
    assert before.tokenizer.encode(sample_text) != after.tokenizer.encode(sample_text)  # the ids really moved
    a = before.bits_per_byte([sample_text], context=128, progress=False)
    b = after.bits_per_byte([sample_text], context=128, progress=False)
    assert a["tokens"] == b["tokens"] and a["bytes"] == b["bytes"]
    assert b["bits_per_byte"] == pytest.approx(a["bits_per_byte"], rel=1e-6)


def test_new_tokenizer_shared_rows_copied_and_manifest(tmp_path, models, toks):
    folder = models["untied"]
    res = transplant(str(folder), str(toks["new"]), "subword-mean", out=tmp_path / "out", pad_to_multiple_of=64)
    old, new = load_lm(folder), load_lm(tmp_path / "out")
    c = res.counts
    assert c["copied"] + c["special"] + c["approximated"] + c["fallback"] == c["vocab_size"]
    assert c["rows"] % 64 == 0 and c["padding"] == c["rows"] - c["vocab_size"] > 0
    assert new.model.config.vocab_size == c["rows"] == new.model.get_input_embeddings().weight.shape[0]
    assert new.model.get_output_embeddings().weight.shape[0] == c["rows"]
    manifest = json.loads((tmp_path / "out" / "transplant.json").read_text())
    assert manifest["method"] == "subword-mean" and len(manifest["tokens"]) == c["vocab_size"]
    e_old = old.model.get_input_embeddings().weight.detach().numpy()
    h_old = old.model.get_output_embeddings().weight.detach().numpy()
    e_new = new.model.get_input_embeddings().weight.detach().numpy()
    h_new = new.model.get_output_embeddings().weight.detach().numpy()
    old_bytes, new_tok = old.tokenizer.all_token_bytes(), new.tokenizer
    checked = 0
    for rec in manifest["tokens"]:
        i = rec["id"]
        if rec["source"] == "copied":  # same exact bytes, same rows (input and output)
            assert new_tok.token_bytes(i) == old_bytes[rec["old_id"]]
            assert np.array_equal(e_new[i], e_old[rec["old_id"]]) and np.array_equal(h_new[i], h_old[rec["old_id"]])
        elif rec["source"] == "subword-mean":  # the old tokenizer's split, averaged (checked independently)
            ids = old.tokenizer.encode(new_tok.token_bytes(i).decode("utf-8"))
            assert b"".join(old_bytes[j] for j in ids) == new_tok.token_bytes(i)
            assert rec["from"] == ids
            np.testing.assert_allclose(e_new[i], e_old[ids].mean(0), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(h_new[i], h_old[ids].mean(0), rtol=1e-5, atol=1e-6)
            checked += 1
    assert checked > 100
    pad = e_new[c["vocab_size"]:]
    np.testing.assert_allclose(pad, np.broadcast_to(e_old.mean(0), pad.shape), rtol=1e-5, atol=1e-6)


def test_hf_auto_classes_load_the_output(tmp_path, models, toks, sample_text):
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    transplant(str(models["tied"]), str(toks["new"]), "mean", out=tmp_path / "out")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    tok = AutoTokenizer.from_pretrained(tmp_path / "out")
    reference = Tokenizer.from_file(str(toks["new"])).encode(sample_text[:500]).ids
    assert tok(sample_text[:500], add_special_tokens=False)["input_ids"] == reference
    assert model.config.vocab_size == len(tok)


def test_untied_output_bias_is_resized_with_the_same_weights(tmp_path, models, toks):
    lm = load_lm(models["untied"])
    head = lm.model.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.normal_()
    lm.model.lm_head = biased
    old_bias = biased.bias.detach().numpy().copy()
    res = transplant(str(models["untied"]), str(toks["new"]), "subword-mean", out=tmp_path / "out", lm=lm)
    bias = lm.model.lm_head.bias.detach().numpy()
    assert bias.shape[0] == res.counts["rows"] == lm.model.lm_head.weight.shape[0]
    for rec in res.manifest["tokens"]:
        if rec["source"] == "copied":
            assert bias[rec["id"]] == old_bias[rec["old_id"]]
        elif rec["source"] == "subword-mean":
            assert bias[rec["id"]] == pytest.approx(old_bias[rec["from"]].mean(), rel=1e-5, abs=1e-6)


def test_every_method_fills_every_row(tmp_path, models, toks):
    lm = load_lm(models["tied"])
    new_tok = load_tokenizer(str(toks["new"]))
    targets = np.arange(1, 200)
    e = lm.model.get_input_embeddings().weight.detach().numpy()
    untrained = tmp_path / "hypernet"  # zett with an untrained hypernetwork (it then equals subword-mean)
    hn.save(hn.build(hn.HyperNetConfig(dim=e.shape[1], tied=True, max_pieces=4, layers=1, width=16, heads=2,
                                       vocab_rows=len(e), fingerprint=hn.fingerprint(e)), float(e.std())), untrained)
    for name in names():
        params = {"aux": "self"} if name.startswith("tokenadapt") or name in ("omp", "focus") else {}
        params = {"hypernet": str(untrained)} if name == "zett" else params
        ctx = Context(lm.tokenizer, new_tok, e, targets, params=params)
        rows = get_method(name)(ctx).apply(e, np.random.default_rng(0))
        assert rows.shape == (len(targets), e.shape[1]) and np.isfinite(rows).all(), name


def test_existing_out_without_force_is_refused_and_untouched(tmp_path, models, toks):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="already exists"):
        transplant(str(models["tied"]), str(toks["new"]), "mean", out=out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    transplant(str(models["tied"]), str(toks["new"]), "mean", out=out, force=True)
    assert (out / "transplant.json").exists() and not (out / "keep.txt").exists()


def test_folder_without_weights_is_a_clear_error(tmp_path, models, toks):
    broken = tmp_path / "noweights"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (broken / name).write_bytes((models["tied"] / name).read_bytes())
    with pytest.raises(InputError, match="no weights"):
        transplant(str(broken), str(toks["new"]), "mean", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noweights"]


def test_tokenizer_that_fails_to_load_is_a_clear_error(tmp_path, models):
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": {"type": "BPE", "vocab": ')
    with pytest.raises(InputError, match="bad.json"):
        transplant(str(models["tied"]), str(bad), "mean", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_method_and_bad_keep_special(tmp_path, models, toks):
    with pytest.raises(UsageError, match="unknown method"):
        transplant(str(models["tied"]), str(toks["new"]), "nope", out=tmp_path / "a")
    with pytest.raises(UsageError, match="keep-special"):
        transplant(str(models["tied"]), str(toks["new"]), "mean", out=tmp_path / "b", keep_special="both")
    assert not any(tmp_path.iterdir())


def test_sentencepiece_new_tokenizer_keeps_its_bytes_when_specials_are_appended(toks, tmp_path):
    """mistral-v1 (a SentencePiece .model): appending the old model's specials must not lose its ▁ -> space bytes,
    so every token whose exact bytes exist in the old vocabulary is copied."""
    from tokbench.transplant.core import match_vocab

    old = load_tokenizer(str(toks["old"]))
    new = load_tokenizer("mistral-v1")
    old_bytes = {b: i for i, b in enumerate(old.all_token_bytes()) if b and i not in old.special_ids}
    expected = sum(1 for i, b in enumerate(new.all_token_bytes()) if b and i not in new.special_ids and b in old_bytes)
    m = match_vocab(old, new, "old")
    assert m.added_specials == ["<|endoftext|>"]
    assert m.tokenizer.vocab_size == new.vocab_size + 1
    assert m.kind.count("copied") == expected > 300
    the = new.token_to_id("▁the")
    assert m.kind[the] == "copied" and old.all_token_bytes()[m.new_to_old[the]] == b" the"
    assert m.tokenizer.encode("the cat", add_special_tokens=True) == new.encode("the cat", add_special_tokens=True)
    from tokenizers import Tokenizer

    from tokbench.transplant.core import _save_tokenizer_json

    _save_tokenizer_json(m.tokenizer, tmp_path / "tokenizer.json")  # the saved form still starts text with <s>
    saved = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert saved.encode("the cat", add_special_tokens=True).ids == new.encode("the cat", add_special_tokens=True)
    assert saved.token_to_id("<|endoftext|>") == new.vocab_size
    view = m.tokenizer.allowing_special()  # the appended special, and sentencepiece's own <s> </s>, read as tokens
    for text in ["a<|endoftext|>b", "hello <|endoftext|>  world ", "<s>x</s> y<|endoftext|>"]:
        saved.encode_special_tokens = False
        assert view.encode(text) == saved.encode(text, add_special_tokens=False).ids, text
        saved.encode_special_tokens = True
        assert m.tokenizer.encode(text) == saved.encode(text, add_special_tokens=False).ids, text
