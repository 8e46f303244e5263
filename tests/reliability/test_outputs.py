"""Class 1: never destroy what is at -o. Refuse an existing output unless --force, decided before any work; with
--force replace it in one step, leaving no .old or temp; tokenizer.json and its .model are one output."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.reliability.conftest import leftovers, snapshot, wait_for

# name -> (argv with {c} for the corpus and {o} for the output, output name, kind: "file" or "dir")
WRITERS = {
    "train-json": (["train", "{c}", "--vocab-size", "300", "-o", "{o}"], "tok.json", "file"),
    "train-folder": (["train", "{c}", "--vocab-size", "300", "-o", "{o}"], "tokdir", "dir"),
    "count": (["count", "{c}", "-o", "{o}"], "counts.parquet", "file"),
    "sweep": (["sweep", "{c}", "--eval", "{c}", "--transition", "0.6", "--vocab-size", "400", "-o", "{o}"],
              "sweepdir", "dir"),
    "eval-output": (["eval", "-t", "gpt2", "-c", "{c}", "-o", "{o}"], "report", "dir"),
    "eval-per-document": (["eval", "-t", "gpt2", "-c", "{c}", "--per-document", "{o}"], "docs.jsonl", "file"),
}


def argv(name, corpus, out):
    args, _, _ = WRITERS[name]
    return [a.replace("{c}", str(corpus)).replace("{o}", str(out)) for a in args]


def _precious(path, as_dir: bool):
    if as_dir:
        path.mkdir()
        (path / "mine.txt").write_text("the user's own file\n")
    else:
        path.write_text("the user's own file\n")
    return snapshot(path)


@pytest.mark.parametrize("existing", ["file", "folder"])
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_existing_output_is_refused_and_kept(tb, tmp_path, corpus, name, existing):
    out = tmp_path / WRITERS[name][1]
    before = _precious(out, existing == "folder")
    r = tb(*argv(name, corpus, out))
    assert r.code == 2
    r.one_line(out.name, "already exists", "--force")
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_refusal_comes_before_the_work(spawn, tmp_path, corpus, name):
    """The corpus is a stdin that never ends: the refusal must come without reading it."""
    out = tmp_path / WRITERS[name][1]
    before = _precious(out, WRITERS[name][2] == "dir")
    args = [a if a != str(corpus) else "-" for a in argv(name, corpus, out)]
    if name == "sweep":  # sweep reads --eval text too; stdin can be only one of them
        args[args.index("--eval") + 1] = str(corpus)
    proc = spawn(*args)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: still running (reading its input) instead of refusing {out}")
    assert code == 2, proc.stderr.read().decode()
    assert "already exists" in proc.stderr.read().decode()
    assert snapshot(out) == before


@pytest.mark.parametrize("existing", ["file", "folder"])
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_force_replaces_in_one_step(tb, tmp_path, corpus, name, existing):
    out = tmp_path / WRITERS[name][1]
    kind = WRITERS[name][2]
    _precious(out, existing == "folder")
    for _ in range(2):  # a second --force run over the first one's output works too
        r = tb(*argv(name, corpus, out), "--force")
        assert r.code == 0, r.err
        assert out.is_dir() == (kind == "dir")
        assert not (out / "mine.txt").exists() if out.is_dir() else b"the user's own" not in out.read_bytes()
        assert leftovers(tmp_path) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["corpus.txt", out.name])


def test_train_to_a_non_json_name_keeps_working(tb, tmp_path, corpus):
    """`-o model.bin` (a file the user has) is refused; with --force it becomes a folder holding tokenizer.json, and
    the next --force run to it works (no hidden .model.bin.old left to trip over)."""
    out = tmp_path / "model.bin"
    out.write_bytes(b"\x00precious")
    r = tb("train", corpus, "--vocab-size", "300", "-o", out)
    assert r.code == 2 and out.read_bytes() == b"\x00precious"
    for _ in range(2):
        r = tb("train", corpus, "--vocab-size", "300", "-o", out, "--force")
        assert r.code == 0, r.err
        assert (out / "tokenizer.json").is_file()
        assert leftovers(tmp_path) == []


def test_sentencepiece_pair_is_one_output(tb, tmp_path, corpus):
    """tokenizer.json and its .model: a write that fails part way (a file size limit standing in for a full disk)
    leaves both old files, byte for byte, and no temps."""
    out = tmp_path / "sp.json"
    r = tb("train", corpus, "--algo", "sp-bpe", "--vocab-size", "400", "-o", out)
    assert r.code == 0, r.err
    model = out.with_suffix(".model")
    old = (out.read_bytes(), model.read_bytes())
    probe = tmp_path / "probe" / "sp.json"  # the sizes the bigger vocabulary's files will have
    assert tb("train", corpus, "--algo", "sp-bpe", "--vocab-size", "3000", "-o", probe).code == 0
    new_json, new_model = probe.stat().st_size, probe.with_suffix(".model").stat().st_size
    limit = max(new_model, corpus.stat().st_size) + 1  # the .model (and sentencepiece's input copy) fit, the .json not
    assert new_json > limit
    r = tb("train", corpus, "--algo", "sp-bpe", "--vocab-size", "3000", "-o", out, "--force", fsize=limit)
    assert r.code == 1
    r.one_line("sp.json", "File too large")
    assert (out.read_bytes(), model.read_bytes()) == old
    assert leftovers(tmp_path) == []


def test_cwd_as_output_is_refused(tb, tmp_path, corpus):
    before = snapshot(tmp_path)
    for out in (".", "./", str(tmp_path)):
        r = tb("train", corpus, "--vocab-size", "300", "-o", out, "--force")
        assert r.code == 2
        r.one_line("current folder")
    assert snapshot(tmp_path) == before


def test_eval_force_with_json_stdout(tb, tmp_path, corpus):
    """eval's --force covers --per-document too, and the records still come out on stdout."""
    docs = tmp_path / "docs.jsonl"
    docs.write_text("old\n")
    r = tb("eval", "-t", "gpt2", "-c", corpus, "--per-document", docs, "--force", "--format", "json")
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in docs.read_text().splitlines()]
    assert sum(row["tokens"] for row in rows) == json.loads(r.out)[0]["tokens"]
    assert wait_for(lambda: leftovers(tmp_path) == [], timeout=1)
