"""The library entry of `tokbench eval`: stream corpora through tokenizers and collect one record per pair.

    from tokbench.eval.run import evaluate
    records = evaluate(["cl100k_base", "my.json"], ["corpora/multi/tr:tr", "corpora/en-tech:en"])

Corpora are read one batch of documents at a time (bounded memory: ids are folded into per-id counts and running
sums, never kept); each batch is segmented into words once and then encoded by every tokenizer with the adapter's
`encode_arrays` (the fast engine's encoder where one applies). Documents larger than `max_doc_bytes` are cut at line
ends and counted as separate documents.

`throughput_mb_s` is measured apart from that pass, warm: each tokenizer first encodes a small sample (its loading and
first use, compiles and tables included, are `first_use_s`), then the corpus's first megabyte is timed, repeated until
THROUGHPUT_BYTES or THROUGHPUT_SECONDS is reached, whichever comes first. The same encodes give
`throughput_cpu_mb_s`, MB per second of the process's CPU time (all its threads): a wall-clock figure counts the time
other processes hold the cores (on 2 busy cores it varied 10x between two runs seconds apart), CPU time does not
(within 1.4x there), so it is the figure to compare tokenizers by on a shared machine; it is per core where the
encoder runs threads.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import regex

from tokbench.errors import InputError, UsageError, param
from tokbench.eval import lexicons, metrics, morphology
from tokbench.eval.metrics import Stats, TokenTable, word_byte_spans

THROUGHPUT_BYTES = 1 << 20  # warm encode timed over at least this much text ...
THROUGHPUT_SECONDS = 0.5  # ... or this long, whichever comes first
WARMUP_BYTES = 16 << 10  # the first encode, whose time (with loading) is first_use_s
_LANG_SUFFIX = regex.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
FLORES_SPLITS = ("dev", "devtest")


# ------------------------------------------------------------------------------------------------------ sources
@dataclass
class TextSource:
    """A named text stream with an optional language; `group` ties the languages of one parallel set together."""

    name: str
    lang: str | None
    documents: Callable[[], Iterator[str]]
    group: str | None = None
    units: Callable[[], list[str]] | None = None  # parallel sets: the aligned units (files; FLORES: sentences)
    tasks: Callable[[int, int], list] | None = None  # (shard size, workers) -> groups of readers with .documents()


def parse_corpus_spec(spec: str) -> tuple[str, str | None]:
    """'PATH[:LANG]' -> (path, lang). A suffix counts as a language only if it looks like a tag and PATH:SUFFIX is
    not itself an existing path."""
    if ":" in spec and not Path(spec).exists():
        path, lang = spec.rsplit(":", 1)
        if path and _LANG_SUFFIX.match(lang):
            return path, lang
    return spec, None


def corpus_source(spec, lang: str | None = None) -> TextSource:
    """A TextSource over the project's Corpus reader (files, folders, globs, '-', .gz, .jsonl)."""
    from tokbench.corpus import Corpus

    if isinstance(spec, TextSource):
        return spec
    if isinstance(spec, tuple):
        spec, lang = spec
    elif lang is None and isinstance(spec, str):
        spec, lang = parse_corpus_spec(spec)
    corpus = spec if hasattr(spec, "documents") else Corpus([str(spec)])
    # a plain file is one document, so only JSONL (a record per line) is cut inside a file
    tasks = (lambda size, n: corpus.tasks(size, n, split_text=False)) if hasattr(corpus, "tasks") else None
    return TextSource(corpus.name, lang, corpus.documents, tasks=tasks)


