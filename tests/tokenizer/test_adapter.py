"""The adapter against the libraries themselves: same ids, exact token bytes, round trips."""


import pytest
import sentencepiece as spm
from tokenizers import Tokenizer as HFRaw

from tests.helpers import NPM_FILES, STRESS
from tokbench.errors import InputError
from tokbench.tokenizer import load_tokenizer
from tokbench.train.backends import train_hf, train_sentencepiece



@pytest.fixture(scope="module")
def trained(tmp_path_factory, english_text):
    """Small tokenizers of every algorithm, trained on real English text."""
    folder = tmp_path_factory.mktemp("trained")
    lines = english_text.splitlines(keepends=True)
    out = {}
    for algo in ("bpe", "wordpiece"):
        path = folder / f"{algo}.json"
        path.write_text(train_hf(lines, algo, 1000, show_progress=False).to_str())
        out[algo] = path
    for algo in ("sp-bpe", "sp-unigram", "unigram"):
        model, hf = train_sentencepiece(lines, algo, 1000)
        (folder / f"{algo}.model").write_bytes(model)
        (folder / f"{algo}.json").write_text(hf.to_str())
        out[algo] = folder / f"{algo}.model"
        out[algo + "-json"] = folder / f"{algo}.json"
    return out


@pytest.mark.parametrize("name", sorted(NPM_FILES))
def test_hf_bytelevel_matches_tokenizers(name, english_text):
    tok = load_tokenizer(NPM_FILES[name])
    ref = HFRaw.from_file(str(NPM_FILES[name]))
    assert tok.byte_level
    for text in STRESS + [english_text[:5000]]:
        ids = tok.encode(text)
        assert ids == ref.encode(text, add_special_tokens=False).ids
        assert tok.decode_bytes(ids) == text.encode("utf-8")  # token bytes are exact
        assert tok.decode(ids) == text
    assert tok.encode_batch(STRESS) == [tok.encode(t) for t in STRESS]
    flat, offsets = tok.encode_arrays(STRESS[:3])
    assert flat.tolist() == sum((tok.encode(t) for t in STRESS[:3]), [])
    assert offsets[-1] == len(flat)


def test_special_tokens_and_roles():
    tok = load_tokenizer(NPM_FILES["llama3"])
    assert tok.vocab_size == 128256
    assert tok.roles["bos"] == tok.special_tokens["<|begin_of_text|>"] == 128000
    assert tok.token_bytes(128000) == b""
    ref = HFRaw.from_file(str(NPM_FILES["llama3"]))
    assert tok.encode("hi", add_special_tokens=True) == ref.encode("hi", add_special_tokens=True).ids
    gpt2 = load_tokenizer(NPM_FILES["gpt2"])
    assert gpt2.vocab_size == 50257 and gpt2.encode("Hello world") == [15496, 995]
    assert gpt2.token_bytes(220) == b" " and gpt2.token_bytes(198) == b"\n"


def test_special_token_text_is_plain_text_everywhere():
    text = "a<|endoftext|>b"
    for spec in ("gpt2", "cl100k_base", "qwen2.5"):
        tok = load_tokenizer(spec)
        ids = tok.encode(text)
        assert not set(ids) & tok.special_ids
        assert tok.decode_bytes(ids) == text.encode()
    assert load_tokenizer("cl100k_base").roles["bos"] is None  # the descriptor says it has none


def test_bpe_merges_reproduce_vocab():
    tok = load_tokenizer(NPM_FILES["gpt2"])
    merges = tok.bpe_merges()
    assert len(merges) == 50000
    for left, right, merged in merges[:2000]:
        assert tok.token_bytes(left) + tok.token_bytes(right) == tok.token_bytes(merged)


@pytest.mark.parametrize("algo", ["bpe", "unigram", "sp-bpe", "sp-unigram", "sp-bpe-json", "sp-unigram-json"])
def test_trained_tokenizers_exact_bytes(trained, algo, english_text):
    tok = load_tokenizer(trained[algo])
    for text in STRESS + [english_text[:3000]]:
        ids = tok.encode(text)
        assert tok.decode_bytes(ids) == tok.prepare(text), text
        if text.strip():
            assert tok.decode(ids) == text, text


