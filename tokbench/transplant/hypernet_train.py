"""Training a hypernetwork (`tokbench hypernet train`) against a frozen causal LM, ZeTT-style, on CPU.

Each step draws a block of text, trains a fresh unigram tokenizer on it (vocabulary size log-uniform in a range,
byte-level or metaspace style), re-tokenises the block, and minimises the frozen LM's next-token loss when every
embedding row (input, and output where untied) comes from the hypernetwork; plus an MSE term pulling predictions for
tokens of the old vocabulary, split without themselves, toward their true rows. A short warm-up trains only that
reconstruction on random old tokens. All randomness of step s comes from (seed, s), so a resumed run is the same run.

The model's special-token text in the corpus (`<|endoftext|>` between documents) is plain text by default. With
`allow_special` it is those tokens, as the model sees chat-formatted data: each step's tokenizer is trained on the text
between them, gets the model's specials appended as a transplant would (`match_vocab`, keep_special="old"), reads them
from the text as their ids, and their rows, input and output, are the model's own (copied, as the transplant copies
them), so they are in the loss as inputs and as targets; the net predicts only the sampled vocabulary's other rows.
"""

from __future__ import annotations

import contextlib

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tokbench.console import meter
from tokbench.errors import InputError, UsageError, param
from tokbench.transplant import hypernet as hn

CHECKPOINT = "checkpoint.pt"
CURVE = "curve.jsonl"


@dataclass
class TrainOptions:
    steps: int = 300
    batch_size: int = 4
    seq_len: int = 128
    lr: float = 3e-4
    layers: int = 2
    width: int = 256
    heads: int = 4
    max_pieces: int = 8
    warmup_steps: int = 30  # reconstruction-only steps at the start (counted in `steps`)
    warmup_tokens: int = 1024  # old tokens per warm-up step
    vocab_min: int = 1000
    vocab_max: int = 8000
    block_chars: int = 48_000  # text a step's tokenizer is trained on and its sequences drawn from
    mse_weight: float = 1.0
    mse_tokens: int = 512  # old-vocabulary tokens per step in the MSE term
    save_every: int = 25
    seed: int = 0
    time_limit: float = 0.0  # minutes; 0 = none. Stops after the step that crosses it (checkpoint saved)
    styles: tuple[str, ...] = ("bytelevel", "metaspace")
    allow_special: bool = False  # the model's special-token text in the corpus is those tokens, not plain text
    extra: dict = field(default_factory=dict)

    def check(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.seq_len < 2:
            raise UsageError(f"{param('steps')}, {param('batch_size')} must be >= 1 and {param('seq_len')} >= 2")
        if not 0 <= self.warmup_steps <= self.steps:
            raise UsageError(f"{param('warmup_steps')} must be between 0 and {param('steps')} ({self.steps})")
        if self.lr <= 0 or self.layers < 0 or self.max_pieces < 1 or self.width < 8 or self.width % self.heads:
            raise UsageError(f"need {param('lr')} > 0, {param('layers')} >= 0, {param('max_pieces')} >= 1, "
                             f"{param('width')} >= 8 and divisible by the heads")
        if not 8 <= self.vocab_min <= self.vocab_max:
            raise UsageError(f"need 8 <= {param('vocab_min')} <= {param('vocab_max')} (got {self.vocab_min}, {self.vocab_max})")
        bad = set(self.styles) - {"bytelevel", "metaspace"}
        if bad or not self.styles:
            raise UsageError(f"tokenizer styles must be bytelevel and/or metaspace, not {sorted(bad)}")

    # fields that must match to resume (the rest may change, e.g. more steps or a time limit)
    def identity(self) -> dict:
        keep = ("batch_size", "seq_len", "lr", "layers", "width", "heads", "max_pieces", "warmup_steps", "warmup_tokens",
                "vocab_min", "vocab_max", "block_chars", "mse_weight", "mse_tokens", "seed", "styles", "allow_special")
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if k in keep}


