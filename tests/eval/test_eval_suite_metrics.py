"""Issue 16's metrics (TokEval's Gini and average rank, digit handling, code alignment, UTF-8 integrity, parity
spread) against hand-computed values and brute force over real tokenizers."""
from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest
import regex

from tokbench.eval import metrics
from tokbench.eval.metrics import DocFacts, Stats
from tokbench.eval.run import Evaluation, evaluate


def _stats(**extra) -> Stats:
    s = Stats("t", "c", None, 10)
    s.extra.update(extra)
    return s


def test_gini_hand_values_and_mean_absolute_difference():
    assert metrics.gini([4, 4, 4, 4]) == pytest.approx(0.0)
    assert metrics.gini([0, 0, 7]) == pytest.approx(0.0)  # one used token: nothing unequal (unused ids left out)
    assert metrics.gini([1, 3]) == pytest.approx(0.25)  # |1-3| * 2 / (2 * 2^2 * 2)
    assert metrics.gini([0, 0]) is None
    rng = random.Random(0)
    c = [rng.randint(1, 50) for _ in range(40)]
    mad = sum(abs(a - b) for a in c for b in c) / (2 * len(c) ** 2 * (sum(c) / len(c)))
    assert metrics.gini(c) == pytest.approx(mad)


def test_average_rank_as_tokeval_computes_it():
    assert metrics.mean_frequency_rank([0, 5, 3, 2]) == pytest.approx((5 * 1 + 3 * 2 + 2 * 3) / 10)
    rng = random.Random(1)
    tokens = [rng.choice("abcdefghij") for _ in range(500)]
    ranks = {t: r + 1 for r, (t, _) in enumerate(Counter(tokens).most_common())}  # TokEval's procedure
    counts = list(Counter(tokens).values())
    assert metrics.mean_frequency_rank(counts) == pytest.approx(np.mean([ranks[t] for t in tokens]))


def test_digit_groups_and_split_entropy_by_hand():
    assert metrics.digit_groups(7) == ((3, 6), (1, 4))
    assert metrics.digit_groups(6) == ((3,), (3,))
    assert metrics.digit_groups(3) == ((), ())
    splits = Counter({(5, (3,)): 2, (5, (2,)): 1, (5, (1,)): 1, (3, ()): 3, (3, (1,)): 1})
    s = _stats(digit_splits=splits)
    assert metrics.digit_group_share(s) == pytest.approx((2 + 1 + 3) / 8)  # 123|45, 12|345, 123 whole
    # length 5: cuts seen 2, 1, 1 times -> 1.5 bits; length 3: 3, 1 -> 0.8113 bits; weighted by 4/8 each
    h3 = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert metrics.digit_split_entropy(s) == pytest.approx(0.5 * 1.5 + 0.5 * h3)
    assert metrics.digit_group_share(_stats()) is None and metrics.digit_split_entropy(_stats()) is None


def _brute_digits(tok, texts):
    """Independent reference: per digit run, the token boundaries inside it, from the adapter's own token bytes."""
    cuts = Counter()
    for text in texts:
        ids = tok.encode(text)
        ends, pos = set(), 0
        for i in ids:
            pos += len(tok.token_bytes(i))
            ends.add(pos)
        data = text.encode()
        for m in regex.finditer(rb"[0-9]{2,}", data):
            a, b = m.span()
            cuts[(b - a, tuple(x - a for x in range(a + 1, b) if x in ends))] += 1
    return cuts


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base"])
def test_digit_metrics_match_brute_force_on_real_tokenizers(name, tmp_path):
    from tokbench.tokenizer import load_tokenizer

    tok = load_tokenizer(name)
    rng = random.Random(2)
    texts = [" ".join(str(rng.randint(10, 10 ** rng.randint(2, 9))) for _ in range(40)) + f" in {1990 + k}."
             for k in range(5)]
    for k, t in enumerate(texts):
        (tmp_path / f"{k}.txt").write_text(t, encoding="utf-8")
    (rec,) = evaluate([tok], [str(tmp_path)])
    ref = _brute_digits(tok, texts)
    assert rec["digit_group_share"] == pytest.approx(metrics.digit_group_share(_stats(digit_splits=ref)))
    assert rec["digit_split_entropy"] == pytest.approx(metrics.digit_split_entropy(_stats(digit_splits=ref)))
    if name == "cl100k_base":  # pre-tokenizes digits into runs of 1-3 from the left: every number is grouped
        assert rec["digit_group_share"] == 1.0 and rec["digit_split_entropy"] == 0.0
    else:  # gpt2 merges whatever digit pairs were frequent: neither grouped nor consistent
        assert rec["digit_group_share"] < 0.9 and rec["digit_split_entropy"] > 0.1


def test_code_alignment_by_hand():
    text = "x=foo(1)\n"
    facts = metrics.doc_facts(text, text.encode())
    assert facts.code_spans.tolist() == [[0, 1], [1, 2], [2, 5], [5, 6], [6, 7], [7, 8]]  # x = foo ( 1 )
    s = _stats()
    metrics.observe_document(s, facts, text.encode(), text.encode(), np.array([2, 5, 8, 9]))  # x= | foo | (1) | \n
    assert metrics.code_token_alignment(s) == pytest.approx(2 / 4)  # foo and \n lie within one lexical token
    assert metrics.code_boundary_recall(s) == pytest.approx(2 / 5)  # of x|=|foo|(|1|), the cuts at 2 and 5
    # whitespace between lexical tokens is free: " foo" after "x =" is aligned and its cut counts for the gap
    text = "x = foo\n"
    s = _stats()
    metrics.observe_document(s, metrics.doc_facts(text, text.encode()), text.encode(), text.encode(),
                             np.array([1, 3, 7, 8]))  # x | " =" | " foo" | \n
    assert metrics.code_token_alignment(s) == 1.0 and metrics.code_boundary_recall(s) == 1.0
    # prose, a lone word and broken code are not Python: null, never 0
    for t in ("The weather is nice today.", "hello", "def f(:\n  pass\n"):
        assert metrics.python_spans(t) is None, t
    assert metrics.code_token_alignment(_stats()) is None


