"""What `train` and `count` do, below the CLI: streaming input, atomic output, progress on stderr."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from pathlib import Path

from tokbench.console import console, progress
from tokbench.corpus import Corpus
from tokbench.errors import InputError, UsageError
from tokbench.io import atomic_dir, atomic_files, claim_output
from tokbench.tokenizer import presets
from tokbench.train import backends


def run_count(corpus_specs: Sequence[str], out: Path, pretokenizer: str, normalizer: str, text_field: str,
              errors: str, *, min_count: int = 1, parts: int = 8, force: bool = False, cluster=None) -> Path:
    """Count pre-tokenized words into a parquet dataset (a folder of parts; `out` ending in .parquet: one file),
    in this process or on a Dask cluster (`cluster`: runners.Cluster); sum several with `train --from-counts`."""
    from tokbench.train import counts as C
    from tokbench.train.runners import Cluster

    cluster = cluster or Cluster()
    cluster.check()
    presets.check_trainable(pretokenizer, normalizer)
    if min_count < 1 or parts < 1:
        raise UsageError("--min-word-count and --partitions must be at least 1")
    dataset = out.suffix != ".parquet"
    claim_output(out, force)  # decided before any reading
    corpus = Corpus(list(corpus_specs), text_field=text_field, errors=errors)
    if not cluster.wanted:
        blocks = progress(corpus.blocks(), f"counting {corpus.name}", unit_of=len)
        counts = C.count_blocks(blocks, pretokenizer, normalizer).at_least(min_count)
        if dataset:
            C.save_dataset(counts.partition(parts), out, force=force)
        else:
            counts.save(out)
        words, total = len(counts), counts.total
    else:
        splitters = functools.partial(C.word_splitters, pretokenizer)
        with cluster.open() as runner:
            tasks = corpus.tasks(cluster.shard_bytes, runner.workers)
            label = f"counting {corpus.name}"
            if dataset:  # each partition task writes its part into the temp folder; renamed here when all are done
                with atomic_dir(out, force=force) as tmp:
                    stats = C.count_sharded(runner, tasks, splitters, pretokenizer, normalizer, parts=parts,
                                            min_count=min_count, folder=tmp, label=label)
                    words, total = sum(n for n, _ in stats), sum(t for _, t in stats)
                    if total == 0:  # as the one-process reader says (before the folder is renamed into place)
                        raise _empty(corpus)
            else:
                (counts,) = C.count_sharded(runner, tasks, splitters, pretokenizer, normalizer, parts=parts,
                                            min_count=min_count, label=label)
                if counts.total == 0:
                    raise _empty(corpus)
                counts.save(out)
                words, total = len(counts), counts.total
    console().print(f"{words:,} distinct words, {total:,} in all -> {out}")
    return out


FROM_COUNTS = ("bpe", "char-bpe", "superbpe")  # trainers whose whole input is per-line counts (they shard exactly)


def cluster_counts(corpus: Corpus, algo: str, pretokenizer: str, normalizer: str, min_count: int, cluster):
    """The tables `algo` trains from, counted on the cluster (or, for --min-word-count alone, in this process):
    bpe's words; char-bpe's words; superbpe's words and stage-2 phrases. Exact sums, then --min-word-count."""
    from tokbench.train import counts as C
    from tokbench.train import supertokens
    from tokbench.train.runners import Runner

    if algo == "bpe":
        splitters, tag = functools.partial(C.word_splitters, pretokenizer), pretokenizer
    else:
        splitters, tag = functools.partial(supertokens.splitters, algo, pretokenizer), "gpt2"
    n_tables = len(splitters())
    runner = cluster.open() if cluster.wanted else Runner()
    with runner:
        tasks = corpus.tasks(cluster.shard_bytes, runner.workers)
        tables = C.count_sharded(runner, tasks, splitters, tag, normalizer, tables=n_tables, min_count=min_count,
                                 label=f"counting {corpus.name}")
    if tables[0].total == 0 and min_count <= 1:
        raise _empty(corpus)
    return tables


