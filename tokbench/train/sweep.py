"""`tokbench sweep`: train SuperBPE at several transition points, plus plain BPE at the same vocabulary, and report
the bytes/token of each on held-out text (with a plot of bytes/token against the transition point).

Bytes/token is the prepared bytes of the evaluation documents over their token count (for these byte-level tokenizers
the prepared bytes are the UTF-8 text itself). Training cost is reported in CPU seconds of this process: on a shared
machine wall time mostly measures the neighbours.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tokbench.console import console, print_table
from tokbench.corpus import Corpus
from tokbench.errors import UsageError, param
from tokbench.io import atomic_dir, atomic_write, check_format, write_json, write_records
from tokbench.tokenizer import load_tokenizer


def parse_transitions(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{param('transitions')} {text!r}: give comma-separated numbers, e.g. 0.4,0.6,0.8") from None
    if not values:
        raise UsageError(f"{param('transitions')}: give at least one transition point")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise UsageError(f"{param('transitions')} {text!r}: each point must be a number above 0")
    return values


def bytes_per_token(tokenizer_path: Path, documents: Sequence[str]) -> tuple[float, int, int]:
    """(bytes/token, bytes, tokens) of the documents with the saved tokenizer, through the Tokenizer adapter."""
    tok = load_tokenizer(str(tokenizer_path))
    n_bytes = sum(len(tok.prepare(d)) for d in documents)
    n_tokens = sum(len(ids) for ids in tok.encode_batch(list(documents)))
    return (n_bytes / n_tokens if n_tokens else 0.0), n_bytes, n_tokens


def run_sweep(lines: list[str], documents: list[str], out: Path, transitions: Sequence[float], vocab_size: int,
              max_words: int = 4, pretokenizer: str = "gpt2") -> list[dict]:
    """Train plain BPE and one SuperBPE per transition into `out`/<name>/tokenizer.json; one record per tokenizer."""
    from tokbench.train.bpe import train_bpe
    from tokbench.train.counts import count_words
    from tokbench.train.supertokens import train_superbpe, transition_size

    for t in transitions:  # every point checked before any training
        transition_size(t, vocab_size, 256)
    warm = lines[:500]  # load the numba kernels before any timing
    warm_counts = count_words(iter(warm), pretokenizer)
    train_bpe(warm_counts.words, warm_counts.counts, 300, pretokenizer=pretokenizer)
    train_superbpe(iter(warm), 300, transition=0.9, pretokenizer=pretokenizer)
    records = []
    with atomic_dir(out, force=True) as tmp:
        started = time.process_time()
        counts = count_words(iter(lines), pretokenizer)
        plain = train_bpe(counts.words, counts.counts, vocab_size, pretokenizer=pretokenizer)
        plain_cpu = time.process_time() - started
        (tmp / "bpe").mkdir()
        plain.save(str(tmp / "bpe" / "tokenizer.json"))
        bpt, n_bytes, n_tokens = bytes_per_token(tmp / "bpe" / "tokenizer.json", documents)
        # plain BPE is SuperBPE with the transition at the full vocabulary
        records.append({"tokenizer": "bpe", "algo": "bpe", "transition": 1.0, "transition_vocab": vocab_size,
                        "vocab_size": plain.get_vocab_size(), "bytes": n_bytes, "tokens": n_tokens,
                        "bytes_per_token": round(bpt, 4), "vs_bpe": 1.0, "train_cpu_s": round(plain_cpu, 2),
                        "cpu_vs_bpe": 1.0})
        for t in transitions:
            started = time.process_time()
            trained = train_superbpe(iter(lines), vocab_size, transition=t, max_words=max_words,
                                     pretokenizer=pretokenizer)
            cpu = time.process_time() - started
            name = f"superbpe-t{t:g}"
            (tmp / name).mkdir()
            trained.hf.save(str(tmp / name / "tokenizer.json"))
            bpt_t, n_bytes, n_tokens = bytes_per_token(tmp / name / "tokenizer.json", documents)
            records.append({"tokenizer": name, "algo": "superbpe", "transition": t,
                            "transition_vocab": trained.info["transition_vocab"],
                            "vocab_size": trained.info["vocab_size"], "bytes": n_bytes, "tokens": n_tokens,
                            "bytes_per_token": round(bpt_t, 4), "vs_bpe": round(bpt_t / bpt, 4) if bpt else None,
                            "train_cpu_s": round(cpu, 2),
                            "cpu_vs_bpe": round(cpu / plain_cpu, 2) if plain_cpu else None})
        write_json(tmp / "sweep.json", records)
        plot(records, tmp / "sweep.png")
    return records


def plot(records: list[dict], path: Path) -> None:
    """bytes/token against the transition point, plain BPE as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = [r for r in records if r["algo"] == "superbpe"]
    base = next((r for r in records if r["algo"] == "bpe"), None)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["transition_vocab"] for r in sweep], [r["bytes_per_token"] for r in sweep], "o-", label="SuperBPE")
    if base:
        ax.axhline(base["bytes_per_token"], color="grey", linestyle="--")
        ax.plot([base["transition_vocab"]], [base["bytes_per_token"]], "s", color="grey", label="BPE (no stage 2)")
    ax.set_xlabel("transition point (stage-1 vocabulary)")
    ax.set_ylabel("bytes / token (held out)")
    vocab = sweep[0]["vocab_size"] if sweep else (base or {}).get("vocab_size")
    ax.set_title(f"SuperBPE transition sweep, vocab {vocab}")
    ax.legend()
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)


def sweep_command(corpus_specs, out: Path, eval_specs, algo: str, transitions: str, vocab_size: int, max_words: int,
                  pretokenizer: str, fmt: str, text_field: str, errors: str, force: bool = False) -> list[dict]:
    from tokbench.io import claim_output

    claim_output(out, force)  # before any reading or training
    if algo != "superbpe":
        raise UsageError(f"sweep supports {param('algo')} superbpe, not {algo!r}")
    check_format(fmt)
    points = parse_transitions(transitions)
    lines = list(Corpus(list(corpus_specs), text_field=text_field, errors=errors).lines())
    documents = list(Corpus(list(eval_specs), text_field=text_field, errors=errors).documents())
    records = run_sweep(lines, documents, Path(out), points, vocab_size, max_words, pretokenizer)
    print_table([{k: r[k] for k in ("tokenizer", "transition_vocab", "bytes_per_token", "vs_bpe", "train_cpu_s")}
                 for r in records], title=f"sweep -> {out}")
    console().print(f"plot: {Path(out) / 'sweep.png'}")
    write_records(records, fmt, sys.stdout)
    return records