def parallel_sources(directory: str | Path) -> list[TextSource]:
    """Aligned text per language from DIR/<lang>/ folders (documents = the file names every language has) or from
    FLORES-style DIR/<code>.dev[test] files (each language's lines joined by single spaces, as the published parity
    tables do)."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"{d}: {param('parallel')} needs a folder")
    group = d.name
    subdirs = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subdirs:
        names = [{f.relative_to(s) for f in s.rglob("*") if f.is_file() and not f.name.startswith(".")}
                 for s in subdirs]
        common = sorted(set.intersection(*names))
        if not common:
            raise InputError(f"{d}: the language folders share no file names (nothing aligned)")
        out = []
        for s in subdirs:
            files = [str(s / c) for c in common]
            read = _files_reader(files)
            out.append(TextSource(f"{group}/{s.name}", s.name, read, group, lambda read=read: list(read())))
        return out
    codes: dict[str, list[Path]] = {}
    for f in sorted(d.iterdir()):
        if f.is_file() and f.suffix.lstrip(".") in FLORES_SPLITS:
            codes.setdefault(f.stem, []).append(f)
    if not codes:
        raise InputError(f"{d}: no language folders and no FLORES-style <code>.dev / <code>.devtest files")
    splits = [{f.suffix for f in fs} for fs in codes.values()]
    if any(s != splits[0] for s in splits):
        raise InputError(f"{d}: languages have different splits ({', '.join(sorted(codes))})")
    return [TextSource(f"{group}/{code}", lexicons.base_lang(code), _flores_reader(fs), group, _flores_lines(fs))
            for code, fs in codes.items()]


def _files_reader(files: list[str]) -> Callable[[], Iterator[str]]:
    def read():
        from tokbench.corpus import Corpus

        for f in files:
            yield from Corpus([f]).documents()

    return read


def _flores_lines(files: list[Path]) -> Callable[[], list[str]]:
    def lines():
        out = []
        for f in files:
            try:
                out += [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines()]
            except UnicodeDecodeError as e:
                raise InputError(f"{f}: not UTF-8 at byte {e.start}") from None
        return out

    return lines


def _flores_reader(files: list[Path]) -> Callable[[], Iterator[str]]:
    def read():
        yield " ".join(_flores_lines(files)())

    return read


def _split_long(doc: str, limit: int) -> Iterator[str]:
    """Cut a very long document at line ends into pieces of about `limit` bytes (bounded encoder memory)."""
    if len(doc) * 4 <= limit or len(doc.encode("utf-8")) <= limit:
        yield doc
        return
    piece: list[str] = []
    size = 0
    for line in doc.splitlines(keepends=True):
        piece.append(line)
        size += len(line)
        if size >= limit // 4:
            yield "".join(piece)
            piece, size = [], 0
    if piece:
        yield "".join(piece)


def _batches(docs: Iterable[str], batch_bytes: int, max_doc_bytes: int) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for doc in docs:
        for piece in _split_long(doc, max_doc_bytes):
            batch.append(piece)
            size += len(piece)
            if size >= batch_bytes:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


# ------------------------------------------------------------------------------------------------ evaluation
class Evaluation:
    """Runs every tokenizer over every source; keeps the records and the extras the report plots."""

    def __init__(
        self,
        tokenizers: Sequence,
        corpora: Sequence = (),
        *,
        parallel: str | Path | Sequence[str | Path] | None = None,
        reference_lang: str = "en",
        lexicon_file: str | Path | None = None,
        morphemes_file: str | Path | None = None,
        tr_method: str = "paper",
        gold_tsv: str | Path | None = None,
        per_document: IO[str] | None = None,
        batch_bytes: int = 1 << 20,
        max_doc_bytes: int = 8 << 20,
        roundtrip: bool = True,
        progress: Callable[[str, int], None] | None = None,
        models: Sequence = (),
        runner=None,
        shard_size: int = 64 << 20,
        allow_special: bool = False,
    ):
        """allow_special: special-token text in the documents is read as those tokens."""
        from tokbench.tokenizer import load_tokenizer

        if not tokenizers and not models:
            raise UsageError(f"give at least one of {param('tokenizers')} or {param('models')}")
        self.models = list(models)  # ModelScorer objects: their tokenizers are evaluated too, and scored as LMs
        if runner is not None and self.models:
            raise UsageError(f"{param('models')} are scored in this process, not by a runner")
        self.runner, self.shard_size = runner, shard_size
        tokenizers = [*tokenizers, *(m.tokenizer for m in self.models)]
        self.specs = list(tokenizers)  # what shard tasks load on the workers
        self.first_use: list[float] = []  # seconds: loading plus the first encode, per tokenizer
        self.tokenizers = []
        for spec in tokenizers:
            started = time.perf_counter()
            self.tokenizers.append(spec if hasattr(spec, "encode_arrays") else load_tokenizer(spec))
            self.first_use.append(time.perf_counter() - started)
        self.allow_special = allow_special
        if allow_special:
            self.tokenizers = [t.allowing_special() for t in self.tokenizers]
        self.sources = [corpus_source(c) for c in corpora]
        if parallel:
            for d in [parallel] if isinstance(parallel, (str, Path)) else parallel:
                self.sources += parallel_sources(d)
        if not self.sources:
            raise UsageError(f"give at least one {param('corpora')} or {param('parallel')} DIR")
        self.names = _unique_names([t.name for t in self.tokenizers], [str(t) for t in tokenizers])
        for k, model in enumerate(self.models):  # a model's records carry its spec as the tokenizer name
            self.names[len(self.names) - len(self.models) + k] = model.spec
        if len({s.name for s in self.sources}) < len(self.sources):
            raise UsageError("two corpora have the same name; give distinct folders or files")
        self.reference_lang = lexicons.base_lang(reference_lang)
        self.lexicon_file, self.morphemes_file, self.gold_tsv = lexicon_file, morphemes_file, gold_tsv
        lexicons.check_method(tr_method)
        self.tr_method = tr_method
        self.per_document = per_document
        self.batch_bytes, self.max_doc_bytes = batch_bytes, max_doc_bytes
        self.roundtrip = roundtrip
        self.progress = progress
        self.stats: list[Stats] = []
        self.length_hist: dict[tuple[str, str], np.ndarray] = {}
        self.first_seen: dict[str, np.ndarray] = {}  # tokenizer -> byte offset (all corpora) where each id first came
        self.bytes_read = 0
        self._lex: dict = {}
        self._gold: dict = {}
        self._run()

    # -- public results ---------------------------------------------------------------------------------------------
    @property
    def records(self) -> list[dict]:
        return [metrics.record(s) for s in self.stats]

    # -- internals ----------------------------------------------------------------------------------------------------
    def _lexicon(self, lang):
        key = lexicons.base_lang(lang)
        if key not in self._lex:
            has_files = self.lexicon_file or self.morphemes_file
            self._lex[key] = lexicons.lexicon_for(lang, self.lexicon_file, self.morphemes_file,
                                                  self.tr_method) \
                if (lang or has_files) else None
        return self._lex[key]

    def _gold_for(self, lang):
        key = lexicons.base_lang(lang)
        if key not in self._gold:
            self._gold[key] = morphology.gold_for(lang, self.gold_tsv)
        return self._gold[key]

    def _warm_up(self) -> None:
        """Each tokenizer's first encode, on a small sample of the first corpus: compiles, tables and caches are made
        here, not in the timed encodes (their time goes to first_use_s)."""
        from tokbench.corpus import head

        sample = list(head(self.sources[0].documents(), WARMUP_BYTES)) or [" "]
        for k, tok in enumerate(self.tokenizers):
            started = time.perf_counter()
            tok.encode_arrays(sample)
            self.first_use[k] += time.perf_counter() - started

    def _time_throughput(self, src: Source, stats: list[Stats]) -> None:
        """Warm MB/s of each tokenizer on the source's first THROUGHPUT_BYTES (repeated while shorter than that)."""
        from tokbench.corpus import head

        sample = list(head(src.documents(), THROUGHPUT_BYTES))
        nbytes = sum(len(d.encode("utf-8")) for d in sample)
        for k, (tok, st) in enumerate(zip(self.tokenizers, stats)):
            st.extra["first_use_s"] = self.first_use[k]
            if not nbytes:
                continue
            done, spent, cpu = 0, 0.0, 0.0
            while done < THROUGHPUT_BYTES and spent < THROUGHPUT_SECONDS:
                started, cpu_started = time.perf_counter(), time.process_time()
                tok.encode_arrays(sample)
                spent += time.perf_counter() - started
                cpu += time.process_time() - cpu_started
                done += nbytes
            st.extra["throughput_mb_s"] = done / 1e6 / spent if spent > 0 else None
            st.extra["throughput_cpu_mb_s"] = done / 1e6 / cpu if cpu > 0 else None

    def _run(self) -> None:
        self._warm_up()
        tables = [TokenTable.build(t) for t in self.tokenizers]
        self.tables = tables
        for name, table in zip(self.names, tables):
            self.first_seen[name] = np.full(len(table.lengths), -1, dtype=np.int64)
        for src in self.sources:
            stats = [Stats(name, src.name, src.lang, t.vocab_size, table)
                     for name, t, table in zip(self.names, self.tokenizers, tables)]
            if self.runner is None:
                sink = None if self.per_document is None else _RowWriter(self.per_document)
                done = _Pass(self.tokenizers, tables, stats, self._gold_for(src.lang), self.roundtrip, sink,
                             self.batch_bytes, self.max_doc_bytes)
                done.run(src.documents(), None if self.progress is None else lambda n, s=src: self.progress(s.name, n))
                ndocs = self._absorb(done.seen, done.ndocs, done.nbytes, 0)
            else:
                ndocs = self._run_sharded(src, stats)
            if ndocs == 0 or all(st.bytes == 0 for st in stats):
                raise InputError(f"corpus {src.name}: empty (no text)")
            self._time_throughput(src, stats)
            lex = self._lexicon(src.lang)
            for tok, table, st in zip(self.tokenizers, tables, stats):
                if st.counts is None:
                    st.add_counts(np.zeros(0, dtype=np.int64))
                if lex is not None and st.tokens:
                    st.lexicon = lexicons.lexicon_scores(tok.all_token_bytes(), st.counts, lex)
                n = min(len(st.counts), len(table.lengths))
                self.length_hist[(st.tokenizer, st.corpus)] = np.bincount(
                    table.lengths[:n], weights=st.counts[:n]).astype(np.int64)
            for model, st in zip(self.models, stats[len(stats) - len(self.models):]):
                st.extra.update(model.score(src.documents(), allow_special=self.allow_special))
            self.stats += stats
        self._premiums()
        for lex in self._lex.values():
            if lex is not None and lex.analyser is not None:
                lex.analyser.save()
        for gold in self._gold.values():
            if gold is not None and gold.analyser is not None:
                gold.analyser.save()

    def _run_sharded(self, src: TextSource, stats: list[Stats]) -> int:
        """Measure one source shard by shard on the runner and merge the shards' statistics into `stats` (exact:
        every record equals the one-process record, throughput aside); per-document rows keep their numbers."""
        groups = src.tasks(self.shard_size, self.runner.workers) if src.tasks else [(src,)]
        task = _ShardTask(self.specs, self.names, src.name, src.lang, str(self.gold_tsv or "") or None,
                          self.roundtrip, self.per_document is not None, self.batch_bytes, self.max_doc_bytes,
                          self.allow_special)
        ndocs = 0
        for part_stats, rows, seen, n, nbytes in self.runner.map(task, groups, label=f"eval {src.name}"):
            for st, part in zip(stats, part_stats):
                st.merge(part)
            for row in rows:
                row["document"] += ndocs
                self.per_document.write(json.dumps(row, ensure_ascii=False) + "\n")
            ndocs = self._absorb(seen, n, nbytes, ndocs)
        return ndocs

    def _absorb(self, seen: list[np.ndarray], ndocs: int, nbytes: int, before: int) -> int:
        """Fold a pass's first-seen offsets (relative to its own start) into the run's; returns documents so far."""
        for name, local in zip(self.names, seen):
            run = self.first_seen[name]
            new = (run < 0) & (local >= 0)
            run[new] = self.bytes_read + local[new]
        self.bytes_read += nbytes
        return before + ndocs

    def vocab_curves(self, points: int = 48) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per tokenizer: (bytes of text read, share of |V| used by then), on a log grid over all corpora in order."""
        if self.bytes_read < 2:
            return {}
        x = np.unique(np.geomspace(min(1000, self.bytes_read), self.bytes_read, points).astype(np.int64))
        out = {}
        for name, tok in zip(self.names, self.tokenizers):
            seen = np.sort(self.first_seen[name][self.first_seen[name] >= 0])
            out[name] = (x, np.searchsorted(seen, x, side="left") / tok.vocab_size)
        return out

    def _unit_tokens(self, k: int, texts: list[str]) -> np.ndarray:
        """Tokens (specials excluded) of each text under tokenizer k."""
        flat, offs = self.tokenizers[k].encode_arrays(texts)
        _, keep = _kept(np.asarray(flat, dtype=np.int64), self.tables[k])
        c = np.concatenate([[0], np.cumsum(keep)])
        return c[np.asarray(offs[1:])] - c[np.asarray(offs[:-1])]

    def _premium_spread(self, sts: list[Stats]) -> None:
        """min/median/max over aligned units of tokens(unit) / tokens(the same unit in the reference language)."""
        by_name = {s.name: s for s in self.sources}
        index = {name: k for k, name in enumerate(self.names)}
        units = {st.corpus: by_name[st.corpus].units for st in sts}
        if any(u is None for u in units.values()):
            return
        texts = {c: u() for c, u in units.items()}
        if len({len(t) for t in texts.values()}) != 1:
            return
        counts = {(st.tokenizer, st.corpus): self._unit_tokens(index[st.tokenizer], texts[st.corpus]) for st in sts}
        ref = {st.tokenizer: counts[(st.tokenizer, st.corpus)] for st in sts
               if lexicons.base_lang(st.lang) == self.reference_lang}
        for st in sts:
            base = ref.get(st.tokenizer)
            mine = counts[(st.tokenizer, st.corpus)]
            ok = base > 0 if base is not None else None
            if ok is None or not ok.any():
                continue
            p = mine[ok] / base[ok]
            st.extra.update(premium_min=float(p.min()), premium_median=float(np.median(p)), premium_max=float(p.max()))

    def _premiums(self) -> None:
        groups: dict[str, list[Stats]] = {}
        by_name = {s.name: s for s in self.sources}
        for st in self.stats:
            g = by_name[st.corpus].group
            if g is not None:
                groups.setdefault(g, []).append(st)
        for g, sts in groups.items():
            langs = {lexicons.base_lang(st.lang) for st in sts}
            if self.reference_lang not in langs:
                raise UsageError(f"{param('parallel')} {g}: no text in the reference language {self.reference_lang!r} "
                                 f"(has {', '.join(sorted(x for x in langs if x))}); set {param('reference_lang')}")
            ref = {st.tokenizer: st.tokens for st in sts if lexicons.base_lang(st.lang) == self.reference_lang}
            for st in sts:
                st.premium = metrics.ratio(st.tokens, ref.get(st.tokenizer))
            self._premium_spread(sts)


def _kept(flat: np.ndarray, table: TokenTable) -> tuple[np.ndarray, np.ndarray]:
    """(ids inside the table, ids that count as tokens: inside and not special)."""
    inside = flat < len(table.lengths)
    keep = inside.copy()
    keep[inside] = ~table.special[flat[inside]]
    return inside, keep


# ------------------------------------------------------------------------------------- one pass over documents
class _Pass:
    """One pass of every tokenizer over documents, accumulating into `stats` (in place): what the single process
    runs over a whole source and each shard task over its shards. Byte offsets (first sightings of each id) are
    relative to the pass's start, so the caller can place them in the run."""

    def __init__(self, tokenizers, tables, stats, gold, roundtrip: bool, sink, batch_bytes: int, max_doc_bytes: int):
        self.tokenizers, self.tables, self.stats, self.gold = tokenizers, tables, stats, gold
        self.roundtrip, self.sink = roundtrip, sink
        self.batch_bytes, self.max_doc_bytes = batch_bytes, max_doc_bytes
        self.seen = [np.full(len(t.lengths), -1, dtype=np.int64) for t in tables]
        self.ndocs = self.nbytes = 0

    def run(self, docs: Iterable[str], progress: Callable[[int], None] | None = None) -> "_Pass":
        for batch in _batches(docs, self.batch_bytes, self.max_doc_bytes):
            encoded = [d.encode("utf-8") for d in batch]
            spans = [word_byte_spans(d) for d in batch]
            facts = [metrics.doc_facts(d, e) for d, e in zip(batch, encoded)]
            for t, (tok, table, st) in enumerate(zip(self.tokenizers, self.tables, self.stats)):
                self._encode_batch(t, tok, table, st, batch, encoded, spans, facts)
            self.ndocs += len(batch)
            self.nbytes += sum(len(e) for e in encoded)
            if progress:
                progress(sum(len(e) for e in encoded))
        return self

    def _encode_batch(self, t, tok, table: TokenTable, st: Stats, batch, encoded, spans, facts) -> None:
        gold, first_doc = self.gold, self.ndocs
        t0 = time.perf_counter()
        flat, offs = tok.encode_arrays(batch)
        st.encode_seconds += time.perf_counter() - t0
        flat = np.asarray(flat, dtype=np.int64)
        inside, keep = _kept(flat, table)
        st.add_counts(flat[keep])
        lengths = np.zeros(len(flat), dtype=np.int64)
        lengths[inside] = table.lengths[flat[inside]]
        self._first_seen(t, flat[keep], (np.cumsum(lengths) - lengths)[keep])
        for k, doc in enumerate(batch):
            a, b = int(offs[k]), int(offs[k + 1])
            ntok = int(keep[a:b].sum())
            nbytes = len(encoded[k])
            st.tokens += ntok
            st.bytes += nbytes
            st.chars += len(doc)
            st.words += len(spans[k])
            st.documents += 1
            st.content_sum = metrics.content_hash((encoded[k],), st.content_sum)
            ends = np.cumsum(lengths[a:b])
            prepared = encoded[k] if tok.byte_level else tok.prepare(doc)
            if len(ends) and ends[-1] == len(prepared):
                wsp = spans[k] if prepared == encoded[k] else word_byte_spans(prepared.decode("utf-8", "replace"))
                tpw = metrics.tokens_per_word(ends, wsp)
                st.aligned_words += len(wsp)
                st.continued += int((tpw >= 2).sum())
                if gold is not None:
                    m = morphology.score_text(prepared, ends, gold)
                    st.morph = m if st.morph is None else tuple(x + y for x, y in zip(st.morph, m))
                metrics.observe_document(st, facts[k], prepared, encoded[k], ends)
            if self.roundtrip:
                st.roundtrip_checked += 1
                st.roundtrip_ok += tok.decode(flat[a:b].tolist()) == doc
            if self.sink is not None:
                self.sink({"tokenizer": st.tokenizer, "corpus": st.corpus, "document": first_doc + k,
                           "bytes": nbytes, "chars": len(doc), "tokens": ntok,
                           "bytes_per_token": metrics.ratio(nbytes, ntok),
                           "tokens_per_kb": None if not nbytes else 1000.0 * ntok / nbytes})

    def _first_seen(self, k: int, ids: np.ndarray, offsets: np.ndarray) -> None:
        """Note the byte offset (from the pass's start) where each id of this batch first appeared."""
        seen = self.seen[k]
        uniq, first = np.unique(ids, return_index=True)
        new = seen[uniq] < 0
        seen[uniq[new]] = self.nbytes + offsets[first[new]]


