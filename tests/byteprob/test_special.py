"""`bytes --allow-special`: special-token text read as the model sees it, each special token one event.

Reference: an independent walk over the same text with a tiny random Llama scored by full forwards (no KV cache) on
`tokenizers`' own ids, the next-symbol masses enumerated by brute force (tests/byteprob/brute.py, canonical prefixes
found by re-encoding with `tokenizers`, which reads the special tokens): per byte of each plain part, and for each
special token log P(T) + log q(special | T) at the part's encoding T, every event normalised over bytes, the end of
text and the specials.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.byteprob.brute import BruteCanon, brute_next_masses  # noqa: E402
from tests.helpers import stdlib_text  # noqa: E402
from tokbench.byteprob import EOT, ByteLM  # noqa: E402
from tokbench.byteprob.hf import HFTokenLM, tiny_random_llama  # noqa: E402
from tokbench.errors import UsageError  # noqa: E402
from tokbench.tokenizer.hf import HFTokenizer  # noqa: E402

EOS, IM = "<|endoftext|>", "<|im_start|>"
TEXTS = ["A<|endoftext|>B",
         "x<|im_start|>ok <|endoftext|!<|endoftext|><|endoftext|>a|>"]  # a special's text cut short, two in a row


def _train(specials: list[str], pre="ByteLevel"):
    import textwrap

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    if pre == "ByteLevel":
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        hf.pre_tokenizer = pre_tokenizers.Metaspace()
        hf.decoder = decoders.Metaspace()
        alphabet = []
    lines = stdlib_text(textwrap).splitlines(True) + ["a |> b <| c <|x|> |> <|\n"] * 40  # plain "<|" and "|>" tokens
    tr = trainers.BpeTrainer(vocab_size=360, special_tokens=specials, show_progress=False, initial_alphabet=alphabet)
    hf.train_from_iterator(lines, tr)
    return hf


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    hf = _train([EOS, IM])
    path = tmp_path_factory.mktemp("special") / "tok.json"
    hf.save(str(path))
    tok = HFTokenizer(hf, "toy-special")
    from tokenizers import Tokenizer

    hf = Tokenizer.from_str(hf.to_str())  # the reference's own copy, reading the specials (tokenizers' default)
    hf.encode_special_tokens = False
    eos = tok.special_tokens[EOS]
    model = tiny_random_llama(tok.vocab_size, seed=0).double()  # `--model random:tok.json`'s, in float64
    blm = ByteLM(tok, HFTokenLM(model, eos_id=eos, bos_id=eos), allowed_special="all")
    return tok, hf, model, blm, path


class FullForward:
    """Next-token log-probabilities from one full forward of the HF model per prefix (after the start token)."""

    def __init__(self, model, start: int, context=()):
        self.model, self.start, self.context, self.memo = model, start, list(context), {}

    def next_logprobs(self, ids):
        key = tuple(self.context) + tuple(int(i) for i in ids)
        if key not in self.memo:
            with torch.no_grad():
                logits = self.model(input_ids=torch.tensor([[self.start, *key]])).logits[0, -1].double()
            self.memo[key] = torch.log_softmax(logits, -1).numpy()
        return self.memo[key]


def _canon(tok, hf) -> BruteCanon:
    tb = tok.all_token_bytes()
    usable = np.array([bool(b) and t not in tok.special_ids for t, b in enumerate(tb)])
    return BruteCanon(lambda texts: [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)], tb, usable)


def _enc(hf):
    return lambda b: hf.encode(b.decode(), add_special_tokens=False).ids


def reference_logprob(tok, hf, model, text: str, eos: bool = False) -> float:
    canon = _canon(tok, hf)
    eot, im = hf.token_to_id(EOS), hf.token_to_id(IM)
    index = {EOS: EOT, IM: 257}
    parts = re.split(f"({re.escape(EOS)}|{re.escape(IM)})", text)  # plain, special, plain, ..., plain
    total, context = 0.0, []
    for k in range(0, len(parts), 2):
        lm = FullForward(model, eot, context)
        seg = parts[k].encode()

        def masses(x: bytes):
            acc = brute_next_masses(canon, lm, x, _enc(hf), eot, [im])
            return acc - np.logaddexp.reduce(acc)

        for i in range(len(seg)):
            total += masses(seg[:i])[seg[i]]
        if k + 1 < len(parts):
            total += masses(seg)[index[parts[k + 1]]]
            context += hf.encode(parts[k], add_special_tokens=False).ids + [hf.token_to_id(parts[k + 1])]
        elif eos:
            total += masses(seg)[EOT]
    return float(total)


@pytest.mark.parametrize("text", TEXTS)
def test_logprob_equals_the_reference_walk(setup, text):
    tok, hf, model, blm, _ = setup
    got = blm.text_logprob(text, eos=True)
    want = reference_logprob(tok, hf, model, text, eos=True)
    print(f"{text!r}: ByteLM {got:.9f}, reference {want:.9f}")
    assert got == pytest.approx(want, rel=1e-6)
    s = blm.text_state(text)  # the walk ends where the model's ids do: `tokenizers`' reading of the specials
    assert list(s.blm.context + s.T) == hf.encode(text, add_special_tokens=False).ids


def test_the_special_event_is_the_exact_chain_rule(setup):
    """log P(<|endoftext|> | "A") = log P(enc(A)) + log q(eot | enc(A)) - log Z(A): the token-level q alone, from the
    model's logits on A's ids, differs by the covers crossing the end of "A" that Z counts."""
    tok, hf, model, blm, _ = setup
    eot = hf.token_to_id(EOS)
    ids = hf.encode("A", add_special_tokens=False).ids
    lm = FullForward(model, eot)
    lp_t = sum(float(lm.next_logprobs(ids[:i])[ids[i]]) for i in range(len(ids)))
    s = blm.text_state("A")
    z = np.logaddexp.reduce(s.unnormalized())
    assert s.next_byte_logprobs()[EOT] == pytest.approx(lp_t + lm.next_logprobs(ids)[eot] - z, rel=1e-6)
    assert abs(s.next_byte_logprobs()[EOT] - lm.next_logprobs(ids)[eot]) > 1e-3
    d = s.next_byte_logprobs()
    assert d.shape == (258,) and abs(np.logaddexp.reduce(d)) < 1e-9 and blm.symbol_label(257) == IM


def test_plain_tokens_never_complete_a_special_text(setup):
    """After "<|endoftext|" the byte ">" would make the special's text, which the tokenizer never spells in plain
    tokens: probability 0 (the brute force, re-encoding with `tokenizers`, agrees), while "<|x" + "|>" is fine."""
    tok, hf, model, blm, _ = setup
    assert tok.token_to_id("|>") is not None
    d = blm.text_state("a <|endoftext|").next_byte_logprobs()
    assert d[ord(">")] == -np.inf and np.isfinite(d[ord("!")])
    eot = hf.token_to_id(EOS)
    want = brute_next_masses(_canon(tok, hf), FullForward(model, eot), b"a <|endoftext|", _enc(hf), eot,
                             [hf.token_to_id(IM)])
    want -= np.logaddexp.reduce(want)
    assert np.array_equal(np.isfinite(d), np.isfinite(want))
    np.testing.assert_allclose(d[np.isfinite(d)], want[np.isfinite(want)], rtol=1e-9)
    assert np.isfinite(blm.text_state("a <|x|").next_byte_logprobs()[ord(">")])
    plain = ByteLM(tok, blm.lm)
    assert np.isfinite(plain.next_byte_logprobs(b"a <|endoftext|")[ord(">")])  # without the flag: plain text
    assert plain.next_byte_logprobs(b"a").shape == (257,)


def test_a_tokenizer_with_a_dummy_prefix_is_refused(tmp_path):
    hf = _train(["<s>"], pre="Metaspace")
    tok = HFTokenizer(hf, "toy-metaspace")
    lm = HFTokenLM(tiny_random_llama(tok.vocab_size), eos_id=0, bos_id=0)
    assert ByteLM(tok, lm).dummy
    with pytest.raises(UsageError, match=r"dummy prefix \(▁\):") as err:  # as SentencePiece writes it, not ' '
        ByteLM(tok, lm, allowed_special="all")
    assert "' '" not in str(err.value) and str(err.value) == ByteLM(tok, lm).special_refusal()


def test_cli_commands_read_specials_only_with_the_flag(setup, cli, tmp_path):
    tok, hf, model, blm, path = setup
    spec = f"random:{path}"
    text = TEXTS[0]
    res = cli("bytes", "logprob", "--model", spec, text, "--allow-special")
    assert res.code == 0, res.err
    (rec,) = json.loads(res.out)
    want = reference_logprob(tok, hf, model, text)
    assert rec["logprob"] == pytest.approx(want, rel=1e-6)
    assert rec["bytes"] == len(text.encode()) == 15  # the special's own text counts in bits per byte
    assert rec["bits_per_byte"] == pytest.approx(-want / np.log(2) / 15, rel=1e-6)
    assert rec["tokens"] == len(hf.encode(text, add_special_tokens=False).ids)
    (plain,) = json.loads(cli("bytes", "logprob", "--model", spec, text).out)
    assert plain["tokens"] > rec["tokens"] and plain["logprob"] != rec["logprob"]
    # the CLI's model is the fixture's in float32: agreement to float32 precision
    assert plain["logprob"] == pytest.approx(ByteLM(tok, blm.lm).logprob(text.encode()), rel=1e-6)

    nxt = cli("bytes", "next", "--model", spec, "--prefix", "x<|im_start|>o", "--top", "300", "--format", "json",
              "--allow-special")
    assert nxt.code == 0, nxt.err
    rows = {r["char"]: r for r in json.loads(nxt.out)}
    d = blm.text_state("x<|im_start|>o").next_byte_logprobs()
    assert rows[IM]["byte"] == 257 and rows[IM]["logprob"] == pytest.approx(d[257], rel=1e-6)

    comp = cli("bytes", "complete", "--model", spec, "--prefix", "A<|endoftext|>", "--suffix", "B", "--max-bytes", "8",
               "--allow-special")
    assert comp.code == 0, comp.err
    (crec,) = json.loads(comp.out)
    assert crec["exact_suffix_logprob"] == pytest.approx(want - blm.text_logprob("A<|endoftext|>"), rel=1e-6)

    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXTS[1])
    bpb = cli("bytes", "bpb", "--model", spec, "--corpus", corpus, "--allow-special", "--format", "json")
    assert bpb.code == 0, bpb.err
    (brec,) = json.loads(bpb.out)
    n = len(TEXTS[1].encode())
    assert brec["exact_bits_per_byte"] == pytest.approx(-blm.text_logprob(TEXTS[1]) / np.log(2) / n, rel=1e-6)

    only_eos = tmp_path / "eos.json"
    hf2 = json.loads(hf.to_str())
    hf2["added_tokens"] = [t for t in hf2["added_tokens"] if t["content"] == EOS]  # <|im_start|> is text to it
    only_eos.write_text(json.dumps(hf2))
    ens = cli("bytes", "ensemble", "--model", spec, "--model", spec, "--model", f"random:{only_eos}", "--corpus",
              corpus, "--allow-special", "--format", "json")
    assert ens.code == 0, ens.err
    assert "special tokens differently" in json.loads(ens.out)[0]["reason"]
    same = json.loads(cli("bytes", "ensemble", "--model", spec, "--model", spec, "--corpus", corpus,
                          "--allow-special", "--format", "json").out)[0]
    assert same["mixture_bits_per_byte"] == pytest.approx(brec["exact_bits_per_byte"], rel=1e-9)