def _empty(corpus: Corpus) -> InputError:
    return InputError(f"{', '.join(map(str, corpus.specs))}: corpus is empty (no text)")


def check_cluster_algo(algo: str, engine: str, from_counts, cluster) -> None:
    """One line, exit 2, for what cannot run on a cluster, before any cluster starts."""
    cluster.check()
    if not cluster.wanted:
        return
    if algo not in FROM_COUNTS or (algo == "bpe" and engine != "numba"):
        what = f"--algo {algo}" + (f" --engine {engine}" if algo == "bpe" else "")
        raise UsageError(f"{what} does not train from word counts, so it cannot run on --workers/--scheduler "
                         f"(those train: {', '.join(FROM_COUNTS)}); drop the flag to train in one process")
    if from_counts:
        raise UsageError("--from-counts trains in this process: drop --workers/--scheduler")


def run_train(corpus_specs: Sequence[str], out: Path, algo: str, vocab_size: int, min_frequency: int,
                  special_tokens: Sequence[str], pretokenizer: str, normalizer: str, text_field: str,
                  errors: str, engine: str = "numba", from_counts: Sequence[Path] = (),
                  super_options: dict | None = None, min_count: int = 1, cluster=None, force: bool = False) -> Path:
    """Train with the chosen algorithm and write tokenizer.json (and the .model for SentencePiece) atomically.
    With a cluster (runners.Cluster) or --min-word-count, the counts are made by `cluster_counts` and the merge loop
    runs here: the file is the one a single process writes (without --min-word-count)."""
    from tokbench.train import supertokens
    from tokbench.train.runners import Cluster

    out = claim_output(out, force)  # decided before any reading or training
    if _is_file_output(out) and out.with_suffix(".model").is_dir():
        raise UsageError(f"{out.with_suffix('.model')}: is a folder, and training may write the .model there")
    cluster = cluster or Cluster()
    check_cluster_algo(algo, engine, from_counts, cluster)
    if min_count < 1:
        raise UsageError(f"--min-word-count must be at least 1, not {min_count}")
    sharded = cluster.wanted or min_count > 1
    if min_count > 1 and (algo not in FROM_COUNTS or (algo == "bpe" and engine != "numba")):
        raise UsageError(f"--min-word-count applies to {', '.join(FROM_COUNTS)} (numba engine), not --algo {algo}")

    given = {k: v for k, v in (super_options or {}).items() if v is not None}
    if algo in supertokens.ALGOS:
        return _train_super(corpus_specs, out, algo, vocab_size, min_frequency, special_tokens, pretokenizer,
                            normalizer, text_field, errors, given,
                            (min_count, cluster) if sharded else None)
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
        raise UsageError(f"{flags} only apply to --algo {', '.join(supertokens.ALGOS)}")
    if algo not in backends.ALGOS:
        raise UsageError(f"--algo must be one of {', '.join(backends.ALGOS + supertokens.ALGOS)}, not {algo!r}")
    if engine not in ("numba", "hf"):
        raise UsageError(f"--engine must be numba or hf, not {engine!r}")
    presets.check_trainable(pretokenizer, normalizer)
    use_engine = algo == "bpe" and engine == "numba"
    if from_counts and not use_engine:
        raise UsageError("--from-counts trains with the numba BPE engine: use --algo bpe --engine numba")
    if from_counts and corpus_specs:
        raise UsageError("give either a corpus or --from-counts, not both")
    if len(set(special_tokens)) != len(special_tokens):
        raise UsageError("--special-tokens has duplicates")
    alphabet = 256 + len(special_tokens) + (2 if algo.startswith("sp-") else 0)
    if vocab_size < alphabet:
        raise UsageError(f"--vocab-size {vocab_size} is smaller than the byte alphabet plus special tokens ({alphabet})")
    if min_frequency < 0:
        raise UsageError("--min-frequency must be >= 0")
    started = time.perf_counter()
    model_bytes = None
    if from_counts:
        from tokbench.train.counts import WordCounts

        from tokbench.train.bpe import train_bpe_counts

        counts = WordCounts.load([str(p) for p in from_counts])  # the counts' own pre-tokenizer and normalizer apply
        hf = train_bpe_counts(counts, vocab_size, min_frequency, list(special_tokens))
        target = _write_tokenizer(hf, out, None)
        console().print(f"trained bpe ({hf.get_vocab_size()} tokens) in {time.perf_counter() - started:.1f}s "
                        f"-> {target}")
        return target
    corpus = Corpus(list(corpus_specs), text_field=text_field, errors=errors)
    vocab_size = bound_vocab(vocab_size, corpus, len(special_tokens))
    if sharded:  # bpe on the numba engine (check_cluster_algo refused the rest)
        from tokbench.train.bpe import train_bpe_counts

        (counts,) = cluster_counts(corpus, "bpe", pretokenizer, normalizer, min_count, cluster)
        hf = train_bpe_counts(counts, vocab_size, min_frequency, list(special_tokens))
        target = _write_tokenizer(hf, out, None)
        console().print(f"trained bpe ({hf.get_vocab_size()} tokens) in {time.perf_counter() - started:.1f}s "
                        f"-> {target}")
        return target
    lines = progress(corpus.lines(), f"reading {corpus.name}", unit_of=len)
    if use_engine:  # blocks of whole lines: the counting kernel cuts the lines (no Python string per line)
        from tokbench.train.bpe import train_bpe_counts
        from tokbench.train.counts import count_blocks

        blocks = progress(corpus.blocks(), f"counting {corpus.name}", unit_of=len)
        hf = train_bpe_counts(count_blocks(blocks, pretokenizer, normalizer), vocab_size, min_frequency,
                              list(special_tokens))
    elif algo.startswith("sp-") or algo == "unigram":
        model_bytes, hf = backends.train_sentencepiece(lines, algo, vocab_size, special_tokens, normalizer)
    else:
        hf = backends.train_hf(lines, algo, vocab_size, min_frequency, special_tokens, pretokenizer, normalizer,
                               show_progress=False)
    target = _write_tokenizer(hf, out, model_bytes)
    console().print(f"trained {algo} ({hf.get_vocab_size()} tokens) in {time.perf_counter() - started:.1f}s "
                    f"-> {target}")
    return target


