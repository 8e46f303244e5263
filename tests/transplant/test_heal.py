"""Embedding heal on tiny random Llamas: 0 steps is no heal, healed models load with transformers and keep every
shared row bit for bit, the loss falls, and a killed run resumes to the same result."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from tokbench.errors import UsageError
from tokbench.transplant.core import transplant
from tokbench.transplant.heal import CHECKPOINT, HealOptions, HealRequest, heal


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def heal_text(sample_text):
    return [sample_text]


def request(text, steps, work=None, resume=False, **kw):
    return HealRequest(HealOptions(steps=steps, seq_len=32, batch_size=2, lr=1e-2, save_every=2, **kw), text,
                       ["sample"], work, resume)


@pytest.mark.parametrize("kind", ["tied", "untied"])
def test_zero_heal_steps_equal_no_heal(tmp_path, models, toks, heal_text, kind):
    plain = transplant(str(models[kind]), str(toks["new"]), "subword-mean", out=tmp_path / "plain")
    zero = transplant(str(models[kind]), str(toks["new"]), "subword-mean", out=tmp_path / "zero",
                      heal=request(heal_text, 0))
    a, b = weights(tmp_path / "plain"), weights(tmp_path / "zero")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert zero.manifest["heal"]["steps"] == 0 and "heal" not in plain.manifest


@pytest.mark.parametrize("kind", ["tied", "untied"])
def test_healed_model_loads_and_shared_rows_are_bit_identical(tmp_path, models, toks, heal_text, kind):
    init = transplant(str(models[kind]), str(toks["new"]), "subword-mean", out=tmp_path / "init")
    res = transplant(str(models[kind]), str(toks["new"]), "subword-mean", out=tmp_path / "healed",
                     heal=request(heal_text, 6))
    model = AutoModelForCausalLM.from_pretrained(str(tmp_path / "healed"))
    before = AutoModelForCausalLM.from_pretrained(str(tmp_path / "init"))
    targets = torch.from_numpy(res.targets)
    keep = torch.ones(res.counts["rows"], dtype=torch.bool)
    keep[targets] = False
    mats = [lambda m: m.get_input_embeddings().weight] + ([] if kind == "tied" else [lambda m: m.lm_head.weight])
    for get in mats:
        new, old = get(model).detach(), get(before).detach()
        assert torch.equal(new[keep], old[keep])  # shared, special and padding rows: bit for bit
        assert not torch.equal(new[targets], old[targets])  # the new rows did train
    for name, p in model.named_parameters():  # the rest of the network is untouched
        if "embed" not in name and "lm_head" not in name:
            assert torch.equal(p, dict(before.named_parameters())[name])
    h = json.loads((tmp_path / "healed" / "transplant.json").read_text())["heal"]
    assert h["steps"] == 6 and h["rows"] == len(res.targets) and h["corpus"] == ["sample"]
    curve = [json.loads(l) for l in (tmp_path / "healed" / "heal_curve.jsonl").read_text().splitlines()]
    assert [r["step"] for r in curve] == list(range(1, 7)) and all(r["bits_per_byte"] > 0 for r in curve)
    assert not (tmp_path / "healed.heal").exists()  # no checkpoints left behind when none were asked for


def test_heal_lowers_training_loss(models, toks, heal_text):
    res = transplant(str(models["untied"]), str(toks["new"]), "mean", save=False)
    summary = heal(res.lm, res.targets, heal_text, HealOptions(steps=30, seq_len=32, batch_size=4, lr=3e-2),
                   progress=False)
    first = sum(r["loss"] for r in summary["curve"][:5]) / 5
    last = sum(r["loss"] for r in summary["curve"][-5:]) / 5
    assert last < first


def test_interrupted_heal_resumes_to_the_same_rows(tmp_path, models, toks, heal_text):
    def run(steps, work, resume=False):
        res = transplant(str(models["untied"]), str(toks["new"]), "subword-mean", save=False)
        heal(res.lm, res.targets, heal_text, HealOptions(steps=steps, seq_len=32, batch_size=2, lr=1e-2,
                                                         save_every=2), work=work, resume=resume, progress=False)
        return res.lm.model.get_input_embeddings().weight.detach().clone(), res.lm.model.lm_head.weight.detach().clone()

    straight = run(6, tmp_path / "a")
    run(4, tmp_path / "b")  # "killed" after 4 steps: its checkpoint stays
    assert (tmp_path / "b" / CHECKPOINT).is_file()
    resumed = run(6, tmp_path / "b", resume=True)
    assert all(torch.equal(x, y) for x, y in zip(straight, resumed))
    with pytest.raises(UsageError, match="unfinished heal"):
        run(6, tmp_path / "b")  # neither --resume nor --force


def test_cli_heal_needs_a_corpus(models, toks, tmp_path):
    import typer
    from typer.testing import CliRunner

    from tokbench.transplant.cli import transplant_command

    app = typer.Typer()
    app.command("transplant")(transplant_command)
    app.command("x")(lambda: None)
    res = CliRunner().invoke(app, ["transplant", "--model", str(models["tied"]), "--tokenizer", str(toks["new"]),
                                   "-o", str(tmp_path / "o"), "--heal-steps", "5"])
    assert isinstance(res.exception, UsageError) and "--heal-corpus" in str(res.exception)
