"""CI-native gate outputs: JUnit XML (parsed back with ElementTree) and the Markdown job summary, via the CLI."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from tokbench.eval import gate


def _records(cli, gpt2_json, texts, tmp_path):
    r = cli("eval", "-t", gpt2_json, "-c", f"{texts}:en", "--format", "json", "--no-roundtrip")
    assert r.code == 0, r.err
    recs = json.loads(r.out)
    base = tmp_path / "base.json"
    base.write_text(r.out)
    # a baseline that was 5% better in bytes/token and 3% worse in fertility: one regression, one improvement
    better = [dict(x, bytes_per_token=x["bytes_per_token"] * 1.05, fertility=x["fertility"] * 1.03) for x in recs]
    (tmp_path / "better.json").write_text(json.dumps(better))
    return base, recs, better


def test_junit_has_one_case_per_gated_metric_and_fails_the_regression(cli, gpt2_json, texts, tmp_path):
    base, recs, better = _records(cli, gpt2_json, texts, tmp_path)
    out = tmp_path / "gate.xml"
    r = cli("eval", "-t", gpt2_json, "-c", f"{texts}:en", "--no-roundtrip", "--baseline", tmp_path / "better.json",
            "--tolerance", "bytes_per_token=1%", "--tolerance", "fertility=1%", "--tolerance", "premium=0%",
            "--junit", out)
    assert r.code == 1  # the exit code is the gate's, as before
    suite = ET.parse(out).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(recs) * 3 and suite.get("tests") == str(len(cases))
    by = {c.get("name"): c for c in cases}
    fail = by["bytes_per_token"].find("failure")
    assert fail is not None and suite.get("failures") == "1"
    assert f"{better[0]['bytes_per_token']:.6g}" in fail.get("message") and f"{recs[0]['bytes_per_token']:.6g}" \
        in fail.get("message")
    assert by["fertility"].find("failure") is None  # improved: passes
    assert by["premium"].find("skipped") is not None and suite.get("skipped") == "1"  # null: does not apply
    assert by["bytes_per_token"].get("classname") == f"{recs[0]['tokenizer']} on {recs[0]['corpus']}"
    # never replaced without --force
    r = cli("compare", tmp_path / "better.json", base, "--tolerance", "bytes_per_token=1%", "--junit", out)
    assert r.code == 2 and "already exists" in r.err
    r = cli("compare", base, base, "--tolerance", "bytes_per_token=1%", "--junit", out, "--force")
    assert r.code == 0 and ET.parse(out).getroot().get("failures") == "0"


def test_markdown_summary_lists_what_moved_then_folds_the_rest(cli, gpt2_json, texts, tmp_path):
    base, recs, better = _records(cli, gpt2_json, texts, tmp_path)
    r = cli("compare", tmp_path / "better.json", base, "--tolerance", "bytes_per_token=1%", "--tolerance",
            "fertility=1%", "--format", "md")
    assert r.code == 1
    head, folded = r.out.split("<details>")
    assert head.startswith("### tokbench gate FAILED: 1 regressed, 1 improved beyond tolerance of 2 gated checks")
    rows = [ln for ln in head.splitlines() if ln.startswith("| **")]
    assert rows[0].startswith("| **regressed** |") and "bytes_per_token" in rows[0] and "-4.76%" in rows[0]
    assert rows[1].startswith("| **improved** |") and "fertility" in rows[1]
    assert "| tokenizer | corpus | metric |" in folded and folded.rstrip().endswith("</details>")
    # eval with a baseline: the same summary, with every metric folded below
    r = cli("eval", "-t", gpt2_json, "-c", f"{texts}:en", "--no-roundtrip", "--baseline", base, "--format", "md")
    assert r.code == 0 and r.out.startswith("### tokbench gate passed: 0 regressed")
    assert "<summary>all metrics</summary>" in r.out and "| tokenizer | corpus | lang | tokens |" in r.out


def test_compare_writes_a_report_with_the_changes_on_top(cli, gpt2_json, texts, tmp_path):
    base, recs, better = _records(cli, gpt2_json, texts, tmp_path)
    r = cli("compare", tmp_path / "better.json", base, "--tolerance", "bytes_per_token=1%", "-o", tmp_path / "rep")
    assert r.code == 1
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "1 regressed</b>" in page and "class='changes bad'" in page
    assert json.loads((tmp_path / "rep" / "metrics.json").read_text()) == recs


def test_improvements_respect_the_tolerance():
    rows = [gate._row({"tokenizer": "t", "corpus": "c"}, "bytes_per_token", 4.0, 4.02, 0.005, False, False, 0.01),
            gate._row({"tokenizer": "t", "corpus": "c"}, "fertility", 2.0, 1.9, -0.05, False, False, 0.01),
            gate._row({"tokenizer": "t", "corpus": "c"}, "bytes", 10, 11, 0.1, False, False, None)]
    assert [r["metric"] for r in gate.improvements(rows)] == ["fertility"]  # within 1%; no direction
