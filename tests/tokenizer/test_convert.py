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
