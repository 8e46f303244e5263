"""Benchmark: tokenizer transplantation on SmolLM2-135M, every method on three target tokenizers.

Stages (each resumable; `--stage all`, what `make bench` runs, does them in order):
- cold: a TokenAdapt transplant onto the 32k English BPE with the auxiliary (MiniLM) cache cold, wall and CPU seconds.
- holdout: 10% of SmolLM2's multi-byte tokens treated as new; cosine of each method's rows to the true rows (raw and
  about the mean row). This is the set method defaults may be chosen on: it never sees the evaluation text.
- zeroshot: SmolLM2 onto (a) a 32k byte-level BPE trained with tokbench on the bundled English, (b) mistral-v1 and
  (c) a BPE trained with tokbench on corpora/multi/tr; bits per byte of the original model and of every method on
  FLORES-200 devtest (English for a and b, Turkish for c; >= 50 KiB each, never used for training or tuning), scored
  in blocks of 8 sentences with a bootstrap interval over blocks, plus paired intervals of OMP - TokenAdapt; seconds
  per method.
- ceiling: where the English gap sits (on FLORES dev, never devtest): nats at positions whose target is a new row,
  probability mass on new rows elsewhere, words split differently into shared tokens; what healing new rows can reach.
- heal: the two best zero-shot methods per heal target, healed on the target's training text or FLORES dev
  (`--heal-corpus`; never devtest) for 100 and 500 steps (one run, evaluated at both: the learning rate is constant after warm-up, so step 100 of the run is a
  100-step run); wall seconds of the heal steps alone.
Every stage writes its rows to .cache/bench/transplant/<stage>.json and the merged report to
reports/bench/transplant.json + .md, so stages may run one after another or side by side (`--threads`).

A fresh cache rebuilds the stage files from the existing report (seed_stages), so one stage can be rerun or extended
without losing the other rows.

Run: python -m bench.transplant [--stage all|cold|holdout|zeroshot|ceiling|heal|report] [--targets en32k,mistral-v1,tr]
     [--methods ...] [--eval-bytes N] [--heal-steps 100,500] [--heal-corpus train|flores-dev] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
METHODS = ["tokenadapt", "omp", "focus", "subword-mean", "hewitt", "mean", "random", "zett"]
FLORES = Path("/work/shared/corpora/flores200")
TARGETS = {"en32k": "en", "mistral-v1": "en", "tr": "tr"}  # target tokenizer -> evaluation language
FLORES_FILE = {"en": "eng_Latn.devtest", "tr": "tur_Latn.devtest"}
BLOCK_LINES = 8


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def split_en_tech() -> tuple[list[Path], list[Path]]:
    """Bundled en-tech documents: every 10th (by name) is held out for scoring, the rest may train tokenizers."""
    from tokbench.corpus import bundled

    docs = sorted(p for p in bundled("en-tech").iterdir() if p.is_file())
    return [p for i, p in enumerate(docs) if i % 10 != 9], [p for i, p in enumerate(docs) if i % 10 == 9]


def train_en32k(path: Path) -> dict:
    """A byte-level BPE asked for 32k tokens, trained on the bundled English (en-dict, legal, multi/en, parallel/en,
    en-tech without its held-out documents) and bundled Python source (code-py). The ~0.8 MB of bundled text runs
    out of pairs to merge before 32k (vocab_size in the report says how many it reached)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from tokbench.corpus import Corpus, bundled

    train_docs, _ = split_en_tech()
    specs = [str(bundled(n)) for n in ("en-dict", "legal", "code-py", "multi/en", "parallel/en")]
    specs += [str(p) for p in train_docs]
    texts = list(Corpus(specs).documents())
    if not path.exists():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=32000, special_tokens=["<|endoftext|>"], show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(texts, trainer)
        path.parent.mkdir(parents=True, exist_ok=True)
        tok.save(str(path))
    from tokenizers import Tokenizer as _T

    return {"path": str(path), "vocab_size": _T.from_file(str(path)).get_vocab_size(),
            "corpus": "bundled en-dict, legal, code-py, multi/en, parallel/en, en-tech (minus held-out documents)",
            "training_bytes": sum(len(t.encode()) for t in texts)}