# ------------------------------------------------------------------------------------------------ sampled tokenizers
def sample_tokenizer(text: str, vocab_size: int, style: str, exclude: tuple[str, ...] = ()):
    """A unigram tokenizer trained on `text` (tokenizers' UnigramTrainer), as a tokbench Tokenizer; with `exclude`
    (special-token texts) it is trained on the text between their occurrences, which it never reads."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from tokbench.tokenizer.hf import HFTokenizer

    alphabet = 256 if style == "bytelevel" else len(set(text)) + 2
    vocab_size = max(vocab_size, alphabet + 16)  # the trainer refuses a vocabulary smaller than the alphabet
    tok = Tokenizer(models.Unigram())
    if style == "bytelevel":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, show_progress=False, max_piece_length=16,
                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, show_progress=False, max_piece_length=16,
                                          special_tokens=["<unk>"], unk_token="<unk>")
    lines = text.splitlines(keepends=True)
    if exclude:
        from tokbench.tokenizer.base import special_pattern

        found = special_pattern(exclude)
        lines = [part for line in lines for part in found.split(line) if part]
    tok.train_from_iterator(lines, trainer)
    return HFTokenizer(_canonical(tok), name=f"unigram-{style}-{vocab_size}")


def _canonical(tok):
    """The trainer's scores vary in the last bits from run to run (its sums run in hash order), and the characters it
    appends after the learned pieces (scores stepping down by 1e-4) come in hash order: round the scores, give those
    characters one score, and sort, so a seeded run is reproducible (the set of pieces itself is stable)."""
    from tokenizers import Tokenizer

    spec = json.loads(tok.to_str())
    model = spec["model"]
    unk = model.get("unk_id")
    if unk not in (None, 0):
        raise AssertionError("expected the unigram trainer's <unk> at id 0")
    vocab = [[p, x] for i, (p, x) in enumerate(model["vocab"]) if i != unk]
    k = 0
    while k < len(vocab):  # runs of single characters whose scores step down by exactly 1e-4
        j = k
        while (j + 1 < len(vocab) and len(vocab[j][0]) == 1 == len(vocab[j + 1][0])
               and abs(vocab[j][1] - vocab[j + 1][1] - 1e-4) < 1e-7):
            j += 1
        for r in range(k + 1, j + 1):
            vocab[r][1] = vocab[k][1]
        k = j + 1
    vocab = sorted(([p, round(x, 6)] for p, x in vocab), key=lambda v: (-v[1], v[0]))
    model["vocab"] = ([model["vocab"][0]] if unk is not None else []) + vocab
    return Tokenizer.from_str(json.dumps(spec))


class TextPool:
    """All training text in memory (small corpora: CPU budgets), with seeded random blocks."""

    def __init__(self, corpus_specs: list[str], text_field: str = "text"):
        from tokbench.corpus import Corpus

        docs = [d for d in Corpus(list(corpus_specs), text_field=text_field).documents() if d.strip()]
        if not docs:
            raise InputError(f"{', '.join(corpus_specs)}: no text to train on")
        self.text = "\n\n".join(docs)

    def block(self, rng: np.random.Generator, chars: int) -> str:
        if len(self.text) <= chars:
            return self.text
        start = int(rng.integers(0, len(self.text) - chars))
        nl = self.text.find("\n", start, start + chars // 4)  # start at a line when one is near
        start = nl + 1 if nl >= 0 else start
        return self.text[start:start + chars]


# ------------------------------------------------------------------------------------------------------- trainer
@dataclass
class Draw:
    """What one LM step trains on: the block, its sampled tokenizer (style), the block's ids, the windows [B, L+1],
    and, with allow_special, new id -> old row for the special tokens whose rows are the model's."""

    text: str
    style: str
    tokenizer: object
    ids: np.ndarray
    windows: object
    copied: dict[int, int]


