"""`tokbench bytes ...` end to end, with a tiny random Llama on the GPT-2 tokenizer standing in for the LM."""

from __future__ import annotations

import json
import math

M = "random:gpt2"


def test_logprob_json_and_calls(cli):
    r = cli("bytes", "logprob", "--model", M, "Hello world")
    assert r.code == 0, r.err
    rec = json.loads(r.out)[0]
    assert rec["bytes"] == 11 and rec["tokens"] == 2
    assert rec["lm_calls"] == 11 + 1  # one per byte, plus the empty prefix
    assert math.isfinite(rec["bits_per_byte"])
    # the canonical path is one of the covers and renormalising over valid tokens only adds mass
    assert rec["logprob"] >= rec["token_logprob"] - 1e-6


def test_next_top_k(cli):
    r = cli("bytes", "next", "--model", M, "--prefix", "Hello wor", "--top", "3", "--format", "json")
    assert r.code == 0, r.err
    recs = json.loads(r.out)
    assert len(recs) == 3
    probs = [x["prob"] for x in recs]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
    assert all(x["char"] == chr(x["byte"]) for x in recs if 32 <= x["byte"] < 127)


def test_complete_three_ways(cli):
    r = cli("bytes", "complete", "--model", M, "--prefix", "def hel", "--max-bytes", "4", "--suffix", "lo")
    assert r.code == 0, r.err
    rec = json.loads(r.out)[0]
    assert {"exact", "naive", "healing", "exact_suffix_logprob", "naive_suffix_logprob"} <= set(rec)
    assert len(rec["exact"].encode()) <= 4
    assert rec["exact_suffix_logprob"] <= 0


def test_bpb_and_ensemble(cli, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("Tokenizers split text into pieces. Bytes do not care.", encoding="utf-8")
    r = cli("bytes", "bpb", "--model", M, "--corpus", str(f), "--max-bytes", "24", "--format", "json")
    assert r.code == 0, r.err
    rec = json.loads(r.out)[0]
    assert rec["bytes"] == 24 and rec["exact_bits_per_byte"] <= rec["token_bits_per_byte"] + 1e-9
    r = cli("bytes", "ensemble", "--model", M, "--model", "random:llama3", "--corpus", str(f), "--max-bytes", "12",
            "--format", "json")
    assert r.code == 0, r.err
    rec = json.loads(r.out)[0]
    a, b, mix = rec[f"{M}_bits_per_byte"], rec["random:llama3_bits_per_byte"], rec["mixture_bits_per_byte"]
    assert mix <= max(a, b) + 1e-9  # a mixture is never worse than its worst member (per byte, log of a mean)


def test_usage_errors(cli):
    r = cli("bytes", "next", "--model", "nosuch-model", "--prefix", "x")
    assert r.code == 1 and "nosuch-model" in r.err and "Traceback" not in r.err  # InputError, one line
    r = cli("bytes", "ensemble", "--model", M, "--corpus", "x")
    assert r.code == 2


def test_literal_spiece_underline_is_walked_as_sentencepiece_reads_it(cli):
    """mistral-v1 reads a literal ▁ as a space (sentencepiece gives "a▁b" and "a b" the same pieces), so the byte
    walk goes over the bytes its tokens spell: no resync, sentencepiece's own ids as the final state, and the same
    probabilities as the space-spelt text; bits per byte still divide by the text's own UTF-8 bytes."""
    import numpy as np
    import pytest
    import sentencepiece as spm

    from tokbench.byteprob.commands import logprob_record, next_records, open_model
    from tokbench.tokenizer import zoo

    sp = spm.SentencePieceProcessor(model_file=str(zoo.resolve("mistral-v1")))
    text, spaced = "a▁b x▁▁y ▁z▁", "a b x  y  z "
    assert sp.encode(text) == sp.encode(spaced)
    blm = open_model("random:mistral-v1")
    assert blm.view(text) == blm.view(spaced) == spaced.encode()
    rec, ref = logprob_record(blm, text), logprob_record(blm, spaced)
    assert rec["resyncs"] == ref["resyncs"] == 0
    assert blm.state(blm.view(text)).T == tuple(sp.encode(text))
    assert rec["bytes"] == len(text.encode()) > ref["bytes"] == len(spaced)
    assert rec["logprob"] == pytest.approx(ref["logprob"], rel=1e-6) and np.isfinite(rec["logprob"])  # float32 LM
    assert rec["token_logprob"] == ref["token_logprob"] and rec["logprob"] >= rec["token_logprob"] - 1e-6
    assert rec["bits_per_byte"] == pytest.approx(-rec["logprob"] / np.log(2) / len(text.encode()))
    assert next_records(blm, "x▁", 5) == next_records(blm, "x ", 5)
    r = cli("bytes", "logprob", "--model", "random:mistral-v1", text)  # the command itself, end to end
    assert r.code == 0, r.err
    out = json.loads(r.out)[0]
    assert out["resyncs"] == 0 and out["logprob"] == pytest.approx(rec["logprob"], rel=1e-6)


def test_ensemble_members_that_read_different_bytes_say_so(tmp_path):
    from tokbench.byteprob.commands import ensemble_records, open_model

    blms = [open_model(M), open_model("random:mistral-v1")]
    recs = ensemble_records(blms, ["g", "m"], [("same", "a b"), ("differ", "a▁b")], max_bytes=16)
    assert recs[0]["bytes"] == 3 and recs[0]["mixture_bits_per_byte"] > 0 and "reason" not in recs[0]
    assert recs[1]["mixture_bits_per_byte"] is None and "different bytes" in recs[1]["reason"]