class _RowWriter:
    def __init__(self, stream: IO[str]):
        self.stream = stream

    def __call__(self, row: dict) -> None:
        self.stream.write(json.dumps(row, ensure_ascii=False) + "\n")


_LOADED: dict = {}  # per worker process: tokenizers and their tables, loaded once for all the shards it runs


@dataclass
class _ShardTask:
    """Worker task: the statistics of one group of shards of one source, returned unmerged, with the rows.

    Picklable: it carries tokenizer specs, not tokenizers (each worker loads them once), and returns Stats without
    their token tables (the client has its own)."""

    specs: list
    names: list[str]
    corpus: str
    lang: str | None
    gold_tsv: str | None
    roundtrip: bool
    rows: bool
    batch_bytes: int
    max_doc_bytes: int
    allow_special: bool = False

    def __call__(self, shards):
        from tokbench.tokenizer import load_tokenizer

        loaded = []
        for spec in self.specs:
            key = (spec if isinstance(spec, str) else id(spec), self.allow_special)
            if key not in _LOADED:
                tok = load_tokenizer(spec) if isinstance(spec, str) else spec
                tok = tok.allowing_special() if self.allow_special else tok
                _LOADED[key] = (tok, TokenTable.build(tok))
            loaded.append(_LOADED[key])
        toks, tables = [t for t, _ in loaded], [t for _, t in loaded]
        stats = [Stats(name, self.corpus, self.lang, t.vocab_size, table)
                 for name, t, table in zip(self.names, toks, tables)]
        rows: list[dict] = []
        gold = morphology.gold_for(self.lang, self.gold_tsv)
        done = _Pass(toks, tables, stats, gold, self.roundtrip, rows.append if self.rows else None, self.batch_bytes,
                     self.max_doc_bytes).run(d for shard in shards for d in shard.documents())
        if gold is not None and gold.analyser is not None:
            gold.analyser.save()
        for st in stats:
            st.table = None
        return stats, rows, done.seen, done.ndocs, done.nbytes