def test_code_alignment_matches_brute_force_on_bundled_python(tmp_path):
    import io
    import tokenize

    from tokbench.corpus import Corpus, bundled
    from tokbench.tokenizer import load_tokenizer

    tok = load_tokenizer("cl100k_base")
    docs = list(Corpus([str(bundled("code-py"))]).documents())[:4]
    aligned = total = hit = gaps = 0
    for doc in docs:
        # lexical tokens as byte sets, from tokenize's (row, col) positions, computed line by line
        lines = doc.split("\n")
        lex = []
        for t in tokenize.generate_tokens(io.StringIO(doc).readline):
            if t.type in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER) \
                    or not t.string.strip():
                continue
            def byte_at(row, col):
                return len("\n".join(lines[: row - 1]).encode()) + (row > 1) + len(lines[row - 1][:col].encode())
            lex.append((byte_at(*t.start), byte_at(*t.end)))
        pos, bounds = 0, []
        for i in tok.encode(doc):
            a, pos = pos, pos + len(tok.token_bytes(i))
            total += 1
            aligned += sum(1 for s, e in lex if s < pos and e > a) <= 1
            bounds.append(pos)
        inner = set(bounds[:-1])
        for (s0, e0), (s1, e1) in zip(lex, lex[1:]):
            gaps += 1
            hit += any(e0 <= x <= s1 for x in range(e0, s1 + 1) if x in inner)
    for k, doc in enumerate(docs):  # the same four documents alone
        (tmp_path / f"{k}.py").write_text(doc, encoding="utf-8")
    (rec,) = evaluate([tok], [str(tmp_path)])
    assert rec["code_token_alignment"] == pytest.approx(aligned / total)
    assert rec["code_boundary_recall"] == pytest.approx(hit / gaps)
    assert 0.5 < rec["code_token_alignment"] < 1.0 and 0.5 < rec["code_boundary_recall"] < 1.0


def test_utf8_integrity_by_hand_and_against_brute_force(tmp_path):
    text = "ağ"  # a | first byte of ğ | second byte: the ğ is split
    s = _stats()
    metrics.observe_document(s, DocFacts(np.zeros((0, 2), np.int64), None), text.encode(), text.encode(),
                             np.array([1, 2, 3]))
    assert metrics.split_char_share(s) == pytest.approx(1 / 2)
    assert metrics.utf8_invalid([b"a", b"\xc4", b"\xc4\x9f", b"\x9f"], 4).tolist() == [False, True, False, True]

    from tokbench.tokenizer import load_tokenizer

    tok = load_tokenizer("gpt2")
    doc = "Çığ düştü; şoförün ağzı ölçülü. Öğretmen İğdır'a gitti. 東京 🤗"
    (tmp_path / "tr.txt").write_text(doc, encoding="utf-8")
    (rec,) = evaluate([tok], [str(tmp_path)])
    ids = tok.encode(doc)
    pieces = [tok.token_bytes(i) for i in ids]
    bad = 0
    for p in pieces:
        try:
            p.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
    ends, pos = set(), 0
    for p in pieces[:-1]:
        pos += len(p)
        ends.add(pos)
    split = starts = 0
    for ch in doc:
        n = len(ch.encode())
        split += any(starts + k in ends for k in range(1, n))
        starts += n
    assert bad > 0 and split > 0
    assert rec["invalid_utf8_token_share"] == pytest.approx(bad / len(ids))
    assert rec["split_char_share"] == pytest.approx(split / len(doc))


def test_premium_spread_per_flores_sentence(gpt2_json, tmp_path):
    from tokenizers import Tokenizer

    en = ["The weather is nice today.", "We walked to the old library.", "Numbers: 1, 2, 3."]
    tr = ["Bugün hava çok güzel.", "Eski kütüphaneye yürüdük.", "Sayılar: 1, 2, 3."]
    d = tmp_path / "flores"
    d.mkdir()
    (d / "eng_Latn.dev").write_text("\n".join(en) + "\n", encoding="utf-8")
    (d / "tur_Latn.dev").write_text("\n".join(tr) + "\n", encoding="utf-8")
    ref = Tokenizer.from_file(str(gpt2_json))
    ratios = [len(ref.encode(t).ids) / len(ref.encode(e).ids) for t, e in zip(tr, en)]
    by = {r["lang"]: r for r in evaluate([str(gpt2_json)], parallel=d)}
    assert by["tr"]["premium_min"] == pytest.approx(min(ratios))
    assert by["tr"]["premium_median"] == pytest.approx(sorted(ratios)[1])
    assert by["tr"]["premium_max"] == pytest.approx(max(ratios))
    assert by["en"]["premium_min"] == by["en"]["premium_max"] == 1.0
    assert by["tr"]["premium_min"] < by["tr"]["premium"] < by["tr"]["premium_max"]


def test_vocab_curve_ends_at_the_utilisation(gpt2, texts):
    ev = Evaluation([gpt2], [str(texts)])
    (x, y), = ev.vocab_curves().values()
    assert x[-1] == ev.records[0]["bytes"]
    assert y[-1] == pytest.approx(ev.records[0]["vocab_utilization"])
    assert np.all(np.diff(y) >= 0) and y[0] < y[-1]
