"""Thin typer wrappers for `tokbench transplant`, `tokbench lm bpb` and `tokbench hypernet train`; the logic lives in
core/evaluate/hypernet_train and tokbench.lm. `register(app)` mounts them on the main app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from tokbench.errors import UsageError

lm_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Causal language models: score text.")

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="HF model folder, .gguf file, or zoo name (smollm2)")]
ContextOpt = Annotated[int, typer.Option("--context", help="tokens per window")]
StrideOpt = Annotated[Optional[int], typer.Option("--stride", help="new tokens scored per window (default: context)")]
MaxBytesOpt = Annotated[Optional[int], typer.Option("--max-bytes", help="score at most this many bytes of the corpus")]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json")]


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not {fmt!r}")


def _table(rows: list[dict], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    def cell(v) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    table = Table(title=title)
    if len(rows) == 1:  # one record: a key/value table fits any terminal
        table.add_column("")
        table.add_column("value", justify="right")
        for key, value in rows[0].items():
            table.add_row(key, cell(value))
    else:
        for key in rows[0]:
            table.add_column(key)
        for row in rows:
            table.add_row(*[cell(v) for v in row.values()])
    Console(stderr=True).print(table)


@lm_app.command("bpb")
def bpb_command(
    model: ModelOpt,
    corpus: Annotated[list[str], typer.Option("--corpus", "-c", help="files, folders or globs (repeatable)")],
    context: ContextOpt = 1024,
    stride: StrideOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 8,
    max_bytes: MaxBytesOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Bits per byte of a model on a corpus, with the model's own tokenizer."""
    from tokbench.lm import load_lm
    from tokbench.transplant.evaluate import read_texts

    _check_format(fmt)
    texts = read_texts(corpus, max_bytes)
    result = load_lm(model).bits_per_byte(texts, context=context, stride=stride, batch_size=batch_size)
    if fmt == "json":
        print(json.dumps(result))
    else:
        _table([result], "bits per byte")


