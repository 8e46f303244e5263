"""Added and special tokens against `tokenizers` and tiktoken: non-special added tokens are one token, special ones
plain text unless allowed (tiktoken's `allowed_special`, tokbench's `--allow-special`)."""

from __future__ import annotations

import tiktoken
from tokenizers import Tokenizer as HFRaw

from tests.helpers import NPM_FILES, STRESS
from tokbench.tokenizer import formats, load_tokenizer, zoo

QWEN_TEXT = ("<|fim_prefix|>def f(x):<|fim_suffix|>\n    return x<|fim_middle|> <tool_call>{}</tool_call> "
             "<|im_start|>user\nhi<|im_end|><|endoftext|>")


def test_qwen_added_tokens_match_tokenizers():
    """<|fim_prefix|> (special: false in Qwen's tokenizer.json) is 151659 for every HF client, and for tokbench, from
    the tokenizer.json (fast path and `tokenizers` path) and from the zoo's qwen2.5 descriptor alike."""
    reference = HFRaw.from_file(str(NPM_FILES["qwen3"]))
    assert reference.encode("<|fim_prefix|>", add_special_tokens=False).ids == [151659]
    plain = HFRaw.from_file(str(NPM_FILES["qwen3"]))
    plain.encode_special_tokens = True  # special tokens as text, added ones still matched: tokbench's default
    for tok in (load_tokenizer(NPM_FILES["qwen3"]), load_tokenizer("qwen2.5")):
        assert tok.encode("<|fim_prefix|>") == [151659]
        for text in [QWEN_TEXT, *STRESS]:
            assert tok.encode(text) == plain.encode(text, add_special_tokens=False).ids, (tok.name, text)
            assert tok.encode(text, allowed_special="all") == reference.encode(text, add_special_tokens=False).ids
        assert tok.decode_bytes(tok.encode(QWEN_TEXT)) == QWEN_TEXT.encode()  # added tokens keep their bytes
    hf_path = load_tokenizer(NPM_FILES["qwen3"])
    assert hf_path._hf_ids([QWEN_TEXT], False, True)[0] == load_tokenizer("qwen2.5").encode(QWEN_TEXT)


def test_tiktoken_allowed_special_vector():
    """tiktoken's published vector: "hello <|endoftext|>" -> [31373, 220, 50256] with the special allowed."""
    gpt2 = load_tokenizer("gpt2")
    assert gpt2.encode("hello <|endoftext|>", allowed_special="all") == [31373, 220, 50256]
    assert gpt2.allowing_special().encode("hello <|endoftext|>") == [31373, 220, 50256]
    reference = HFRaw.from_file(str(zoo.resolve("gpt2")))
    reference.encode_special_tokens = True
    assert gpt2.encode("hello <|endoftext|>") == reference.encode("hello <|endoftext|>").ids  # bytes, as today
    assert 50256 not in gpt2.encode("hello <|endoftext|>")


def test_allowed_special_equals_tiktoken():
    text = "a<|endoftext|>b <|fim_prefix|>x<|fim_suffix|> <|endofprompt|>\n" + STRESS[6]
    for name in ("cl100k_base", "o200k_base"):
        tok = load_tokenizer(name)
        enc, _ = formats.descriptor_encoding(zoo.resolve(name))
        assert tok.encode(text) == enc.encode_ordinary(text)
        assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
        some = {"<|endoftext|>"}
        assert tok.encode(text, allowed_special=some) == enc.encode(text, allowed_special=some, disallowed_special=())
        view = tok.allowing_special()
        flat, offsets = view.encode_arrays([text, "x"])
        assert flat[:offsets[1]].tolist() == enc.encode(text, allowed_special="all")
        assert view.decode_bytes(view.encode(text)) == text.encode()  # an allowed special stands for its text
    assert isinstance(tiktoken.__version__, str)


def test_allowed_special_on_sentencepiece_and_hf_path():
    """SentencePiece reads `<s>` as text; allowed, it is cut out first (as tiktoken does) and is id 1."""
    import sentencepiece as spm

    tok = load_tokenizer("mistral-v1")
    sp = spm.SentencePieceProcessor(model_file=str(zoo.resolve("mistral-v1")))
    assert tok.encode("<s>hello") == sp.encode("<s>hello")
    assert tok.encode("<s>hello", allowed_special={"<s>"}) == [1, *sp.encode("hello")]
    bert = load_tokenizer("bert-base-uncased")  # WordPiece: the `tokenizers` path, HF's own matcher
    reference = HFRaw.from_file(str(zoo.resolve("bert-base-uncased")))
    assert bert.encode("[CLS] hi [SEP]", allowed_special="all") == reference.encode("[CLS] hi [SEP]",
                                                                                    add_special_tokens=False).ids


def test_cli_allow_special(cli, tmp_path):
    text = tmp_path / "chat.txt"
    text.write_text("hello <|endoftext|>", encoding="utf-8")
    assert cli("tokenize", "-t", "gpt2", str(text), "--allow-special").out.split() == ["31373", "220", "50256"]
    plain = cli("tokenize", "-t", "gpt2", str(text)).out.split()
    assert "50256" not in plain and len(plain) > 3
    bad = cli("tokenize", "-t", "gpt2", str(text), "--allow-special", "--format", "count")
    assert bad.code == 0 and bad.out.strip() == "3"


def test_encode_bytes_equals_tiktoken():
    """Prefixes cut inside a character, stray continuation bytes, invalid bytes: tiktoken's `_encode_bytes` ids."""
    import random

    rng = random.Random(7)
    texts = [t.encode() for t in STRESS if t] + [b"hello \xe4\xb8", b"\xff", b"  \n \xf0\x9f", b"a\n\n \x80x",
                                                 b"\xe2\x82", b"", b"x \t\n\xc3"]
    for t in STRESS[2:7]:
        data = t.encode()
        texts += [data[:k] for k in rng.sample(range(1, len(data)), 6)]
        texts += [data[:k] + bytes([rng.randrange(128, 256)]) + data[k:] for k in rng.sample(range(len(data)), 4)]
    for name in ("cl100k_base", "o200k_base"):
        tok = load_tokenizer(name)
        enc, _ = formats.descriptor_encoding(zoo.resolve(name))
        for data in texts:
            assert tok.encode_bytes(data) == enc._encode_bytes(data), (name, data)
    gpt2 = load_tokenizer("gpt2")
    assert gpt2.decode_bytes(gpt2.encode_bytes(b"caf\xc3")) == b"caf\xc3"
