"""`tokbench train`, `count` and `sweep`: thin typer wrappers; the work is in trainers.py, counts.py and sweep.py.

The `--algo` choices and their help come from the trainer registry (`trainers.TRAINERS`); each algorithm-specific flag
is a field of that trainer's options dataclass. `register(app)` mounts the commands on the main app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tokbench.errors import UsageError, flags
from tokbench.options import (Errors, ForceOpt, SchedulerOpt, SchedulerTimeoutOpt, ShardSizeOpt, TextField, ThreadsOpt,
                              WorkersOpt, above, at_least)
from tokbench.tokenizer.presets import PRETOKENIZERS, TRAIN_NORMALIZERS
from tokbench.train import trainers

PretokOpt = Annotated[str, typer.Option("--pretokenizer", help=", ".join(PRETOKENIZERS))]
NormOpt = Annotated[str, typer.Option("--normalizer", help=", ".join(TRAIN_NORMALIZERS))]
CorpusArgs = Annotated[list[str], typer.Argument(help="files, folders, globs, or - for stdin")]
MinWordCountOpt = Annotated[int, typer.Option(
    "--min-word-count", callback=at_least(1), help="drop words counted fewer than K times, after the exact sum (off: 1; changes merges)")]


@flags(min_count="--min-word-count", parts="--partitions")
def count_command(
    corpus: CorpusArgs,
    out: Annotated[Path, typer.Option("--out", "-o", help="a folder (a parquet dataset of parts) or FILE.parquet")],
    pretokenizer: PretokOpt = "gpt2",
    normalizer: NormOpt = "none",
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    scheduler_timeout: SchedulerTimeoutOpt = 10.0,
    shard_size: ShardSizeOpt = "64MB",
    text_field: TextField = "text",
    errors: Errors = "strict",
    threads: ThreadsOpt = None,
    min_word_count: MinWordCountOpt = 1,
    partitions: Annotated[int, typer.Option("--partitions", callback=at_least(1), help="parts of the dataset (words split by hash)")] = 8,
    force: ForceOpt = False,
) -> None:
    """Count pre-tokenized words into a parquet dataset (or one file); train on it with `train --from-counts`."""
    cluster = _cluster(threads, workers, scheduler, scheduler_timeout, shard_size)
    trainers.run_count(corpus, out, pretokenizer, normalizer, text_field, errors, min_count=min_word_count,
                       parts=partitions, force=force, cluster=cluster)


@flags(min_count="--min-word-count")
def train_command(
    corpus: Annotated[Optional[list[str]], typer.Argument(help="files, folders, globs, or - for stdin")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="tokenizer.json path, or a folder")] = Path("tokenizer.json"),
    algo: Annotated[str, typer.Option("--algo", help=", ".join(trainers.names()))] = "bpe",
    vocab_size: Annotated[int, typer.Option("--vocab-size", callback=at_least(1), help="size of the vocabulary, specials included")] = 8000,
    min_frequency: Annotated[int, typer.Option("--min-frequency", callback=at_least(0))] = 0,
    special_tokens: Annotated[str, typer.Option("--special-tokens", help="comma-separated")] = "",
    pretokenizer: PretokOpt = "gpt2",
    normalizer: NormOpt = "none",
    min_word_count: MinWordCountOpt = 1,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    scheduler_timeout: SchedulerTimeoutOpt = 10.0,
    shard_size: ShardSizeOpt = "64MB",
    threads: ThreadsOpt = None,
    from_counts: Annotated[Optional[list[Path]], typer.Option("--from-counts", help="train on count tables")] = None,
    text_field: TextField = "text",
    errors: Errors = "strict",
    # one flag per field of the trainers' option dataclasses (None: not given, the dataclass default applies)
    engine: Annotated[Optional[str], typer.Option(
        "--engine", help="bpe: numba (tokbench's engine, the default) or hf (tokenizers')")] = None,
    transition: Annotated[Optional[float], typer.Option(
        "--transition", callback=above(0), help="superbpe: stage-2 start, a fraction of --vocab-size (<1) or a vocab size (0.6)")] = None,
    max_words: Annotated[Optional[int], typer.Option("--max-words", callback=at_least(1), help="superbpe: words per token (4)")] = None,
    chunk_min: Annotated[Optional[int], typer.Option("--chunk-min", callback=at_least(1), help="supertoken: shortest piece (4)")] = None,
    chunk_max: Annotated[Optional[int], typer.Option("--chunk-max", callback=at_least(1), help="supertoken: longest piece (23)")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", callback=at_least(0), help="supertoken: random seed (0)")] = None,
    max_token_chars: Annotated[Optional[int], typer.Option(
        "--max-token-chars", callback=at_least(1), help="char-bpe: characters per token (4)")] = None,
    pad_vocab_pow2: Annotated[Optional[bool], typer.Option(
        "--pad-vocab-pow2", help="char-bpe: pad the vocabulary to a power of two")] = None,
    force: ForceOpt = False,
) -> None:
    """Train a tokenizer; writes a standard tokenizer.json. Also --algo superbpe, supertoken, char-bpe."""
    cluster = _cluster(threads, workers, scheduler, scheduler_timeout, shard_size)
    if not corpus and not from_counts:
        raise UsageError("give a corpus (or - for stdin), or --from-counts")
    options = trainers.options_for(algo, dict(
        engine=engine, transition=transition, max_words=max_words, chunk_min=chunk_min, chunk_max=chunk_max,
        seed=seed, max_token_chars=max_token_chars, pad_vocab_pow2=pad_vocab_pow2))
    common = trainers.Common(vocab_size, min_frequency, tuple(s for s in special_tokens.split(",") if s),
                             pretokenizer, normalizer)
    trainers.run_train(corpus or [], out, algo, common, options, text_field=text_field, errors=errors,
                       from_counts=from_counts or (), min_count=min_word_count, cluster=cluster, force=force)


@flags(transitions="--transition")
def sweep_command(
    corpus: Annotated[list[str], typer.Argument(help="training files, folders, globs")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the tokenizers, sweep.json and the plot")],
    eval_corpus: Annotated[list[str], typer.Option("--eval", help="held-out text for bytes/token")],
    algo: Annotated[str, typer.Option("--algo", help="superbpe")] = "superbpe",
    transition: Annotated[str, typer.Option("--transition", help="comma-separated transition points")] = "0.4,0.6,0.8",
    vocab_size: Annotated[int, typer.Option("--vocab-size", callback=at_least(1))] = 32000,
    max_words: Annotated[int, typer.Option("--max-words", callback=at_least(1))] = 4,
    pretokenizer: Annotated[str, typer.Option(
        "--pretokenizer", help=f"stage 1: {', '.join(trainers.get('superbpe').pretokenizers)}")] = "gpt2",
    fmt: Annotated[str, typer.Option("--format", help="json, jsonl, csv or md (stdout)")] = "json",
    text_field: TextField = "text",
    errors: Errors = "strict",
    force: ForceOpt = False,
) -> None:
    """Train superbpe at several transition points (and plain BPE) and report bytes/token on --eval, with a plot."""
    from tokbench.train import sweep

    sweep.sweep_command(corpus, out, eval_corpus, algo=algo, transitions=transition, vocab_size=vocab_size,
                        max_words=max_words, pretokenizer=pretokenizer, fmt=fmt, text_field=text_field, errors=errors,
                        force=force)


def _cluster(threads, workers, scheduler, scheduler_timeout, shard_size):
    """--threads applied, and the runner the cluster flags ask for (runners.Cluster; none given: this process)."""
    from tokbench.io import set_threads
    from tokbench.train.runners import Cluster

    set_threads(threads)
    return Cluster(workers, scheduler, scheduler_timeout, shard_size)


def register(app: typer.Typer) -> None:
    """Add `train`, `count` and `sweep` to the main tokbench app."""
    app.command("train")(train_command)
    app.command("count")(count_command)
    app.command("sweep")(sweep_command)
