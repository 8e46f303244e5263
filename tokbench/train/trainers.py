"""The trainer registry: `tokbench train --algo NAME` runs the function registered under NAME.

A trainer is one function `(corpus, common, options, counted) -> (tokenizers.Tokenizer, SentencePiece .model bytes or
None)` (`counted`: the tables it trains from, counted on a cluster, when it declares `from_counts`),
registered with `@register(name, Options)`; `Options` is a frozen dataclass of the flags only that algorithm takes
(field `max_words` is flag `--max-words`; its default is the flag's default; its `__post_init__` holds the checks).
What every trainer shares (vocabulary size against the alphabet, special tokens, presets) is checked once, in
`check_common`. A new trainer: one registered function here (its work in its own module), and, when it takes new
flags, their typer options in `train/cli.py`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokbench.console import console, progress
from tokbench.corpus import Corpus
from tokbench.errors import InputError, UsageError, param
from tokbench.io import atomic_dir, atomic_files, claim_output
from tokbench.tokenizer import presets


@dataclass(frozen=True)
class Common:
    """The options every trainer takes."""

    vocab_size: int = 8000
    min_frequency: int = 0
    special_tokens: tuple[str, ...] = ()
    pretokenizer: str = "gpt2"
    normalizer: str = "none"


@dataclass(frozen=True)
class Trainer:
    name: str
    run: Callable[[Corpus, Common, Any, Any], tuple[Any, bytes | None]]  # (corpus, common, options, counted)
    options: type
    summary: str
    pretokenizers: tuple[str, ...] = presets.PRETOKENIZERS  # the --pretokenizer values it accepts
    normalizers: tuple[str, ...] = presets.TRAIN_NORMALIZERS  # the --normalizer values it accepts
    reserved: int = 0  # ids it adds besides the 256 bytes and the special tokens (SentencePiece's)
    from_counts: bool = False  # trains from per-line counts only: they shard exactly (--workers, --min-word-count)


TRAINERS: dict[str, Trainer] = {}


def register(name: str, options: type, summary: str, **limits) -> Callable:
    """Register `fn(corpus, common, options, counted)` as `--algo name`; `limits` are Trainer fields (pretokenizers, ...)."""
    def add(fn: Callable) -> Callable:
        TRAINERS[name] = Trainer(name, fn, options, summary, **limits)
        return fn
    return add


def names() -> list[str]:
    return list(TRAINERS)


# ---------------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class NoOptions:
    """The algorithm takes no flags of its own."""


ENGINES = ("numba", "hf")


@dataclass(frozen=True)
class BPEOptions:
    engine: str = "numba"  # numba (tokbench's engine) or hf (tokenizers' BpeTrainer): the same file either way

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise UsageError(f"{param('engine')} must be one of {', '.join(ENGINES)}, not {self.engine!r}")


@dataclass(frozen=True)
class SuperBPEOptions:
    transition: float = 0.6  # stage 2 starts here: a fraction of --vocab-size (< 1) or a size (supertokens.transition_size)
    max_words: int = 4  # words per supertoken

    def __post_init__(self):
        if self.max_words < 1:
            raise UsageError(f"{param('max_words')} must be >= 1, got {self.max_words}")


@dataclass(frozen=True)
class SupertokenOptions:
    chunk_min: int = 4  # shortest random piece (characters)
    chunk_max: int = 23  # longest random piece
    seed: int = 0

    def __post_init__(self):
        if not 1 <= self.chunk_min <= self.chunk_max:
            raise UsageError(f"{param('chunk_min')}/{param('chunk_max')} must satisfy 1 <= min <= max, "
                             f"got {self.chunk_min} and {self.chunk_max}")


@dataclass(frozen=True)
class CharBPEOptions:
    max_token_chars: int = 4  # characters per token at most
    pad_vocab_pow2: bool = False  # pad the vocabulary to a power of two with unused special tokens

    def __post_init__(self):
        if self.max_token_chars < 1:
            raise UsageError(f"{param('max_token_chars')} must be >= 1, got {self.max_token_chars}")


def options_for(algo: str, given: dict[str, Any]):
    """The algorithm's options from the flags given (None = not given); refuses flags that are not its own."""
    trainer = get(algo)
    fields = {f.name for f in dataclasses.fields(trainer.options)}
    given = {k: v for k, v in given.items() if v is not None}
    foreign = sorted(k for k in given if k not in fields)
    if foreign:
        owners = sorted({t.name for t in TRAINERS.values() for f in dataclasses.fields(t.options) if f.name in foreign})
        raise UsageError(f"{', '.join(param(k) for k in foreign)} only apply to {param('algo')} {', '.join(owners)}, "
                         f"not {algo}")
    return trainer.options(**given)


