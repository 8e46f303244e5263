"""Class 2: the regression gate fails closed. A gated metric it cannot compare is exit 1 naming the record and the
metric; records must have measured the same corpus (bytes, content hash); compare reads - and eval's jsonl."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.reliability.conftest import _env, command, corpus_text


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """eval's records for the `corpus` fixture's text (the same name and bytes), measured once for the module."""
    folder = tmp_path_factory.mktemp("gate")
    (folder / "corpus.txt").write_bytes(corpus_text())
    proc = subprocess.run(command(["eval", "-t", "gpt2", "-c", "corpus.txt", "--no-roundtrip", "--format", "json"]),
                          cwd=folder, env=_env(), capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    recs = json.loads(proc.stdout)
    assert recs[0]["corpus_hash"] and recs[0]["bytes"] == len(corpus_text())
    return recs


def _write(tmp_path, name, recs):
    path = tmp_path / name
    path.write_text(json.dumps(recs))
    return path


BAD_VALUES = {"missing": ..., "null": None, "string": "2.5", "bool": True, "nan": float("nan"), "inf": float("inf")}


@pytest.mark.parametrize("side", ["baseline", "new"])
@pytest.mark.parametrize("bad", sorted(BAD_VALUES))
def test_compare_uncomparable_gated_metric_fails(tb, tmp_path, records, side, bad):
    broken = [dict(r) for r in records]
    if BAD_VALUES[bad] is ...:
        del broken[0]["fertility"]
    else:
        broken[0]["fertility"] = BAD_VALUES[bad]
    good = _write(tmp_path, "good.json", records)
    badf = tmp_path / "bad.json"
    badf.write_text(json.dumps(broken))  # nan/inf as JSON's NaN/Infinity, as Python writes them
    old, new = (badf, good) if side == "baseline" else (good, badf)
    r = tb("compare", old, new, "--tolerance", "fertility=1%")
    assert r.code == 1
    r.one_line("cannot compare", "fertility", "gpt2", records[0]["corpus"])
    assert "no metric regressed" not in r.err


@pytest.mark.parametrize("bad", ["missing", "string"])
def test_eval_baseline_default_gate_fails_closed(tb, tmp_path, corpus, records, bad):
    """Without --tolerance every metric with a direction is gated: one the baseline cannot give is an error (a
    metric null on both sides, e.g. premium without parallel text, does not apply and is skipped)."""
    broken = [dict(r) for r in records]
    if bad == "missing":
        del broken[0]["bytes_per_token"]
    else:
        broken[0]["bytes_per_token"] = "3.6"
    base = _write(tmp_path, "base.json", broken)
    r = tb("eval", "-t", "gpt2", "-c", corpus, "--no-roundtrip", "--baseline", base)
    assert r.code == 1
    r.one_line("cannot compare", "bytes_per_token")
    ok = _write(tmp_path, "ok.json", records)
    r = tb("eval", "-t", "gpt2", "-c", corpus, "--no-roundtrip", "--baseline", ok,
           "--tolerance", "throughput_mb_s=100%")
    assert r.code == 0, r.err


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _same_size_other_bytes(data: bytes) -> bytes:
    return data[:100] + b"XXXXX" + data[105:]


@pytest.mark.parametrize("change,needles", [(_half, ("not the same corpus", "bytes")),
                                            (_same_size_other_bytes, ("corpus content differs", "not the same"))])
def test_baseline_of_another_corpus_with_the_same_name(tb, tmp_path, corpus, records, change, needles):
    """Another folder's corpus.txt: shorter (the bytes differ), or as long with other text (the hash differs)."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / corpus.name).write_bytes(change(corpus.read_bytes()))
    base = _write(tmp_path, "base.json", records)
    r = tb("eval", "-t", "gpt2", "-c", other / corpus.name, "--no-roundtrip", "--baseline", base,
           "--tolerance", "bytes_per_token=50%")
    assert r.code == 1
    r.one_line(*needles)


def test_compare_reads_stdin_and_jsonl(tb, tmp_path, corpus, records):
    r = tb("eval", "-t", "gpt2", "-c", corpus, "--no-roundtrip", "--format", "jsonl")
    assert r.code == 0
    jsonl = tmp_path / "new.jsonl"
    jsonl.write_text(r.out)
    base = _write(tmp_path, "base.json", records)
    r = tb("compare", base, "-", "--tolerance", "bytes_per_token=0%", stdin=jsonl.read_bytes())
    assert r.code == 0, r.err
    assert "no metric regressed" in r.err
    worse = [dict(x, bytes_per_token=x["bytes_per_token"] * 1.1) for x in records]
    r = tb("compare", "-", jsonl, "--tolerance", "bytes_per_token=1%", stdin=json.dumps(worse).encode())
    assert r.code == 1 and "REGRESSED" in r.err and "bytes_per_token" in r.err
