"""The options every command spells the same way (typer `Annotated` types), and the one `--format` check.

Capability CLIs (`<package>/cli.py`) import these, so `-t/--tokenizer`, `-o/--out`, `--text-field`, `--errors` and
`--format` mean one thing everywhere.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from tokbench.errors import UsageError

RECORD_FORMATS = ("json", "jsonl", "csv", "md")  # machine output of records (tokbench.io.format_records)
TABLE_OR_JSON = ("table", "json")  # commands with one result: a table on stderr, or JSON on stdout

TokenizerOpt = Annotated[str, typer.Option("--tokenizer", "-t", help="tokenizer.json, folder, .model, or zoo name")]
TextField = Annotated[str, typer.Option("--text-field", help="field holding the text in .jsonl inputs")]
Errors = Annotated[str, typer.Option("--errors", help="invalid UTF-8: strict (fail) or replace")]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="HF model folder, .gguf file, or zoo name (smollm2)")]
ContextOpt = Annotated[int, typer.Option("--context", help="tokens per window")]
StrideOpt = Annotated[Optional[int], typer.Option("--stride", help="new tokens scored per window (default: context)")]
MaxBytesOpt = Annotated[Optional[int], typer.Option("--max-bytes", help="score at most this many bytes of the corpus")]
AllowSpecial = Annotated[bool, typer.Option(
    "--allow-special", help="read special-token text in the input (<|endoftext|>, <|im_start|>, <s>) as those tokens, "
    "as a model sees chat-formatted data; default: plain text")]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json")]  # commands with one result
ForceOpt = Annotated[bool, typer.Option("--force", help="replace an existing output (atomically; decided before work)")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", help="threads for counting and encoding (default: all cores)")]

# scale-out (tokbench.train.runners): the same four flags on count, train and eval
WorkersOpt = Annotated[Optional[str], typer.Option(
    "--workers", help="run on a Dask LocalCluster of N worker processes (auto = cores)")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    "--scheduler", help="run on the Dask cluster at tcp://HOST:PORT (workers must see the same paths)")]
SchedulerTimeoutOpt = Annotated[float, typer.Option(
    "--scheduler-timeout", help="seconds to wait for --scheduler before giving up")]
ShardSizeOpt = Annotated[str, typer.Option(
    "--shard-size", help="with --workers/--scheduler: largest shard; bigger files are cut at line ends (64MB)")]


def check_format(fmt: str | None, choices: tuple[str, ...] = RECORD_FORMATS) -> None:
    """UsageError unless `fmt` (when given) is one of `choices`; the one place --format values are checked."""
    if fmt is not None and fmt not in choices:
        raise UsageError(f"--format must be one of {', '.join(choices)}, not {fmt!r}")


def format_option(choices: tuple[str, ...] = RECORD_FORMATS, short: bool = False):
    """A `--format` option whose help lists `choices`."""
    names = ("--format", "-f") if short else ("--format",)
    return typer.Option(*names, help=", ".join(choices) if choices != RECORD_FORMATS
                        else "machine output to stdout: json, jsonl, csv or md")
