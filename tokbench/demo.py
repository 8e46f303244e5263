"""`make demo`: the main job end to end on bundled data.

Trains a BPE (tokbench's numba engine) and a unigram tokenizer on bundled English technical text, then evaluates them
beside production tokenizers from the zoo on other bundled corpora and on the 8-way parallel set (premium per
language), and writes a full eval report (JSON, CSV, Markdown, index.html with plots) under reports/demo/.
"""

from __future__ import annotations

from pathlib import Path

from tokbench.commands import train_command
from tokbench.corpus import bundled
from tokbench.report_console import console

TRAIN_CORPUS = "en-tech"
EVAL_CORPORA = ("en-dict:en", "code-py", "legal:en", "multi/tr:tr", "multi/de:de")
ZOO = ("gpt2", "cl100k_base", "o200k_base", "llama3", "qwen2.5", "mistral-v1", "smollm2")
VOCAB = 4000


def run_demo(out: Path) -> list[dict]:
    from tokbench.eval import report, run

    trained = []
    for algo in ("bpe", "unigram"):
        target = out / "tokenizers" / f"{algo}-{VOCAB // 1000}k.json"
        train_command([str(bundled(TRAIN_CORPUS))], target, algo=algo, vocab_size=VOCAB, min_frequency=0,
                      special_tokens=["<|endoftext|>"], pretokenizer="gpt2", normalizer="none", text_field="text",
                      errors="strict", force=True)  # `demo --force` was decided by the CLI
        trained.append(str(target))
    corpora = []
    for spec in EVAL_CORPORA:
        name, _, lang = spec.partition(":")
        corpora.append(f"{bundled(name)}:{lang}" if lang else str(bundled(name)))
    evaluation = run.Evaluation([*trained, *ZOO], corpora, parallel=[bundled("parallel")])
    records = evaluation.records
    report.print_table(report.rich_table(records, title="tokbench demo"))
    report.write_report(out / "report", records, evaluation.length_hist, force=True)
    console().print(f"wrote {out / 'report'}/index.html (+ metrics.json, .csv, .md)")
    return records
