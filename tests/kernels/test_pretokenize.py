"""The numba scanners split exactly as `regex.findall` does with the preset patterns (random Unicode + fixed cases)."""

import os

import numpy as np
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokbench.errors import UsageError
from tokbench.kernels import pretokenize as K
from tokbench.tokenizer import presets

NAMES = presets.PRETOKENIZERS
EXAMPLES = int(os.environ.get("TOKBENCH_HYPOTHESIS_EXAMPLES", "600"))  # raise for a deeper search

# Characters that exercise every branch: contractions (incl. `(?i)` oddities like LONG S), letters of several scripts,
# combining marks, digits (incl. non-ASCII N), punctuation, emoji, symbols, and every kind of whitespace `regex` knows
# plus U+001C..U+001F (str.isspace but not `\s`).
SPECIAL = list("'sStTrReEvVmMlLdDſK ") + list("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000")
SPECIAL += list("abcXYZéßİıçğşÀ") + ["e\u0301", "\u0301", "\u0903", "\u093f"] + list("0123456789٣۵१²½Ⅻ")
SPECIAL += list(".,;:!?-_()[]{}\"/\\@#$%^&*+=<>|~`’‘“”…—–") + ["😀", "👍🏽", "🇹🇷", "\u200d", "\ufe0f", "€", "©"]
SPECIAL += ["\u0301\u0301", "A\u0301", "\u02b0", "ǅ", "ʰa", "Aʰ"] + list("ABCǅΣ")
SPECIAL += list("中文字日本語한국어ภาษาไทยالعربيةעברית") + ["'s", "'ll", "'VE", "'Re", "'m", "'D", "'t", "n't", "  ", "\r\n", " \n "]

texts = st.lists(
    st.one_of(st.sampled_from(SPECIAL), st.characters(codec="utf-8"), st.text(min_size=1, max_size=4)),
    max_size=40,
).map("".join)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_scanner_equals_regex(name, text):
    assert presets.split(text, name) == regex.findall(presets.pattern(name), text)


# A small alphabet that makes the tricky interactions frequent: case classes (Lu, Ll, Lt, Lm, Lo, marks) around
# apostrophes and contraction letters (o200k backtracks between them), digits, punctuation, \r \n and spaces.
DENSE = st.text(alphabet=list("aAǅʰ中\u0301\u0903'sSlLeEvVrRdDmMtTſ1٣!/. \t\r\n\u3000\x1c"), max_size=30)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=DENSE)
def test_scanner_equals_regex_dense(name, text):
    assert presets.split(text, name) == regex.findall(presets.pattern(name), text)


FIXED = [
    "Hello world! It's 2024, isn't it? I'LL be there.\n",
    "  leading spaces and trailing   \n",
    "tabs\tand\t\tmore\ttabs",
    "line one\r\nline two\n\n\nthree\r\r\n",
    "numbers 1234567 and ½ and ٣٤٥٦",
    "emoji 😀😀 👍🏽 family 👨\u200d👩\u200d👧 flags 🇹🇷🇩🇪",
    "CJK 中文字 日本語の文 한국어 텍스트",
    "'s's 'S ''s x'ſ 'LL 'lL 'Ve 're 'RE ' s",
    "café naïve e\u0301 Straße İstanbul ıi",
    "a\u3000b\u2028c\u2029d\u0085e\u00a0f\u202fg",
    "\x1c\x1d\x1e\x1f a\x1cb",
    "   ",
    "\n",
    "",
    "...!!!??? ,,, ;;; (x) [y] {z}",
    "code: def f(x): return x**2 + 1  # comment\n",
    "HELLO'S World'll McDonald's ǅemal ʰaʰ A\u0301B\u0301c \u0301x path/to/ !/\n",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("text", FIXED)
def test_fixed_examples(name, text):
    assert presets.split(text, name) == regex.findall(presets.pattern(name), text)


def test_known_splits():
    """Spot values from the published behaviour of each pattern family."""
    assert presets.split("I'm  here 12345\n", "gpt2") == ["I", "'m", " ", " here", " 12345", "\n"]
    assert presets.split("I'M  here 12345\n", "cl100k") == ["I", "'M", " ", " here", " ", "123", "45", "\n"]
    assert presets.split("don't stop", "whitespace") == ["don", "'", "t", "stop"]
    assert presets.split("x 2024", "qwen2") == ["x", " ", "2", "0", "2", "4"]
    assert presets.split("Hello WORLD's CamelCase", "o200k") == ["Hello", " WORLD's", " Camel", "Case"]


def test_flores_lines_equal_regex():
    """Real multilingual text, line by line, as the trainer runs it."""
    from pathlib import Path

    files = sorted(Path("/work/shared/corpora/flores200").glob("*_*.dev*"))
    if not files:
        pytest.skip("flores200 sample not present")
    lines = [ln for f in files for ln in f.read_text(encoding="utf-8").splitlines(keepends=True)][:800]
    for name in NAMES:
        for line in lines:
            assert presets.split(line, name) == regex.findall(presets.pattern(name), line)


def test_class_table_matches_regex_on_sample():
    """The cached table agrees with `regex` (incl. `\\s` lacking U+001C..U+001F, unlike str.isspace)."""
    table = presets.class_table()
    assert not table[0x1C] & K.SPACE and "\x1c".isspace()
    assert table[0x85] & K.SPACE and table[0x3000] & K.SPACE
    assert table[0x17F] & K.CI_S and table[ord("S")] & K.CI_S
    rng = np.random.default_rng(0)
    for cp in rng.integers(0, 0x110000, 3000).tolist() + list(range(0x3000)):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        assert bool(table[cp] & K.LETTER) == bool(regex.fullmatch(r"\p{L}", ch))
        assert bool(table[cp] & K.NUMBER) == bool(regex.fullmatch(r"\p{N}", ch))
        assert bool(table[cp] & K.SPACE) == bool(regex.fullmatch(r"\s", ch))
        assert bool(table[cp] & K.WORD) == bool(regex.fullmatch(r"\w", ch))


def test_unknown_names():
    with pytest.raises(UsageError, match="pre-tokenizer"):
        presets.split("x", "bert")
    with pytest.raises(UsageError, match="normalizer"):
        presets.normalize("x", "nfkx")
    assert presets.normalize("e\u0301", "nfc") == "é" and presets.normalize("ﬁ", "nfkc") == "fi"