class Trainer:
    """Owns the frozen LM, the hypernetwork and its optimiser; `step(s)` is a pure function of (state, seed, s)."""

    def __init__(self, lm, pool: TextPool, opts: TrainOptions, model_spec: str = ""):
        import torch

        self.lm, self.pool, self.opts = lm, pool, opts
        model = lm.model
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        emb = model.get_input_embeddings().weight
        head = model.get_output_embeddings()
        self.tied = head is None or head.weight.data_ptr() == emb.data_ptr()
        old_in = emb.detach().float().numpy()
        old_out = None if self.tied else head.weight.detach().float().numpy()
        self.bias = None if head is None or getattr(head, "bias", None) is None else head.bias.detach().float()
        self.pieces = hn.Pieces(lm.tokenizer, old_in, old_out)
        feats = self.pieces.feats
        cfg = hn.HyperNetConfig(dim=old_in.shape[1], tied=self.tied, max_pieces=opts.max_pieces, layers=opts.layers,
                                width=opts.width, heads=opts.heads, vocab_rows=len(old_in),
                                fingerprint=hn.fingerprint(old_in, old_out), model=model_spec)
        self.net = hn.build(cfg, scale=float(feats[self.pieces.usable].std()), seed=opts.seed)
        self.optim = torch.optim.AdamW(self.net.parameters(), lr=opts.lr, weight_decay=0.0)
        self.base = getattr(model, model.base_model_prefix)
        self.start = list(lm.start_ids)
        self.multi_old = np.flatnonzero(self.pieces.usable & np.array([len(b) >= 2 for b in self.pieces.old_bytes]))
        self.step_done = 0
        self.curve: list[dict] = []

    # -- schedule -------------------------------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        """Linear ramp over 10 steps, then cosine to 10% of the peak lr at the last step."""
        o = self.opts
        ramp = min(1.0, (step + 1) / 10)
        t = step / max(1, o.steps - 1)
        return o.lr * ramp * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))

    # -- losses ---------------------------------------------------------------------------------------------------
    def mse(self, old_ids: np.ndarray):
        """Relative squared error of the predictions for old tokens split without themselves."""
        splits = self.pieces.held_out([int(t) for t in old_ids])
        keep = [i for i, s in enumerate(splits) if len(s) >= 2]
        if not keep:
            return None
        feats = self.pieces.feats
        pred = hn.predict(self.net, feats, [splits[i] for i in keep])
        true = feats[old_ids[keep]]
        return ((pred - true) / self.net.scale).pow(2).mean()

    def draw(self, rng: np.random.Generator) -> "Draw":
        """A step's block of text, its freshly sampled tokenizer, the block's ids and the training windows."""
        import torch

        o = self.opts
        text = self.pool.block(rng, o.block_chars)
        vocab = int(round(math.exp(rng.uniform(math.log(o.vocab_min), math.log(o.vocab_max)))))
        style = o.styles[int(rng.integers(0, len(o.styles)))]
        copied: dict[int, int] = {}
        if o.allow_special:
            tok, copied = self.with_model_specials(sample_tokenizer(text, vocab, style, tuple(self.model_specials)))
        else:
            tok = sample_tokenizer(text, vocab, style)
        ids = np.asarray(tok.encode(text), dtype=np.int64)
        if len(ids) < o.seq_len + 1:
            raise InputError(f"training text too short for {param('seq_len')} {o.seq_len} (a block gives {len(ids)} tokens)")
        starts = rng.integers(0, len(ids) - o.seq_len, size=o.batch_size)
        windows = torch.from_numpy(np.stack([ids[s:s + o.seq_len + 1] for s in starts]))
        return Draw(text, style, tok, ids, windows, copied)

    @property
    def model_specials(self) -> list[str]:
        """The model's special-token texts (those with a row), in id order."""
        rows = len(self.pieces.old_in)
        return [s for s, i in sorted(self.lm.tokenizer.special_tokens.items(), key=lambda kv: kv[1]) if i < rows]

    def with_model_specials(self, tok):
        """`tok` with the model's special tokens as a transplant gives them (`match_vocab`, keep_special="old"),
        reading the model's special-token texts as their ids; and new id -> old row for the specials it copies."""
        from tokbench.transplant.core import match_vocab

        m = match_vocab(self.lm.tokenizer, tok, "old", old_start=self.start[0] if self.start else None,
                        old_size=len(self.pieces.old_in))
        ext = m.tokenizer
        copied = {int(i): int(m.new_to_old[i]) for i in sorted(ext.special_ids) if m.new_to_old[i] >= 0}
        return ext.allowing_special([s for s in self.model_specials if s in ext.special_tokens]), copied

    def lm_loss(self, rng: np.random.Generator):
        """Next-token loss of the frozen LM on a block re-tokenised by a freshly sampled unigram tokenizer."""
        import torch

        o = self.opts
        draw = self.draw(rng)
        tok, windows, style = draw.tokenizer, draw.windows, draw.style
        n = tok.vocab_size
        specials = np.zeros(n, dtype=bool)
        specials[list(tok.special_ids)] = True
        # every row of the sampled vocabulary: the output softmax needs them all; the model's specials are its rows
        new_bytes = tok.all_token_bytes()
        splits = list(self.pieces.split([b if not specials[i] else b"" for i, b in enumerate(new_bytes)]))
        for i, j in draw.copied.items():
            splits[i] = np.array([j], dtype=np.int64)  # one piece: exactly the old row (and its bias)
        rows = hn.predict(self.net, self.pieces.feats, splits)  # [n, F]
        d = self.net.cfg.dim
        emb_in = rows[:, :d]
        emb_out = emb_in if self.tied else rows[:, d:]
        x = emb_in.index_select(0, windows[:, :-1].reshape(-1)).view(len(windows), -1, emb_in.shape[1])
        if self.start:
            lead = self.pieces.old_in[self.start].unsqueeze(0).expand(len(windows), -1, -1)
            x = torch.cat([lead, x], dim=1)
        hidden = self.base(inputs_embeds=x).last_hidden_state[:, len(self.start):]
        logits = hidden @ emb_out.T
        if self.bias is not None:
            lens = torch.tensor([max(len(s), 1) for s in splits], dtype=torch.float32)
            ids_pad, mask = hn.pack(splits)
            logits = logits + (self.bias[ids_pad] * mask).sum(1) / lens
        targets = windows[:, 1:].clone()
        unknown = specials.copy()  # specials without a row of the model's (a sampled <unk>) are never targets
        unknown[list(draw.copied)] = False
        targets[torch.from_numpy(unknown)[targets]] = -100
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, n), targets.reshape(-1), ignore_index=-100)
        # tokens of this vocabulary that the old one has whole: reconstruction targets for the MSE term
        in_old = np.array([i for i, s in enumerate(splits) if len(s) == 1 and len(new_bytes[i]) >= 2 and not specials[i]],
                          dtype=np.int64)
        old_ids = np.array([int(splits[i][0]) for i in in_old], dtype=np.int64)
        if len(old_ids) > o.mse_tokens:
            old_ids = rng.choice(old_ids, o.mse_tokens, replace=False)
        info = {"vocab": n, "style": style, "new_tokens": int(sum(len(s) >= 2 for s in splits)),
                "tokens": int(windows[:, 1:].numel())}
        return loss, old_ids, info

    def step(self) -> dict:
        import torch

        o = self.opts
        s = self.step_done
        rng = np.random.default_rng([o.seed, s])
        lr = self.lr_at(s)
        for g in self.optim.param_groups:
            g["lr"] = lr
        self.net.train()
        self.optim.zero_grad(set_to_none=True)
        rec: dict = {"step": s + 1, "lr": lr}
        if s < o.warmup_steps:
            old_ids = rng.choice(self.multi_old, min(o.warmup_tokens, len(self.multi_old)), replace=False)
            mse = self.mse(old_ids)
            total = mse
            rec.update(phase="warmup", loss=None, mse=float(mse.detach()))
        else:
            loss, old_ids, info = self.lm_loss(rng)
            mse = self.mse(old_ids) if len(old_ids) and o.mse_weight > 0 else None
            total = loss if mse is None else loss + o.mse_weight * mse
            rec.update(phase="lm", loss=float(loss.detach()), mse=None if mse is None else float(mse.detach()), **info)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.optim.step()
        self.step_done += 1
        self.curve.append(rec)
        return rec

    # -- checkpoints ----------------------------------------------------------------------------------------------
    def state(self) -> dict:
        return {"net": self.net.state_dict(), "optim": self.optim.state_dict(), "step": self.step_done,
                "curve": self.curve, "options": self.opts.identity(), "config": asdict(self.net.cfg)}

    def load_state(self, state: dict, folder: Path) -> None:
        saved = {"allow_special": False, **state.get("options", {})}  # runs from before the option read plain text
        if saved != self.opts.identity():
            diff = sorted(k for k, v in self.opts.identity().items() if saved.get(k) != v)
            raise UsageError(f"{folder}: cannot resume with different settings ({', '.join(diff)}); "
                             f"use the original ones or start over with {param('force')}")
        if state.get("config") != asdict(self.net.cfg):
            raise UsageError(f"{folder}: the checkpoint was trained for another model ({state['config'].get('model')})")
        self.net.load_state_dict(state["net"])
        self.optim.load_state_dict(state["optim"])
        self.step_done = int(state["step"])
        self.curve = list(state["curve"])