def _train_super(corpus_specs, out, algo, vocab_size, min_frequency, special_tokens, pretokenizer, normalizer,
                 text_field, errors, options, sharded=None) -> Path:
    """superbpe / supertoken / char-bpe on the numba engine (tokbench.train.supertokens); `sharded` =
    (min_count, cluster): count with `cluster_counts` first."""
    from tokbench.train import supertokens

    if algo != "supertoken":
        options["pretokenizer"] = pretokenizer
    corpus = Corpus(list(corpus_specs), text_field=text_field, errors=errors)
    vocab_size = bound_vocab(vocab_size, corpus, len(special_tokens))
    started = time.perf_counter()
    if sharded is not None:
        lines = None
        options["counted"] = cluster_counts(corpus, algo, pretokenizer, normalizer, *sharded)
    else:
        lines = progress(corpus.lines(), f"reading {corpus.name}", unit_of=lambda line: len(line))
    trained = supertokens.train(algo, lines, vocab_size, min_frequency=min_frequency,
                                special_tokens=list(special_tokens), normalizer=normalizer, **options)
    target = _write_tokenizer(trained.hf, out, None)
    console().print(f"trained {algo} ({trained.hf.get_vocab_size()} tokens) in "
                    f"{time.perf_counter() - started:.1f}s -> {target}")
    return target


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
        raise UsageError(f"--vocab-size {vocab_size} is above what the trainers can hold ({MAX_VOCAB:,})")
    return vocab


def _is_file_output(out: Path) -> bool:
    return out.suffix.lower() == ".json"


def _write_tokenizer(hf, out: Path, model_bytes: bytes | None) -> Path:
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
