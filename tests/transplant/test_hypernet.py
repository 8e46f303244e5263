"""ZeTT hypernetwork: untrained == subword-mean, training lowers the LM loss, save/load and resume are exact.

Models are tiny random Llamas with a real byte-level BPE tokenizer trained on FLORES English (seconds to build); the
text is real. References are independent: subword-mean from the transplant's own method and plain numpy means."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tokbench.errors import UsageError  # noqa: E402
from tokbench.transplant import hypernet as hn  # noqa: E402
from tokbench.transplant import hypernet_train as ht  # noqa: E402

HERE = Path(__file__).resolve()
FLORES = [p / "shared" / "corpora" / "flores200" / "eng_Latn.dev" for p in HERE.parents]


def _text() -> str:
    """FLORES English dev (the project's shared copy), else real English prose from the standard library's docs."""
    for path in FLORES:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    import argparse
    import difflib
    import textwrap

    return "".join(Path(m.__file__).read_text(encoding="utf-8") for m in (argparse, difflib, textwrap))


def _tiny_model(folder: Path, tied: bool) -> Path:
    """A random 2-layer Llama (hidden 32) with a 400-token byte-level BPE trained on FLORES English."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"], show_progress=False)
    tok.train_from_iterator(_text().splitlines(True), trainer)
    tok.save(str(folder / "tokenizer.json"))
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=tied, initializer_range=0.2,
                      max_position_embeddings=256)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hn-models")
    return {"tied": _tiny_model(root / "tied", True), "untied": _tiny_model(root / "untied", False)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("hn-corpus") / "en.txt"
    path.write_text(_text(), encoding="utf-8")
    return str(path)


def _lm(folder):
    from tokbench.lm import load_lm

    return load_lm(folder)


def _opts(**kw) -> ht.TrainOptions:
    base = dict(steps=6, warmup_steps=2, warmup_tokens=128, batch_size=2, seq_len=32, vocab_min=300, vocab_max=600,
                block_chars=6000, width=32, heads=2, layers=1, lr=3e-3, mse_tokens=64, save_every=2,
                styles=("metaspace",))
    base.update(kw)
    return ht.TrainOptions(**base)


def _new_tokenizer():
    """A tokenizer the tiny model never saw: unigram, metaspace style, most tokens split into several old pieces."""
    return ht.sample_tokenizer(_text()[:40_000], 700, "metaspace")


@pytest.mark.parametrize("kind", ["tied", "untied"])
def test_untrained_is_subword_mean(models, kind):
    from tokbench.transplant.core import Context
    from tokbench.transplant.methods.subword_mean import subword_mean

    lm = _lm(models[kind])
    old_in = lm.model.get_input_embeddings().weight.detach().numpy()
    old_out = None if kind == "tied" else lm.model.get_output_embeddings().weight.detach().numpy()
    cfg = hn.HyperNetConfig(dim=old_in.shape[1], tied=kind == "tied", max_pieces=3, layers=2, width=32, heads=2)
    net = hn.build(cfg, scale=float(old_in.std()), seed=1)
    new = _new_tokenizer()
    targets = np.array([i for i in range(new.vocab_size) if new.token_bytes(i)], dtype=np.int64)
    items = [new.token_bytes(int(i)) for i in targets]
    rows_in, rows_out = hn.predict_rows(net, lm.tokenizer, old_in, old_out, items)

    ctx = Context(lm.tokenizer, new, old_in, targets)
    lens = np.array([len(p) for p in ctx.pieces])
    assert (lens > 3).sum() > 20 and (lens >= 2).mean() > 0.5  # many tokens need the net, some beyond max_pieces
    plan = subword_mean(ctx)
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(rows_in, plan.apply(old_in, rng), rtol=0, atol=1e-6)
    numpy_mean = np.stack([old_in[p].mean(0) for p in ctx.pieces])
    np.testing.assert_allclose(rows_in, numpy_mean, rtol=0, atol=1e-6)
    if kind == "untied":
        np.testing.assert_allclose(rows_out, plan.apply(old_out, rng), rtol=0, atol=1e-6)
        assert not np.allclose(rows_out, rows_in)
    else:
        assert rows_out is None


def test_training_lowers_the_loss(models, corpus):
    lm = _lm(models["untied"])
    opts = _opts(steps=8, warmup_steps=2, lr=1e-2)
    trainer = ht.Trainer(lm, ht.TextPool([corpus]), opts)

    def held_out_loss():  # fixed batches (seeds no training step uses), no gradients
        with torch.no_grad():
            trainer.net.eval()
            return float(np.mean([float(trainer.lm_loss(np.random.default_rng([777, k]))[0]) for k in range(2)]))

    before = held_out_loss()
    mse_before = float(trainer.mse(trainer.multi_old[:200]).detach())
    for _ in range(opts.steps):
        trainer.step()
    after = held_out_loss()
    mse_after = float(trainer.mse(trainer.multi_old[:200]).detach())
    print(f"held-out LM loss {before:.4f} -> {after:.4f}; reconstruction {mse_before:.4f} -> {mse_after:.4f}")
    assert after < before - 0.01, (before, after)
    assert mse_after < mse_before, (mse_before, mse_after)
    assert trainer.curve[0]["phase"] == "warmup" and trainer.curve[-1]["phase"] == "lm"


def test_save_load_round_trip(models, corpus, tmp_path):
    lm = _lm(models["untied"])
    out = tmp_path / "hn"
    ht.train(str(models["untied"]), [corpus], out, _opts(steps=4), lm=lm, progress=False)
    old_in = lm.model.get_input_embeddings().weight.detach().numpy()
    old_out = lm.model.get_output_embeddings().weight.detach().numpy()
    state = torch.load(out / ht.CHECKPOINT, weights_only=False)
    live = hn.build(hn.HyperNetConfig(**state["config"]), scale=1.0)
    live.load_state_dict(state["net"])
    loaded, meta = hn.load(out, old_in, old_out)
    assert meta["steps"] == 4
    items = [b" photosynthesis", b" unbelievable", b"ing", b"\xe2\x82", b" zzqx"]
    a = hn.predict_rows(live, lm.tokenizer, old_in, old_out, items)
    b = hn.predict_rows(loaded, lm.tokenizer, old_in, old_out, items)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    untrained = hn.build(loaded.cfg, float(loaded.scale))
    assert not np.allclose(hn.predict_rows(untrained, lm.tokenizer, old_in, old_out, items)[0], a[0])
    with pytest.raises(UsageError):  # another model's embeddings are refused
        hn.load(out, old_in * 2, old_out)
    with pytest.raises(UsageError):
        hn.load(out, old_in, None)


def test_resume_continues_the_same_run(models, corpus, tmp_path, monkeypatch):
    lm = _lm(models["tied"])
    spec = str(models["tied"])
    whole, part = tmp_path / "whole", tmp_path / "part"
    opts = _opts(steps=4, warmup_steps=1, save_every=2)
    ht.train(spec, [corpus], whole, opts, lm=lm, progress=False)

    real_step = ht.Trainer.step

    def crash_at_4(self):  # the process dies during step 4; the last checkpoint is from step 2
        if self.step_done == 3:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(ht.Trainer, "step", crash_at_4)
    with pytest.raises(KeyboardInterrupt):
        ht.train(spec, [corpus], part, opts, lm=lm, progress=False)
    monkeypatch.setattr(ht.Trainer, "step", real_step)
    assert torch.load(part / ht.CHECKPOINT, weights_only=False)["step"] == 2
    with pytest.raises(UsageError):  # an existing run is never silently overwritten
        ht.train(spec, [corpus], part, opts, lm=lm, progress=False)
    with pytest.raises(UsageError):  # nor resumed with different settings
        ht.train(spec, [corpus], part, _opts(steps=4, warmup_steps=1, save_every=2, lr=1e-3), resume=True, lm=lm,
                 progress=False)
    summary = ht.train(spec, [corpus], part, opts, resume=True, lm=lm, progress=False)
    assert summary["steps"] == 4
    assert (whole / hn.WEIGHTS).read_bytes() == (part / hn.WEIGHTS).read_bytes()
    curves = [[{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in
               (folder / ht.CURVE).read_text().splitlines()] for folder in (whole, part)]
    assert curves[0] == curves[1] and len(curves[0]) == 4 and curves[0][-1]["phase"] == "lm"


def test_cli_train_and_errors(models, corpus, tmp_path, cli):
    out = tmp_path / "hn"
    args = ["hypernet", "train", "--model", models["tied"], "--corpus", corpus, "-o", out, "--steps", "3",
            "--warmup-steps", "2", "--batch-size", "1", "--seq-len", "16", "--width", "32", "--layers", "1",
            "--vocab-min", "300", "--vocab-max", "400"]
    res = cli(*args)
    assert res.code == 0, res.err
    summary = json.loads(res.out)
    assert summary["steps"] == 3 and (out / hn.WEIGHTS).is_file() and (out / ht.CHECKPOINT).is_file()
    assert "hypernet step 3/3" in res.err and "steps/s" in res.err and "loss" in res.err  # plain progress off a tty
    again = cli(*args)
    assert again.code == 2 and "--resume" in again.err
    bad = cli(*args[:-4], "--vocab-min", "500", "--vocab-max", "400", "--force")
    assert bad.code == 2 and "vocab" in bad.err
    missing = cli("hypernet", "train", "--model", tmp_path / "nope", "--corpus", corpus, "-o", tmp_path / "x")
    assert missing.code == 1 and "nope" in missing.err


def test_zett_transplant_untrained_equals_subword_mean(models, tmp_path):
    from tokbench.transplant.core import transplant
    from tokbench.transplant.methods import names

    assert {"zett", "tokenadapt", "subword-mean", "random"} <= set(names())

    lm = _lm(models["tied"])
    old_in = lm.model.get_input_embeddings().weight.detach().numpy()
    net = hn.build(hn.HyperNetConfig(dim=32, tied=True, max_pieces=4, layers=1, width=32, heads=2,
                                     vocab_rows=len(old_in), fingerprint=hn.fingerprint(old_in)), float(old_in.std()))
    hn.save(net, tmp_path)
    new = tmp_path / "new.json"
    _new_tokenizer().save(new)
    a = transplant(str(models["tied"]), str(new), "zett", params={"hypernet": str(tmp_path)}, save=False)
    b = transplant(str(models["tied"]), str(new), "subword-mean", save=False)
    ea = a.lm.model.get_input_embeddings().weight.detach().numpy()
    eb = b.lm.model.get_input_embeddings().weight.detach().numpy()
    np.testing.assert_allclose(ea, eb, rtol=0, atol=1e-6)
    assert a.manifest["method"] == "zett" and a.counts["approximated"] == b.counts["approximated"] > 0
    with pytest.raises(UsageError, match="--hypernet"):
        transplant(str(models["tied"]), str(new), "zett", save=False)
    with pytest.raises(UsageError, match="untied"):  # a tied model's hypernetwork cannot fill an untied output matrix
        transplant(str(models["untied"]), str(new), "zett", params={"hypernet": str(tmp_path)}, save=False)


# ---------------------------------------------------------------------------------------------- --allow-special
EOT = "<|endoftext|>"


@pytest.fixture(scope="module")
def chat_corpus(tmp_path_factory):
    """Real text with the model's <|endoftext|> between every three lines (and once glued inside a word)."""
    lines = _text().splitlines(True)
    text = EOT.join("".join(lines[k:k + 3]) for k in range(0, len(lines), 3)).replace(" the ", f" th{EOT}e ", 1)
    path = tmp_path_factory.mktemp("hn-chat") / "chat.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("style", ["bytelevel", "metaspace"])
def test_allow_special_reads_the_model_s_specials_as_tokenizers_does(models, chat_corpus, style):
    """With allow_special a step's ids are `tokenizers`' own encode, specials read, of its sampled tokenizer plus the
    model's <|endoftext|> (appended after its vocabulary, the model's row 0); without it the text is plain."""
    from tokenizers import AddedToken, Tokenizer

    lm = _lm(models["tied"])
    assert lm.tokenizer.special_tokens == {EOT: 0}
    opts = _opts(styles=(style,), seq_len=64, allow_special=True)
    draw = ht.Trainer(lm, ht.TextPool([chat_corpus]), opts).draw(np.random.default_rng([3, 7]))
    tok = draw.tokenizer
    base = tok._base
    eot = base.vocab_size
    assert tok.vocab_size == eot + 1 and tok.token_to_id(EOT) == eot and draw.copied == {eot: 0}
    assert not any("endoftext" in p for p in base.hf().get_vocab())  # trained on the text between the specials
    ref = Tokenizer.from_str(base.hf().to_str())
    ref.add_special_tokens([AddedToken(EOT, special=True, normalized=False)])
    assert ref.token_to_id(EOT) == eot
    expected = ref.encode(draw.text, add_special_tokens=False).ids
    assert draw.ids.tolist() == expected
    assert expected.count(eot) == draw.text.count(EOT) > 2
    windows = draw.windows.numpy()
    assert all(any(np.array_equal(w, draw.ids[s:s + len(w)]) for s in range(len(draw.ids) - len(w) + 1))
               for w in windows)
    plain = ht.Trainer(lm, ht.TextPool([chat_corpus]), _opts(styles=(style,), seq_len=64)).draw(
        np.random.default_rng([3, 7]))
    assert plain.copied == {} and plain.text == draw.text and plain.tokenizer.token_to_id(EOT) is None
    assert plain.ids.tolist() == Tokenizer.from_str(plain.tokenizer.hf().to_str()).encode(
        plain.text, add_special_tokens=False).ids


def test_allow_special_loss_is_the_transplanted_model_s(models, chat_corpus, tmp_path):
    """An untrained hypernetwork is subword-mean, so a step's LM loss with allow_special is the cross-entropy of the
    model transplanted (subword-mean, keep_special old: <|endoftext|> appended with its own row) onto the step's
    sampled tokenizer, on the same windows, <|endoftext|> targets included: HF logits on input ids as reference."""
    from tokbench.transplant.core import transplant

    lm = _lm(models["untied"])
    opts = _opts(styles=("bytelevel",), seq_len=64, batch_size=3, allow_special=True)
    trainer = ht.Trainer(lm, ht.TextPool([chat_corpus]), opts)
    for seed in range(4):
        draw = trainer.draw(np.random.default_rng([11, seed]))
        eot = draw.tokenizer.token_to_id(EOT)
        if (draw.windows[:, 1:] == eot).any() and (draw.windows[:, :-1] == eot).any():
            break
    else:
        raise AssertionError("no drawn window holds <|endoftext|> as input and target")
    with torch.no_grad():
        loss = float(trainer.lm_loss(np.random.default_rng([11, seed]))[0])
    path = tmp_path / "sampled.json"
    draw.tokenizer._base.save(path)
    res = transplant(str(models["untied"]), str(path), "subword-mean", save=False)
    assert res.lm.tokenizer.token_to_id(EOT) == eot
    start = torch.tensor([res.lm.start_ids] * len(draw.windows))
    with torch.no_grad():
        logits = res.lm.model(input_ids=torch.cat([start, draw.windows[:, :-1]], 1)).logits[:, start.shape[1]:]
    ref = float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), draw.windows[:, 1:].reshape(-1)))
    print(f"allow-special step loss {loss:.6f}, transplanted model {ref:.6f}")
    assert loss == pytest.approx(ref, rel=1e-5)