def heldout_texts(max_bytes: int) -> list[str]:
    """The held-out en-tech documents, at most max_bytes in all (the last one cut at a character boundary)."""
    from tokbench.corpus import read_texts

    _, held = split_en_tech()
    return read_texts([str(p) for p in held], max_bytes)


def cold_timing(tokenizer: str) -> dict:
    """TokenAdapt (MiniLM aux) with an empty aux cache; the converted SmolLM2 folder is reused (it is not aux)."""
    from tokbench.lm import smollm2_folder
    from tokbench.transplant.core import transplant

    models = smollm2_folder().parent
    saved = os.environ.get("TOKBENCH_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(models, Path(tmp) / "models")
        os.environ["TOKBENCH_CACHE"] = tmp
        try:
            load0 = os.getloadavg()[0]
            t0, c0 = time.perf_counter(), cpu_seconds()
            res = transplant("smollm2", tokenizer, "tokenadapt", out=Path(tmp) / "out")
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        finally:
            if saved is None:
                os.environ.pop("TOKBENCH_CACHE", None)
            else:
                os.environ["TOKBENCH_CACHE"] = saved
    return {"method": "tokenadapt", "aux": "minilm (cold)", "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "cpu_s_per_core_on_2": round(cpu / 2, 1), "target_s": 120, "loadavg_at_start": round(load0, 2),
            "loadavg_at_end": round(os.getloadavg()[0], 2), "counts": res.counts}


def holdout_cosines() -> list[dict]:
    from safetensors import safe_open

    from tokbench.lm import smollm2_folder
    from tokbench.tokenizer import load_tokenizer
    from tokbench.transplant.core import Context
    from tokbench.transplant.methods import get_method

    folder = smollm2_folder()
    tok = load_tokenizer(folder)
    with safe_open(str(folder / "model.safetensors"), "np") as f:
        emb = f.get_tensor("model.embed_tokens.weight").astype(np.float32)
    lengths = np.array([len(b) for b in tok.all_token_bytes()])
    cand = np.array([i for i in np.flatnonzero(lengths >= 2) if i not in tok.special_ids])
    targets = np.sort(np.random.default_rng(0).choice(cand, size=len(cand) // 10, replace=False))
    banned = np.zeros(len(emb), bool)
    banned[targets] = True
    mu = emb.mean(0)

    def cos(a, b):
        num, den = np.sum(a * b, 1), np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        return float(np.mean(np.divide(num, den, out=np.zeros_like(num), where=den > 0)))

    rows = []
    runs = [(m, {}) for m in ("random", "mean", "hewitt", "subword-mean")]
    runs += [(m, {"aux": a}) for a in ("minilm", "glove", "self") for m in ("tokenadapt", "tokenadapt-local",
                                                                            "tokenadapt-global", "omp", "focus")]
    for name, params in runs:
        t0 = time.perf_counter()
        plan = get_method(name)(Context(tok, tok, emb, targets, params=params, banned_old=banned))
        est = plan.apply(emb, np.random.default_rng(1))
        rows.append({"method": name, "aux": params.get("aux", ""), "cosine": round(cos(est, emb[targets]), 4),
                     "centred_cosine": round(cos(est - mu, emb[targets] - mu), 4),
                     "seconds": round(time.perf_counter() - t0, 1)})
        print(rows[-1], file=sys.stderr, flush=True)
    return [{"heldout_tokens": int(len(targets))}] + rows


def flores_blocks(lang: str, min_bytes: int) -> list[str]:
    """FLORES-200 devtest sentences in order, grouped BLOCK_LINES to a block, until at least min_bytes."""
    path = Path(os.environ.get("TOKBENCH_FLORES", FLORES)) / FLORES_FILE[lang]
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, total = [], 0
    for i in range(0, len(lines), BLOCK_LINES):
        block = "\n".join(lines[i:i + BLOCK_LINES]) + "\n"
        blocks.append(block)
        total += len(block.encode("utf-8"))
        if total >= min_bytes:
            break
    return blocks


def train_tr(path: Path, vocab_size: int = 16000) -> dict:
    """A byte-level BPE trained with tokbench (numba engine, gpt2 pre-tokenizer) on corpora/multi/tr."""
    import subprocess

    from tokbench.corpus import bundled
    from tokenizers import Tokenizer

    corpus = bundled("multi/tr")
    if not path.exists():
        subprocess.run([sys.executable, "-m", "tokbench.cli", "train", str(corpus), "--vocab-size", str(vocab_size),
                        "--special-tokens", "<|endoftext|>", "-o", str(path)], check=True)
    size = sum(p.stat().st_size for p in Path(corpus).rglob("*") if p.is_file())
    return {"path": str(path), "vocab_size": Tokenizer.from_file(str(path)).get_vocab_size(), "asked": vocab_size,
            "corpus": "bundled multi/tr (tokbench train, numba BPE)", "training_bytes": size}


HEAL_CORPORA = {"train": "the target tokenizer's training text (bundled)",
                "flores-dev": "FLORES-200 dev (all sentences; the evaluation text is devtest)"}


def heal_texts(target: str, corpus: str) -> list[str]:
    """What heal trains on: the target tokenizer's training text, or FLORES-200 dev in the evaluation language (the
    text a user with news to model would heal on; disjoint from the devtest sentences scored here)."""
    if corpus == "train":
        return train_texts(target)
    lines = (Path(os.environ.get("TOKBENCH_FLORES", FLORES)) / FLORES_FILE[TARGETS[target]].replace("devtest", "dev")
             ).read_text(encoding="utf-8").splitlines()
    return ["\n".join(lines[i:i + BLOCK_LINES]) + "\n" for i in range(0, len(lines), BLOCK_LINES)]


def train_texts(target: str) -> list[str]:
    """The text a target's tokenizer was trained on (English for en32k and mistral-v1)."""
    from tokbench.corpus import Corpus, bundled

    if TARGETS[target] == "tr":
        return list(Corpus([str(bundled("multi/tr"))]).documents())
    train_docs, _ = split_en_tech()
    specs = [str(bundled(n)) for n in ("en-dict", "legal", "code-py", "multi/en", "parallel/en")]
    return list(Corpus(specs + [str(p) for p in train_docs]).documents())


def score_blocks(lm, blocks: list[str], context: int) -> dict:
    """Bits per byte over the blocks (each scored as its own document) with per-block nats and bytes."""
    nll, nbytes, tokens = [], [], 0
    for b in blocks:
        r = lm.bits_per_byte([b], context=context, progress=False)
        nll.append(r["nll"])
        nbytes.append(r["bytes"])
        tokens += r["tokens"]
    nll, nbytes = np.array(nll), np.array(nbytes)
    lo, hi = bootstrap(nll, nbytes)
    return {"bits_per_byte": round(float(nll.sum() / (np.log(2) * nbytes.sum())), 4), "ci95": [round(lo, 4), round(hi, 4)],
            "tokens": tokens, "bytes": int(nbytes.sum()), "blocks": len(blocks), "block_nll": nll.round(4).tolist()}


def bootstrap(nll: np.ndarray, nbytes: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of total bits per byte, resampling blocks with replacement."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(nll), size=(reps, len(nll)))
    stats = nll[pick].sum(1) / (np.log(2) * nbytes[pick].sum(1))
    return float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5))


def paired_interval(a: dict, b: dict, nbytes: np.ndarray, reps: int = 2000, seed: int = 0) -> dict:
    """bits per byte of a minus b on the same blocks, with a paired bootstrap 95% interval."""
    da, db = np.array(a["block_nll"]), np.array(b["block_nll"])
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(da), size=(reps, len(da)))
    diff = (da[pick].sum(1) - db[pick].sum(1)) / (np.log(2) * nbytes[pick].sum(1))
    point = (da.sum() - db.sum()) / (np.log(2) * nbytes.sum())
    return {"difference": round(float(point), 4), "ci95": [round(float(np.percentile(diff, 2.5)), 4),
                                                          round(float(np.percentile(diff, 97.5)), 4)]}


# ---------------------------------------------------------------------------------------------------- state files
def stage_path(stage: str) -> Path:
    from tokbench.io import cache_dir

    return cache_dir("bench", "transplant") / f"{stage}.json"


def load_stage(stage: str) -> dict:
    p = stage_path(stage)
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}