def get(algo: str) -> Trainer:
    if algo not in TRAINERS:
        raise UsageError(f"{param('algo')} must be one of {', '.join(TRAINERS)}, not {algo!r}")
    return TRAINERS[algo]


# ---------------------------------------------------------------------------------------------------- shared checks


def check_presets(pretokenizer: str, normalizer: str, algo: str | None = None) -> None:
    """--pretokenizer and --normalizer against what `algo` accepts (any trainer's presets when None)."""
    trainer = get(algo) if algo else None
    pretokenizers = trainer.pretokenizers if trainer else presets.PRETOKENIZERS
    normalizers = trainer.normalizers if trainer else presets.TRAIN_NORMALIZERS
    where = f" for {param('algo')} {algo}" if algo else ""
    if pretokenizer not in pretokenizers:
        raise UsageError(f"{param('pretokenizer')} must be one of {', '.join(pretokenizers)}{where}, "
                         f"not {pretokenizer!r}")
    if normalizer not in normalizers:
        raise UsageError(f"{param('normalizer')} must be one of {', '.join(normalizers)}{where}, not {normalizer!r}")


def check_common(common: Common, algo: str) -> None:
    """The checks every trainer shares, before any work: presets it accepts, special tokens, sizes."""
    from tokbench.train.bpe import check_vocab_size, initial_tokens

    check_presets(common.pretokenizer, common.normalizer, algo)
    if len(set(common.special_tokens)) != len(common.special_tokens):
        raise UsageError(f"{param('special_tokens')} has duplicates")
    check_vocab_size(common.vocab_size, len(initial_tokens(common.special_tokens)) + get(algo).reserved)
    if common.min_frequency < 0:
        raise UsageError(f"{param('min_frequency')} must be >= 0")


# ---------------------------------------------------------------------------------------------------- the trainers


@register("bpe", BPEOptions, "byte-level BPE: tokbench's numba engine (or --engine hf), merge for merge HF's",
          from_counts=True)
def _bpe(corpus: Corpus, common: Common, options: BPEOptions, counted=None):
    if options.engine == "hf":
        from tokbench.train.backends import train_hf

        return train_hf(_lines(corpus), "bpe", common.vocab_size, common.min_frequency, common.special_tokens,
                        common.pretokenizer, common.normalizer, show_progress=False), None
    from tokbench.train.bpe import train_bpe_counts
    from tokbench.train.counts import count_blocks

    if counted is None:  # blocks of whole lines: the counting kernel cuts the lines (no Python string per line)
        blocks = progress(corpus.blocks(), f"counting {corpus.name}", unit_of=len)
        counted = [count_blocks(blocks, common.pretokenizer, common.normalizer)]
    return train_bpe_counts(counted[0], common.vocab_size, common.min_frequency, list(common.special_tokens)), None


@register("unigram", NoOptions, "unigram LM (SentencePiece's deterministic trainer), byte fallback")
def _unigram(corpus: Corpus, common: Common, options: NoOptions, counted=None):
    return _sentencepiece(corpus, "unigram", common)


@register("wordpiece", NoOptions, "WordPiece (tokenizers' trainer; its alphabet order is not reproducible)")
def _wordpiece(corpus: Corpus, common: Common, options: NoOptions, counted=None):
    from tokbench.train.backends import train_hf

    return train_hf(_lines(corpus), "wordpiece", common.vocab_size, common.min_frequency, common.special_tokens,
                    common.pretokenizer, common.normalizer, show_progress=False), None


@register("sp-bpe", NoOptions, "SentencePiece BPE, byte fallback", reserved=2)
def _sp_bpe(corpus: Corpus, common: Common, options: NoOptions, counted=None):
    return _sentencepiece(corpus, "sp-bpe", common)


@register("sp-unigram", NoOptions, "SentencePiece unigram, byte fallback", reserved=2)
def _sp_unigram(corpus: Corpus, common: Common, options: NoOptions, counted=None):
    return _sentencepiece(corpus, "sp-unigram", common)


def _sentencepiece(corpus: Corpus, algo: str, common: Common):
    from tokbench.train.backends import train_sentencepiece

    model_bytes, hf = train_sentencepiece(_lines(corpus), algo, common.vocab_size, common.special_tokens,
                                          common.normalizer)
    return hf, model_bytes


SUPER_NORMALIZERS = ("none", "nfc")  # the numba supertoken trainers normalise with NFC or not at all