def save_checkpoint(trainer: Trainer, folder: Path, extra: dict) -> None:
    """checkpoint.pt (everything to resume) first, then the usable hypernetwork and the curve; each file atomic."""
    import torch

    from tokbench.io import atomic_write

    from tokbench.errors import WorkError

    with atomic_write(folder / CHECKPOINT, "wb") as fh:
        try:
            torch.save(trainer.state(), fh)
        except RuntimeError as exc:  # torch's own writer: a full disk surfaces as "enforce fail ... unexpected pos"
            raise WorkError(f"{folder / CHECKPOINT}: cannot write (disk full or file too large?): "
                            f"{str(exc).splitlines()[0][:120]}") from None
    hn.save(trainer.net, folder, {**extra, "steps": trainer.step_done})
    with atomic_write(folder / CURVE) as fh:
        for rec in trainer.curve:
            fh.write(json.dumps(rec) + "\n")


def train(model: str, corpus: list[str], out: str | Path, opts: TrainOptions, resume: bool = False,
          force: bool = False, lm=None, progress: bool = True, text_field: str = "text", until: int | None = None) -> dict:
    """Train (or resume) a hypernetwork into folder `out`; returns a summary record. `until` pauses the run after that
    step (checkpointed, e.g. to keep a snapshot); resuming continues the same run."""
    import torch

    opts.check()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    has_ckpt = (out / CHECKPOINT).is_file()
    if out.exists() and any(out.iterdir()) and not (resume and has_ckpt) and not force:
        raise UsageError(f"{out}: already exists (use {param('resume')} to continue it or {param('force')} to start over)")
    if resume and not has_ckpt and out.exists() and any(out.iterdir()):
        raise UsageError(f"{out}: no {CHECKPOINT} to resume from")
    pool = TextPool(corpus, text_field=text_field)  # a bad corpus fails before the model loads or `out` is made
    if lm is None:
        from tokbench.lm import load_lm

        lm = load_lm(model)
    if force and not resume:
        for name in (CHECKPOINT, CURVE, hn.WEIGHTS, hn.CONFIG):
            (out / name).unlink(missing_ok=True)
    created = [p for p in (out, *out.parents) if not p.exists()]
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _train_into(out, model, lm, pool, opts, resume, progress, until, corpus)
    except BaseException:  # a run that stopped before its first checkpoint (a full disk, Ctrl-C) leaves no folder
        if created and not (out / CHECKPOINT).is_file():
            import shutil

            shutil.rmtree(out, ignore_errors=True)
            for folder in created[1:]:
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise


