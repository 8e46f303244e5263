"""`make demo`: the main job end to end on bundled data.

Trains a BPE and a unigram tokenizer on bundled English technical text, then compares them with production tokenizers
from the zoo on several bundled corpora (held-out for the trained ones where possible) by bytes per token.
"""

from __future__ import annotations

from pathlib import Path

from tokbench.commands import train_command
from tokbench.corpus import Corpus, bundled
from tokbench.io import format_records, write_json, atomic_write
from tokbench.report_console import console, print_table
from tokbench.tokenizer import load_tokenizer

TRAIN_CORPUS = "en-tech"
EVAL_CORPORA = ("en-dict", "code-py", "legal", "multi/tr", "multi/de")
ZOO = ("gpt2", "cl100k_base", "o200k_base", "llama3", "qwen2.5", "mistral-v1", "smollm2")
VOCAB = 4000


def run_demo(out: Path) -> list[dict]:
    trained = {}
    for algo in ("bpe", "unigram"):
        target = out / f"{algo}-{VOCAB // 1000}k.json"
        train_command([str(bundled(TRAIN_CORPUS))], target, algo=algo, vocab_size=VOCAB, min_frequency=0,
                      special_tokens=["<|endoftext|>"], pretokenizer="gpt2", normalizer="none", text_field="text",
                      errors="strict")
        trained[f"{algo}-{VOCAB // 1000}k (ours)"] = str(target)
    specs = {**trained, **{name: name for name in ZOO}}
    records = []
    for corpus_name in EVAL_CORPORA:
        docs = list(Corpus([str(bundled(corpus_name))]).documents())
        n_bytes = sum(len(d.encode("utf-8")) for d in docs)
        for label, spec in specs.items():
            tok = load_tokenizer(spec)
            tokens = sum(len(ids) for ids in tok.encode_batch(docs))
            records.append({"tokenizer": label, "corpus": corpus_name, "tokens": tokens, "bytes": n_bytes,
                            "bytes_per_token": round(n_bytes / tokens, 4)})
        console().print(f"evaluated {corpus_name}")
    print_table(records, title="bytes per token (higher = better compression)")
    write_json(out / "demo.json", records)
    with atomic_write(out / "demo.md") as handle:
        handle.write(format_records(records, "md"))
    console().print(f"wrote {out / 'demo.json'} and {out / 'demo.md'}")
    return records