def test_cli_allow_special_is_recorded_and_kept_on_resume(models, chat_corpus, tmp_path, cli):
    out = tmp_path / "hn"
    args = ["hypernet", "train", "--model", models["tied"], "--corpus", chat_corpus, "-o", out, "--steps", "3",
            "--warmup-steps", "2", "--batch-size", "1", "--seq-len", "16", "--width", "32", "--layers", "1",
            "--vocab-min", "300", "--vocab-max", "400", "--save-every", "1"]
    res = cli(*args, "--allow-special")
    assert res.code == 0, res.err
    state = torch.load(out / ht.CHECKPOINT, weights_only=False)
    assert state["options"]["allow_special"] is True and state["curve"][-1]["phase"] == "lm"
    assert json.loads((out / hn.CONFIG).read_text())["options"]["allow_special"] is True
    again = cli(*args[:8], "--steps", "4", *args[10:], "--resume")  # resumed without the flag: refused, named
    assert again.code == 2 and "allow_special" in again.err
    old = dict(state, options={k: v for k, v in state["options"].items() if k != "allow_special"}, step=2,
               curve=state["curve"][:2])
    torch.save(old, out / ht.CHECKPOINT)  # a run from before the option read plain text: resumes without the flag
    resumed = cli(*args[:8], "--steps", "4", *args[10:], "--resume")
    assert resumed.code == 0, resumed.err
    assert json.loads(resumed.out)["steps"] == 4