def _unique_names(names: list[str], specs: list[str]) -> list[str]:
    """Tokenizer names for the records: the adapter's name, or the spec as given where two names collide."""
    out = [n if names.count(n) == 1 else spec for n, spec in zip(names, specs)]
    out = [n if out.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(out)]
    return out


def _short(name: str) -> str:
    from tokbench.eval.report import short_name

    return short_name(name)


def evaluate(tokenizers: Sequence, corpora: Sequence = (), **kwargs) -> list[dict]:
    """One metrics record per (tokenizer, corpus); see `Evaluation` for the keyword options."""
    return Evaluation(tokenizers, corpora, **kwargs).records


def byte_budget(records: list[dict], budget: int) -> list[dict]:
    """Per (tokenizer, corpus): the bytes `budget` tokens hold there, and how many tokens of every tokenizer that is
    (byte-normalised, so tokenizers with different vocabularies become comparable)."""
    if budget <= 0:
        raise UsageError(f"{param('budget')} must be a positive number of tokens, not {budget}")
    by_corpus: dict[str, dict[str, float]] = {}
    for r in records:
        if r["bytes_per_token"]:
            by_corpus.setdefault(r["corpus"], {})[r["tokenizer"]] = r["bytes_per_token"]
    rows = []
    for r in records:
        bpt = r["bytes_per_token"]
        if not bpt:
            continue
        held = budget * bpt
        row = {"tokenizer": r["tokenizer"], "corpus": r["corpus"], "budget_tokens": budget, "bytes": round(held, 1)}
        for other, obpt in by_corpus[r["corpus"]].items():
            row[f"tokens:{_short(other)}"] = round(held / obpt, 1)
        rows.append(row)
    return rows
