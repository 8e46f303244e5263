"""Embedding heal on tiny random Llamas: 0 steps is no heal, healed models load with transformers and keep every
shared row bit for bit, the loss falls, and a killed run resumes to the same result."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from tokbench.errors import UsageError
from tokbench.transplant.core import transplant
from tokbench.transplant.heal import CHECKPOINT, HealOptions, HealRequest, heal


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def heal_text(sample_text):
    return [sample_text]


def request(text, steps, work=None, resume=False, **kw):
    return HealRequest(HealOptions(steps=steps, seq_len=32, batch_size=2, lr=1e-2, save_every=2, **kw), text,
                       ["sample"], work, resume)


@pytest.mark.parametrize("kind", ["tied", "untied"])
def test_zero_heal_steps_equal_no_heal(tmp_path, models, toks, heal_text, kind):
    plain = transplant(str(models[kind]), str(toks["new"]), "subword-mean", out=tmp_path / "plain")
    zero = transplant(str(models[kind]), str(toks["new"]), "subword-mean", out=tmp_path / "zero",
                      heal=request(heal_text, 0))
    a, b = weights(tmp_path / "plain"), weights(tmp_path / "zero")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert zero.manifest["heal"]["steps"] == 0 and "heal" not in plain.manifest


@pytest.mark.parametrize("kind", ["tied", "untied"])
def test_healed_model_loads_and_shared_rows_are_bit_identical(tmp_path, models, toks, heal_text, kind):
    init = transplant(str(models[kind]), str(toks["new"]), "subword-mean", out=tmp_path / "init")
    res = transplant(str(models[kind]), str(toks["new"]), "subword-mean", out=tmp_path / "healed",
                     heal=request(heal_text, 6))
    model = AutoModelForCausalLM.from_pretrained(str(tmp_path / "healed"))
    before = AutoModelForCausalLM.from_pretrained(str(tmp_path / "init"))
    targets = torch.from_numpy(res.targets)
    keep = torch.ones(res.counts["rows"], dtype=torch.bool)
    keep[targets] = False
    mats = [lambda m: m.get_input_embeddings().weight] + ([] if kind == "tied" else [lambda m: m.lm_head.weight])
    for get in mats:
        new, old = get(model).detach(), get(before).detach()
        assert torch.equal(new[keep], old[keep])  # shared, special and padding rows: bit for bit
        assert not torch.equal(new[targets], old[targets])  # the new rows did train
    for name, p in model.named_parameters():  # the rest of the network is untouched
        if "embed" not in name and "lm_head" not in name:
            assert torch.equal(p, dict(before.named_parameters())[name])
    h = json.loads((tmp_path / "healed" / "transplant.json").read_text())["heal"]
    assert h["steps"] == 6 and h["rows"] == len(res.targets) and h["corpus"] == ["sample"]
    curve = [json.loads(l) for l in (tmp_path / "healed" / "heal_curve.jsonl").read_text().splitlines()]
    assert [r["step"] for r in curve] == list(range(1, 7)) and all(r["bits_per_byte"] > 0 for r in curve)
    assert not (tmp_path / "healed.heal").exists()  # no checkpoints left behind when none were asked for


def test_heal_lowers_training_loss(models, toks, heal_text):
    res = transplant(str(models["untied"]), str(toks["new"]), "mean", save=False)
    summary = heal(res.lm, res.targets, heal_text, HealOptions(steps=30, seq_len=32, batch_size=4, lr=3e-2),
                   progress=False)
    first = sum(r["loss"] for r in summary["curve"][:5]) / 5
    last = sum(r["loss"] for r in summary["curve"][-5:]) / 5
    assert last < first


def test_interrupted_heal_resumes_to_the_same_rows(tmp_path, models, toks, heal_text):
    def run(steps, work, resume=False):
        res = transplant(str(models["untied"]), str(toks["new"]), "subword-mean", save=False)
        heal(res.lm, res.targets, heal_text, HealOptions(steps=steps, seq_len=32, batch_size=2, lr=1e-2,
                                                         save_every=2), work=work, resume=resume, progress=False)
        return res.lm.model.get_input_embeddings().weight.detach().clone(), res.lm.model.lm_head.weight.detach().clone()

    straight = run(6, tmp_path / "a")
    run(4, tmp_path / "b")  # "killed" after 4 steps: its checkpoint stays
    assert (tmp_path / "b" / CHECKPOINT).is_file()
    resumed = run(6, tmp_path / "b", resume=True)
    assert all(torch.equal(x, y) for x, y in zip(straight, resumed))
    with pytest.raises(UsageError, match="unfinished heal"):
        run(6, tmp_path / "b")  # neither --resume nor --force


def test_cli_heal_needs_a_corpus(models, toks, tmp_path):
    import typer
    from typer.testing import CliRunner

    from tokbench.transplant.cli import transplant_command

    app = typer.Typer()
    app.command("transplant")(transplant_command)
    app.command("x")(lambda: None)
    res = CliRunner().invoke(app, ["transplant", "--model", str(models["tied"]), "--tokenizer", str(toks["new"]),
                                   "-o", str(tmp_path / "o"), "--heal-steps", "5"])
    assert isinstance(res.exception, UsageError) and "--heal-corpus" in str(res.exception)


@pytest.fixture(scope="module")
def renamed_special(toks, tmp_path_factory):
    """The new tokenizer with its special token renamed <|end|>: the model's <|endoftext|> gets appended to it."""
    spec = json.loads(toks["new"].read_text())
    (added,) = spec["added_tokens"]
    spec["model"]["vocab"]["<|end|>"] = spec["model"]["vocab"].pop(added["content"])
    added["content"] = "<|end|>"
    path = tmp_path_factory.mktemp("renamed") / "tokenizer.json"
    path.write_text(json.dumps(spec))
    return path


