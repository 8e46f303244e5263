"""The command line as users drive it: outputs, exit codes, one-line errors, atomic and deterministic files."""

import json
import os
from pathlib import Path

import pytest
from tokenizers import Tokenizer as HFRaw

from tests.helpers import NPM_FILES


@pytest.fixture
def text_file(tmp_path, english_text):
    path = tmp_path / "en.txt"
    path.write_text(english_text[:60000], encoding="utf-8")
    return path


def test_tokenize_formats(cli, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("Hello world\nsecond line\n", encoding="utf-8")
    ref = HFRaw.from_file(str(NPM_FILES["gpt2"]))
    gpt2 = str(NPM_FILES["gpt2"])
    res = cli("tokenize", "-t", gpt2, path)
    assert res.code == 0
    assert [int(i) for i in res.out.split()] == ref.encode("Hello world\nsecond line\n").ids
    res = cli("tokenize", "-t", gpt2, "--lines", "--format", "count", path)
    assert res.out.split() == [str(len(ref.encode("Hello world").ids)), str(len(ref.encode("second line").ids))]
    res = cli("tokenize", "-t", gpt2, "--format", "count", "-", stdin="Hello world")
    assert res.out.strip() == "2"
    res = cli("tokenize", "-t", gpt2, "--format", "jsonl", "--lines", path)
    rows = [json.loads(line) for line in res.out.splitlines()]
    assert rows[0]["ids"] == [15496, 995] and rows[0]["text"] == "Hello world"
    res = cli("tokenize", "-t", gpt2, "--format", "tokens", "-", stdin="Hello world")
    assert res.out.strip() == '"Hello" " world"'


@pytest.mark.parametrize("algo", ["bpe", "unigram", "wordpiece", "sp-bpe", "sp-unigram"])
def test_train_loads_in_tokenizers_and_transformers_and_is_deterministic(cli, tmp_path, text_file, algo):
    from transformers import PreTrainedTokenizerFast

    first, second = tmp_path / "a.json", tmp_path / "b" / "tok.json"
    for out in (first, second):
        res = cli("train", text_file, "--algo", algo, "--vocab-size", 600, "-o", out, "--special-tokens", "<s>,</s>")
        assert res.code == 0, res.err
    if algo != "wordpiece":  # tokenizers' WordPieceTrainer orders its alphabet by hash: not reproducible
        assert first.read_bytes() == second.read_bytes()
    hf = HFRaw.from_file(str(first))
    assert hf.get_vocab_size() <= 600 and hf.token_to_id("<s>") is not None
    fast = PreTrainedTokenizerFast(tokenizer_file=str(first))
    assert fast("Hello world", add_special_tokens=False)["input_ids"] == hf.encode("Hello world").ids
    if algo.startswith("sp-") or algo == "unigram":
        assert first.with_suffix(".model").stat().st_size > 0
        # the .model is part of the output: byte-identical too (no temp input path recorded in it)
        assert first.with_suffix(".model").read_bytes() == (second.parent / "tok.model").read_bytes()


def test_train_into_folder_and_options(cli, tmp_path, text_file):
    out = tmp_path / "tok"
    res = cli("train", text_file, "-o", out, "--vocab-size", 400, "--min-frequency", 3, "--pretokenizer", "llama3",
              "--normalizer", "nfc")
    assert res.code == 0, res.err
    spec = json.loads((out / "tokenizer.json").read_text())
    assert spec["normalizer"]["type"] == "NFC" and spec["pre_tokenizer"]["type"] == "Sequence"


@pytest.mark.parametrize("args,code,message", [
    (["train", "MISSING.txt", "-o", "x.json"], 1, "MISSING.txt: no such file"),
    (["train", "{text}", "-o", "x.json", "--vocab-size", "100"], 2, "smaller than the byte alphabet"),
    (["train", "{text}", "-o", "x.json", "--algo", "magic"], 2, "--algo must be one of"),
    (["train", "{text}", "-o", "x.json", "--pretokenizer", "magic"], 2, "--pretokenizer must be one of"),
    (["train", "{empty}", "-o", "x.json"], 1, "corpus is empty"),
    (["train", "{binary}", "-o", "x.json"], 1, "binary"),
    (["train", "{badutf8}", "-o", "x.json"], 1, "invalid UTF-8 at byte offset 3"),
    (["train", "{emptydir}", "-o", "x.json"], 1, "holds no files"),
    (["train", "{text}", "-o", "/proc/forbidden/x.json"], 1, "x.json"),
    (["tokenize", "-t", "no-such-zoo-name", "{text}"], 2, "unknown tokenizer 'no-such-zoo-name'"),
    (["tokenize", "-t", "{corrupt}", "{text}"], 1, "not a valid tokenizer.json"),
    (["tokenize", "-t", "{gpt2}", "--format", "xml", "{text}"], 2, "xml"),
])
def test_bad_input_one_line_error(cli, tmp_path, text_file, args, code, message):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.bin").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "bad.txt").write_bytes(b"abc\xffdef")
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "corrupt.json").write_text('{"model": {"type": "BPE", "vocab": []}}')
    subs = {"{text}": str(text_file), "{empty}": str(tmp_path / "empty.txt"), "{binary}": str(tmp_path / "binary.bin"),
            "{badutf8}": str(tmp_path / "bad.txt"), "{emptydir}": str(tmp_path / "emptydir"),
            "{corrupt}": str(tmp_path / "corrupt.json"), "{gpt2}": str(NPM_FILES["gpt2"])}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = cli(*[subs.get(a, a) for a in args])
    finally:
        os.chdir(cwd)
    assert res.code == code, res.err
    assert message in res.err
    assert "Traceback" not in res.err
    assert not (tmp_path / "x.json").exists()  # nothing half-written
    leftovers = [p.name for p in Path(tmp_path).iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_failed_training_keeps_previous_output(cli, tmp_path, text_file):
    out = tmp_path / "tok.json"
    out.write_text("previous")
    assert cli("train", text_file, "-o", out).code == 2 and out.read_text() == "previous"  # refused without --force
    res = cli("train", tmp_path / "missing.txt", "-o", out, "--force")
    assert res.code == 1 and out.read_text() == "previous"


def test_count_shards_then_train_equals_engine_and_hf(cli, tmp_path, english_text):
    """Counting per shard and training on the summed tables gives the same file as the numba engine and HF."""
    lines = english_text.splitlines(keepends=True)
    half = len(lines) // 2
    (tmp_path / "a.txt").write_text("".join(lines[:half]), encoding="utf-8")
    (tmp_path / "b.txt").write_text("".join(lines[half:]), encoding="utf-8")
    (tmp_path / "all.txt").write_text("".join(lines), encoding="utf-8")
    for shard in ("a", "b"):
        assert cli("count", tmp_path / f"{shard}.txt", "-o", tmp_path / f"{shard}.parquet").code == 0
    res = cli("train", "--from-counts", tmp_path / "a.parquet", "--from-counts", tmp_path / "b.parquet",
              "--vocab-size", 1000, "-o", tmp_path / "counts.json", "--special-tokens", "<|endoftext|>")
    assert res.code == 0, res.err
    for engine in ("numba", "hf"):
        res = cli("train", tmp_path / "all.txt", "--vocab-size", 1000, "-o", tmp_path / f"{engine}.json",
                  "--engine", engine, "--special-tokens", "<|endoftext|>")
        assert res.code == 0, res.err
    assert (tmp_path / "counts.json").read_bytes() == (tmp_path / "numba.json").read_bytes()
    assert (tmp_path / "numba.json").read_bytes() == (tmp_path / "hf.json").read_bytes()


def test_count_and_engine_bad_input(cli, tmp_path, text_file):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    res = cli("train", "--from-counts", bad, "-o", tmp_path / "x.json")
    assert res.code == 1 and "bad.parquet" in res.err and "Traceback" not in res.err
    res = cli("train", text_file, "--pretokenizer", "magic", "-o", tmp_path / "x.json")
    assert res.code == 2 and "--pretokenizer must be one of" in res.err
    res = cli("train", "-o", tmp_path / "x.json")
    assert res.code == 2 and "give a corpus" in res.err


@pytest.mark.parametrize("preset", ["cl100k", "whitespace", "whitespace-kept", "none", "qwen2", "o200k"])
def test_every_preset_engine_equals_hf(cli, tmp_path, text_file, preset):
    outs = []
    for engine in ("numba", "hf"):
        out = tmp_path / f"{engine}.json"
        res = cli("train", text_file, "--vocab-size", 700, "--pretokenizer", preset, "--engine", engine, "-o", out)
        assert res.code == 0, res.err
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