@pytest.mark.parametrize("algo", ["sp-bpe", "sp-unigram"])
def test_sentencepiece_matches_library_and_conversion(trained, algo, english_text):
    sp = spm.SentencePieceProcessor(model_file=str(trained[algo]))
    tok = load_tokenizer(trained[algo])
    converted = load_tokenizer(trained[algo + "-json"])
    for start in range(0, 40000, 4000):
        sample = english_text[start:start + 4000]
        expected = sp.encode(sample)
        assert tok.encode(sample) == expected
        got = converted.encode(sample)
        if algo == "sp-bpe":
            assert got == expected
        elif got != expected:  # Viterbi ties (e.g. "=" * 41 as 15+16 or 16+15) are broken differently: same score
            def score(ids):
                return sum(sp.get_score(i) for i in ids)
            assert score(got) == pytest.approx(score(expected), abs=1e-4)
            assert converted.decode(got) == sp.decode(expected)
    assert tok.prepare("a b").startswith(b" ")  # the dummy prefix is reported
    assert not tok.byte_level and tok.byte_fallback


def test_wordpiece_is_not_byte_level(trained):
    tok = load_tokenizer(trained["wordpiece"])
    assert tok.model_type == "wordpiece" and not tok.byte_level
    ids = tok.encode("hello world")
    assert b"".join(tok.token_bytes(i) for i in ids).replace(b" ", b"") == b"helloworld"


def test_bad_tokenizer_files(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": {"type": "BPE", "vocab": 3}}')
    with pytest.raises(InputError, match="not a valid tokenizer.json"):
        load_tokenizer(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="invalid JSON"):
        load_tokenizer(broken)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no tokenizer"):
        load_tokenizer(empty)
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"not a model")
    with pytest.raises(InputError, match="not a valid SentencePiece model"):
        load_tokenizer(junk)


def test_converted_sentencepiece_keeps_bytes_and_bos(tmp_path):
    """mistral-v1 written as tokenizer.json: same token bytes, <s> added when asked, same ids on plain prose."""
    from tokbench.tokenizer.convert import sentencepiece_to_hf

    original = load_tokenizer("mistral-v1")
    path = tmp_path / "tokenizer.json"
    path.write_text(sentencepiece_to_hf(zoo_path("mistral-v1")).to_str())
    converted = load_tokenizer(path)
    assert converted.all_token_bytes() == original.all_token_bytes()
    text = "Hello world, this is plain prose with one space between words."
    assert converted.encode(text) == original.encode(text)
    assert converted.encode(text, add_special_tokens=True) == [original.roles["bos"], *original.encode(text)]
    assert converted.prepare(text) == original.prepare(text)


def zoo_path(name):
    from tokbench.tokenizer import zoo

    return zoo.resolve(name)


@pytest.mark.parametrize("name", sorted(NPM_FILES))
def test_settings_read_without_parsing_the_vocabulary_again(name, trained):
    """HFTokenizer reads a BPE/WordPiece file's settings from the loaded components (not a second parse of the whole
    JSON): they equal the file's own JSON, every part but the vocabulary and merges."""
    import json

    from tokbench.tokenizer.hf import _light_spec

    for path in [NPM_FILES[name], trained["bpe"], trained["wordpiece"]]:
        full = json.loads(path.read_text(encoding="utf-8"))
        light = _light_spec(HFRaw.from_file(str(path)))
        for part in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
            assert light[part] == full[part], (path, part)
        assert [{k: t[k] for k in light["added_tokens"][0]} for t in full["added_tokens"]] == light["added_tokens"]
        model = {k: v for k, v in full["model"].items() if k not in ("vocab", "merges")}
        assert all(model[k] == v if k in model else not v for k, v in light["model"].items())  # older files: no key
        assert set(model) - set(light["model"]) <= {"fuse_unk", "max_input_chars_per_word", "dropout", "unk_token",
                                                    "continuing_subword_prefix", "end_of_word_suffix", "ignore_merges"}
        assert all(model[k] in (None, False) for k in set(model) - set(light["model"]) - {"max_input_chars_per_word",
                                                                                          "fuse_unk"})
