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
- heal: the two best zero-shot methods per heal target, healed on the target's training text (never FLORES) for 100
  and 500 steps (one run, evaluated at both: the learning rate is constant after warm-up, so step 100 of the run is a
  100-step run); wall seconds of the heal steps alone.
Every stage writes its rows to .cache/bench/transplant/<stage>.json and the merged report to
reports/bench/transplant.json + .md, so stages may run one after another or side by side (`--threads`).

Run: python -m bench.transplant [--stage all|cold|holdout|zeroshot|heal] [--targets en32k,mistral-v1,tr]
     [--methods ...] [--eval-bytes N] [--heal-steps 100,500] [--threads N]
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


def train_texts(target: str) -> list[str]:
    """The text a target's tokenizer was trained on (English for en32k and mistral-v1): what heal trains on."""
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


def run_heal(targets: list[str], methods: list[str] | None, steps: list[int], eval_bytes: int, context: int,
             on_change, opts_kw: dict) -> None:
    from tokbench.lm import load_lm
    from tokbench.transplant.core import transplant
    from tokbench.transplant.heal import Healer, HealOptions

    state = load_stage("heal")
    state.setdefault("rows", {})
    rows = state["rows"]
    specs = tokenizers_for(targets)
    for t in targets:
        blocks = flores_blocks(TARGETS[t], eval_bytes)
        texts = train_texts(t)
        for method in methods or best_methods(t):
            if all(f"{t}|{method}|{s}" in rows for s in steps):
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
                rows[f"{t}|{method}|{s}"] = {
                    "target": t, "eval": TARGETS[t], "method": method, "heal_steps": s, **score,
                    "heal_wall_s": round(heal_wall, 1), "heal_cpu_s": round(heal_cpu, 1), "loadavg_at_start": round(load0, 1),
                    "train_loss_last25": round(float(np.mean([r["loss"] for r in curve[-25:]])), 4),
                    "options": {**opts_kw, "steps_of_run": max(steps)}, "trained_rows": int(len(res.targets)),
                    "heal_corpus": "the target tokenizer's training text (bundled)"}
                print({k: v for k, v in rows[f"{t}|{method}|{s}"].items() if k != "block_nll"}, file=sys.stderr,
                      flush=True)
                save_stage("heal", state)
                on_change()


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
    for stage in ("cold", "holdout"):
        data = load_stage(stage)
        if data:
            report[{"cold": "cold_transplant", "holdout": "holdout_reconstruction"}[stage]] = data["result"]
    zs = load_stage("zeroshot").get("rows", {})
    report["bits_per_byte"] = [{k: v for k, v in r.items() if k != "block_nll"} for r in zs.values()]
    paired = []
    for variant in ["omp", *[m for m in METHOD_SPECS if m.startswith("omp")], "focus"]:
        for t in TARGETS:
            a, b = zs.get(f"{t}|{variant}"), zs.get(f"{t}|tokenadapt")
            if a and b and "block_nll" in a and "block_nll" in b:
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
    report["heal"] = [{k: v for k, v in r.items() if k != "block_nll"} for r in heal.values()]
    orig = zs.get("original|en")
    best = min((r for k, r in zs.items() if k.startswith("en32k|") and "bits_per_byte" in r),
               key=lambda r: r["bits_per_byte"], default=None)
    runs = sorted((r for r in heal.values() if best and r["target"] == "en32k" and r["method"] == best["method"]),
                  key=lambda r: r["heal_steps"])
    healed = runs[-1] if runs else None  # the longest heal of the best zero-shot method (500 steps when run in full)
    if orig and best and healed:
        gap = best["bits_per_byte"] - orig["bits_per_byte"]
        rec = (best["bits_per_byte"] - healed["bits_per_byte"]) / gap if gap > 0 else None
        report["target_heal"] = {"best_zero_shot": best["method"], "original": orig["bits_per_byte"],
                                 "zero_shot": best["bits_per_byte"], "heal_steps": healed["heal_steps"],
                                 "healed": healed["bits_per_byte"],
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
                     + table(rows, drop=("blocks",)))
    if report.get("vs_tokenadapt"):
        parts.append("\n## OMP and FOCUS vs TokenAdapt (paired bootstrap on the same blocks)\n\n"
                     + table(report["vs_tokenadapt"]))
    for key in ("target_omp", "target_heal"):
        if key in report:
            parts.append(f"\n{key}: `{json.dumps(report[key])}`\n")
    if report.get("heal"):
        parts.append("\n## After embedding heal\n\n" + table(report["heal"], drop=("options", "blocks")))
        parts.append(f"\nHeal options: `{json.dumps(report['heal'][0]['options'])}`\n")
    for note in report.get("notes", []):
        parts.append(f"\n- {note}")
    with atomic_write(path) as fh:
        fh.write("".join(parts) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", default="all", choices=["all", "cold", "holdout", "zeroshot", "heal", "report"])
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--heal-targets", default="en32k")
    ap.add_argument("--heal-methods", default="", help="default: the two best zero-shot methods per heal target")
    ap.add_argument("--heal-steps", default="100,500")
    ap.add_argument("--heal-batch-size", type=int, default=4)
    ap.add_argument("--heal-seq-len", type=int, default=128)
    ap.add_argument("--heal-lr", type=float, default=1e-3)
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
    notes_state = load_stage("notes")
    if args.note:
        notes_state["notes"] = notes_state.get("notes", []) + args.note
        save_stage("notes", notes_state)

    def write() -> None:
        report = build_report(args.eval_bytes)
        report["notes"] = load_stage("notes").get("notes", [])
        write_json(out, report)
        write_markdown(report, out.with_suffix(".md"))

    stages = ["cold", "holdout", "zeroshot", "heal"] if args.stage == "all" else [args.stage]
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
    if "heal" in stages:
        steps = [int(s) for s in args.heal_steps.split(",")]
        run_heal(args.heal_targets.split(","), [m for m in args.heal_methods.split(",") if m] or None, steps,
                 args.eval_bytes, args.context, write,
                 {"batch_size": args.heal_batch_size, "seq_len": args.heal_seq_len, "lr": args.heal_lr})
    write()
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
