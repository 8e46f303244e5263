"""`tokbench bytes ...`: exact byte-level probabilities from tokenized LMs (thin typer wrappers)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from tokbench.errors import UsageError
from tokbench.options import AllowSpecial, at_least

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Exact byte-level probabilities from tokenized LMs.")

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="smollm2, a Hugging Face model folder, or random:TOKENIZER")]
FormatOpt = Annotated[str, typer.Option("--format", help="json, jsonl, csv or md")]


def _text(arg: str, name: str = "TEXT") -> str:
    """A text argument ("-" = stdin); bytes that are not UTF-8 are an InputError, not an encoder crash."""
    from tokbench.corpus import read_text_arg

    return read_text_arg(arg, name)


def _docs(corpus: list[str], limit: int):
    from tokbench.corpus import Corpus

    c = Corpus(corpus)
    for i, doc in enumerate(c.documents()):
        if i >= limit:
            break
        yield f"{c.name}#{i}", doc


def _emit(records, fmt: str) -> None:
    from tokbench.byteprob.commands import finite_records
    from tokbench.io import write_records

    write_records(finite_records(records if isinstance(records, list) else [records]), fmt)


@app.command()
def logprob(model: ModelOpt, text: Annotated[str, typer.Argument(help="text, or - for stdin")],
            eos: Annotated[bool, typer.Option("--eos", help="the text ends here")] = False,
            fmt: FormatOpt = "json", allow_special: AllowSpecial = False) -> None:
    """Byte-level log-probability and bits per byte of a text (next to the token-level figure)."""
    from tokbench.byteprob.commands import logprob_record, open_model

    text = _text(text)  # a bad argument fails before the model loads
    _emit(logprob_record(open_model(model, allow_special), text, eos=eos), fmt)


@app.command("next")
def next_(model: ModelOpt, prefix: Annotated[str, typer.Option("--prefix", help="prompt (may end mid-token)")],
          top: Annotated[int, typer.Option("--top", callback=at_least(1), help="how many bytes to show")] = 10,
          fmt: FormatOpt = "md", allow_special: AllowSpecial = False) -> None:
    """The next-byte distribution after a prefix, as characters where printable."""
    from tokbench.byteprob.commands import next_records, open_model

    prefix = _text(prefix, "--prefix")
    _emit(next_records(open_model(model, allow_special), prefix, top), fmt)


@app.command()
def bpb(model: ModelOpt, corpus: Annotated[list[str], typer.Option("--corpus", help="files, folders, globs")],
        max_bytes: Annotated[int, typer.Option("--max-bytes", callback=at_least(1), help="bytes scored per document")] = 256,
        docs: Annotated[int, typer.Option("--docs", callback=at_least(1), help="documents scored")] = 8,
        fmt: FormatOpt = "jsonl", allow_special: AllowSpecial = False) -> None:
    """Exact byte-level bits per byte next to token-level bits per byte, per document."""
    from tokbench.byteprob.commands import bpb_records, open_model

    _emit(bpb_records(open_model(model, allow_special), _docs(corpus, docs), max_bytes), fmt)


@app.command()
def complete(model: ModelOpt, prefix: Annotated[str, typer.Option("--prefix")],
             suffix: Annotated[Optional[str], typer.Option("--suffix", help="score this continuation too")] = None,
             max_bytes: Annotated[int, typer.Option("--max-bytes", callback=at_least(1))] = 32,
             sample: Annotated[bool, typer.Option("--sample", help="sample instead of greedy")] = False,
             seed: Annotated[int, typer.Option("--seed", callback=at_least(0))] = 0, fmt: FormatOpt = "json",
             allow_special: AllowSpecial = False) -> None:
    """Complete a prompt that may end mid-token: exact byte-level vs naive token-level vs token healing."""
    from tokbench.byteprob.commands import complete_record, open_model

    prefix = _text(prefix, "--prefix")
    suffix = None if suffix is None else _text(suffix, "--suffix")
    _emit(complete_record(open_model(model, allow_special), prefix, suffix, max_bytes, sample, seed), fmt)


@app.command()
def ensemble(model: Annotated[list[str], typer.Option("--model", "-m", help="two or more models")],
             corpus: Annotated[list[str], typer.Option("--corpus")],
             max_bytes: Annotated[int, typer.Option("--max-bytes", callback=at_least(1))] = 128,
             docs: Annotated[int, typer.Option("--docs", callback=at_least(1))] = 4, fmt: FormatOpt = "jsonl",
             allow_special: AllowSpecial = False) -> None:
    """Mix next-byte distributions of models with different tokenizers; bits per byte of the mixture and members."""
    from tokbench.byteprob.commands import ensemble_records, open_model

    if len(model) < 2:
        raise UsageError("ensemble needs at least two --model")
    _emit(ensemble_records([open_model(m, allow_special) for m in model], model, _docs(corpus, docs), max_bytes), fmt)


def register(main_app: typer.Typer) -> None:
    """Add `bytes` to the main tokbench app."""
    main_app.add_typer(app, name="bytes")
