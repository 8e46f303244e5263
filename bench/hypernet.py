"""Benchmark: a ZeTT hypernetwork for SmolLM2-135M, trained on CPU within a time budget, against TokenAdapt.

1. Train (or resume) a hypernetwork on bundled English (en-tech without its held-out documents, en-dict, legal) for at
   most --minutes of wall time; every step samples a fresh unigram tokenizer from its text.
2. Plot the training curve (LM loss per step and its running mean; reconstruction MSE) to reports/bench/.
3. Bits per byte on held-out English (every 10th en-tech document, as bench/transplant.py) of the original model and
   of subword-mean, TokenAdapt and zett transplants onto two tokenizers never sampled in training: mistral-v1
   (SentencePiece, 32k) and the 32k byte-level BPE bench/transplant.py trains on the same bundled English.

Writes reports/bench/hypernet.json and reports/bench/hypernet_curve.png.
Run: python -m bench.hypernet [--minutes 25] [--eval-bytes N] [--skip-train]   (or `make hypernet`)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
METHODS = ["subword-mean", "tokenadapt", "zett (after warm-up only)", "zett"]


def training_corpus() -> list[str]:
    from bench.transplant import split_en_tech
    from tokbench.corpus import bundled

    train_docs, _ = split_en_tech()
    return [str(bundled("en-dict")), str(bundled("legal"))] + [str(p) for p in train_docs]


def train(folder: Path, args) -> dict:
    """Warm-up (reconstruction only) first, snapshotted to folder/after-warmup, then the LM phase; one run, one budget."""
    import shutil

    from tokbench.transplant import hypernet as hn
    from tokbench.transplant import hypernet_train as ht

    def opts(minutes: float) -> ht.TrainOptions:
        return ht.TrainOptions(steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr,
                               warmup_steps=args.warmup_steps, warmup_tokens=512, save_every=10,
                               time_limit=max(minutes, 0.01), seed=0)

    from tokbench.lm import load_lm

    lm = load_lm("smollm2")
    t0 = time.perf_counter()
    resume = (folder / ht.CHECKPOINT).is_file()
    first = ht.train("smollm2", training_corpus(), folder, opts(args.minutes), resume=resume, lm=lm,
                     until=args.warmup_steps)
    snap = folder / "after-warmup"
    if first["steps"] == args.warmup_steps and not snap.exists():
        snap.mkdir()
        for name in (hn.WEIGHTS, hn.CONFIG):
            shutil.copy2(folder / name, snap / name)
    left = args.minutes - (time.perf_counter() - t0) / 60
    summary = first
    if first["stopped"] == "until" and left > 0:
        summary = ht.train("smollm2", training_corpus(), folder, opts(left), resume=True, lm=lm)
    summary["wall_s_this_run"] = round(time.perf_counter() - t0, 1)
    summary["warmup_s"] = first["seconds"]
    summary["options"] = opts(args.minutes).identity() | {"steps": args.steps, "time_limit_min": args.minutes}
    summary["loadavg_at_end"] = round(os.getloadavg()[0], 2)
    return summary


def plot(curve: list[dict], path: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.DataFrame(curve)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    lm = df[df["phase"] == "lm"]
    if len(lm):
        a.plot(lm["step"], lm["loss"], ".", alpha=0.4, label="LM loss (per step, sampled tokenizer)")
        a.plot(lm["step"], lm["loss"].rolling(10, min_periods=1).mean(), "-", label="running mean (10)")
    a.set_xlabel("step")
    a.set_ylabel("next-token loss (nats)")
    a.legend()
    b.plot(df["step"], df["mse"], "-", label="reconstruction MSE / var (old tokens from their parts)")
    b.set_title("warm-up: random old tokens; LM phase: old tokens in the sampled vocabulary", fontsize=8)
    b.set_xlabel("step")
    b.axvline(df[df["phase"] == "warmup"]["step"].max() if (df["phase"] == "warmup").any() else 0, color="grey", ls=":")
    b.legend()
    fig.suptitle("ZeTT hypernetwork for SmolLM2-135M on CPU")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    first = lm["loss"].head(10).mean() if len(lm) else None
    last = lm["loss"].tail(10).mean() if len(lm) else None
    return {"plot": str(path.relative_to(REPO)), "lm_steps": int(len(lm)), "warmup_steps": int((df["phase"] == "warmup").sum()),
            "lm_loss_first10_mean": None if first is None else round(float(first), 4),
            "lm_loss_last10_mean": None if last is None else round(float(last), 4),
            "mse_first": round(float(df["mse"].dropna().iloc[0]), 4), "mse_last": round(float(df["mse"].dropna().iloc[-1]), 4)}


def bpb_rows(hn_folder: Path, texts: list[str], context: int, tokenizers: dict[str, str]) -> list[dict]:
    from tokbench.lm import load_lm
    from tokbench.transplant.core import transplant

    original = load_lm("smollm2").bits_per_byte(texts, context=context, progress=False)
    rows = [{"tokenizer": "smollm2 (original)", "method": "-", "bits_per_byte": round(original["bits_per_byte"], 4),
             "ratio_vs_original": 1.0, "tokens": original["tokens"], "bytes": original["bytes"]}]
    print(rows[-1], file=sys.stderr, flush=True)
    for tname, tspec in tokenizers.items():
        for method in METHODS:
            params = {}
            if method.startswith("zett"):
                params = {"hypernet": str(hn_folder if method == "zett" else hn_folder / "after-warmup")}
                if not (Path(params["hypernet"]) / "config.json").is_file():
                    continue
            t0 = time.perf_counter()
            res = transplant("smollm2", tspec, method.split()[0], save=False, lm=load_lm("smollm2"), params=params)
            seconds = time.perf_counter() - t0
            r = res.lm.bits_per_byte(texts, context=context, progress=False)
            rows.append({"tokenizer": tname, "method": method, "bits_per_byte": round(r["bits_per_byte"], 4),
                         "ratio_vs_original": round(r["bits_per_byte"] / original["bits_per_byte"], 4),
                         "tokens": r["tokens"], "bytes": r["bytes"], "transplant_s": round(seconds, 1),
                         "copied": res.counts["copied"], "approximated": res.counts["approximated"]})
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=25.0, help="training wall-time budget (this run)")
    ap.add_argument("--steps", type=int, default=320)
    ap.add_argument("--warmup-steps", type=int, default=250)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--seq-len", type=int, default=96)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-bytes", type=int, default=10_000)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--skip-train", action="store_true", help="evaluate the hypernetwork already in --hypernet")
    ap.add_argument("--hypernet", default=None, help="hypernetwork folder (default .cache/bench/hypernet-smollm2)")
    ap.add_argument("--out", default=str(REPO / "reports" / "bench" / "hypernet.json"))
    args = ap.parse_args(argv)

    from bench.transplant import heldout_texts, train_en32k
    from tokbench.io import atomic_write, cache_dir
    from tokbench.transplant import hypernet_train as ht

    folder = Path(args.hypernet) if args.hypernet else cache_dir("bench") / "hypernet-smollm2"
    report: dict = {"model": "SmolLM2-135M-Instruct (Q4_1 GGUF dequantised to fp32)", "cpus": os.cpu_count(),
                    "hypernet": str(folder), "loadavg_at_start": round(os.getloadavg()[0], 2)}
    if not args.skip_train:
        report["training"] = train(folder, args)
        with atomic_write(folder / "bench_training.json") as fh:
            fh.write(json.dumps(report["training"], indent=1) + "\n")
        print(report["training"], file=sys.stderr, flush=True)
    elif (folder / "bench_training.json").is_file():  # an evaluation-only rerun keeps the training record
        report["training"] = json.loads((folder / "bench_training.json").read_text())
    curve = [json.loads(line) for line in (folder / ht.CURVE).read_text().splitlines()]
    report["training_total_s"] = curve[-1].get("seconds") if curve else None
    report["curve"] = plot(curve, REPO / "reports" / "bench" / "hypernet_curve.png")
    en32k = train_en32k(cache_dir("bench") / "en32k.json")
    report["tokenizer_en32k"] = en32k
    texts = heldout_texts(args.eval_bytes)
    report["heldout_text"] = f"bundled en-tech, every 10th document, first {args.eval_bytes} bytes"
    report["bits_per_byte"] = bpb_rows(folder, texts, args.context,
                                       {"mistral-v1": "mistral-v1", "en32k": en32k["path"]})
    out = Path(args.out)
    with atomic_write(out) as fh:
        fh.write(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
