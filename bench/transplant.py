"""Benchmark: tokenizer transplantation on SmolLM2-135M.

1. Time a TokenAdapt transplant of SmolLM2 onto a 32k English BPE with the auxiliary (MiniLM) cache cold
   (target <= 120 s on 2 cores). Wall and CPU seconds are both reported: the shared machine's load inflates wall time.
2. Hold-out reconstruction: 10% of SmolLM2's multi-byte tokens treated as new; cosine of each method's rows to the
   true rows, raw and about the mean row.
3. Bits per byte on held-out English text (every 10th document of the bundled en-tech corpus, never used to train
   the 32k BPE) of the original model and of each method, for the 32k BPE and for mistral-v1.

Writes reports/bench/transplant.json.  Run: python -m bench.transplant [--eval-bytes N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
METHODS = ["tokenadapt", "tokenadapt-global", "subword-mean", "mean", "random", "hewitt"]


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
                                                                            "tokenadapt-global")]
    for name, params in runs:
        t0 = time.perf_counter()
        plan = get_method(name)(Context(tok, tok, emb, targets, params=params, banned_old=banned))
        est = plan.apply(emb, np.random.default_rng(1))
        rows.append({"method": name, "aux": params.get("aux", ""), "cosine": round(cos(est, emb[targets]), 4),
                     "centred_cosine": round(cos(est - mu, emb[targets] - mu), 4),
                     "seconds": round(time.perf_counter() - t0, 1)})
        print(rows[-1], file=sys.stderr, flush=True)
    return [{"heldout_tokens": int(len(targets))}] + rows


def bpb_table(tokenizers: dict[str, str], methods: list[str], texts: list[str], context: int,
              on_row=lambda rows: None) -> list[dict]:
    from tokbench.lm import load_lm
    from tokbench.transplant.core import transplant

    original = load_lm("smollm2").bits_per_byte(texts, context=context, progress=False)
    rows = [{"tokenizer": "smollm2 (original)", "method": "-", "bits_per_byte": round(original["bits_per_byte"], 4),
             "ratio_vs_original": 1.0, "tokens": original["tokens"], "bytes": original["bytes"]}]
    print(rows[-1], file=sys.stderr, flush=True)
    for tname, tspec in tokenizers.items():
        for method in methods:
            t0 = time.perf_counter()
            res = transplant("smollm2", tspec, method, save=False, lm=load_lm("smollm2"))
            seconds = time.perf_counter() - t0
            r = res.lm.bits_per_byte(texts, context=context, progress=False)
            rows.append({"tokenizer": tname, "method": method, "bits_per_byte": round(r["bits_per_byte"], 4),
                         "ratio_vs_original": round(r["bits_per_byte"] / original["bits_per_byte"], 4),
                         "tokens": r["tokens"], "bytes": r["bytes"], "transplant_s": round(seconds, 1),
                         "copied": res.counts["copied"], "approximated": res.counts["approximated"],
                         "fallback": res.counts["fallback"]})
            print(rows[-1], file=sys.stderr, flush=True)
            on_row(rows)
    return rows


def write_markdown(report: dict, path: Path) -> None:
    """A human summary of the JSON report: timing, hold-out reconstruction, bits per byte."""
    from tokbench.io import atomic_write, format_records

    parts = [f"# Transplant benchmark\n\nModel: {report['model']}. Held-out text: {report['heldout_text']}.\n"]
    cold = report.get("cold_transplant")
    if cold:
        parts.append(f"\nCold TokenAdapt transplant onto the {report['tokenizer_en32k']['vocab_size']}-token BPE: "
                     f"{cold['wall_s']} s wall, {cold['cpu_s']} s CPU (load average {cold['loadavg_at_start']} on "
                     f"{report['cpus']} cores; target {cold['target_s']} s).\n")
    hold = [r for r in report.get("holdout_reconstruction", []) if "method" in r]
    if hold:
        parts.append("\n## Hold-out reconstruction (10% of SmolLM2 tokens)\n\n" + format_records(hold, "md"))
    rows = report.get("bits_per_byte") or []
    if rows:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        parts.append("\n## Bits per byte\n\n" + format_records([{k: r.get(k, "") for k in keys} for r in rows], "md"))
    with atomic_write(path) as fh:
        fh.write("".join(parts))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval-bytes", type=int, default=10_000)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--quick", action="store_true", help="skip the cold timing and the hold-out table")
    ap.add_argument("--out", default=str(REPO / "reports" / "bench" / "transplant.json"))
    args = ap.parse_args(argv)

    from tokbench.io import cache_dir, write_json

    en32k = train_en32k(cache_dir("bench") / "en32k.json")
    report = {"model": "SmolLM2-135M-Instruct (Q4_1 GGUF dequantised to fp32)", "tokenizer_en32k": en32k,
              "heldout_text": f"bundled en-tech, every 10th document, first {args.eval_bytes} bytes", "cpus": os.cpu_count()}
    out = Path(args.out)

    def write(rows=None) -> None:
        if rows is not None:
            report["bits_per_byte"] = rows
        write_json(out, report)
        write_markdown(report, out.with_suffix(".md"))

    if not args.quick:
        report["cold_transplant"] = cold_timing(en32k["path"])
        print(report["cold_transplant"], file=sys.stderr, flush=True)
        write()
        report["holdout_reconstruction"] = holdout_cosines()
        write()
    texts = heldout_texts(args.eval_bytes)
    bpb_table({"en32k": en32k["path"], "mistral-v1": "mistral-v1"}, METHODS, texts, args.context, on_row=write)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
