"""Embedding heal: after a transplant, train only the new tokens' rows (input, and output and bias when untied) for a
few steps with the LM's own next-token loss on a corpus, everything else frozen.

Why only those rows: copied rows are the model's own and must stay bit for bit (the new tokens are what the
initialisation guessed), and a few hundred steps on 2 cores can afford nothing more. The trained rows are separate
parameters spliced into a frozen copy of each matrix (index_copy), so the frozen rows never change, not even by an
optimiser's rounding.

Reproducible and resumable like `hypernet train`: step s draws its windows from (seed, s); the learning rate is a
10-step linear warm-up then constant, so the first 100 steps of a 500-step run are the 100-step run; checkpoints
(rows, lazy-Adam moments, curve) are written atomically every `save_every` steps to a work folder, and resuming continues
there after a kill. A fingerprint of the initial rows refuses to resume onto a different initialisation.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tokbench.errors import InputError, UsageError, param

CHECKPOINT = "heal.pt"
CURVE = "heal_curve.jsonl"


@dataclass
class HealOptions:
    steps: int = 0
    batch_size: int = 4
    seq_len: int = 128
    lr: float = 1e-3
    warmup: int = 10
    save_every: int = 50
    seed: int = 0
    time_limit: float = 0.0  # minutes; 0 = none (stops after the step that crosses it, checkpointed)
    allow_special: bool = False  # the corpus's special-token text (<|endoftext|>) is those tokens, not plain text

    def check(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or self.seq_len < 2 or self.lr <= 0 or self.save_every < 1:
            raise UsageError(f"heal needs {param('steps')} >= 0, {param('batch_size')} >= 1, {param('seq_len')} >= 2, "
                             f"{param('lr')} > 0 (and save_every >= 1)")

    def identity(self) -> dict:
        """What must match to resume (steps and the time limit may change)."""
        return {k: v for k, v in asdict(self).items() if k not in ("steps", "save_every", "time_limit")}


@dataclass
class HealRequest:
    """What `transplant(..., heal=...)` needs: options, the corpus already read (and its names for the manifest), and
    the checkpoint folder (None: no checkpoints)."""

    options: HealOptions
    texts: list[str]
    corpus: list[str]
    work: Path | None = None
    resume: bool = False


class Healer:
    """Owns the trainable rows and their optimiser on an LM whose embeddings already have the new vocabulary."""

    def __init__(self, lm, rows: np.ndarray, texts: list[str], opts: HealOptions):
        import torch

        opts.check()
        self.lm, self.opts = lm, opts
        model = lm.model
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self.base = getattr(model, model.base_model_prefix)
        emb = model.get_input_embeddings().weight
        head = model.get_output_embeddings()
        self.tied = head is None or head.weight.data_ptr() == emb.data_ptr()
        self.rows = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        self.frozen_in = emb.detach().clone()
        self.frozen_out = None if self.tied else head.weight.detach().clone()
        bias = None if head is None else getattr(head, "bias", None)
        self.frozen_bias = None if bias is None else bias.detach().clone()
        self.params = {"in": torch.nn.Parameter(self.frozen_in[self.rows].clone())}
        if self.frozen_out is not None:
            self.params["out"] = torch.nn.Parameter(self.frozen_out[self.rows].clone())
        if self.frozen_bias is not None:
            self.params["bias"] = torch.nn.Parameter(self.frozen_bias[self.rows].clone())
        self.fingerprint = _fingerprint(rows, self.params)
        # lazy Adam state per trained row: moments and the row's own step count
        self.adam = {k: (torch.zeros_like(v), torch.zeros_like(v), torch.zeros(len(v))) for k, v in self.params.items()}
        self.position = torch.full((max(int(emb.shape[0]), 1),), -1, dtype=torch.long)  # new id -> trained row
        self.position[self.rows] = torch.arange(len(self.rows))
        self.start = list(lm.start_ids)
        tok = lm.tokenizer.allowing_special() if opts.allow_special else lm.tokenizer
        self.token_bytes = np.array([len(b) for b in tok.all_token_bytes()]
                                    + [0] * (emb.shape[0] - tok.vocab_size), dtype=np.int64)
        stream = [np.asarray(self.start + ids, dtype=np.int64) for ids in tok.encode_batch(texts) if ids]
        self.stream = np.concatenate(stream) if stream else np.zeros(0, np.int64)
        if len(self.stream) < opts.seq_len + 1:
            raise InputError(f"heal corpus too short: {len(self.stream)} tokens for {param('seq_len')} {opts.seq_len}")
        self.step_done = 0
        self.curve: list[dict] = []

    def lr_at(self, step: int) -> float:
        return self.opts.lr * min(1.0, (step + 1) / max(self.opts.warmup, 1))

    def matrices(self):
        """(input, output, bias) with the trained rows spliced in (differentiable in the trained rows only)."""
        e_in = self.frozen_in.index_copy(0, self.rows, self.params["in"])
        e_out = e_in if self.tied else self.frozen_out.index_copy(0, self.rows, self.params["out"])
        bias = None if self.frozen_bias is None else self.frozen_bias.index_copy(0, self.rows, self.params["bias"])
        return e_in, e_out, bias

    def step(self) -> dict:
        import torch

        o, s = self.opts, self.step_done
        rng = np.random.default_rng([o.seed, s])
        starts = rng.integers(0, len(self.stream) - o.seq_len, size=o.batch_size)
        windows = torch.from_numpy(np.stack([self.stream[a:a + o.seq_len + 1] for a in starts]))
        for p in self.params.values():
            p.grad = None
        e_in, e_out, bias = self.matrices()
        x = e_in[windows[:, :-1]]
        if self.start:
            lead = e_in[torch.tensor(self.start)].unsqueeze(0).expand(len(windows), -1, -1)
            x = torch.cat([lead, x], dim=1)
        hidden = self.base(inputs_embeds=x).last_hidden_state[:, len(self.start):]
        logits = hidden @ e_out.T
        if bias is not None:
            logits = logits + bias
        targets = windows[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        loss.backward()
        self._lazy_adam(torch.unique(self.position[windows.reshape(-1)]), self.lr_at(s))
        self.step_done += 1
        n_bytes = int(self.token_bytes[targets.numpy()].sum())
        nats = float(loss.detach()) * targets.numel()
        rec = {"step": self.step_done, "phase": "heal", "lr": self.lr_at(s), "loss": float(loss.detach()),
               "bits_per_byte": nats / (math.log(2) * max(n_bytes, 1))}
        self.curve.append(rec)
        return rec

    def _lazy_adam(self, present, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        """Adam on the rows whose tokens occur in the batch only ("lazy" Adam, as for sparse embeddings). A tied
        row's softmax gradient is never exactly zero, and dense Adam turns that whisper into a full-size step for
        every new row on every step: rows of tokens the heal text has not shown drift away (measured: the loss
        climbing from 3.6 to 6.2 within 75 steps). Rows the text never shows keep their initialisation."""
        import torch

        idx = present[present >= 0]
        if not len(idx):
            return
        with torch.no_grad():
            for k, p in self.params.items():
                m, v, t = self.adam[k]
                g = p.grad[idx]
                m[idx] = b1 * m[idx] + (1 - b1) * g
                v[idx] = b2 * v[idx] + (1 - b2) * g * g
                t[idx] += 1
                shape = (-1,) + (1,) * (p.dim() - 1)
                mhat = m[idx] / (1 - b1 ** t[idx]).view(shape)
                vhat = v[idx] / (1 - b2 ** t[idx]).view(shape)
                p[idx] -= lr * mhat / (vhat.sqrt() + eps)

    def write_back(self) -> None:
        """Put the trained rows into the model's own matrices (the frozen rows are rewritten with their own values)."""
        import torch

        model = self.lm.model
        e_in, e_out, bias = self.matrices()
        with torch.no_grad():
            model.get_input_embeddings().weight.copy_(e_in)
            head = model.get_output_embeddings()
            if not self.tied:
                head.weight.copy_(e_out)
            if bias is not None:
                head.bias.copy_(bias)

    def state(self) -> dict:
        return {"params": {k: v.detach() for k, v in self.params.items()}, "adam": self.adam,
                "step": self.step_done, "curve": self.curve, "options": self.opts.identity(),
                "fingerprint": self.fingerprint}

    def load_state(self, state: dict, where: Path) -> None:
        import torch

        saved = {"allow_special": False, **state.get("options", {})}  # checkpoints from before the option read plain text
        if saved != self.opts.identity():
            diff = sorted(k for k, v in self.opts.identity().items() if saved.get(k) != v)
            raise UsageError(f"{where}: cannot resume with different heal settings ({', '.join(diff)}); "
                             f"use the original ones or {param('force')}")
        if state.get("fingerprint") != self.fingerprint:
            raise UsageError(f"{where}: the checkpoint heals a different transplant (model, tokenizer, method or "
                             f"seed changed); use {param('force')} to start over")
        with torch.no_grad():
            for k, v in state["params"].items():
                self.params[k].copy_(v)
            for k, (m, v, t) in state["adam"].items():
                for mine, saved in zip(self.adam[k], (m, v, t)):
                    mine.copy_(saved)
        self.step_done = int(state["step"])
        self.curve = list(state["curve"])


