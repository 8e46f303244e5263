"""Premium on tiny parallel sets, byte budgets, per-document rows, reports, and the regression gate via the CLI."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from tokbench.errors import UsageError
from tokbench.eval import run

EN = ["The weather is nice today.", "We walked to the old library."]
TR = ["Bugün hava çok güzel.", "Eski kütüphaneye yürüdük."]


def _ntok(gpt2_json, text):
    from tokenizers import Tokenizer

    return len(Tokenizer.from_file(str(gpt2_json)).encode(text, add_special_tokens=False).ids)


def test_premium_on_aligned_folders(gpt2_json, tmp_path):
    for lang, docs in (("en", EN), ("tr", TR)):
        (tmp_path / "par" / lang).mkdir(parents=True)
        for i, d in enumerate(docs):
            (tmp_path / "par" / lang / f"{i}.txt").write_text(d, encoding="utf-8")
    (tmp_path / "par" / "tr" / "only-tr.txt").write_text("Yalnız Türkçe.", encoding="utf-8")  # not aligned: ignored
    recs = run.evaluate([str(gpt2_json)], parallel=tmp_path / "par")
    by = {r["lang"]: r for r in recs}
    en = sum(_ntok(gpt2_json, d) for d in EN)
    tr = sum(_ntok(gpt2_json, d) for d in TR)
    assert by["en"]["premium"] == 1.0
    assert by["tr"]["premium"] == pytest.approx(tr / en)
    assert by["tr"]["tokens"] == tr  # the unaligned file is not counted


def test_premium_on_flores_style_files(gpt2_json, tmp_path):
    d = tmp_path / "flores"
    d.mkdir()
    (d / "eng_Latn.dev").write_text("\n".join(EN) + "\n", encoding="utf-8")
    (d / "tur_Latn.dev").write_text("\n".join(TR) + "\n", encoding="utf-8")
    recs = run.evaluate([str(gpt2_json)], parallel=d)
    by = {r["lang"]: r for r in recs}
    # published convention: each language's lines joined by single spaces
    assert by["tr"]["premium"] == pytest.approx(_ntok(gpt2_json, " ".join(TR)) / _ntok(gpt2_json, " ".join(EN)))
    with pytest.raises(UsageError, match="reference language 'de'"):
        run.evaluate([str(gpt2_json)], parallel=d, reference_lang="de")


def test_byte_budget_is_byte_normalised():
    recs = [{"tokenizer": "a", "corpus": "c", "bytes_per_token": 4.0},
            {"tokenizer": "b", "corpus": "c", "bytes_per_token": 2.0}]
    rows = run.byte_budget(recs, 100)
    assert rows[0]["bytes"] == 400.0 and rows[0]["tokens:b"] == 200.0 and rows[1]["tokens:a"] == 50.0
    with pytest.raises(UsageError):
        run.byte_budget(recs, 0)


def test_cli_report_formats_and_per_document(cli, gpt2_json, texts, tmp_path):
    out = tmp_path / "rep"
    perdoc = tmp_path / "docs.jsonl"
    r = cli("eval", "-t", gpt2_json, "-c", f"{texts}:en", "--format", "csv", "-o", out, "--per-document", perdoc,
            "--budget", "1000")
    assert r.code == 0, r.err
    import io

    frame = pd.read_csv(io.StringIO(r.out))
    assert list(frame["tokens"]) == [json.loads((out / "metrics.json").read_text())[0]["tokens"]]
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") >= 3  # bytes/token, token lengths, %TR/%Pure
    assert (out / "metrics.md").read_text().startswith("| tokenizer")
    assert (out / "budget.csv").exists()
    rows = [json.loads(x) for x in perdoc.read_text().splitlines()]
    assert len(rows) == 3 and sum(x["tokens"] for x in rows) == frame["tokens"][0]


def _baseline(cli, gpt2_json, texts, tmp_path):
    r = cli("eval", "-t", gpt2_json, "-c", f"{texts}:en", "--format", "json", "--no-roundtrip")
    assert r.code == 0, r.err
    path = tmp_path / "base.json"
    path.write_text(r.out)
    return path, json.loads(r.out)


def test_gate_passes_on_equal_and_fails_on_worsened(cli, gpt2_json, texts, tmp_path):
    base, recs = _baseline(cli, gpt2_json, texts, tmp_path)
    args = ("eval", "-t", gpt2_json, "-c", f"{texts}:en", "--no-roundtrip", "--baseline", base)
    r = cli(*args, "--tolerance", "bytes_per_token=1%", "--tolerance", "fertility=0%")
    assert r.code == 0, r.err
    # a baseline that was 5% better in bytes/token: now a regression beyond 1%
    better = [dict(x, bytes_per_token=x["bytes_per_token"] * 1.05, fertility=x["fertility"] * 0.99) for x in recs]
    (tmp_path / "better.json").write_text(json.dumps(better))
    r = cli(*args[:-1], tmp_path / "better.json", "--tolerance", "bytes_per_token=1%", "--tolerance", "fertility=2%")
    assert r.code == 1
    assert "bytes_per_token" in r.err and f"{better[0]['bytes_per_token']:.6g}" in r.err
    regressed = [ln for ln in r.err.splitlines() if ln.startswith("REGRESSED")]
    assert len(regressed) == 1  # fertility moved 1%, within its 2%
    # compare prints the same diff and exits the same way
    (tmp_path / "new.json").write_text(json.dumps(recs))
    r2 = cli("compare", tmp_path / "better.json", tmp_path / "new.json", "--tolerance", "bytes_per_token=1%")
    assert r2.code == 1 and "REGRESSED" in r2.err and "bytes_per_token" in r2.err
    assert cli("compare", base, tmp_path / "new.json", "--tolerance", "bytes_per_token=0%").code == 0


def test_gate_bad_inputs(cli, gpt2_json, texts, tmp_path):
    base, recs = _baseline(cli, gpt2_json, texts, tmp_path)
    r = cli("eval", "-t", gpt2_json, "-c", texts, "--baseline", base, "--tolerance", "bogus=1%")
    assert r.code == 2 and "unknown metric 'bogus'" in r.err
    r = cli("eval", "-t", gpt2_json, "-c", texts, "--baseline", base, "--tolerance", "bytes=1%")
    assert r.code == 2 and "no better direction" in r.err
    other = [dict(x, tokenizer="someone-else") for x in recs]
    (tmp_path / "other.json").write_text(json.dumps(other))
    r = cli("eval", "-t", gpt2_json, "-c", f"{texts}:en", "--no-roundtrip", "--baseline", tmp_path / "other.json")
    assert r.code == 1 and "no baseline for tokenizer" in r.err and "someone-else" in r.err
    (tmp_path / "empty.txt").write_text("")
    r = cli("eval", "-t", gpt2_json, "-c", tmp_path / "empty.txt")
    assert r.code == 1 and "empty" in r.err and "Traceback" not in r.err