def save_stage(stage: str, data: dict) -> None:
    from tokbench.io import write_json

    write_json(stage_path(stage), data)


def tokenizers_for(targets: list[str]) -> dict[str, str]:
    from tokbench.io import cache_dir

    specs = {}
    for t in targets:
        if t == "en32k":
            specs[t] = train_en32k(cache_dir("bench") / "en32k.json")["path"]
        elif t == "tr":
            specs[t] = train_tr(cache_dir("bench") / "tr16k.json")["path"]
        else:
            specs[t] = t
    return specs


def hypernet_folder() -> Path:
    from tokbench.io import cache_dir

    return cache_dir("bench") / "hypernet-smollm2"


METHOD_SPECS = {"omp-shared": ("omp", {"atoms": "shared"}),  # bench rows for non-default method settings
                "omp-plain": ("omp", {"centre": False, "shrink": 1.0})}  # mergekit's raw code (the old default)


def run_zeroshot(targets: list[str], methods: list[str], eval_bytes: int, context: int, on_change,
                 stage: str = "zeroshot") -> None:
    from tokbench.lm import load_lm
    from tokbench.transplant.core import transplant

    state = load_stage(stage)
    state.setdefault("rows", {})
    rows = state["rows"]
    for lang in dict.fromkeys(TARGETS[t] for t in targets):
        key = f"original|{lang}"
        if key not in rows:
            blocks = flores_blocks(lang, eval_bytes)
            t0 = time.perf_counter()
            rows[key] = {"target": "smollm2 (original)", "eval": lang, "method": "-",
                         **score_blocks(load_lm("smollm2"), blocks, context),
                         "eval_s": round(time.perf_counter() - t0, 1)}
            save_stage(stage, state)
            on_change()
    specs = tokenizers_for(targets)
    for t in targets:
        lang = TARGETS[t]
        blocks = flores_blocks(lang, eval_bytes)
        for method in methods:
            key = f"{t}|{method}"
            if key in rows:
                continue
            name, params = METHOD_SPECS.get(method, (method, {}))
            if method == "zett":
                folder = hypernet_folder()
                if not (folder / "config.json").is_file():
                    rows[key] = {"target": t, "eval": lang, "method": method,
                                 "skipped": f"no trained hypernetwork at {folder} (`make hypernet` trains one)"}
                    save_stage(stage, state)
                    continue
                params = {"hypernet": str(folder)}
            load0 = os.getloadavg()[0]
            t0, c0 = time.perf_counter(), cpu_seconds()
            res = transplant("smollm2", specs[t], name, save=False, lm=load_lm("smollm2"), params=params)
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            t1 = time.perf_counter()
            score = score_blocks(res.lm, blocks, context)
            rows[key] = {"target": t, "eval": lang, "method": method, **score, "transplant_s": round(wall, 1),
                         "transplant_cpu_s": round(cpu, 1), "eval_s": round(time.perf_counter() - t1, 1),
                         "loadavg": round(load0, 1), "copied": res.counts["copied"],
                         "approximated": res.counts["approximated"], "fallback": res.counts["fallback"],
                         "vocab_size": res.counts["vocab_size"]}
            print({k: v for k, v in rows[key].items() if k != "block_nll"}, file=sys.stderr, flush=True)
            save_stage(stage, state)
            on_change()


