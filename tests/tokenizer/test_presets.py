"""Every preset's regex against its source, its HF spelling against `tokenizers`, and the pattern -> scanner lookup.

Sources: tiktoken's own pat_str (cl100k_base, o200k_base, r50k for GPT-2's meaning), the npm Llama-3 and Qwen3
tokenizer.json files, mistral-common's Tekken file, and `tokenizers`' ByteLevel and Whitespace pre-tokenizers.
"""

from __future__ import annotations

import json
import random

import pytest
import regex
from tokenizers import Regex, pre_tokenizers

from tests.helpers import NPM_FILES, STRESS
from tokbench.io import package_dir
from tokbench.tokenizer import load_tokenizer, presets, zoo
from tokbench.tokenizer.bytelevel import to_bytes

# texts that end in whitespace, where `\s++$` (tiktoken's cl100k) and `\s*[\r\n]` part ways
ENDINGS = ["a\n ", "a\n", "a \n\n", "x\n\n  ", "end.\t \n \t", "word  ", " ", "\n \n", "a\r\n ", "1\u3000", "b\n\u00a0"]


def split_rule(pattern: str):
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False)


def tokenizer_json_regex(path) -> str:
    return json.loads(path.read_text(encoding="utf-8"))["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]


def test_presets_equal_their_sources():
    assert presets.pattern("cl100k") == zoo.openai_spec("cl100k_base")["pat_str"]
    assert presets.pattern("o200k") == zoo.openai_spec("o200k_base")["pat_str"]
    assert presets.pattern("llama3") == tokenizer_json_regex(NPM_FILES["llama3"])
    assert presets.pattern("qwen2") == tokenizer_json_regex(NPM_FILES["qwen3"])
    tekken = json.loads((package_dir("mistral_common") / "data" / zoo.TEKKEN_FILE).read_text(encoding="utf-8"))
    assert presets.pattern("tekken") == tekken["config"]["pattern"]
    # the bare .tiktoken loader uses cl100k's pattern: tiktoken's
    assert load_tokenizer(zoo.resolve("cl100k_base").with_suffix(".tiktoken"))._desc["pattern"] == \
        zoo.openai_spec("cl100k_base")["pat_str"]


def test_cl100k_end_of_text_split_equals_tiktoken():
    """tiktoken's `\\s++$`: "a\\n " is a | "\\n " at the end of a text (the old preset gave a | \\n | ' ')."""
    import tiktoken

    assert presets.split("a\n ", "cl100k") == ["a", "\n "]
    assert presets.split("a\n ", "llama3") == ["a", "\n", " "]
    ranks = load_tokenizer("cl100k_base")
    spec = zoo.openai_spec("cl100k_base")
    enc = tiktoken.Encoding("cl100k", pat_str=spec["pat_str"], mergeable_ranks=ranks._ranks, special_tokens={})
    for text in ENDINGS + STRESS:
        assert ranks.encode(text) == enc.encode_ordinary(text), text


PROBE = list("aZé中ʰǅ\u0301'sSlLdD7٣½ \t\n\r\u00a0\u3000.!/") + ["'ll", "12345", " \n ", "\r\n"]


def random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PROBE) for _ in range(rng.randint(1, 20))) for _ in range(n)]


# whitespace-kept uses `\w`, where Oniguruma and `regex` differ on ZWJ/ZWNJ and ²³¹¼½¾ (kernels/pretokenize.py says so)
@pytest.mark.parametrize("name", [n for n, row in presets.PRESETS.items() if row.hf == "split" and n != "whitespace-kept"])
def test_hf_spelling_splits_like_the_regex(name):
    """The Split written into tokenizer.json splits in `tokenizers` (Oniguruma) as `regex` does with the pattern."""
    rule, pattern = split_rule(presets.preset(name).hf_pattern), presets.pattern(name)
    for text in ENDINGS + STRESS + random_texts(400, 1):
        assert [p for p, _ in rule.pre_tokenize_str(text)] == regex.findall(pattern, text), (name, text)


def test_gpt2_preset_is_bytelevels_regex():
    rule = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    for text in ENDINGS + STRESS + random_texts(300, 2):
        pieces = [to_bytes(p).decode("utf-8", "surrogateescape") for p, _ in rule.pre_tokenize_str(text)]
        assert pieces == regex.findall(presets.pattern("gpt2"), text), text


@pytest.mark.parametrize("name", presets.PRETOKENIZERS)
def test_scanners_equal_regex_on_texts_ending_in_whitespace(name):
    texts = ENDINGS + [t + end for t in random_texts(300, 3) for end in (" ", "\n ", "\n", "\t\n  ")]
    for text in texts:
        assert presets.split(text, name) == regex.findall(presets.pattern(name), text), (name, text)


OLD_CL100K = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
OLD_PRESET_CL100K = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""