def _fingerprint(rows, params) -> str:
    h = hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes())
    for k in sorted(params):
        h.update(k.encode())
        h.update(params[k].detach().numpy().tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(healer: Healer, work: Path) -> None:
    import torch

    from tokbench.io import atomic_write

    with atomic_write(work / CHECKPOINT, "wb") as fh:
        torch.save(healer.state(), fh)
    write_curve(healer.curve, work / CURVE)


def write_curve(curve: list[dict], path: Path) -> None:
    from tokbench.io import atomic_write

    with atomic_write(path) as fh:
        for rec in curve:
            fh.write(json.dumps(rec) + "\n")


def remove_work(work: Path) -> None:
    """Delete a finished heal's checkpoint files, and the folder when nothing else is in it."""
    for name in (CHECKPOINT, CURVE):
        (work / name).unlink(missing_ok=True)
    if work.is_dir() and not any(work.iterdir()):
        work.rmdir()


def check_work(work: Path, resume: bool, force: bool) -> None:
    """Refuse to overwrite another run's checkpoints unless told (before any loading)."""
    has = (work / CHECKPOINT).is_file()
    if work.exists() and not work.is_dir():
        raise UsageError(f"{work}: exists and is not a folder")
    if resume and not has and work.exists() and any(work.iterdir()):
        raise UsageError(f"{work}: no {CHECKPOINT} to resume from")
    if has and not resume and not force:
        raise UsageError(f"{work}: holds an unfinished heal (use {param('resume')} to continue it or {param('force')} to start over)")


def heal(lm, rows: np.ndarray, texts: list[str], opts: HealOptions, work: Path | None = None, resume: bool = False,
         force: bool = False, progress: bool = True) -> dict:
    """Heal `lm` in place (its embedding rows `rows`) and return a summary with the curve. With `work`, checkpoints
    go there every opts.save_every steps and `resume` continues from them."""
    import torch

    from tokbench.console import meter
    from tokbench.transplant.hypernet_train import step_postfix

    healer = Healer(lm, rows, texts, opts)
    if work is not None:
        work = Path(work)
        check_work(work, resume, force)
        if resume and (work / CHECKPOINT).is_file():
            try:
                state = torch.load(work / CHECKPOINT, weights_only=False)
            except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is an input problem
                raise InputError(f"{work / CHECKPOINT}: unreadable checkpoint ({str(exc).splitlines()[0]})") from None
            healer.load_state(state, work)
        elif force:
            for name in (CHECKPOINT, CURVE):
                (work / name).unlink(missing_ok=True)
        work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    first = healer.step_done
    stopped = "steps"
    with meter("heal step", opts.steps, first, every=10, enabled=progress) as shown:
        while healer.step_done < opts.steps:
            rec = healer.step()
            rec["seconds"] = round(time.perf_counter() - t0, 3)
            shown.update(rec["step"], step_postfix(rec, (healer.step_done - first) / max(rec["seconds"], 1e-9)))
            if work is not None and (healer.step_done % opts.save_every == 0 or healer.step_done == opts.steps):
                save_checkpoint(healer, work)
            if opts.time_limit and time.perf_counter() - t0 > opts.time_limit * 60 and healer.step_done < opts.steps:
                if work is not None:
                    save_checkpoint(healer, work)
                stopped = "time-limit"
                break
    if healer.step_done:
        healer.write_back()
    seconds = time.perf_counter() - t0
    curve = healer.curve
    return {"steps": healer.step_done, "stopped": stopped, "seconds": round(seconds, 2), "rows": int(len(rows)),
            "options": asdict(opts), "first_loss": curve[0]["loss"] if curve else None,
            "last_loss": curve[-1]["loss"] if curve else None,
            "last_bits_per_byte": curve[-1]["bits_per_byte"] if curve else None, "curve": curve,
            "trained": sorted(healer.params)}