def best_methods(target: str, n: int = 2) -> list[str]:
    rows = [r for k, r in load_stage("zeroshot").get("rows", {}).items()
            if k.startswith(f"{target}|") and "bits_per_byte" in r]
    return [r["method"] for r in sorted(rows, key=lambda r: r["bits_per_byte"])[:n]]


def heal_key(target: str, method: str, steps: int, corpus: str) -> str:
    return f"{target}|{method}|{steps}" + ("" if corpus == "train" else f"|{corpus}")


def run_heal(targets: list[str], methods: list[str] | None, steps: list[int], eval_bytes: int, context: int,
             on_change, opts_kw: dict, corpus: str = "train") -> None:
    from tokbench.lm import load_lm
    from tokbench.transplant.core import transplant
    from tokbench.transplant.heal import Healer, HealOptions

    state = load_stage("heal")
    state.setdefault("rows", {})
    rows = state["rows"]
    specs = tokenizers_for(targets)
    for t in targets:
        blocks = flores_blocks(TARGETS[t], eval_bytes)
        texts = heal_texts(t, corpus)
        for method in methods or best_methods(t):
            if all(heal_key(t, method, s, corpus) in rows for s in steps):
                continue
            res = transplant("smollm2", specs[t], method, save=False, lm=load_lm("smollm2"))
            opts = HealOptions(steps=max(steps), **opts_kw)
            healer = Healer(res.lm, res.targets, texts, opts)
            heal_wall = heal_cpu = 0.0
            load0 = os.getloadavg()[0]
            for s in sorted(steps):
                t0, c0 = time.perf_counter(), cpu_seconds()
                while healer.step_done < s:
                    rec = healer.step()
                    if rec["step"] % 25 == 0:
                        print(f"heal {t} {method} step {rec['step']} loss {rec['loss']:.3f} "
                              f"bpb {rec['bits_per_byte']:.3f}", file=sys.stderr, flush=True)
                heal_wall += time.perf_counter() - t0
                heal_cpu += cpu_seconds() - c0
                healer.write_back()
                score = score_blocks(res.lm, blocks, context)
                curve = healer.curve
                key = heal_key(t, method, s, corpus)
                rows[key] = {
                    "target": t, "eval": TARGETS[t], "method": method, "heal_steps": s, **score,
                    "heal_wall_s": round(heal_wall, 1), "heal_cpu_s": round(heal_cpu, 1), "loadavg_at_start": round(load0, 1),
                    "train_loss_last25": round(float(np.mean([r["loss"] for r in curve[-25:]])), 4),
                    "options": {**opts_kw, "steps_of_run": max(steps)}, "trained_rows": int(len(res.targets)),
                    "heal_corpus": HEAL_CORPORA[corpus]}
                print({k: v for k, v in rows[key].items() if k != "block_nll"}, file=sys.stderr, flush=True)
                save_stage("heal", state)
                on_change()


