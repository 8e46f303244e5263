"""The typer wrappers: `transplant` and `lm bpb` (mounted here the way tokbench/cli.py mounts them)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from tokbench.errors import UsageError
from tokbench.lm import load_lm
from tokbench.lm.cli import lm_app
from tokbench.transplant.cli import transplant_command


@pytest.fixture(scope="module")
def app():
    app = typer.Typer()
    app.command("transplant")(transplant_command)
    app.add_typer(lm_app, name="lm")
    return app


def test_lm_bpb_json(app, models, sample_text, tmp_path):
    corpus = tmp_path / "held.txt"
    corpus.write_text(sample_text[:1500])
    res = CliRunner().invoke(app, ["lm", "bpb", "--model", str(models["tied"]), "--corpus", str(corpus),
                                   "--context", "64", "--stride", "32", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    ref = load_lm(models["tied"]).bits_per_byte([sample_text[:1500]], context=64, stride=32, progress=False)
    assert out["bytes"] == len(sample_text[:1500].encode()) == ref["bytes"]
    assert out["tokens"] == ref["tokens"] and out["bits_per_byte"] == pytest.approx(ref["bits_per_byte"], rel=1e-9)


def test_transplant_with_evaluate(app, models, toks, sample_text, tmp_path):
    corpus = tmp_path / "held.txt"
    corpus.write_text(sample_text[:1200])
    out = tmp_path / "m"
    args = ["transplant", "--model", str(models["untied"]), "--tokenizer", str(toks["new"]), "--method",
            "tokenadapt", "--aux", "self", "--top-k", "2", "--weight", "0.5", "--temperature", "0.5", "--threshold",
            "0.1", "-o", str(out), "--evaluate", str(corpus), "--context", "128", "--format", "json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    manifest = json.loads((out / "transplant.json").read_text())
    assert manifest["parameters"]["top_k"] == 2 and manifest["parameters"]["aux"] == "self"
    assert rec["ratio"] == pytest.approx(rec["new_bits_per_byte"] / rec["original_bits_per_byte"])
    ref = load_lm(models["untied"]).bits_per_byte([sample_text[:1200]], context=128, progress=False)
    assert rec["original_bits_per_byte"] == pytest.approx(ref["bits_per_byte"], rel=1e-9)
    again = CliRunner().invoke(app, args)  # out exists, no --force
    assert isinstance(again.exception, UsageError) and "already exists" in str(again.exception)


def test_transplant_evaluate_allow_special(app, models, toks, sample_text, tmp_path):
    """--allow-special: both models score <|endoftext|> as the one token they see, as `lm bpb --allow-special` does."""
    corpus = tmp_path / "chat.txt"
    text = "<|endoftext|>" + sample_text[:600] + "<|endoftext|>"
    corpus.write_text(text)
    args = ["transplant", "--model", str(models["tied"]), "--tokenizer", str(toks["new"]), "--method", "random",
            "--evaluate", str(corpus), "--context", "128", "--format", "json"]
    plain = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "a")])
    allowed = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "b"), "--allow-special"])
    assert plain.exit_code == 0 and allowed.exit_code == 0, (plain.output, allowed.output)
    plain, allowed = (json.loads(r.stdout.strip().splitlines()[-1]) for r in (plain, allowed))
    for side, folder in (("original", models["tied"]), ("new", tmp_path / "b")):
        lm = load_lm(folder)
        lm.tokenizer = lm.tokenizer.allowing_special()
        ref = lm.bits_per_byte([text], context=128, progress=False)
        assert allowed[f"{side}_tokens"] == ref["tokens"] < plain[f"{side}_tokens"]
        assert allowed[f"{side}_bits_per_byte"] == pytest.approx(ref["bits_per_byte"], rel=1e-9)


def test_bad_aux_is_a_usage_error(app, models, toks, tmp_path):
    res = CliRunner().invoke(app, ["transplant", "--model", str(models["tied"]), "--tokenizer", str(toks["new"]),
                                   "--aux", "word2vec", "-o", str(tmp_path / "x")])
    assert isinstance(res.exception, UsageError)
    assert not (tmp_path / "x").exists()


def test_omp_centre_and_shrink_flags_reach_the_method(app, models, toks, tmp_path):
    """--no-centre --shrink 0.5: the saved rows are those of omp with centre=False, shrink=0.5 (not the defaults)."""
    import numpy as np
    from safetensors.numpy import load_file

    from tokbench.transplant.core import transplant

    out = tmp_path / "m"
    res = CliRunner().invoke(app, ["transplant", "--model", str(models["tied"]), "--tokenizer", str(toks["new"]),
                                   "--method", "omp", "--aux", "self", "--k", "4", "--no-centre", "--shrink", "0.5",
                                   "-o", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    params = json.loads((out / "transplant.json").read_text())["parameters"]
    assert params["centre"] is False and params["shrink"] == 0.5
    saved = load_file(str(out / "model.safetensors"))["model.embed_tokens.weight"]

    def rows(**p):
        r = transplant(str(models["tied"]), str(toks["new"]), "omp", save=False, params={"aux": "self", "k": 4, **p})
        return r.lm.model.get_input_embeddings().weight.detach().numpy()

    np.testing.assert_array_equal(saved, rows(centre=False, shrink=0.5))
    assert not np.array_equal(saved, rows())
    bad = CliRunner().invoke(app, ["transplant", "--model", str(models["tied"]), "--tokenizer", str(toks["new"]),
                                   "--method", "omp", "--aux", "self", "--shrink", "0", "-o", str(tmp_path / "x")])
    assert bad.exit_code != 0 and not (tmp_path / "x").exists()
