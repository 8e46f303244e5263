"""Benchmark the supertoken trainers against plain BPE on the same engine: bytes/token on held-out English and the
training cost, at one vocabulary size (32k by default). Writes reports/bench/supertokens.json.

Documents are split 9:1 into training and held-out text (every 10th document held out, in sorted file order). Each
trainer runs `--repeat` times; the report keeps the median CPU seconds of this process (the machine is shared, so wall
time mostly measures the neighbours; wall seconds are kept too) and ratios against plain BPE on the engine
(tokbench.train.bpe: numba word counting + the HF-identical merge loop) and against HF's own BpeTrainer.

    python -m bench.supertokens [--corpus corpora/full/en-tech] [--vocab-size 32000] [--transitions 0.4,0.6,0.8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_corpus() -> Path:
    for name in ("corpora/full/en-tech", "corpora/en-tech"):
        if (ROOT / name).is_dir():
            return ROOT / name
    return Path("/work/shared/corpora/flores200/eng_Latn.dev")


def split_documents(spec: Path, mb: float):
    """(training lines, held-out documents): every 10th document held out, training capped at `mb` MB."""
    from tokbench.corpus import Corpus

    docs = list(Corpus([str(spec)]).documents())
    train, held, size = [], [], 0
    for i, doc in enumerate(docs):
        if i % 10 == 9:
            held.append(doc)
        elif size < mb * 1e6:
            train.append(doc)
            size += len(doc.encode())
    if not held:  # one big document: hold out its last tenth
        text = train.pop() if train else ""
        cut = text.rfind("\n", 0, len(text) * 9 // 10) + 1
        train.append(text[:cut])
        held.append(text[cut:])
    lines = [ln for d in train for ln in d.splitlines(keepends=True)]
    return lines, held


def measure(fn, repeat: int):
    """(result of the last run, median CPU seconds, median wall seconds)."""
    cpu, wall, result = [], [], None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        result = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return result, statistics.median(cpu), statistics.median(wall)


def bytes_per_token(hf, documents) -> float:
    n_bytes = sum(len(d.encode()) for d in documents)
    n_tokens = sum(len(e.ids) for e in hf.encode_batch(documents, add_special_tokens=False))
    return n_bytes / n_tokens


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--mb", type=float, default=10.0, help="training text, MB")
    ap.add_argument("--vocab-size", type=int, default=32000)
    ap.add_argument("--transitions", default="0.4,0.6,0.8")
    ap.add_argument("--pretokenizers", default="gpt2,llama3", help="stage 1 / plain BPE pre-tokenizers")
    ap.add_argument("--max-words", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-hf", action="store_true", help="skip HF's BpeTrainer")
    ap.add_argument("--out", type=Path, default=ROOT / "reports/bench/supertokens.json")
    args = ap.parse_args(argv)

    from tokbench.io import write_json
    from tokbench.train import backends, supertokens
    from tokbench.train.bpe import train_bpe
    from tokbench.train.counts import count_words

    corpus = args.corpus or default_corpus()
    lines, held = split_documents(corpus, args.mb)
    V = args.vocab_size
    warm = lines[:2000]  # compile/load every kernel before timing
    for pre in args.pretokenizers.split(","):
        supertokens.train_superbpe(iter(warm), 600, transition=0.5, pretokenizer=pre)
        warm_counts = count_words(iter(warm), pre)
        train_bpe(warm_counts.words, warm_counts.counts, 600, pretokenizer=pre)
    supertokens.train_char_bpe(iter(warm), 600)
    supertokens.train_supertoken(iter(warm), 600)

    rows = []
    base = {}
    for pre in args.pretokenizers.split(","):
        def plain(pre=pre):
            counts = count_words(iter(lines), pre)
            return train_bpe(counts.words, counts.counts, V, pretokenizer=pre)

        hf, cpu, wall = measure(plain, args.repeat)
        base[pre] = (bytes_per_token(hf, held), cpu)
        rows.append({"trainer": f"bpe (engine, {pre})", "pretokenizer": pre, "bytes_per_token": round(base[pre][0], 4),
                     "cpu_s": round(cpu, 3), "wall_s": round(wall, 3)})
        for t in [float(x) for x in args.transitions.split(",")]:
            trained, cpu, wall = measure(lambda t=t, pre=pre: supertokens.train_superbpe(
                iter(lines), V, transition=t, max_words=args.max_words, pretokenizer=pre), args.repeat)
            rows.append({"trainer": f"superbpe t={t:g} ({pre})", "pretokenizer": pre,
                         "transition_vocab": trained.info["transition_vocab"],
                         "bytes_per_token": round(bytes_per_token(trained.hf, held), 4), "cpu_s": round(cpu, 3),
                         "wall_s": round(wall, 3),
                         "stage_cpu_s": {k: round(v, 3) for k, v in trained.info["cpu_seconds"].items()},
                         "refused_merges": trained.info["refused_merges"]})
    first = args.pretokenizers.split(",")[0]
    if not args.no_hf:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one thread: CPU seconds compare like with like
        hf_ref, cpu, wall = measure(lambda: backends.train_hf(iter(lines), "bpe", V, pretokenizer=first,
                                                              show_progress=False), 1)
        rows.append({"trainer": f"bpe (HF BpeTrainer, 1 thread, {first})", "pretokenizer": first,
                     "bytes_per_token": round(bytes_per_token(hf_ref, held), 4), "cpu_s": round(cpu, 3),
                     "wall_s": round(wall, 3)})
    trained, cpu, wall = measure(lambda: supertokens.train_supertoken(iter(lines), V), args.repeat)
    rows.append({"trainer": "supertoken (4-23 chars, seed 0)", "pretokenizer": first,
                 "bytes_per_token": round(bytes_per_token(trained.hf, held), 4),
                 "cpu_s": round(cpu, 3), "wall_s": round(wall, 3)})
    trained, cpu, wall = measure(lambda: supertokens.train_char_bpe(iter(lines), V, max_token_chars=4,
                                                                    pretokenizer=first), args.repeat)
    rows.append({"trainer": f"char-bpe (<= 4 chars, {first})", "pretokenizer": first,
                 "bytes_per_token": round(bytes_per_token(trained.hf, held), 4),
                 "cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "vocab_reached": trained.info["trained_vocab"]})
    for r in rows:  # against plain BPE on the engine with the same pre-tokenizer
        bpt, cpu = base[r["pretokenizer"]]
        r["bytes_per_token_vs_bpe"] = round(r["bytes_per_token"] / bpt, 4)
        r["cpu_vs_bpe_engine"] = round(r["cpu_s"] / cpu, 3)

    report = {
        "benchmark": "supertokens", "corpus": str(corpus),
        "training_mb": round(sum(len(x.encode()) for x in lines) / 1e6, 2),
        "held_out_mb": round(sum(len(d.encode()) for d in held) / 1e6, 2), "vocab_size": V, "repeat": args.repeat,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_avg_1m": round(os.getloadavg()[0], 2)},
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, report)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