WORD = r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+"


def heal_ceiling(target: str, method: str) -> dict:
    """Where the zero-shot gap of `method` on `target` sits, on FLORES-200 dev sentences 800 on (never devtest).

    Per scored position of the transplanted model: is the target token a new (trainable) row or a shared one; the nats
    at new-target positions; and the probability mass put on new tokens where the target is shared. A heal of the new
    rows alone can at best predict every new target perfectly and hand all that mass back to the shared tokens: the
    sum is an approximate ceiling of what it can recover (the new input rows' effect on later positions is not
    counted; `input_new_positions` says how many positions have one). Also the share of words the new tokenizer
    splits differently from the model's own while every piece is a shared token: errors no new row takes part in."""
    import re

    import torch

    from tokbench.lm import load_lm
    from tokbench.transplant.core import transplant

    lines = (Path(os.environ.get("TOKBENCH_FLORES", FLORES)) / FLORES_FILE[TARGETS[target]].replace("devtest", "dev")
             ).read_text(encoding="utf-8").splitlines()[800:]
    blocks = ["\n".join(lines[i:i + BLOCK_LINES]) + "\n" for i in range(0, len(lines), BLOCK_LINES)]
    n_bytes = sum(len(b.encode("utf-8")) for b in blocks)
    original = load_lm("smollm2")
    res = transplant("smollm2", tokenizers_for([target])[target], method, save=False, lm=load_lm("smollm2"))
    lm, tok = res.lm, res.lm.tokenizer
    new = np.zeros(lm.vocab_size, bool)
    new[res.targets] = True
    new_ids = torch.from_numpy(res.targets)
    nats = {"new": 0.0, "shared": 0.0}
    count = {"new": 0, "shared": 0, "input_new": 0}
    mass_bound = 0.0  # sum over shared-target positions of -ln(1 - mass on new tokens)
    mass = []
    with torch.inference_mode():
        for b in blocks:
            ids = torch.tensor([lm.start_ids + tok.encode(b)])
            lp = torch.log_softmax(lm.model(input_ids=ids).logits[0, :-1].float(), -1)
            tgt = ids[0, 1:]
            nll = -lp[torch.arange(len(tgt)), tgt].numpy()
            p_new = torch.logsumexp(lp[:, new_ids], -1).exp().numpy()
            is_new = new[tgt.numpy()]
            nats["new"] += float(nll[is_new].sum())
            nats["shared"] += float(nll[~is_new].sum())
            count["new"] += int(is_new.sum())
            count["shared"] += int((~is_new).sum())
            count["input_new"] += int(new[ids[0, :-1].numpy()].sum())
            mass_bound += float(-np.log1p(-np.minimum(p_new[~is_new], 1 - 1e-7)).sum())
            mass.extend(p_new[~is_new].tolist())
    bpb = lambda x: x / (np.log(2) * n_bytes)  # noqa: E731
    orig = original.bits_per_byte(blocks, progress=False)["bits_per_byte"]
    zero = bpb(nats["new"] + nats["shared"])
    ceiling = bpb(nats["new"] + mass_bound)  # the most a new-rows-only heal can take off
    words = re.findall(WORD, "\n".join(lines))
    old_tok, old_b, new_b = original.tokenizer, original.tokenizer.all_token_bytes(), tok.all_token_bytes()
    differ = shared_only = 0
    for w in words:
        a, n = old_tok.encode(w), tok.encode(w)
        if [old_b[i] for i in a] != [new_b[i] for i in n]:
            differ += 1
            shared_only += not new[n].any()
    return {"target": target, "method": method, "text": "FLORES-200 dev sentences 800-996 (not devtest)",
            "bytes": n_bytes, "positions": count["new"] + count["shared"], "new_target_positions": count["new"],
            "input_new_positions": count["input_new"], "trained_rows": int(len(res.targets)),
            "original_bpb": round(orig, 4), "zero_shot_bpb": round(zero, 4), "gap": round(zero - orig, 4),
            "bpb_at_new_targets": round(bpb(nats["new"]), 4), "bpb_at_shared_targets": round(bpb(nats["shared"]), 4),
            "mean_mass_on_new_at_shared_targets": round(float(np.mean(mass)), 4),
            "max_recoverable_bpb_new_rows_only": round(ceiling, 4),
            "max_recoverable_share_of_gap": round(ceiling / (zero - orig), 3),
            "words": len(words), "words_split_differently": round(differ / len(words), 4),
            "words_split_differently_into_shared_tokens_only": round(shared_only / len(words), 4)}


