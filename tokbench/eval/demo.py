"""`make demo`: the main job end to end on bundled data.

Trains a BPE (tokbench's numba engine) and a unigram tokenizer on bundled English technical text, then evaluates them
beside production tokenizers from the zoo on other bundled corpora and on the 8-way parallel set (premium per
language), and writes a full eval report (JSON, CSV, Markdown, index.html with plots) under reports/demo/.
It lives with eval because it ends in an eval report; it trains through `tokbench.train` like any user would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tokbench.console import console, print_table
from tokbench.corpus import bundled

TRAIN_CORPUS = "en-tech"
EVAL_CORPORA = ("en-dict:en", "code-py", "legal:en", "multi/tr:tr", "multi/de:de")
ZOO = ("gpt2", "cl100k_base", "o200k_base", "llama3", "qwen2.5", "mistral-v1", "smollm2")
VOCAB = 4000


def run_demo(out: Path) -> list[dict]:
    from tokbench.eval import report, run
    from tokbench.train.trainers import run_train

    trained = []
    for algo in ("bpe", "unigram"):
        target = out / "tokenizers" / f"{algo}-{VOCAB // 1000}k.json"
        run_train([str(bundled(TRAIN_CORPUS))], target, algo=algo, vocab_size=VOCAB, min_frequency=0,
                  special_tokens=["<|endoftext|>"], pretokenizer="gpt2", normalizer="none", text_field="text",
                  errors="strict")
        trained.append(str(target))
    corpora = []
    for spec in EVAL_CORPORA:
        name, _, lang = spec.partition(":")
        corpora.append(f"{bundled(name)}:{lang}" if lang else str(bundled(name)))
    evaluation = run.Evaluation([*trained, *ZOO], corpora, parallel=[bundled("parallel")])
    records = evaluation.records
    print_table(report.rich_table(records, title="tokbench demo"))
    report.write_report(out / "report", records, evaluation.length_hist, force=True)
    console().print(f"wrote {out / 'report'}/index.html (+ metrics.json, .csv, .md)")
    return records


def demo_command(out: Annotated[Path, typer.Option("--out", "-o")] = Path("reports/demo")) -> None:
    """Train BPE and unigram on bundled text and compare them with zoo tokenizers on bundled corpora."""
    run_demo(out)


def register(app: typer.Typer) -> None:
    """Add `demo` to the main tokbench app."""
    app.command("demo")(demo_command)
