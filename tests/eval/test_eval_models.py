"""`tokbench eval --model`: the LM's records carry bits per byte that equal tokbench.lm and tokbench.byteprob's own."""

import math

import pytest

from tokbench.byteprob import ByteLM
from tokbench.byteprob.hf import HFTokenLM, tiny_random_llama
from tokbench.eval import gate
from tokbench.eval.models import ModelScorer
from tokbench.eval.run import Evaluation


class TinyScorer(ModelScorer):
    """A ModelScorer over a tiny random Llama with GPT-2's vocabulary (no download, seconds to run)."""

    def __post_init__(self):
        from tokbench.lm import LM
        from tokbench.tokenizer import load_tokenizer

        tok = load_tokenizer("gpt2")
        model = tiny_random_llama(tok.vocab_size, seed=0)
        self.lm = LM(model=model, tokenizer=tok, folder=None, name=self.spec)
        self.tokenizer = tok
        eos = tok.roles["eos"]
        self.byte_lm = ByteLM(tok, HFTokenLM(model, eos_id=eos, bos_id=eos, vocab_size=tok.vocab_size))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("c")
    (folder / "a.txt").write_text("Hello world. This is a short document.\n", encoding="utf-8")
    (folder / "b.txt").write_text("İstanbul'da ılık bir gün 🤗 and some code: x = f(1)\n", encoding="utf-8")
    return folder


def test_model_records_equal_the_libraries(corpus):
    scorer = TinyScorer("tiny", max_bytes=10_000, exact_bytes=40)
    records = Evaluation(["cl100k_base"], [str(corpus)], models=[scorer]).records
    by_name = {r["tokenizer"]: r for r in records}
    assert by_name["cl100k_base"]["bits_per_byte"] is None and by_name["cl100k_base"]["exact_bits_per_byte"] is None
    rec = by_name["tiny"]
    docs = [(corpus / n).read_text(encoding="utf-8") for n in ("a.txt", "b.txt")]
    expected = scorer.lm.bits_per_byte(docs, progress=False)["bits_per_byte"]
    assert rec["bits_per_byte"] == pytest.approx(expected, rel=1e-9)
    head = docs[0][:40]  # the corpus's first 40 bytes (ASCII here), scored byte by byte
    exact = -scorer.byte_lm.logprob(head.encode()) / (math.log(2) * len(head.encode()))
    assert rec["exact_bits_per_byte"] == pytest.approx(exact, rel=1e-6)  # float32 model, KV cache vs fresh state
    assert rec["bytes_per_token"] > 0  # the model's tokenizer is evaluated like any other


def test_gate_covers_model_metrics(corpus):
    scorer = TinyScorer("tiny", max_bytes=10_000, exact_bytes=0)
    new = Evaluation([], [str(corpus)], models=[scorer]).records
    old = [dict(r, bits_per_byte=r["bits_per_byte"] * 0.9) for r in new]  # the baseline model was better
    rows = gate.diff(old, new, gate.parse_tolerances(["bits_per_byte=1%"]))
    assert [r["metric"] for r in gate.regressions(rows)] == ["bits_per_byte"]


def test_allow_special_reaches_the_model_metric(tmp_path):
    """`eval --model --allow-special`: the model's bits per byte read <|endoftext|> as the one token its tokenizer's
    record counts, equal to tokbench.lm on the allowing tokenizer (and unlike the plain reading)."""
    from tokbench.lm import LM

    (tmp_path / "chat.txt").write_text("<|endoftext|>Hello world.<|endoftext|> Bye.<|endoftext|>\n", encoding="utf-8")
    scorer = TinyScorer("tiny", max_bytes=10_000, exact_bytes=0)
    (plain,) = Evaluation([], [str(tmp_path)], models=[scorer]).records
    (allowed,) = Evaluation([], [str(tmp_path)], models=[scorer], allow_special=True).records
    docs = [(tmp_path / "chat.txt").read_text(encoding="utf-8")]
    view = LM(model=scorer.lm.model, tokenizer=scorer.lm.tokenizer.allowing_special(), folder=None, name="v")
    assert allowed["bits_per_byte"] == pytest.approx(view.bits_per_byte(docs, progress=False)["bits_per_byte"], rel=1e-9)
    assert plain["bits_per_byte"] == pytest.approx(scorer.lm.bits_per_byte(docs, progress=False)["bits_per_byte"],
                                                   rel=1e-9)
    assert allowed["tokens"] < plain["tokens"] and allowed["bits_per_byte"] != plain["bits_per_byte"]