def seed_stages(report_path: Path) -> None:
    """The stage files are a cache and the report is the record: where a stage file is missing (a fresh cache) and
    the report exists, the stage is rebuilt from the report's rows, so rerunning one stage keeps every other row."""
    if not report_path.exists():
        return
    rep = json.loads(report_path.read_text(encoding="utf-8"))
    by_text = {v: k for k, v in HEAL_CORPORA.items()}
    if not stage_path("zeroshot").exists() and rep.get("bits_per_byte"):
        save_stage("zeroshot", {"rows": {(f"original|{r['eval']}" if r["method"] == "-" else f"{r['target']}|{r['method']}"): r
                                         for r in rep["bits_per_byte"]}})
    if not stage_path("heal").exists() and rep.get("heal"):
        save_stage("heal", {"rows": {heal_key(r["target"], r["method"], r["heal_steps"],
                                              by_text.get(r.get("heal_corpus"), "train")): r for r in rep["heal"]}})
    for stage, key in (("cold", "cold_transplant"), ("holdout", "holdout_reconstruction"), ("ceiling", "heal_ceiling")):
        if not stage_path(stage).exists() and key in rep:
            save_stage(stage, {"result": rep[key]})
    if not stage_path("tokenizers").exists():
        save_stage("tokenizers", {k: v for k, v in rep.items() if k.startswith("tokenizer_")})
    if not stage_path("notes").exists() and rep.get("notes"):
        save_stage("notes", {"notes": rep["notes"]})
    if not stage_path("paired").exists() and rep.get("vs_tokenadapt"):  # kept where block_nll is not in the report
        save_stage("paired", {"rows": rep["vs_tokenadapt"]})


