"""`tokbench lm bpb`: bits per byte of a causal LM on a corpus (a thin typer wrapper; `register(app)` mounts it)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tokbench.io import TABLE_OR_JSON, check_format
from tokbench.options import AllowSpecial, ContextOpt, FormatOpt, MaxBytesOpt, ModelOpt, StrideOpt, at_least

lm_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Causal language models: score text.")


@lm_app.command("bpb")
def bpb_command(
    model: ModelOpt,
    corpus: Annotated[list[str], typer.Option("--corpus", "-c", help="files, folders or globs (repeatable)")],
    context: ContextOpt = 1024,
    stride: StrideOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", callback=at_least(1))] = 8,
    max_bytes: MaxBytesOpt = None,
    fmt: FormatOpt = "table",
    allow_special: AllowSpecial = False,
) -> None:
    """Bits per byte of a model on a corpus, with the model's own tokenizer."""
    from tokbench.console import print_table
    from tokbench.corpus import read_texts
    from tokbench.lm import load_lm

    check_format(fmt, TABLE_OR_JSON)
    texts = read_texts(corpus, max_bytes)
    lm = load_lm(model)
    if allow_special:
        lm.tokenizer = lm.tokenizer.allowing_special()
    result = lm.bits_per_byte(texts, context=context, stride=stride, batch_size=batch_size)
    if fmt == "json":
        print(json.dumps(result))
    else:
        print_table([result], "bits per byte", digits=4)


def register(app: typer.Typer) -> None:
    """Add `lm` to the main tokbench app."""
    app.add_typer(lm_app, name="lm")
