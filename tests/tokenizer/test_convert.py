"""SentencePiece -> tokenizer.json against sentencepiece itself, on random strings rich in runs of spaces."""

import random

import pytest
import sentencepiece as spm

from tokbench.tokenizer import load_tokenizer, zoo
from tokbench.tokenizer.convert import sentencepiece_to_hf
from tokbench.train.backends import train_sentencepiece

PARTS = [" ", "  ", "   ", "    ", "\t", "\n", " \n", "a", "b", "é", "中", "7", "42", ".", ",", "the", " the", "ing",
         "▁", "Hello", " world", "\u00a0", "'s", "--"]


def space_rich(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PARTS) for _ in range(rng.randint(1, 16))) for _ in range(n)]


@pytest.fixture(scope="module")
def models(tmp_path_factory, english_text):
    folder = tmp_path_factory.mktemp("sp")
    model, _ = train_sentencepiece(english_text.splitlines(keepends=True), "sp-bpe", 800)
    (folder / "sp-bpe.model").write_bytes(model)
    return {"mistral-v1": zoo.resolve("mistral-v1"), "sp-bpe": folder / "sp-bpe.model"}


@pytest.mark.parametrize("name", ["mistral-v1", "sp-bpe"])
def test_converted_bpe_equals_sentencepiece(models, name, tmp_path):
    """Zero mismatches: merges ranked by piece score, as SentencePiece merges (ids would rank `▁▁` first)."""
    sp = spm.SentencePieceProcessor(model_file=str(models[name]))
    path = tmp_path / "tokenizer.json"
    path.write_text(sentencepiece_to_hf(models[name]).to_str(), encoding="utf-8")
    converted = load_tokenizer(path)  # the adapter every command uses on a saved tokenizer.json
    texts = space_rich(3000) + ["a  b", " a", "  ", "x   y    z", " \n  lead"]
    expected = sp.encode(texts)
    bad = [(t, e, g) for t, e, g in zip(texts, expected, converted.encode_batch(texts)) if e != g]
    assert not bad, f"{len(bad)} of {len(texts)} differ, e.g. {bad[0]}"


# ---- every path that encodes with a converted file agrees with sentencepiece on the same space-rich strings ----
MIXED = space_rich(300, seed=1) + ["a  b", " a", "x   y    z", " \n  lead", "tail  "]


@pytest.fixture(scope="module")
def mistral_sp():
    return spm.SentencePieceProcessor(model_file=str(zoo.resolve("mistral-v1")))


def test_transplanted_models_saved_tokenizer_json_equals_sentencepiece(tmp_path, mistral_sp):
    """A tiny model transplanted onto mistral-v1: its saved tokenizer.json, read by `tokenizers` (as transformers
    does) and by tokbench, gives sentencepiece's ids (the old model's <|endoftext|> appended after the vocabulary)."""
    from tokenizers import Tokenizer

    from tests.helpers import make_model, stdlib_text, train_bpe
    from tokbench.transplant.core import transplant

    import json as json_module

    old = train_bpe(stdlib_text(json_module.decoder), 400, tmp_path / "old.json")
    model = make_model(tmp_path / "model", old, tied=True)
    transplant(str(model), "mistral-v1", "random", out=tmp_path / "out")
    saved = tmp_path / "out" / "tokenizer.json"
    expected = mistral_sp.encode(MIXED)
    hf_ids = [e.ids for e in Tokenizer.from_file(str(saved)).encode_batch(MIXED, add_special_tokens=False)]
    assert hf_ids == expected
    assert load_tokenizer(saved).encode_batch(MIXED) == expected


def test_eval_on_a_converted_file_counts_as_sentencepiece(tmp_path, mistral_sp):
    """`tokbench eval` on a converted tokenizer.json: per-document token counts are sentencepiece's."""
    import io
    import json

    from tokbench.eval.run import Evaluation

    path = tmp_path / "tokenizer.json"
    path.write_text(sentencepiece_to_hf(zoo.resolve("mistral-v1")).to_str(), encoding="utf-8")
    corpus = tmp_path / "mixed.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in MIXED), encoding="utf-8")
    rows = io.StringIO()
    (rec,) = Evaluation([str(path)], [str(corpus)], per_document=rows, roundtrip=False).records
    counts = [json.loads(line)["tokens"] for line in rows.getvalue().splitlines()]
    assert counts == [len(ids) for ids in mistral_sp.encode(MIXED)]
    assert rec["tokens"] == sum(counts)


@pytest.mark.parametrize("form", ["model", "tokenizer.json"])
def test_byteprob_on_a_converted_file_walks_sentencepiece_encodings(tmp_path, mistral_sp, form):
    """byteprob's validity masks come from the converted merges (the .model's HF form, or a converted tokenizer.json
    itself): walking space-rich strings byte by byte never resyncs, and the committed state is sentencepiece's. The
    walk reads the prepared bytes, as the byte LM sees text: sentencepiece reads a literal ▁ as a space."""
    from tests.byteprob.brute import ToyLM
    from tokbench.byteprob import ByteLM

    if form == "model":
        tok = load_tokenizer("mistral-v1")
    else:
        path = tmp_path / "tokenizer.json"
        path.write_text(sentencepiece_to_hf(zoo.resolve("mistral-v1")).to_str(), encoding="utf-8")
        tok = load_tokenizer(path)
    blm = ByteLM(tok, ToyLM(tok.vocab_size, tok.roles["eos"], seed=2))
    assert blm.validity.kind == "bpe"
    for text in [t for t in MIXED[:24] if t.strip()] + ["a  b", "x   y    z", " \n  lead"]:
        s = blm.root()
        for b in tok.prepare(text)[len(blm.dummy):]:
            s = s.advance(b)
        assert s.T == tuple(mistral_sp.encode(text)), text
    assert blm.stats.resyncs == 0