CHAT = ["<|endoftext|>def f(x):\n    return x<|end|> <|endoftext|><|endoftext|>  y = f(2)<|endoftext|\n",
        "plain text, no special token at all", "<|end|><|endoftext|>"]


def test_appended_specials_encode_as_tokenizers_does(models, renamed_special, toks):
    """An appended special is plain text by default and its one id when allowed, like the new tokenizer's own
    special: every encode verb against `tokenizers` on the saved (extended) tokenizer.json."""
    from tokenizers import Tokenizer

    from tokbench.tokenizer import load_tokenizer
    from tokbench.transplant.core import match_vocab

    m = match_vocab(load_tokenizer(str(toks["old"])), load_tokenizer(str(renamed_special)), "old")
    assert m.added_specials == ["<|endoftext|>"]
    tok, eot = m.tokenizer, m.tokenizer.vocab_size - 1
    ref = Tokenizer.from_str(tok.hf().to_str())
    assert ref.token_to_id("<|endoftext|>") == eot
    ref.encode_special_tokens = True
    plain = [e.ids for e in ref.encode_batch(CHAT, add_special_tokens=False)]
    ref.encode_special_tokens = False
    allowed = [e.ids for e in ref.encode_batch(CHAT, add_special_tokens=False)]
    assert plain != allowed and eot in allowed[0] and eot not in plain[0]
    assert tok.encode_batch(CHAT) == plain
    view = tok.allowing_special()
    assert view.vocab_size == tok.vocab_size and view.special_tokens == tok.special_tokens
    for verb in (lambda t: t.encode_batch(CHAT), lambda t: [t.encode(x) for x in CHAT],
                 lambda t: [t.encode_bytes(x.encode()) for x in CHAT]):
        assert verb(view) == allowed
    assert tok.encode_batch(CHAT, allowed_special="all") == allowed
    flat, offsets = view.encode_arrays(CHAT)
    assert [flat[offsets[i]:offsets[i + 1]].tolist() for i in range(len(CHAT))] == allowed
    only = tok.encode_batch(CHAT, allowed_special={"<|endoftext|>"})  # the appended one alone: <|end|> stays text
    assert eot in only[0] and tok.token_to_id("<|end|>") not in only[0] and only != allowed
    assert view.all_token_bytes()[eot] == b"<|endoftext|>" and tok.all_token_bytes()[eot] == b""
    assert b"".join(view.token_bytes(i) for i in allowed[0]) == CHAT[0].encode()


@pytest.mark.parametrize("allow", [False, True])
def test_heal_corpus_reads_specials_only_when_allowed(models, renamed_special, allow):
    """The heal stream is the document start followed by `tokenizers`' ids of each text, special tokens (the
    appended <|endoftext|> and the tokenizer's own <|end|>) read as tokens only with allow_special."""
    from tokenizers import Tokenizer

    from tokbench.transplant.heal import Healer

    res = transplant(str(models["tied"]), str(renamed_special), "mean", save=False)
    ref = Tokenizer.from_str(res.lm.tokenizer.hf().to_str())
    ref.encode_special_tokens = not allow
    start = res.lm.start_ids
    expected = [start + e.ids for e in ref.encode_batch(CHAT, add_special_tokens=False)]
    healer = Healer(res.lm, res.targets, CHAT, HealOptions(steps=1, seq_len=4, allow_special=allow))
    assert healer.stream.tolist() == [i for ids in expected for i in ids]
    eot = res.lm.tokenizer.token_to_id("<|endoftext|>")
    assert start == [eot]  # <|endoftext|> starts each document; read from the text only when allowed
    assert (healer.stream.tolist().count(eot) > len(CHAT)) == allow
    assert healer.token_bytes[eot] == (len("<|endoftext|>") if allow else 0)


def test_cli_allow_special_reaches_the_heal(models, renamed_special, sample_text, tmp_path):
    import typer
    from typer.testing import CliRunner

    from tokbench.transplant.cli import transplant_command

    app = typer.Typer()
    app.command("transplant")(transplant_command)
    app.command("x")(lambda: None)
    corpus = tmp_path / "chat.txt"
    corpus.write_text("<|endoftext|>".join([sample_text[:800]] * 3))
    args = ["transplant", "--model", str(models["tied"]), "--tokenizer", str(renamed_special), "--method", "mean",
            "--heal-steps", "2", "--heal-corpus", str(corpus), "--heal-seq-len", "16", "--heal-batch-size", "2"]
    for flag, out in (([], "a"), (["--allow-special"], "b")):
        res = CliRunner().invoke(app, [*args, "-o", str(tmp_path / out), *flag])
        assert res.exit_code == 0, res.output
        heal_opts = json.loads((tmp_path / out / "transplant.json").read_text())["heal"]["options"]
        assert heal_opts["allow_special"] == bool(flag)