def _train_into(out: Path, model, lm, pool, opts: TrainOptions, resume: bool, progress: bool, until, corpus) -> dict:
    import torch

    trainer = Trainer(lm, pool, opts, model_spec=str(model))
    if resume and (out / CHECKPOINT).is_file():
        try:
            state = torch.load(out / CHECKPOINT, weights_only=False)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is an input problem
            raise InputError(f"{out / CHECKPOINT}: unreadable checkpoint ({str(exc).splitlines()[0]})") from None
        trainer.load_state(state, out)
    extra = {"model": str(model), "corpus": list(corpus), "options": opts.identity()}
    t0 = time.perf_counter()
    first = trainer.step_done
    stopped = "steps"
    last = opts.steps if until is None else min(until, opts.steps)
    with meter("hypernet step", opts.steps, first, every=10, enabled=progress) as shown:
        while trainer.step_done < last:
            rec = trainer.step()
            rec["seconds"] = round(time.perf_counter() - t0, 3)
            shown.update(rec["step"], step_postfix(rec, (trainer.step_done - first) / max(rec["seconds"], 1e-9)))
            if trainer.step_done % opts.save_every == 0 or trainer.step_done == last:
                save_checkpoint(trainer, out, extra)
            if opts.time_limit and time.perf_counter() - t0 > opts.time_limit * 60 and trainer.step_done < last:
                save_checkpoint(trainer, out, extra)
                stopped = "time-limit"
                break
    if last < opts.steps and trainer.step_done == last:
        stopped = "until"
    if trainer.step_done == first:  # nothing to do (already complete): still leave the exported files
        save_checkpoint(trainer, out, extra)
    seconds = time.perf_counter() - t0
    lm_losses = [r["loss"] for r in trainer.curve if r.get("loss") is not None]
    return {"out": str(out), "steps": trainer.step_done, "stopped": stopped, "seconds": round(seconds, 2),
            "steps_per_second": round((trainer.step_done - first) / max(seconds, 1e-9), 4),
            "first_lm_loss": lm_losses[0] if lm_losses else None, "last_lm_loss": lm_losses[-1] if lm_losses else None,
            "tied": trainer.tied, "parameters": sum(p.numel() for p in trainer.net.parameters())}


def step_postfix(rec: dict, rate: float) -> str:
    """The latest phase, losses and rate of a training step (hypernet training, embedding heal), for console.meter."""
    parts = [rec["phase"]]
    for key, name in (("loss", "loss"), ("mse", "mse"), ("bits_per_byte", "bpb")):
        if rec.get(key) is not None:
            parts.append(f"{name} {rec[key]:.3f}")
    parts.append(f"{rate:.2f} steps/s")
    return "  ".join(parts)