# superbpe and char-bpe: a byte-level stage 1 on gpt2/cl100k/llama3 words, per-line counts (so they shard exactly)
_ON_WORDS = dict(pretokenizers=presets.SUPERBPE_PRETOKENIZERS, normalizers=SUPER_NORMALIZERS, from_counts=True)


@register("superbpe", SuperBPEOptions, "SuperBPE: BPE to --transition, then merges across spaces (<= --max-words)",
          **_ON_WORDS)
def _superbpe(corpus: Corpus, common: Common, options: SuperBPEOptions, counted=None):
    return _on_words("train_superbpe", corpus, common, counted, transition=options.transition,
                     max_words=options.max_words)


@register("supertoken", SupertokenOptions, "TokenAdapt supertokens: BPE over random-length pieces of each line",
          normalizers=SUPER_NORMALIZERS)
def _supertoken(corpus: Corpus, common: Common, options: SupertokenOptions, counted=None):
    from tokbench.train.supertokens import train_supertoken

    return train_supertoken(_lines(corpus), common.vocab_size, options.chunk_min, options.chunk_max, options.seed,
                            common.min_frequency, common.special_tokens, common.normalizer).hf, None


@register("char-bpe", CharBPEOptions, "KL3M-style BPE, at most --max-token-chars characters a token", **_ON_WORDS)
def _char_bpe(corpus: Corpus, common: Common, options: CharBPEOptions, counted=None):
    return _on_words("train_char_bpe", corpus, common, counted, max_token_chars=options.max_token_chars,
                     pad_vocab_pow2=options.pad_vocab_pow2)


def _on_words(name: str, corpus: Corpus, common: Common, counted, **options):
    """supertokens.<name> on the corpus's lines, or on the tables counted on a cluster."""
    from tokbench.train import supertokens

    trained = getattr(supertokens, name)(None if counted else _lines(corpus), common.vocab_size,
                                         min_frequency=common.min_frequency, special_tokens=common.special_tokens,
                                         pretokenizer=common.pretokenizer, normalizer=common.normalizer,
                                         counted=counted, **options)
    return trained.hf, None


# ---------------------------------------------------------------------------------------------------- running

FROM_COUNTS = tuple(t.name for t in TRAINERS.values() if t.from_counts)  # bpe, superbpe, char-bpe


def run_train(corpus_specs: Sequence[str], out: Path, algo: str = "bpe", common: Common = Common(), options=None,
              text_field: str = "text", errors: str = "strict", from_counts: Sequence[Path] = (), min_count: int = 1,
              cluster=None, force: bool = False) -> Path:
    """Train with the registered algorithm and write tokenizer.json (and the .model for SentencePiece) atomically.
    With a cluster (runners.Cluster) or --min-word-count, the counts are made by `cluster_counts` and the merge loop
    runs here: the file is the one a single process writes (without --min-word-count)."""
    from tokbench.train.runners import Cluster

    trainer = get(algo)
    options = trainer.options() if options is None else options
    out = claim_output(out, force)  # decided before any reading or training
    if _is_file_output(out) and out.with_suffix(".model").is_dir():
        raise UsageError(f"{out.with_suffix('.model')}: is a folder, and training may write the .model there")
    cluster = cluster or Cluster()
    check_cluster_algo(algo, options, from_counts, cluster)
    if min_count < 1:
        raise UsageError(f"{param('min_count')} must be at least 1, not {min_count}")
    sharded = cluster.wanted or min_count > 1
    if min_count > 1 and not _from_counts(algo, options):
        raise UsageError(f"{param('min_count')} applies to {', '.join(FROM_COUNTS)} (numba engine), "
                         f"not {param('algo')} {algo}")
    if from_counts:
        if algo != "bpe" or options.engine != "numba":
            raise UsageError(f"{param('from_counts')} trains with the numba BPE engine: "
                             f"use {param('algo')} bpe {param('engine')} numba")
        if corpus_specs:
            raise UsageError(f"give either a corpus or {param('from_counts')}, not both")
    check_common(common, algo)
    started = time.perf_counter()
    model_bytes = None
    if from_counts:
        from tokbench.train.bpe import train_bpe_counts
        from tokbench.train.counts import WordCounts

        counts = WordCounts.load([str(p) for p in from_counts])  # the counts' own pre-tokenizer and normalizer apply
        hf = train_bpe_counts(counts, common.vocab_size, common.min_frequency, list(common.special_tokens))
    else:
        counted = None
        # the cluster starts first (in the background) and is closed before the merge loop: its workers' memory is
        # released before the client's peak
        with open_counting(cluster, algo, common.pretokenizer, common.normalizer, sharded) as runner:
            corpus = Corpus(list(corpus_specs), text_field=text_field, errors=errors)
            common = dataclasses.replace(common, vocab_size=bound_vocab(common.vocab_size, corpus,
                                                                        len(common.special_tokens)))
            if runner is not None:
                counted = cluster_counts(corpus, algo, common.pretokenizer, common.normalizer, min_count, cluster,
                                         runner)
        hf, model_bytes = trainer.run(corpus, common, options, counted)
    target = write_tokenizer(hf, out, model_bytes)
    console().print(f"trained {algo} ({hf.get_vocab_size()} tokens) in {time.perf_counter() - started:.1f}s "
                    f"-> {target}")
    return target


