"""`tokbench eval --model`: the LM's records carry bits per byte that equal tokbench.lm and tokbench.byteprob's own."""

import json
import math

import pytest

from tests.helpers import SPECIAL, make_model, stdlib_text, train_bpe
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


def _metaspace_bpe(text: str, path):
    """A SentencePiece-style BPE (Metaspace: a dummy ▁ before the text), <|endoftext|> special, as tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Metaspace()
    hf.decoder = decoders.Metaspace()
    hf.train_from_iterator(text.splitlines(True), trainers.BpeTrainer(vocab_size=400, special_tokens=[SPECIAL],
                                                                       show_progress=False))
    hf.save(str(path))
    return path


@pytest.fixture(scope="module")
def special_models(tmp_path_factory):
    """HF folders of tiny random Llamas: a byte-level BPE and a Metaspace one, both with <|endoftext|> special; and a
    corpus folder of two short documents holding it (under --exact-bytes' 128 bytes in all, so every byte is scored)."""
    import textwrap

    root = tmp_path_factory.mktemp("special_models")
    text = stdlib_text(textwrap)
    byte_level = make_model(root / "bl", train_bpe(text, 600, root / "bl.json"), tied=False)
    metaspace = make_model(root / "ms", _metaspace_bpe(text, root / "ms.json"), tied=False)
    corpus = root / "chat"
    corpus.mkdir()
    (corpus / "a.txt").write_text(f"{SPECIAL}Hello world.{SPECIAL} Bye", encoding="utf-8")
    (corpus / "b.txt").write_text(f"x = 1{SPECIAL}{SPECIAL}ok <|endoftext|", encoding="utf-8")
    assert sum(len(p.read_bytes()) for p in corpus.iterdir()) < 128
    return byte_level, metaspace, corpus


def _eval_record(cli, model, corpus, *flags):
    res = cli("eval", "--model", model, "--corpus", corpus, "--format", "json", *flags)
    assert res.code == 0, res.err
    (rec,) = json.loads(res.out)
    return rec


def _bytes_bpb(cli, model, corpus, *flags):
    """`bytes bpb` pooled as eval pools it: the per-document figures weighted by their bytes."""
    res = cli("bytes", "bpb", "--model", model, "--corpus", corpus, "--max-bytes", "128", "--format", "json", *flags)
    assert res.code == 0, res.err
    recs = json.loads(res.out)
    assert len(recs) == 2
    return sum(r["exact_bits_per_byte"] * r["bytes"] for r in recs) / sum(r["bytes"] for r in recs)


def test_exact_column_reads_specials_as_bytes_bpb_does(cli, special_models):
    """`eval --model --allow-special`: exact_bits_per_byte is `bytes bpb --allow-special`'s figure on the same text
    and model (each <|endoftext|> one event); without the flag it is `bytes bpb`'s plain-text figure, as before."""
    model, _, corpus = special_models
    allowed = _eval_record(cli, model, corpus, "--allow-special")
    plain = _eval_record(cli, model, corpus)
    assert allowed["exact_bits_per_byte"] == _bytes_bpb(cli, model, corpus, "--allow-special")
    assert plain["exact_bits_per_byte"] == _bytes_bpb(cli, model, corpus)
    assert allowed["exact_bits_per_byte"] != plain["exact_bits_per_byte"]
    assert "reason" not in allowed and "reason" not in plain


def test_exact_column_of_a_dummy_prefix_tokenizer_is_null_with_a_reason(cli, special_models):
    """Where `bytes bpb --allow-special` refuses (a dummy prefix), eval's exact column is null with that line as its
    reason, not the plain-text walk; the token-level figure is still computed, and without the flag nothing changes."""
    _, model, corpus = special_models
    refused = cli("bytes", "bpb", "--model", model, "--corpus", corpus, "--allow-special")
    assert refused.code == 2 and "dummy prefix (▁)" in refused.err
    rec = _eval_record(cli, model, corpus, "--allow-special")
    assert rec["exact_bits_per_byte"] is None
    assert rec["reason"].startswith("exact_bits_per_byte is null: ") and "dummy prefix (▁)" in rec["reason"]
    assert rec["reason"].split(": ", 1)[1] in refused.err
    plain = _eval_record(cli, model, corpus)
    assert isinstance(rec["bits_per_byte"], float) and rec["bits_per_byte"] != plain["bits_per_byte"]
    assert plain["exact_bits_per_byte"] == _bytes_bpb(cli, model, corpus) and "reason" not in plain
    off = _eval_record(cli, model, corpus, "--allow-special", "--exact-bytes", "0")
    assert off["exact_bits_per_byte"] is None and "reason" not in off  # the figure is off, not refused
