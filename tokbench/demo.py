"""`make demo`: the main job end to end on bundled data.

Trains BPE (tokbench's numba engine) at three vocabulary sizes and a unigram tokenizer on bundled English technical
text, then evaluates them beside production tokenizers from the zoo on other bundled corpora and on the 8-way parallel
set (premium per language), writes a full eval report (JSON, CSV, Markdown, index.html with figures) under
reports/demo/report/, and a screenshot of that page as headless Chromium renders it at 1400 px (reports/demo/report.png,
committed so a reader of the README sees what they get).
"""

from __future__ import annotations

from pathlib import Path

from tokbench.commands import train_command
from tokbench.corpus import bundled
from tokbench.report_console import console

TRAIN_CORPUS = "en-tech"
EVAL_CORPORA = ("en-dict:en", "code-py", "legal:en", "multi/tr:tr", "multi/de:de")
ZOO = ("gpt2", "cl100k_base", "o200k_base", "llama3", "qwen2.5", "mistral-v1", "smollm2")
TRAINED = (("bpe", 2000), ("bpe", 4000), ("bpe", 8000), ("unigram", 4000))  # three BPE sizes: bytes/token vs |V|
SCREENSHOT = "report.png"


def run_demo(out: Path) -> list[dict]:
    from tokbench.eval import report, run

    trained = []
    for algo, vocab in TRAINED:
        target = out / "tokenizers" / f"{algo}-{vocab // 1000}k.json"
        train_command([str(bundled(TRAIN_CORPUS))], target, algo=algo, vocab_size=vocab, min_frequency=0,
                      special_tokens=["<|endoftext|>"], pretokenizer="gpt2", normalizer="none", text_field="text",
                      errors="strict")
        trained.append(str(target))
    corpora = []
    for spec in EVAL_CORPORA:
        name, _, lang = spec.partition(":")
        corpora.append(f"{bundled(name)}:{lang}" if lang else str(bundled(name)))
    evaluation = run.Evaluation([*trained, *ZOO], corpora, parallel=[bundled("parallel")])
    records = evaluation.records
    report.print_table(report.rich_table(records, title="tokbench demo"))
    report.write_report(out / "report", records, evaluation.length_hist, force=True,
                        vocab_curves=evaluation.vocab_curves(), title="tokbench demo")
    console().print(f"wrote {out / 'report'}/index.html (+ metrics.json, .csv, .md)")
    from tokbench.eval.browser import Browser

    with Browser(width=1400) as page:
        page.open(out / "report" / "index.html")
        page.screenshot(out / SCREENSHOT)
    console().print(f"wrote {out / SCREENSHOT} (the report as headless Chromium renders it at 1400 px)")
    return records