def _lines(corpus: Corpus) -> Iterable[str]:
    """The corpus's lines (each keeping its "\\n"), with a progress bar on a terminal."""
    return progress(corpus.lines(), f"reading {corpus.name}", unit_of=len)


def _from_counts(algo: str, options) -> bool:
    """Whether the trainer's whole input is per-line counts (so they shard exactly), with these options."""
    return get(algo).from_counts and getattr(options, "engine", "numba") == "numba"


def count_plan(algo: str, pretokenizer: str):
    """(splitters factory, table tag, number of tables) of what `algo` trains from: bpe's words; char-bpe's words;
    superbpe's words and stage-2 phrases."""
    from tokbench.train import counts as C
    from tokbench.train import supertokens

    if algo == "bpe":
        splitters, tag = functools.partial(C.word_splitters, pretokenizer), pretokenizer
    else:
        splitters, tag = functools.partial(supertokens.splitters, algo, pretokenizer), "gpt2"
    return splitters, tag, len(splitters())


def open_counting(cluster, algo: str, pretokenizer: str, normalizer: str, sharded: bool = True):
    """The runner counting shards for `algo`: the cluster's (starting in the background, each worker warmed for
    these kernels), this process's for --min-word-count alone, or a null context (None) when nothing is sharded."""
    import contextlib

    from tokbench.train import counts as C
    from tokbench.train.runners import Runner

    if not sharded:
        return contextlib.nullcontext()
    if not cluster.wanted:
        return Runner()
    splitters, _, _ = count_plan(algo, pretokenizer)
    return cluster.open(warm=functools.partial(C.warm_worker, splitters, normalizer))


def cluster_counts(corpus: Corpus, algo: str, pretokenizer: str, normalizer: str, min_count: int, cluster, runner):
    """The tables `algo` trains from (`count_plan`), counted on `runner` (`open_counting`: the cluster's, or this
    process's for --min-word-count alone). Exact sums, then --min-word-count."""
    from tokbench.train import counts as C

    splitters, tag, n_tables = count_plan(algo, pretokenizer)
    tasks = corpus.tasks(cluster.shard_bytes, runner.workers)
    tables = C.count_sharded(runner, tasks, splitters, tag, normalizer, tables=n_tables, min_count=min_count,
                             label=f"counting {corpus.name}")
    if tables[0].total == 0 and min_count <= 1:
        raise _empty(corpus)
    return tables


def _empty(corpus: Corpus) -> InputError:
    return InputError(f"{', '.join(map(str, corpus.specs))}: corpus is empty (no text)")


def check_cluster_algo(algo: str, options, from_counts, cluster) -> None:
    """One line, exit 2, for what cannot run on a cluster, before any cluster starts."""
    cluster.check()
    if not cluster.wanted:
        return
    if not _from_counts(algo, options):
        engine = getattr(options, "engine", None)
        what = f"{param('algo')} {algo}" + (f" {param('engine')} {engine}" if engine else "")
        raise UsageError(f"{what} does not train from word counts, so it cannot run on "
                         f"{param('workers')}/{param('scheduler')} (those train: {', '.join(FROM_COUNTS)}); "
                         "drop the flag to train in one process")
    if from_counts:
        raise UsageError(f"{param('from_counts')} trains in this process: drop {param('workers')}/{param('scheduler')}")