# ------------------------------------------------------------------------------------------------------- report
def build_report(eval_bytes: int) -> dict:
    from tokbench.io import cache_dir

    report = {"model": "SmolLM2-135M-Instruct (Q4_1 GGUF dequantised to fp32)", "cpus": os.cpu_count(),
              "heldout_text": f"FLORES-200 devtest (English: eng_Latn, Turkish: tur_Latn), first >= {eval_bytes} bytes, "
                              f"in blocks of {BLOCK_LINES} sentences, each scored as its own document",
              "machine_note": "2 cores shared with other engineers' jobs: wall seconds are inflated (loadavg is "
                              "recorded per row); CPU seconds are closer to the work done"}
    for name in ("en32k", "tr16k"):
        p = cache_dir("bench") / f"{name}.json"
        if p.exists():
            from tokenizers import Tokenizer

            report[f"tokenizer_{name}"] = {"path": str(p), "vocab_size": Tokenizer.from_file(str(p)).get_vocab_size()}
        elif f"tokenizer_{name}" in load_stage("tokenizers"):  # a fresh cache: what the report recorded stands
            report[f"tokenizer_{name}"] = load_stage("tokenizers")[f"tokenizer_{name}"]
    for stage, key in (("cold", "cold_transplant"), ("holdout", "holdout_reconstruction"), ("ceiling", "heal_ceiling")):
        data = load_stage(stage)
        if data:
            report[key] = data["result"]
    zs = load_stage("zeroshot").get("rows", {})
    report["bits_per_byte"] = list(zs.values())  # with block_nll: paired intervals can be recomputed from the report
    paired = []
    earlier = load_stage("paired").get("rows", [])
    for variant in ["omp", *[m for m in METHOD_SPECS if m.startswith("omp")], "focus"]:
        for t in TARGETS:
            a, b = zs.get(f"{t}|{variant}"), zs.get(f"{t}|tokenadapt")
            kept = [p for p in earlier if p["target"] == t and p["comparison"] == f"{variant} - tokenadapt"]
            if a and b and ("block_nll" not in a or "block_nll" not in b) and kept:
                paired.append(kept[0])  # rows rebuilt from a report without per-block nats: its interval stands
            elif a and b and "block_nll" in a and "block_nll" in b:
                blocks = flores_blocks(TARGETS[t], eval_bytes)
                nbytes = np.array([len(x.encode("utf-8")) for x in blocks])
                paired.append({"target": t, "comparison": f"{variant} - tokenadapt", **paired_interval(a, b, nbytes),
                               "at_or_below_tokenadapt": a["bits_per_byte"] <= b["bits_per_byte"]})
    report["vs_tokenadapt"] = paired
    omp_rows = [p for p in paired if p["comparison"] == "omp - tokenadapt"]
    if omp_rows:
        report["target_omp"] = {"met": sum(p["at_or_below_tokenadapt"] for p in omp_rows) >= 2,
                                "targets_at_or_below": sum(p["at_or_below_tokenadapt"] for p in omp_rows),
                                "of_measured": len(omp_rows), "of": len(TARGETS)}
    heal = load_stage("heal").get("rows", {})
    report["heal"] = list(heal.values())
    orig = zs.get("original|en")
    best = min((r for k, r in zs.items() if k.startswith("en32k|") and "bits_per_byte" in r),
               key=lambda r: r["bits_per_byte"], default=None)
    runs = [r for r in heal.values() if best and r["target"] == "en32k" and r["method"] == best["method"]]
    longest = max((r["heal_steps"] for r in runs), default=0)
    # the longest heal of the best zero-shot method (500 steps when run in full), on whichever heal corpus did best
    healed = min((r for r in runs if r["heal_steps"] == longest), key=lambda r: r["bits_per_byte"], default=None)
    if orig and best and healed:
        gap = best["bits_per_byte"] - orig["bits_per_byte"]
        rec = (best["bits_per_byte"] - healed["bits_per_byte"]) / gap if gap > 0 else None
        report["target_heal"] = {"best_zero_shot": best["method"], "original": orig["bits_per_byte"],
                                 "zero_shot": best["bits_per_byte"], "heal_steps": healed["heal_steps"],
                                 "healed": healed["bits_per_byte"], "heal_corpus": healed.get("heal_corpus"),
                                 "gap_recovered": None if rec is None else round(rec, 3),
                                 "heal_wall_s": healed["heal_wall_s"], "heal_cpu_s": healed["heal_cpu_s"],
                                 "met": bool(healed["heal_steps"] >= 500 and rec is not None and rec >= 0.5
                                             and healed["heal_wall_s"] <= 900)}
    return report