def transplant_command(
    model: ModelOpt,
    tokenizer: Annotated[str, typer.Option("--tokenizer", "-t", help="the new tokenizer: file, folder or zoo name")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output model folder")],
    method: Annotated[str, typer.Option("--method", help="tokenadapt, tokenadapt-local, tokenadapt-global, "
                                                         "subword-mean, mean, random, hewitt")] = "tokenadapt",
    evaluate: Annotated[Optional[list[str]], typer.Option("--evaluate", help="held-out corpus to score both models")] = None,
    keep_special: Annotated[str, typer.Option("--keep-special", help="old: keep the model's special tokens and roles; "
                                                                     "new: the new tokenizer's")] = "old",
    pad_to_multiple_of: Annotated[Optional[int], typer.Option("--pad-to-multiple-of")] = None,
    temperature: Annotated[Optional[float], typer.Option("--temperature", help="TokenAdapt T (0.3)")] = None,
    top_k: Annotated[Optional[int], typer.Option("--top-k", help="TokenAdapt global neighbours (3)")] = None,
    weight: Annotated[Optional[float], typer.Option("--weight", help="TokenAdapt lambda, global share (0.3)")] = None,
    threshold: Annotated[Optional[float], typer.Option("--threshold", help="TokenAdapt min global cosine (0.5)")] = None,
    aux: Annotated[Optional[str], typer.Option("--aux", help="TokenAdapt space: minilm, glove, self")] = None,
    hypernet: Annotated[Optional[Path], typer.Option("--hypernet", help="zett: a folder from `tokbench hypernet train`")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    force: Annotated[bool, typer.Option("--force", help="replace --out if it exists")] = False,
    context: ContextOpt = 1024,
    max_bytes: MaxBytesOpt = 200_000,
    fmt: FormatOpt = "table",
) -> None:
    """Give a pretrained causal LM a new tokenizer and save it as a Hugging Face model folder."""
    from tokbench.transplant.core import transplant

    _check_format(fmt)
    from tokbench.io import claim_output
    from tokbench.transplant.core import check_pad

    check_pad(pad_to_multiple_of)
    claim_output(out, force)  # before any loading
    if aux is not None and aux not in ("minilm", "glove", "self"):
        raise UsageError(f"--aux must be minilm, glove or self, not {aux!r}")
    params = {"temperature": temperature, "top_k": top_k, "weight": weight, "threshold": threshold, "aux": aux,
              "hypernet": str(hypernet) if hypernet is not None else None}
    params = {k: v for k, v in params.items() if v is not None}
    texts = None
    if evaluate:
        from tokbench.transplant.evaluate import read_texts

        texts = read_texts(evaluate, max_bytes)  # read first: a bad corpus fails before any work
    from tokbench.lm import load_lm

    original = load_lm(model)
    result = transplant(model, tokenizer, method=method, out=out, keep_special=keep_special,
                        pad_to_multiple_of=pad_to_multiple_of, seed=seed, force=force, params=params, lm=original)
    record = {"out": str(out), "method": method, **result.counts, "seconds": round(result.seconds, 2)}
    if texts is not None:
        from tokbench.transplant.evaluate import compare

        record.update(compare(load_lm(model), load_lm(out), texts, context=context))
    if fmt == "json":
        print(json.dumps(record))
    else:
        _table([record], f"transplant -> {out}")


hypernet_app = typer.Typer(no_args_is_help=True, help="ZeTT-style hypernetworks for zero-shot tokenizer transfer.")
@hypernet_app.command("train")
def hypernet_train(
    model: Annotated[str, typer.Option("--model", "-m", help="HF model folder, .gguf file, or zoo name (smollm2)")],
    corpus: Annotated[list[str], typer.Option("--corpus", "-c", help="training text: files, folders, globs")],
    out: Annotated[Path, typer.Option("--out", "-o", help="hypernetwork folder")],
    steps: Annotated[int, typer.Option("--steps", help="total steps, warm-up included")] = 300,
    batch_size: Annotated[int, typer.Option("--batch-size", help="sequences per step")] = 4,
    seq_len: Annotated[int, typer.Option("--seq-len", help="tokens per sequence")] = 128,
    lr: Annotated[float, typer.Option("--lr")] = 3e-4,
    layers: Annotated[int, typer.Option("--layers", help="transformer layers over the pieces (0: MLP only)")] = 2,
    width: Annotated[int, typer.Option("--width", help="hidden size of the hypernetwork")] = 256,
    max_pieces: Annotated[int, typer.Option("--max-pieces", help="old pieces the network reads per token")] = 8,
    warmup_steps: Annotated[int, typer.Option("--warmup-steps", help="reconstruction-only steps first")] = 30,
    vocab_min: Annotated[int, typer.Option("--vocab-min", help="smallest sampled unigram vocabulary")] = 1000,
    vocab_max: Annotated[int, typer.Option("--vocab-max", help="largest sampled unigram vocabulary")] = 8000,
    save_every: Annotated[int, typer.Option("--save-every", help="checkpoint every N steps")] = 25,
    time_limit: Annotated[float, typer.Option("--time-limit", help="minutes; stop (checkpointed) after it")] = 0.0,
    resume: Annotated[bool, typer.Option("--resume", help="continue the run saved in --out")] = False,
    force: Annotated[bool, typer.Option("--force", help="start over, replacing --out")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    text_field: Annotated[str, typer.Option("--text-field", help="field holding the text in .jsonl inputs")] = "text",
) -> None:
    """Train a hypernetwork for MODEL on fresh unigram tokenizers sampled from the corpus (JSON summary on stdout)."""
    from tokbench.transplant.hypernet_train import TrainOptions, train as train_hypernet

    opts = TrainOptions(steps=steps, batch_size=batch_size, seq_len=seq_len, lr=lr, layers=layers, width=width,
                        max_pieces=max_pieces, warmup_steps=warmup_steps, vocab_min=vocab_min, vocab_max=vocab_max,
                        save_every=save_every, time_limit=time_limit, seed=seed)
    from tokbench.io import claim_output

    claim_output(out, force=True)  # resuming into it is allowed: train() decides; this refuses `-o .`, clears temps
    summary = train_hypernet(model, corpus, out, opts, resume=resume, force=force, text_field=text_field)
    print(json.dumps(summary))


def register(app: typer.Typer) -> None:
    """Add `transplant`, `lm` and `hypernet` to the main tokbench app."""
    app.command("transplant")(transplant_command)
    app.add_typer(lm_app, name="lm")
    app.add_typer(hypernet_app, name="hypernet")
