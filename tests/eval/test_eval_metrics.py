"""Metric values against independent references: the reference tokenizers' own counts, hand formulas, fixtures."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import regex

from tokbench.eval import metrics
from tokbench.eval.run import Evaluation, evaluate


def test_renyi_fixture_from_tokenization_scorer():
    counts = list(Counter("pick @@ed pick @@l @@ed pick @@les".split()).values())
    assert metrics.renyi_efficiency(counts, alpha=2.5) == pytest.approx(0.82651, abs=5e-6)
    assert metrics.renyi_efficiency(counts, alpha=1) == pytest.approx(0.92119, abs=5e-6)  # Shannon
    # nominal |V|: same entropy over log2 of the declared vocabulary
    h = math.log2(sum((c / 7) ** 2.5 for c in counts)) / (1 - 2.5)
    assert metrics.renyi_efficiency(counts, vocab_size=1000) == pytest.approx(h / math.log2(1000))
    assert metrics.renyi_efficiency([5]) is None  # one observed type: log2|V| = 0, not applicable


def test_record_has_exactly_the_issue_keys(gpt2, texts):
    keys = ["tokenizer", "corpus", "lang", "tokens", "bytes", "chars", "words", "bytes_per_token", "chars_per_token",
            "tokens_per_kb", "fertility", "continued_words", "renyi_efficiency", "renyi_efficiency_observed",
            "vocab_utilization", "vocab_size", "gini", "avg_token_rank", "digit_group_share", "digit_split_entropy",
            "code_token_alignment", "code_boundary_recall", "invalid_utf8_token_share", "split_char_share",
            "roundtrip_exact_rate", "unk_rate", "byte_fallback_rate", "cross_whitespace_share",
            "mean_words_per_token", "word_percent_unique", "word_percent_weighted", "tr_percent_unique",
            "tr_percent_weighted", "pure_percent_unique",
            "pure_percent_weighted", "no_verdict_unique", "morph_precision", "morph_recall", "morph_f1", "premium",
            "premium_min", "premium_median", "premium_max",  # issue 16: per-document parity spread
            "throughput_mb_s", "throughput_cpu_mb_s", "first_use_s",  # issue 15: warm throughput, load + first encode apart
            "bits_per_byte", "exact_bits_per_byte",  # issue 6: model metrics, null without --model
            "corpus_hash"]  # issue 14: which text was measured (the gate refuses a baseline of other text)
    (rec,) = evaluate([gpt2], [str(texts)])
    assert list(rec) == keys
    # metrics that do not apply are null, never 0: no unk token, no byte fallback, no language, no parallel text
    for k in ("unk_rate", "byte_fallback_rate", "tr_percent_unique", "pure_percent_weighted", "no_verdict_unique",
              "morph_f1", "premium", "bits_per_byte", "exact_bits_per_byte", "code_token_alignment", "premium_max"):
        assert rec[k] is None, k


def _docs(folder):
    return [p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())]


def test_counts_match_hf_tokenizers(gpt2_json, texts):
    from tokenizers import Tokenizer

    ref = Tokenizer.from_file(str(gpt2_json))
    docs = _docs(texts)
    ref_ids = [ref.encode(d, add_special_tokens=False).ids for d in docs]
    (rec,) = evaluate([str(gpt2_json)], [f"{texts}:en"])
    assert rec["tokens"] == sum(map(len, ref_ids))
    assert rec["bytes"] == sum(len(d.encode()) for d in docs)
    assert rec["chars"] == sum(map(len, docs))
    assert rec["bytes_per_token"] == pytest.approx(rec["bytes"] / rec["tokens"])
    assert rec["vocab_utilization"] == pytest.approx(len({i for ids in ref_ids for i in ids}) / ref.get_vocab_size())
    c = np.bincount(np.concatenate(ref_ids))
    assert rec["renyi_efficiency_observed"] == pytest.approx(metrics.renyi_efficiency(c))
    assert rec["roundtrip_exact_rate"] == 1.0


def test_counts_match_tiktoken(cl100k_ranks, cl100k_file, texts):
    import tiktoken

    from tokbench.tokenizer.presets import pattern

    enc = tiktoken.Encoding("cl100k_test", pat_str=pattern("cl100k"), mergeable_ranks=cl100k_ranks, special_tokens={})
    docs = _docs(texts)
    (rec,) = evaluate([str(cl100k_file)], [str(texts)])
    assert rec["tokens"] == sum(len(enc.encode_ordinary(d)) for d in docs)


def test_counts_match_sentencepiece(sp_model, texts):
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    docs = _docs(texts)
    ids = [sp.encode(d) for d in docs]
    (rec,) = evaluate([str(sp_model)], [str(texts)])
    assert rec["tokens"] == sum(map(len, ids))
    # this model has an <unk> and <0xNN> byte-fallback pieces: both rates apply (numbers, not null)
    fallback = {i for i in range(sp.get_piece_size()) if regex.fullmatch(r"<0x[0-9A-F]{2}>", sp.id_to_piece(i))}
    n_fb = sum(1 for d in ids for i in d if i in fallback)
    assert rec["byte_fallback_rate"] == pytest.approx(n_fb / rec["tokens"])
    assert rec["unk_rate"] == pytest.approx(sum(1 for d in ids for i in d if i == sp.unk_id()) / rec["tokens"])


def test_fertility_and_continued_words_against_offsets(gpt2_json, tmp_path):
    """PCW computed independently from the reference tokenizer's character offsets."""
    from tokenizers import Tokenizer

    text = "Tokenization of unbelievably long words, e.g. antidisestablishmentarianism, isn't trivial 12345."
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    ref = Tokenizer.from_file(str(gpt2_json)).encode(text, add_special_tokens=False)
    words = [m.span() for m in metrics.WORD_RE.finditer(text)]
    split = 0
    for s, e in words:
        n = sum(1 for (a, b) in ref.offsets if a < e and b > s)
        split += n >= 2
    (rec,) = evaluate([str(gpt2_json)], [str(tmp_path / "a.txt")])
    assert rec["words"] == len(words) == 11  # e.g. -> "e", "g"; isn't is one word
    assert rec["fertility"] == pytest.approx(len(ref.ids) / len(words))
    assert rec["continued_words"] == pytest.approx(split / len(words))


def test_supertoken_metrics_on_a_multiword_vocabulary(tmp_path):
    """A WordLevel vocabulary with a token that spans a space: the share and words/token follow by hand."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "of the": 1, "end": 2, " ": 3, "a": 4}
    hf = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    hf.pre_tokenizer = pre_tokenizers.Split(regex_pattern(), behavior="isolated")
    path = tmp_path / "tok.json"
    hf.save(str(path))
    (tmp_path / "c.txt").write_text("of the end a", encoding="utf-8")
    ev = Evaluation([str(path)], [str(tmp_path / "c.txt")])
    (rec,) = ev.records
    # tokens: "of the", " ", "end", " ", "a" -> 5 tokens, 1 crosses whitespace; word-bearing tokens: 3 touching 2+1+1
    assert rec["tokens"] == 5
    assert rec["cross_whitespace_share"] == pytest.approx(1 / 5)
    assert rec["mean_words_per_token"] == pytest.approx(4 / 3)


def regex_pattern():
    from tokenizers import Regex

    return Regex(r"of the|\S+|\s+")


def test_empty_corpus_is_a_clear_error(gpt2, tmp_path):
    from tokbench.errors import InputError

    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        evaluate([gpt2], [str(tmp_path / "empty.txt")])
