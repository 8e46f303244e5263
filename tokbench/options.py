"""The options every command spells the same way (typer `Annotated` types); the `--format` values are checked by
`tokbench.io.check_format`.

Capability CLIs (`<package>/cli.py`) import these, so `-t/--tokenizer`, `-m/--model`, `--text-field`, `--errors` and
`--format` mean one thing everywhere. Every size-like number flag is bounded here too, by one callback
(`at_least`, `above`, `between`), so a nonsensical value is refused before any work, as one line naming the flag.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from tokbench.errors import UsageError


# ------------------------------------------------------------------------------------------------ bounded numbers
def _bounded(low: float, high: float | None, strict: bool) -> Callable:
    """A typer callback for a size-like flag (counts, sizes, steps, rates): refuses, while the command line is parsed
    (before any work), a value outside the bounds or a float that is not a finite number (nan, inf), as one
    UsageError naming the flag as the command spells it."""

    def check(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
        if value is None or ctx.resilient_parsing:
            return value
        real = isinstance(value, float)
        if (real and not math.isfinite(value)) or (value <= low if strict else value < low) or (
                high is not None and value > high):
            flag = next((o for o in param.opts if o.startswith("--")), param.opts[0])
            if high is not None:
                wanted = f"between {low:g} and {high:g}"
            else:
                wanted = f"{'above' if strict else 'at least'} {low:g}"
            raise UsageError(f"{flag} must be {'a number ' if real else ''}{wanted}, not {value:g}")
        return value

    return check


def at_least(low: float) -> Callable:
    """`callback=at_least(1)`: the flag's value must be >= low (a count, a size, a number of steps)."""
    return _bounded(low, None, strict=False)


def above(low: float) -> Callable:
    """`callback=above(0)`: the flag's value must be > low (a learning rate, a temperature, a timeout)."""
    return _bounded(low, None, strict=True)


def between(low: float, high: float) -> Callable:
    """`callback=between(0, 1)`: low <= value <= high (a share, a cosine threshold)."""
    return _bounded(low, high, strict=False)


TokenizerOpt = Annotated[str, typer.Option("--tokenizer", "-t", help="tokenizer.json, folder, .model, or zoo name")]
TextField = Annotated[str, typer.Option("--text-field", help="field holding the text in .jsonl inputs")]
Errors = Annotated[str, typer.Option("--errors", help="invalid UTF-8: strict (fail) or replace")]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="HF model folder, .gguf file, or zoo name (smollm2)")]
ContextOpt = Annotated[int, typer.Option("--context", callback=at_least(2), help="tokens per window")]
StrideOpt = Annotated[Optional[int], typer.Option(
    "--stride", callback=at_least(1), help="new tokens scored per window (default: context)")]
MaxBytesOpt = Annotated[Optional[int], typer.Option(
    "--max-bytes", callback=at_least(1), help="score at most this many bytes of the corpus")]
AllowSpecial = Annotated[bool, typer.Option(
    "--allow-special", help="read special-token text in the input (<|endoftext|>, <|im_start|>, <s>) as those tokens, "
    "as a model sees chat-formatted data; default: plain text")]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json")]  # commands with one result (io.TABLE_OR_JSON)
ForceOpt = Annotated[bool, typer.Option("--force", help="replace an existing output (atomically; decided before work)")]
ThreadsOpt = Annotated[Optional[int], typer.Option(
    "--threads", callback=at_least(1), help="threads for counting and encoding (default: all cores)")]

# scale-out (tokbench.train.runners): the same four flags on count, train and eval
WorkersOpt = Annotated[Optional[str], typer.Option(
    "--workers", help="run on a Dask LocalCluster of N worker processes (auto = cores)")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    "--scheduler", help="run on the Dask cluster at tcp://HOST:PORT (workers must see the same paths)")]
SchedulerTimeoutOpt = Annotated[float, typer.Option(
    "--scheduler-timeout", callback=above(0), help="seconds to wait for --scheduler before giving up")]
ShardSizeOpt = Annotated[str, typer.Option(
    "--shard-size", help="with --workers/--scheduler: largest shard; bigger files are cut at line ends (64MB)")]