def run_count(corpus_specs: Sequence[str], out: Path, pretokenizer: str, normalizer: str, text_field: str,
              errors: str, *, min_count: int = 1, parts: int = 8, force: bool = False, cluster=None) -> Path:
    """Count pre-tokenized words into a parquet dataset (a folder of parts; `out` ending in .parquet: one file),
    in this process or on a Dask cluster (`cluster`: runners.Cluster); sum several with `train --from-counts`."""
    from tokbench.train import counts as C
    from tokbench.train.runners import Cluster

    cluster = cluster or Cluster()
    cluster.check()
    check_presets(pretokenizer, normalizer)
    if min_count < 1 or parts < 1:
        raise UsageError(f"{param('min_count')} and {param('parts')} must be at least 1")
    dataset = out.suffix != ".parquet"
    claim_output(out, force)  # decided before any reading
    if cluster.wanted:
        with open_counting(cluster, "bpe", pretokenizer, normalizer) as runner:  # starts while the corpus is listed
            words, total = _count_on(runner, corpus_specs, out, pretokenizer, normalizer, text_field, errors,
                                     min_count, parts, force, cluster)
    else:
        corpus = Corpus(list(corpus_specs), text_field=text_field, errors=errors)
        blocks = progress(corpus.blocks(), f"counting {corpus.name}", unit_of=len)
        counts = C.count_blocks(blocks, pretokenizer, normalizer).at_least(min_count)
        if dataset:
            C.save_dataset(counts.partition(parts), out, force=force)
        else:
            counts.save(out)
        words, total = len(counts), counts.total
    console().print(f"{words:,} distinct words, {total:,} in all -> {out}")
    return out


def _count_on(runner, corpus_specs, out: Path, pretokenizer, normalizer, text_field, errors, min_count, parts, force,
              cluster) -> tuple[int, int]:
    """run_count on a cluster: (distinct words, total) of the dataset or file written to `out`."""
    from tokbench.train import counts as C

    corpus = Corpus(list(corpus_specs), text_field=text_field, errors=errors)
    splitters = functools.partial(C.word_splitters, pretokenizer)
    tasks = corpus.tasks(cluster.shard_bytes, runner.workers)
    label = f"counting {corpus.name}"
    if out.suffix != ".parquet":  # each partition task writes its part into the temp folder; renamed when all are done
        with atomic_dir(out, force=force) as tmp:
            stats = C.count_sharded(runner, tasks, splitters, pretokenizer, normalizer, parts=parts,
                                    min_count=min_count, folder=tmp, label=label)
            words, total = sum(n for n, _ in stats), sum(t for _, t in stats)
            if total == 0:  # as the one-process reader says (before the folder is renamed into place)
                raise _empty(corpus)
        return words, total
    (counts,) = C.count_sharded(runner, tasks, splitters, pretokenizer, normalizer, parts=parts, min_count=min_count,
                                label=label)
    if counts.total == 0:
        raise _empty(corpus)
    counts.save(out)
    return len(counts), counts.total


MAX_VOCAB = 1 << 22  # 4,194,304 tokens: 16x the largest production vocabulary, and what every engine can hold


def bound_vocab(vocab_size: int, corpus: Corpus, n_special: int) -> int:
    """--vocab-size bounded before any engine allocates for it: no trainer makes more tokens than the alphabet, the
    specials and one per byte of text (each merge or piece needs text to come from), so a larger request trains the
    same tokenizer as that bound. Above the engines' common limit (or on stdin, whose size is unknown) it is refused."""
    import os

    total: int | None = 0
    for source in corpus.sources:
        if source.is_stdin:
            total = None
            break
        size = os.stat(source.path).st_size
        total += size * 1032 if source.path.endswith(".gz") else size  # deflate expands at most ~1032x
    vocab = vocab_size if total is None else min(vocab_size, 258 + n_special + total)
    if vocab > MAX_VOCAB:
        raise UsageError(f"{param('vocab_size')} {vocab_size} is above what the trainers can hold ({MAX_VOCAB:,})")
    return vocab


def _is_file_output(out: Path) -> bool:
    return out.suffix.lower() == ".json"


def write_tokenizer(hf, out: Path, model_bytes: bytes | None) -> Path:
    """A path ending in .json is the tokenizer file itself (with its SentencePiece .model beside it: one output, both
    replaced together or neither); anything else is a folder to hold it. `out` was claimed before training."""
    text = hf.to_str(pretty=True)
    if _is_file_output(out):
        targets = [out] if model_bytes is None else [out, out.with_suffix(".model")]
        with atomic_files(targets) as temps:
            temps[0].write_text(text, encoding="utf-8")
            if model_bytes is not None:
                temps[1].write_bytes(model_bytes)
        return out
    with atomic_dir(out, force=True) as tmp:
        (tmp / "tokenizer.json").write_text(text, encoding="utf-8")
        if model_bytes is not None:
            (tmp / "tokenizer.model").write_bytes(model_bytes)
    return out / "tokenizer.json"