def test_patterns_map_to_scanners_by_meaning():
    """Spellings seen in the wild find the scanner that splits as they do; the test then checks that it does."""
    import tiktoken_ext.openai_public as openai

    cases = [
        (openai.r50k_pat_str, "regex", "gpt2"),  # tiktoken's GPT-2 spelling (possessive, `\s++$`)
        (zoo.openai_spec("cl100k_base")["pat_str"], "regex", "cl100k"),
        (OLD_CL100K, "regex", "llama3"),  # tiktoken's cl100k before `\s++$` is Llama-3's split
        (OLD_PRESET_CL100K, "regex", "llama3"),
        (zoo.openai_spec("o200k_base")["pat_str"], "regex", "o200k"),
        (tokenizer_json_regex(NPM_FILES["llama3"]), "hf", "llama3"),
        (tokenizer_json_regex(NPM_FILES["qwen3"]), "hf", "qwen2"),
        (presets.preset("cl100k").hf_pattern, "hf", "cl100k"),
        (presets.pattern("tekken"), "regex", "tekken"),
    ]
    for pattern, engine, name in cases:
        assert presets.scanner_preset(pattern, engine) == name, (pattern, engine)
        for text in ENDINGS + random_texts(300, 4):
            found = regex.findall(pattern, text) if engine == "regex" else [
                p for p, _ in split_rule(pattern).pre_tokenize_str(text)]
            assert presets.split(text, name) == found, (pattern, text)
    # tiktoken's spelling read by Oniguruma cuts digits differently ({1,3}+ is ({1,3})+ there): no scanner
    assert presets.scanner_preset(zoo.openai_spec("cl100k_base")["pat_str"], "hf") is None
    assert presets.scanner_preset(r"\p{L}+|\p{N}+|\s+|.", "regex") is None
    assert presets.scanner_preset("(unclosed", "regex") is None


@pytest.mark.parametrize("name", ["gpt2", "llama3", "cl100k_base", "o200k_base", "qwen2.5", "mistral-tekken"])
def test_zoo_byte_level_tokenizers_encode_through_a_numba_scanner(name):
    """One fast path for every byte-level BPE in the zoo, tiktoken-style ones included (smollm2's vocabulary lacks
    six byte tokens, so `tokenizers` encodes it)."""
    tok = load_tokenizer(name)
    fast = tok._fast
    assert fast is not None and fast.scanner is not None and fast._scanner is not None


def test_unscanned_pattern_falls_back_to_regex_and_debug_says_so(tmp_path, cli):
    """A tiktoken-style file with a pattern no scanner reproduces still encodes (as tiktoken does), via `regex`."""
    import tiktoken

    cl = load_tokenizer("cl100k_base")
    folder = tmp_path / "odd"
    folder.mkdir()
    pattern = r"""\p{L}+|\p{N}|[^\s\p{L}\p{N}]+|\s+"""
    from tokbench.tokenizer import formats

    formats.write_descriptor(folder, "odd", cl._ranks, pattern, {"<|endoftext|>": 100257}, roles={})
    path = folder / "odd.json"
    tok = load_tokenizer(path)
    assert tok._fast is not None and tok._fast.scanner is None
    enc = tiktoken.Encoding("odd", pat_str=pattern, mergeable_ranks=cl._ranks, special_tokens={})
    for text in STRESS:
        assert tok.encode(text) == enc.encode_ordinary(text)
    text_file = tmp_path / "t.txt"
    text_file.write_text("hello 123 world\n", encoding="utf-8")
    result = cli("tokenize", "-t", str(path), str(text_file), "--debug")
    assert result.code == 0 and result.out.split() == [str(i) for i in enc.encode_ordinary("hello 123 world\n")]
    assert "no numba scanner" in result.err and "regex" in result.err


def test_smollm_and_whitespace_presets_equal_their_tokenizers_sources():
    """smollm: SmolLM2's published pre-tokenizer, Sequence[Digits(individual_digits), ByteLevel(use_regex)] (what the
    model's own tokenizer.json holds; the zoo's file is built from the GGUF, so it is not the source); whitespace:
    `tokenizers`' Whitespace. Both through `tokenizers` itself, texts ending in whitespace included."""
    smollm = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                      pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    whitespace = pre_tokenizers.Whitespace()
    texts = ENDINGS + STRESS + random_texts(400, 5) + ["a 12 b", "x  3\n 4 ", "٣٤ ½ 7"]
    for text in texts:
        pieces = [to_bytes(p).decode("utf-8", "surrogateescape") for p, _ in smollm.pre_tokenize_str(text)]
        assert presets.split(text, "smollm") == pieces, text
        assert regex.findall(presets.pattern("smollm"), text) == pieces, text
        assert presets.split(text, "whitespace") == [p for p, _ in whitespace.pre_tokenize_str(text)], text