def write_markdown(report: dict, path: Path) -> None:
    """A human summary of the JSON report."""
    from tokbench.io import atomic_write, format_records

    def table(rows: list[dict], drop=()) -> str:
        keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in drop]
        return format_records([{k: r.get(k, "") for k in keys} for r in rows], "md")

    parts = [f"# Transplant benchmark\n\nModel: {report['model']}. Held-out text: {report['heldout_text']}. "
             f"{report['machine_note']}.\n"]
    cold = report.get("cold_transplant")
    if cold:
        parts.append(f"\nCold TokenAdapt transplant onto the 32k BPE: {cold['wall_s']} s wall, {cold['cpu_s']} s CPU "
                     f"(load average {cold['loadavg_at_start']} on {report['cpus']} cores).\n")
    hold = [r for r in report.get("holdout_reconstruction", []) if "method" in r]
    if hold:
        parts.append("\n## Hold-out reconstruction (10% of SmolLM2 tokens)\n\n" + table(hold))
    rows = report.get("bits_per_byte") or []
    if rows:
        parts.append("\n## Bits per byte, zero-shot (95% bootstrap interval over blocks)\n\n"
                     + table(rows, drop=("blocks", "block_nll")))
    if report.get("vs_tokenadapt"):
        parts.append("\n## OMP and FOCUS vs TokenAdapt (paired bootstrap on the same blocks)\n\n"
                     + table(report["vs_tokenadapt"]))
    ceiling = report.get("heal_ceiling")
    if ceiling:
        parts.append("\n## Where the English gap sits (what healing the new rows can reach)\n\n"
                     + table([{"measure": k, "value": v} for k, v in ceiling.items()]))
    for key in ("target_omp", "target_heal"):
        if key in report:
            parts.append(f"\n{key}: `{json.dumps(report[key])}`\n")
    if report.get("heal"):
        parts.append("\n## After embedding heal\n\n" + table(report["heal"], drop=("options", "blocks", "block_nll")))
        parts.append(f"\nHeal options: `{json.dumps(report['heal'][0]['options'])}`\n")
    for note in report.get("notes", []):
        parts.append(f"\n- {note}")
    with atomic_write(path) as fh:
        fh.write("".join(parts) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", default="all", choices=["all", "cold", "holdout", "zeroshot", "ceiling", "heal", "report"])
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--heal-targets", default="en32k")
    ap.add_argument("--heal-methods", default="", help="default: the two best zero-shot methods per heal target")
    ap.add_argument("--heal-steps", default="100,500")
    ap.add_argument("--heal-batch-size", type=int, default=4)
    ap.add_argument("--heal-seq-len", type=int, default=128)
    ap.add_argument("--heal-lr", type=float, default=1e-3)
    ap.add_argument("--heal-corpus", default="train", choices=list(HEAL_CORPORA))
    ap.add_argument("--eval-bytes", type=int, default=51_200)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--note", action="append", default=[], help="a line for the report (e.g. what was reduced)")
    ap.add_argument("--stage-file", default="zeroshot", help="zero-shot rows file (side-by-side runs need their own)")
    ap.add_argument("--out", default=str(REPO / "reports" / "bench" / "transplant.json"))
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from tokbench.io import cache_dir, write_json

    out = Path(args.out)
    seed_stages(out)
    notes_state = load_stage("notes")
    if args.note:
        notes_state["notes"] = notes_state.get("notes", []) + args.note
        save_stage("notes", notes_state)

    def write() -> None:
        report = build_report(args.eval_bytes)
        report["notes"] = load_stage("notes").get("notes", [])
        write_json(out, report)
        write_markdown(report, out.with_suffix(".md"))

    stages = ["cold", "holdout", "zeroshot", "ceiling", "heal"] if args.stage == "all" else [args.stage]
    if "cold" in stages and not load_stage("cold"):
        en32k = train_en32k(cache_dir("bench") / "en32k.json")
        save_stage("cold", {"result": cold_timing(en32k["path"])})
        write()
    if "holdout" in stages and not load_stage("holdout"):
        save_stage("holdout", {"result": holdout_cosines()})
        write()
    if "zeroshot" in stages:
        run_zeroshot(args.targets.split(","), args.methods.split(","), args.eval_bytes, args.context, write,
                     args.stage_file)
    if "ceiling" in stages and not load_stage("ceiling"):
        save_stage("ceiling", {"result": heal_ceiling("en32k", (best_methods("en32k", 1) or ["tokenadapt"])[0])})
        write()
    if "heal" in stages:
        steps = [int(s) for s in args.heal_steps.split(",")]
        run_heal(args.heal_targets.split(","), [m for m in args.heal_methods.split(",") if m] or None, steps,
                 args.eval_bytes, args.context, write,
                 {"batch_size": args.heal_batch_size, "seq_len": args.heal_seq_len, "lr": args.heal_lr},
                 args.heal_corpus)
    write()
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
