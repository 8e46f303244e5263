"""Benchmark tokbench's BPE engine against its peers in one run; writes reports/bench/engine.json and engine.md.

Text: English man pages from Debian packages (`bench.manpages`, text tokbench was never tuned on; `--corpus bundled`
interleaves the bundled corpora instead). Every run is its own subprocess: wall seconds include interpreter start and
imports; peak memory is the child's own VmHWM (the CLI rows: its wait4 ru_maxrss, which starts from the small driver's
RSS at fork, recorded as driver_rss_mb); CPU seconds are reported too (the machine is shared: CPU time is
the steadier number). tokbench runs with a warm numba cache unless the row says cold.

- Training (10 MB / 8k and 50 MB / 32k by default): tokbench (numba word counts + merge loop, per-phase peak memory),
  HF `tokenizers` (the reference BpeTrainer), SentencePiece BPE, and the peers `rustbpe` and `bpeasy` (same GPT-2
  regex, lines fed as HF reads a file). tokbench's tokenizer.json must be byte-identical to HF's; the peers' token sets
  and merge orders are compared with it.
- Encoding 10 MB of documents with cl100k_base and o200k_base: tokbench (1 and N threads), tiktoken, and the peers
  `bpe-openai` and `tokendagger`; every id sequence is compared with tiktoken's. Plus the 8k tokenizer trained above:
  tokbench, HF `encode_batch` and tiktoken built from the same merges.
- Start-up: import time, cl100k load, 1 KB tokenize and peak memory per tool; `tokbench tokenize` of a 1 KB file as a
  user runs it (warm, with an empty numba cache, and first run after `tokbench warmup`).

Peers run in their own venv (`.venv-bench`, made by `make bench`), never in tokbench's: they are not dependencies.

    python -m bench.engine [--corpus manpages|bundled] [--sizes 10 50] [--vocabs 8000 32000] [--parts ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TMP = ROOT / "reports/bench/tmp"
OUT = ROOT / "reports/bench"
DEFAULT_SOURCES = ["corpora/full/en-tech", "corpora/full/en-dict", "corpora/full/legal", "corpora/full/multi/en"]
FALLBACK_SOURCES = ["corpora/en-tech", "corpora/en-dict", "corpora/legal", "corpora/multi/en"]
MB = 1_000_000
PEER_PYTHON = ROOT / ".venv-bench/bin/python"
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ZOO = ("cl100k_base", "o200k_base")
_KEEP: list = []



# ----------------------------------------------------------------------------------------------------------------------
# workers (run in a child process; print one JSON line). Peer workers run in the peers' venv: stdlib + numpy only here.
# ----------------------------------------------------------------------------------------------------------------------
def _lines(path: str):
    """Lines as HF's trainer reads a file: cut after "\\n" only, each keeping it."""
    with open(path, encoding="utf-8", newline="\n") as handle:
        yield from handle


def _documents(path: str) -> list[str]:
    """The text's documents (offsets in the .docs.json beside it), else its lines."""
    offsets_file = Path(path).with_suffix(".docs.json")
    if not offsets_file.exists():
        return list(_lines(path))
    data = Path(path).read_bytes()
    cuts = [*json.loads(offsets_file.read_text()), len(data)]
    return [data[a:b].decode("utf-8") for a, b in zip(cuts, cuts[1:])]


def _hwm_mb() -> float:
    """Peak resident memory so far (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_train_tokbench(path: str, vocab: int, out: str, threads: int = 0) -> dict:
    t0 = time.perf_counter()
    from tokbench.corpus import Corpus
    from tokbench.train.bpe import train_bpe_counts
    from tokbench.train.counts import count_blocks

    t1 = time.perf_counter()
    peak_import = _hwm_mb()
    counts = count_blocks(Corpus([path]).blocks(), "gpt2", threads=threads or None)  # the path `tokbench train` takes
    t2 = time.perf_counter()
    peak_count = _hwm_mb()
    tok = train_bpe_counts(counts, vocab)
    t3 = time.perf_counter()
    tok.save(out)
    return {"import_s": t1 - t0, "count_s": t2 - t1, "merge_s": t3 - t2, "words": len(counts),
            "peak_mb_by_phase": {"import": peak_import, "count": peak_count, "merge+save": _hwm_mb()}}


def worker_train_stream(path: str, vocab: int, out: str, repeat: int) -> dict:
    """The `train` path fed the same file `repeat` times in a row: memory must follow distinct words, not input size."""
    from tokbench.train.bpe import train_bpe_lines

    def lines():
        for _ in range(repeat):
            yield from _lines(path)

    train_bpe_lines(lines(), vocab).save(out)
    return {"input_bytes": repeat * os.path.getsize(path)}


def worker_train_hf(path: str, vocab: int, out: str) -> dict:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train([path], trainer)
    tok.save(out)
    return {}


def worker_train_spm(path: str, vocab: int, out: str) -> dict:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        input=path, model_prefix=out, model_type="bpe", vocab_size=vocab, byte_fallback=True,
        character_coverage=0.9995, input_sentence_size=0, max_sentence_length=1 << 16, minloglevel=2,
        remove_extra_whitespaces=False, num_threads=os.cpu_count() or 1,
    )
    return {}


def _save_ranks(ranks, out: str) -> None:
    """Token bytes in rank order (hex), for the driver to compare with tokbench's merges."""
    Path(out).write_text(json.dumps([bytes(b).hex() for b, _ in sorted(ranks, key=lambda kv: kv[1])]))


def worker_train_rustbpe(path: str, vocab: int, out: str) -> dict:
    import rustbpe

    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(_lines(path), vocab_size=vocab, pattern=GPT2_PATTERN)
    _save_ranks(tok.get_mergeable_ranks(), out)
    return {}


def worker_train_bpeasy(path: str, vocab: int, out: str) -> dict:
    import bpeasy

    vocab_map = bpeasy.train_bpe(_lines(path), GPT2_PATTERN, 128, vocab)
    _save_ranks(vocab_map.items(), out)
    return {}


def _digest(flat) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(flat, dtype=np.int64).tobytes()).hexdigest()[:16]


def worker_encode_tokbench(tokjson: str, path: str) -> dict:
    texts = _documents(path)
    t0 = time.perf_counter()
    from tokbench.tokenizer.fast_bpe import BPEEncoder

    enc = BPEEncoder.from_tokenizer_json(tokjson)
    t1 = time.perf_counter()
    ids, offsets = enc.encode_batch(texts)
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "encode_s": t2 - t1, "tokens": len(ids), "digest": _digest(ids)}


def worker_encode_hf(tokjson: str, path: str) -> dict:
    texts = _documents(path)
    t0 = time.perf_counter()
    import numpy as np
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokjson)
    t1 = time.perf_counter()
    out = tok.encode_batch(texts, add_special_tokens=False)
    t2 = time.perf_counter()
    flat = np.fromiter((i for e in out for i in e.ids), np.int64)
    return {"load_s": t1 - t0, "encode_s": t2 - t1, "tokens": len(flat), "digest": _digest(flat)}


def tiktoken_from_tokenizer_json(tokjson: str):
    """A tiktoken Encoding with the same merges, and the map from its ranks to the tokenizer.json ids."""
    import tiktoken

    from tokbench.tokenizer.bytelevel import byte_to_char, to_bytes
    from tokbench.tokenizer.presets import pattern

    spec = json.loads(Path(tokjson).read_text(encoding="utf-8"))
    vocab = spec["model"]["vocab"]
    ranks = {bytes([b]): b for b in range(256)}
    rank_to_id = [vocab[byte_to_char()[b]] for b in range(256)]
    for i, merge in enumerate(spec["model"]["merges"]):
        a, b = merge.split(" ") if isinstance(merge, str) else merge
        if to_bytes(a + b) not in ranks:
            ranks[to_bytes(a + b)] = 256 + i
            rank_to_id.append(vocab[a + b])
        else:
            rank_to_id.append(-1)
    enc = tiktoken.Encoding(name="bench", pat_str=pattern("gpt2"), mergeable_ranks=ranks, special_tokens={})
    return enc, rank_to_id


def worker_encode_tiktoken(tokjson: str, path: str, threads: int) -> dict:
    texts = _documents(path)
    t0 = time.perf_counter()
    import numpy as np

    enc, rank_to_id = tiktoken_from_tokenizer_json(tokjson)
    t1 = time.perf_counter()
    # one thread: a plain loop (encode_ordinary_batch's thread pool costs tens of microseconds per text)
    out = [enc.encode_ordinary(t) for t in texts] if threads == 1 else enc.encode_ordinary_batch(texts, num_threads=threads)
    t2 = time.perf_counter()
    flat = np.asarray(rank_to_id, np.int64)[np.fromiter((i for ids in out for i in ids), np.int64)]
    return {"load_s": t1 - t0, "encode_s": t2 - t1, "tokens": len(flat), "digest": _digest(flat)}


def _read_ranks(path: Path) -> dict[bytes, int]:
    """A .tiktoken file (base64 token, rank per line), without tiktoken."""
    import base64

    ranks = {}
    for line in path.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _zoo_encoder(tool: str, descriptor: str):
    """(encode a list of texts -> flat int64 ids, extra facts) for a zoo tiktoken descriptor, loaded by `tool`."""
    import numpy as np

    desc = json.loads(Path(descriptor).read_text())
    name = desc["name"]
    if tool in ("tokbench", "tokbench-preset"):
        from tokbench.tokenizer.fast_bpe import BPEEncoder

        if tool == "tokbench-preset":  # the zoo's ranks with the preset's own pattern text (its numba scanner)
            from tokbench.tokenizer import presets

            desc["pattern"] = presets.pattern(name.split("_")[0])
            desc["ranks"] = str(Path(descriptor).parent / desc["ranks"])
            folder = tempfile.TemporaryDirectory()  # removed when the worker exits
            _KEEP.append(folder)
            descriptor = str(Path(folder.name) / "preset.json")
            Path(descriptor).write_text(json.dumps(desc))
        enc = BPEEncoder.from_descriptor(descriptor)
        facts = {"numba_scanner": enc._scanner is not None}
        return lambda texts, threads: enc.encode_batch(texts, threads=threads)[0], facts
    if tool == "tiktoken":
        import tiktoken

        enc = tiktoken.get_encoding(name)
    elif tool == "bpe-openai":
        import bpe_openai

        enc = bpe_openai.get_encoding(name)
    elif tool == "tokendagger":
        import tokendagger

        ranks = _read_ranks(Path(descriptor).parent / desc["ranks"])
        enc = tokendagger.Encoding(name, pat_str=desc["pattern"], mergeable_ranks=ranks, special_tokens={})
    else:
        raise SystemExit(f"unknown tool {tool}")

    def run(texts, threads):
        out = [enc.encode_ordinary(t) for t in texts]
        return np.fromiter((i for ids in out for i in ids), np.int64)

    return run, {}


def worker_encode_zoo(tool: str, descriptor: str, path: str, threads: int) -> dict:
    texts = _documents(path)
    t_import = time.perf_counter()
    __import__({"tiktoken": "tiktoken", "bpe-openai": "bpe_openai", "tokendagger": "tokendagger"}.get(
        tool, "tokbench.tokenizer.fast_bpe"))
    t0 = time.perf_counter()
    run, facts = _zoo_encoder(tool, descriptor)
    t1 = time.perf_counter()
    facts["import_s"] = t0 - t_import
    run(texts[:20], threads)  # first call apart (tokbench: kernels load from the numba cache here)
    t2, c2 = time.perf_counter(), time.process_time()
    ids = run(texts, threads)
    t3, c3 = time.perf_counter(), time.process_time()
    return {"load_s": t1 - t0, "first_call_s": t2 - t1, "encode_s": t3 - t2, "encode_cpu_s": c3 - c2,
            "tokens": len(ids), "digest": _digest(ids), **facts}


def worker_startup(tool: str, descriptor: str, path: str) -> dict:
    """Import, load cl100k, tokenize one 1 KB text: each timed, in a fresh interpreter."""
    text = Path(path).read_text(encoding="utf-8")
    t0 = time.perf_counter()
    if tool == "tokbench":
        import tokbench.tokenizer.fast_bpe  # noqa: F401
    else:
        __import__({"tiktoken": "tiktoken", "bpe-openai": "bpe_openai", "tokendagger": "tokendagger"}[tool])
    t1 = time.perf_counter()
    run, _ = _zoo_encoder(tool, descriptor)
    t2 = time.perf_counter()
    ids = run([text], 1)
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "load_s": t2 - t1, "tokenize_s": t3 - t2, "tokens": len(ids), "digest": _digest(ids)}


WORKERS = {
    "train-tokbench": worker_train_tokbench,
    "train-stream": worker_train_stream,
    "train-hf": worker_train_hf,
    "train-spm": worker_train_spm,
    "train-rustbpe": worker_train_rustbpe,
    "train-bpeasy": worker_train_bpeasy,
    "encode-tokbench": worker_encode_tokbench,
    "encode-hf": worker_encode_hf,
    "encode-tiktoken": worker_encode_tiktoken,
    "encode-zoo": worker_encode_zoo,
    "startup": worker_startup,
}
PEER_WORKERS = {"train-rustbpe", "train-bpeasy"}
PEER_TOOLS = {"bpe-openai", "tokendagger"}


# ----------------------------------------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------------------------------------
SAMPLE_S = 0.01  # how often the driver reads a child's /proc/PID/status for its anonymous memory


def _status_mb(pid: int) -> dict[str, float]:
    """RssAnon / RssFile / RssShmem of a live process (MB) from /proc/PID/status ({} once it has exited)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
            key, value = line.split()[:2]
            out[key[:-1]] = int(value) / 1024
    return out


def run_cmd(cmd: list[str], env: dict | None = None) -> tuple[float, dict, str, str]:
    """Run a command: (wall s, {peak_rss_mb, cpu_s, peak_anon_mb, file_mb_at_peak} of that child alone, stdout,
    stderr). peak_rss_mb and cpu_s are wait4's; peak_anon_mb is the largest RssAnon (private memory: heap, arrays,
    the tool's own data) seen by reading the child's /proc status every SAMPLE_S seconds from here, so a tool whose
    native code holds the GIL is sampled all the same; file_mb_at_peak is RssFile at that moment (mapped files: shared
    libraries such as LLVM's, which numba maps). A spike shorter than SAMPLE_S can be missed."""
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env, stdout=out, stderr=err)
        peak = {"RssAnon": 0.0, "RssFile": 0.0}
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = _status_mb(proc.pid)
            if now.get("RssAnon", 0.0) > peak["RssAnon"]:
                peak = now
            time.sleep(SAMPLE_S)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))} failed: {stderr[-2000:]}")
    return wall, {"peak_rss_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_anon_mb": peak["RssAnon"], "file_mb_at_peak": peak.get("RssFile", 0.0)}, stdout, stderr


def run_child(kind: str, args: list, env: dict | None = None) -> dict:
    """Run a worker in a fresh interpreter (the peers' venv for peer workers): wall s, peak RSS MB, its JSON."""
    peer = kind in PEER_WORKERS or (kind in ("encode-zoo", "startup") and args[0] in PEER_TOOLS)
    python = str(PEER_PYTHON) if peer else sys.executable
    wall, usage, out, _ = run_cmd([python, "-m", "bench.engine", "--worker", kind, *map(str, args)], env)
    result = json.loads(out.strip().splitlines()[-1])
    result.update({"wall_s": wall, "peak_rss_mb": result.pop("_maxrss_mb"),  # the child's own VmHWM
                   "peak_anon_mb": usage["peak_anon_mb"], "file_mb_at_peak": usage["file_mb_at_peak"]})
    return result


def build_text(sources: list[Path], size: int, out: Path) -> dict:
    """Interleave the sources' documents (sorted names, round robin) up to `size` bytes, cut at a line end."""
    lists = [sorted(p for p in s.rglob("*") if p.is_file() and p.suffix in (".txt", "")) for s in sources]
    iters = [iter(x) for x in lists]
    parts, used, total = [], {str(s): [0, 0] for s in sources}, 0
    while total < size:
        progressed = False
        for src, it in zip(sources, iters):
            f = next(it, None)
            if f is None:
                continue
            progressed = True
            data = f.read_bytes()
            data += b"" if data.endswith(b"\n") else b"\n"
            parts.append(data)
            used[str(src)][0] += 1
            used[str(src)][1] += len(data)
            total += len(data)
            if total >= size:
                break
        if not progressed:
            break
    data = b"".join(parts)
    if len(data) > size:
        data = data[: data.rfind(b"\n", 0, size) + 1]
    out.write_bytes(data)
    return {"file": str(out.relative_to(ROOT)), "bytes": len(data),
            "sources": {k: {"documents": v[0], "bytes": v[1]} for k, v in used.items() if v[0]}}


def median_run(kind, args, repeats, env=None) -> dict:
    runs = [run_child(kind, args, env) for _ in range(repeats)]
    best = dict(runs[0])
    for key in ("wall_s", "cpu_s", "peak_rss_mb", "peak_anon_mb", "file_mb_at_peak", "encode_s", "count_s", "merge_s", "load_s", "import_s",
                "tokenize_s"):
        if key in best:
            best[key] = statistics.median(r[key] for r in runs)
    best["repeats"] = repeats
    return best


def _tokens_in_order(path: Path) -> list[bytes]:
    """Tokens created by merges, in merge order: from a tokenizer.json, or from a peer's ranks (hex, rank order)."""
    if path.suffix == ".ranks":
        return [bytes.fromhex(h) for h in json.loads(path.read_text())][256:]
    from tokbench.tokenizer.bytelevel import to_bytes

    out = []
    for merge in json.loads(path.read_text())["model"]["merges"]:
        a, b = merge.split(" ") if isinstance(merge, str) else merge
        out.append(to_bytes(a) + to_bytes(b))
    return out


def compare_tokens(ours: list[bytes], theirs: list[bytes]) -> dict:
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), None)
    if first is None and len(ours) != len(theirs):
        first = min(len(ours), len(theirs))
    return {"same_token_set": set(ours) == set(theirs), "same_merge_order": first is None,
            "first_differing_merge": first, "shared_tokens": len(set(ours) & set(theirs)), "tokens": len(theirs)}


def _ratio(a: dict, b: dict, key: str):
    return a[key] / b[key] if key in a and key in b and b[key] else None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", choices=["manpages", "bundled"], default="manpages")
    parser.add_argument("--source", action="append", help="--corpus bundled: folders of English text")
    parser.add_argument("--cells", default="10:8000,50:32000", help="training runs as MB:vocab, comma-separated")
    parser.add_argument("--encode-mb", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-spm", action="store_true")
    parser.add_argument("--name", default="engine", help="report name: reports/bench/NAME.json and NAME.md")
    parser.add_argument("--parts", default="train,encode,zoo,startup,cold,streaming",
                        help="sections to run; the others are kept from the existing engine.json")
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        fn = WORKERS[kind]
        rest = [int(x) if x.isdigit() else x for x in rest]
        result = fn(*rest)
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["_maxrss_mb"] = _hwm_mb()  # VmHWM starts afresh at exec; ru_maxrss keeps the forking parent's RSS
        result["cpu_s"] = usage.ru_utime + usage.ru_stime  # on a shared machine, CPU time is the steadier number
        print(json.dumps(result))
        return

    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    cells = [tuple(int(x) for x in c.split(":")) for c in args.cells.split(",")]
    sizes = sorted({s for s, _ in cells} | {args.encode_mb})
    TMP.mkdir(parents=True, exist_ok=True)
    threads = len(os.sched_getaffinity(0))
    report = {
        "machine": {"cpus": os.cpu_count(), "threads": threads, "python": platform.python_version(),
                    "load_avg_start": os.getloadavg()},
        "note": "shared machine (other jobs running): wall times are noisy, CPU seconds steadier; one run per cell "
                "unless repeats says more",
        "peers_venv": str(PEER_PYTHON.relative_to(ROOT)) if PEER_PYTHON.exists() else None,
        "texts": {}, "train": [], "encode": [], "zoo": [], "startup": [], "cold": [], "streaming": [],
    }
    texts = {}
    if args.corpus == "manpages":
        from bench import manpages

        built = manpages.build(TMP / "manpages", sizes)
        report["corpus"] = {k: v for k, v in built.items() if k != "texts"}
        for key, text in built["texts"].items():
            report["texts"][key] = text
            texts[int(key[:-2])] = Path(text["file"])
    else:
        sources = [Path(s) for s in (args.source or [])] or [
            ROOT / s for s in DEFAULT_SOURCES if (ROOT / s).is_dir()] or [
            ROOT / s for s in FALLBACK_SOURCES if (ROOT / s).is_dir()]
        report["corpus"] = {"source": "bundled corpora, interleaved"}
        for size in sizes:
            path = TMP / f"english-{size}mb.txt"
            report["texts"][f"{size}MB"] = build_text(sources, size * MB, path)
            texts[size] = path
    for key, text in report["texts"].items():
        log(f"text {key}: {text['bytes']} bytes")
    peers = PEER_PYTHON.exists()
    if not peers:
        log(f"no {PEER_PYTHON}: peers skipped (make bench creates it)")

    warm_cache = TMP / "numba-warm"
    warm_env = {"NUMBA_CACHE_DIR": str(warm_cache)}
    small = texts[min(texts)]
    # a warm install has its bytecode (pip writes it; PYTHONDONTWRITEBYTECODE, set in some shells, would otherwise make
    # every tokbench child compile its own source again, ~0.1 s, which the peers' compiled extensions never pay)
    run_cmd([sys.executable, "-m", "compileall", "-q", str(ROOT / "tokbench"), str(ROOT / "bench")])
    run_cmd([str(Path(sys.executable).with_name("tokbench")), "warmup"], warm_env)  # fill the warm cache
    run_child("train-tokbench", [small, 1000, TMP / "warmup.json", 1], warm_env)  # (not recorded)
    run_child("encode-tokbench", [TMP / "warmup.json", small], warm_env)

    parts = set(args.parts.split(","))
    previous = json.loads((OUT / f"{args.name}.json").read_text()) if (OUT / f"{args.name}.json").exists() else {}
    for key in ("train", "encode", "zoo", "startup", "cold", "streaming", "streaming_same_merges"):
        if key.split("_")[0] not in parts and key in previous:
            report[key] = previous[key]

    # --- training
    for size, vocab in cells if "train" in parts else []:
        files = {}
        row = {"size_mb": size, "vocab": vocab}
        engines = [("tokbench", "train-tokbench", [threads], warm_env), ("tokbench_1thread", "train-tokbench", [1],
                                                                        warm_env), ("hf", "train-hf", [], None)]
        if not args.skip_spm:
            engines.append(("sentencepiece", "train-spm", [], None))
        if peers:
            engines += [("rustbpe", "train-rustbpe", [], None), ("bpeasy", "train-bpeasy", [], None)]
        for name, kind, extra, env in engines:
            out = TMP / f"{name}-{size}mb-{vocab}.{'ranks' if kind in PEER_WORKERS else 'json'}"
            files[name] = out
            target = TMP / f"spm-{size}mb-{vocab}" if name == "sentencepiece" else out
            log(f"train {name} {size} MB vocab {vocab}")
            try:
                row[name] = median_run(kind, [texts[size], vocab, target, *extra], args.repeats, env)
            except RuntimeError as exc:
                row[name] = {"error": str(exc)[-300:]}
        ours = files["tokbench"].read_bytes()
        row["identical_to_hf"] = ours == files["hf"].read_bytes()  # the whole tokenizer.json, byte for byte
        row["threads_identical"] = ours == files["tokbench_1thread"].read_bytes()
        merged = _tokens_in_order(files["tokbench"])
        for peer in ("rustbpe", "bpeasy"):
            if "wall_s" in row.get(peer, {}):
                row[f"tokens_vs_{peer}"] = compare_tokens(merged, _tokens_in_order(files[peer]))
        for peer in ("hf", "sentencepiece", "rustbpe", "bpeasy"):
            if "wall_s" in row.get(peer, {}):
                for key, label in (("wall_s", "wall"), ("cpu_s", "cpu"), ("peak_rss_mb", "rss"),
                                   ("peak_anon_mb", "anon")):
                    row[f"{label}_ratio_vs_{peer}"] = _ratio(row["tokbench"], row[peer], key)
        report["train"].append(row)
        log(f"  tokbench/hf wall {row['wall_ratio_vs_hf']:.2f}x rss {row['rss_ratio_vs_hf']:.2f}x "
            f"identical={row['identical_to_hf']}" + (f" tokbench/rustbpe wall {row['wall_ratio_vs_rustbpe']:.2f}x"
                                                      if "wall_ratio_vs_rustbpe" in row else ""))

    # --- encoding with the 8k tokenizer HF trained on the smallest text
    size0, vocab = min(cells)
    tokjson = TMP / f"hf-{size0}mb-{vocab}.json"
    enc_text = texts[args.encode_mb]
    nbytes = enc_text.stat().st_size
    if "encode" in parts:
        enc = {"size_mb": args.encode_mb, "vocab": vocab, "tokenizer": str(tokjson.relative_to(ROOT))}
        contenders = [
            ("tokbench", "encode-tokbench", [tokjson, enc_text], warm_env),
            ("hf_1thread", "encode-hf", [tokjson, enc_text], {"RAYON_NUM_THREADS": "1"}),
            ("hf", "encode-hf", [tokjson, enc_text], None),
            ("tiktoken_1thread", "encode-tiktoken", [tokjson, enc_text, 1], None),
            ("tiktoken", "encode-tiktoken", [tokjson, enc_text, threads], None),
        ]
        for name, kind, cargs, env in contenders:
            log(f"encode {name}")
            r = median_run(kind, cargs, args.repeats, env)
            r["mb_per_s"] = nbytes / MB / r["encode_s"]
            enc[name] = r
        enc["identical_ids"] = len({enc[n]["digest"] for n, *_ in contenders}) == 1
        for name in ("hf_1thread", "hf", "tiktoken_1thread", "tiktoken"):
            enc[f"throughput_ratio_vs_{name}"] = enc["tokbench"]["mb_per_s"] / enc[name]["mb_per_s"]
        report["encode"] = [enc]

    # --- zoo encoders (cl100k, o200k): tokbench against tiktoken and the fastest exact peers
    tt_env = {"TIKTOKEN_CACHE_DIR": str(TMP / "tiktoken")}
    descriptors = {}
    if parts & {"zoo", "startup"}:  # in a child: the driver stays small (a child's peak memory starts from it)
        code = ("import json, sys; from pathlib import Path; from tokbench.tokenizer import zoo; "
                f"zoo.seed_tiktoken_cache(Path({str(TMP / 'tiktoken')!r})); "
                f"print(json.dumps({{n: str(zoo.resolve(n)) for n in {ZOO!r}}}))")
        descriptors = json.loads(run_cmd([sys.executable, "-c", code])[2].strip().splitlines()[-1])
    for name in ZOO if "zoo" in parts else []:
        row = {"tokenizer": name, "size_mb": args.encode_mb, "documents": len(_documents(str(enc_text)))}
        tools = [("tokbench_1thread", "tokbench", 1), ("tokbench", "tokbench", threads),
                 ("tokbench_preset_1thread", "tokbench-preset", 1), ("tokbench_preset", "tokbench-preset", threads),
                 ("tiktoken", "tiktoken", 1)]
        tools += [(t, t, 1) for t in sorted(PEER_TOOLS)] if peers else []
        for label, tool, n in tools:
            log(f"encode {name} {label}")
            try:
                r = median_run("encode-zoo", [tool, descriptors[name], enc_text, n], args.repeats,
                               {**warm_env, **tt_env})
                r["mb_per_s"] = nbytes / MB / r["encode_s"]
                r["mb_per_cpu_s"] = nbytes / MB / r["encode_cpu_s"]
            except RuntimeError as exc:
                r = {"error": str(exc)[-300:]}
            row[label] = r
        ref = row["tiktoken"].get("digest")
        row["ids_identical_to_tiktoken"] = {label: row[label].get("digest") == ref for label, *_ in tools}
        for prefix in ("tokbench", "tokbench_preset"):
            one, many = row[f"{prefix}_1thread"], row[prefix]
            for label in ("bpe-openai", "tokendagger", "tiktoken"):
                if "mb_per_s" in row.get(label, {}) and "mb_per_s" in one:
                    row[f"{prefix}_speed_1thread_vs_{label}"] = one["mb_per_s"] / row[label]["mb_per_s"]
            for label in ("bpe-openai", "tokendagger", "tiktoken"):
                if "mb_per_s" in row.get(label, {}) and "mb_per_s" in one:
                    row[f"{prefix}_cpu_speed_1thread_vs_{label}"] = one["mb_per_cpu_s"] / row[label]["mb_per_cpu_s"]
            if "mb_per_s" in one and "mb_per_s" in many:
                row[f"{prefix}_thread_speedup"] = many["mb_per_s"] / one["mb_per_s"]
                row[f"{prefix}_thread_cpu_ratio"] = many["encode_cpu_s"] / one["encode_cpu_s"]
        report["zoo"].append(row)

    # --- start-up: 1 KB through each tool, and through the CLI
    one_kb = TMP / "1kb.txt"
    one_kb.write_bytes(enc_text.read_bytes()[:1024].rsplit(b"\n", 1)[0] + b"\n")
    if "startup" in parts:
        report["startup"] = []
        for tool in ["tokbench", "tiktoken", *(sorted(PEER_TOOLS) if peers else [])]:
            log(f"startup {tool}")
            r = median_run("startup", [tool, descriptors["cl100k_base"], one_kb], max(args.repeats, 3),
                           {**warm_env, **tt_env})
            report["startup"].append({"tool": tool, **r})
        report["machine"]["driver_rss_mb"] = _hwm_mb()
        cli = str(Path(sys.executable).with_name("tokbench"))
        for label, cmd in (("tokbench --help", [cli, "--help"]),
                           ("tokbench tokenize -t cl100k_base 1KB", [cli, "tokenize", "-t", "cl100k_base",
                                                                     str(one_kb), "--format", "count"])):
            runs = [run_cmd(cmd, {**warm_env, **tt_env}) for _ in range(3)]
            report["startup"].append({"tool": label, "wall_s": statistics.median(r[0] for r in runs),
                                      **{k: statistics.median(r[1][k] for r in runs) for k in runs[0][1]}})
        imports = [_import_time(run_cmd([sys.executable, "-X", "importtime", "-c", "import tokbench.cli"],
                                        warm_env)[3]) for _ in range(3)]
        report["cli_import_s"] = statistics.median(imports) if None not in imports else None

    # --- cold numba cache: an empty cache folder; then the same after `tokbench warmup`
    cold_runs = [("train-tokbench", [texts[size0], vocab, TMP / "cold.json", threads]),
                 ("encode-tokbench", [tokjson, enc_text])]
    if "cold" in parts:
        report["cold"] = []
        warm_rows = {"train-tokbench": next((r["tokbench"] for r in report["train"] if r["size_mb"] == size0
                                             and r["vocab"] == vocab), None),
                     "encode-tokbench": (report["encode"] or [{}])[0].get("tokbench")}
        for kind, cargs in cold_runs:
            for mode in ("empty", "after warmup"):
                with tempfile.TemporaryDirectory() as cold:
                    env = {"NUMBA_CACHE_DIR": cold + "/numba"}
                    log(f"cold {kind} ({mode} cache)")
                    try:
                        if mode == "after warmup":
                            run_cmd([str(Path(sys.executable).with_name("tokbench")), "warmup"], env)
                        r = run_child(kind, cargs, env)
                    except RuntimeError as exc:
                        report["cold"].append({"task": kind, "cache": mode, "error": str(exc)[-300:]})
                        continue
                warm = warm_rows[kind] or {}
                report["cold"].append({"task": kind, "cache": mode, "size_mb": size0, "vocab": vocab,
                                       "cold_wall_s": r["wall_s"], "warm_wall_s": warm.get("wall_s"),
                                       "cold_cpu_s": r["cpu_s"], "warm_cpu_s": warm.get("cpu_s"),
                                       "wall_ratio": _ratio(r, warm, "wall_s"), "cpu_ratio": _ratio(r, warm, "cpu_s")})
    # --- streaming: the smallest text once and five times over (same distinct words, 5x the bytes)
    if "streaming" in parts:
        report["streaming"] = []
        for repeat in (1, 5):
            log(f"streaming x{repeat}")
            r = run_child("train-stream", [texts[size0], vocab, TMP / f"stream-x{repeat}.json", repeat], warm_env)
            r["repeat"] = repeat
            report["streaming"].append(r)
        a, b = (json.loads((TMP / f"stream-x{k}.json").read_text())["model"] for k in (1, 5))
        report["streaming_same_merges"] = a["merges"] == b["merges"]
    report["machine"]["load_avg_end"] = os.getloadavg()

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (OUT / f"{args.name}.md").write_text(markdown(report))
    log(markdown(report))


def _import_time(stderr: str) -> float | None:
    """Cumulative seconds of `import tokbench.cli` from `python -X importtime` output."""
    for line in stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == "tokbench.cli":
            return int(parts[1]) / 1e6
    return None


TRAIN_TOOLS = ("tokbench", "tokbench_1thread", "hf", "sentencepiece", "rustbpe", "bpeasy")


def _cell(x: dict) -> str:
    if "wall_s" not in x:
        return (x.get("error") or "-")[:60].replace("|", "/").replace("\n", " ")
    return f"{x['wall_s']:.2f} s ({x['cpu_s']:.2f} CPU) / {x['peak_rss_mb']:.0f} MB"


def _mem(x: dict) -> str:
    """peak RSS / peak anonymous MB (the second where sampled)."""
    return f"{x['peak_rss_mb']:.0f}" + (f" / {x['peak_anon_mb']:.0f}" if "peak_anon_mb" in x else "")


def _x(v) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _section(title: str, columns: list[str]) -> list[str]:
    """A Markdown heading and a table header."""
    return ["", f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# BPE engine benchmark", "", f"{report['note']}. Machine: {m['cpus']} CPUs, Python {m['python']}, "
             f"load average {m['load_avg_start'][0]:.1f} at start, {m.get('load_avg_end', [float('nan')])[0]:.1f} "
             f"at end. Peers' venv: {report.get('peers_venv')}."
             + (f" Runs per cell (median): {report['train'][0]['tokbench'].get('repeats', 1)}." if report.get("train")
                and "tokbench" in report["train"][0] else "")
             + (" sentencepiece skipped (--skip-spm)." if report["train"] and "sentencepiece" not in report["train"][0]
                else ""), ""]
    corpus = report.get("corpus", {})
    lines.append(f"Text: {corpus.get('source', '')}" + (
        f" from {', '.join(f'{k} {v}' for k, v in corpus['packages'].items())}" if corpus.get("packages") else ""))
    for key, text in report["texts"].items():
        lines.append(f"- {key}: {text['bytes']:,} bytes" + (f", {text['documents']} documents" if "documents" in text
                                                           else ""))
    lines += _section("Training (wall s incl. interpreter start (CPU s) / peak RSS MB)",
                      ["text", "vocab", "tokbench", "tokbench 1 thread", "HF tokenizers", "sentencepiece BPE", "rustbpe",
                       "bpeasy", "tokbench/rustbpe wall", "tokbench/HF wall", "tokbench/HF RSS", "identical to HF"])
    for r in report["train"]:
        lines.append(f"| {r['size_mb']} MB | {r['vocab']} | {_cell(r['tokbench'])} | "
                     f"{_cell(r.get('tokbench_1thread', {}))} | {_cell(r['hf'])} | "
                     f"{_cell(r.get('sentencepiece', {}))} | {_cell(r.get('rustbpe', {}))} | "
                     f"{_cell(r.get('bpeasy', {}))} | {_x(r.get('wall_ratio_vs_rustbpe'))} | "
                     f"{_x(r.get('wall_ratio_vs_hf'))} | {_x(r.get('rss_ratio_vs_hf'))} | {r['identical_to_hf']} |")
    lines += _section(f"Training memory (MB): peak RSS / peak anonymous memory (RssAnon, private data, sampled every "
                      f"{SAMPLE_S * 1000:.0f} ms) / file-backed pages at that moment (shared libraries: numba maps "
                      "LLVM's, ~117 MB)", ["text", "vocab", *TRAIN_TOOLS, "tokbench/HF RSS", "tokbench/HF anonymous"])
    for r in report["train"]:
        cells = [f"{x['peak_rss_mb']:.0f} / {x['peak_anon_mb']:.0f} / {x['file_mb_at_peak']:.0f}"
                 if "peak_anon_mb" in x else "-" for x in (r.get(t, {}) for t in TRAIN_TOOLS)]
        lines.append(f"| {r['size_mb']} MB | {r['vocab']} | {' | '.join(cells)} | {_x(r.get('rss_ratio_vs_hf'))} | "
                     f"{_x(r.get('anon_ratio_vs_hf'))} |")
    lines += ["", "tokbench phases (s) and peak RSS after each phase (MB); the peers' tokens against tokbench's (= HF's):",
              ""]
    for r in report["train"]:
        t = r["tokbench"]
        if "count_s" in t:
            ph = ", ".join(f"{k} {v:.0f}" for k, v in t.get("peak_mb_by_phase", {}).items())
            lines.append(f"- {r['size_mb']} MB / {r['vocab']}: import {t['import_s']:.2f}, count {t['count_s']:.2f}, "
                         f"merge {t['merge_s']:.2f}; peak MB: {ph}; same file with 1 thread: "
                         f"{r.get('threads_identical')}")
        for peer in ("rustbpe", "bpeasy"):
            c = r.get(f"tokens_vs_{peer}")
            if c:
                lines.append(f"  - {peer}: same token set {c['same_token_set']} ({c['shared_tokens']} of "
                             f"{c['tokens']} shared), same merge order {c['same_merge_order']}"
                             + (f" (first difference at merge {c['first_differing_merge']})"
                                if not c["same_merge_order"] else ""))
    for e in report["encode"]:
        lines += _section(f"Encoding {e['size_mb']} MB with the trained {e['vocab']} tokenizer (MB/s of the encode call)",
                          ["engine", "MB/s", "wall s", "peak RSS / anonymous MB", "tokbench speed-up"])
        for name in ("tokbench", "hf_1thread", "hf", "tiktoken_1thread", "tiktoken"):
            x = e[name]
            ratio = "" if name == "tokbench" else f"{e[f'throughput_ratio_vs_{name}']:.1f}x"
            lines.append(f"| {name} | {x['mb_per_s']:.1f} | {x['wall_s']:.1f} | {_mem(x)} | {ratio} |")
        lines.append(f"\nSame ids from all engines: {e['identical_ids']}")
    for z in report.get("zoo", []):
        lines += _section(f"Encoding {z['size_mb']} MB ({z['documents']} documents) with {z['tokenizer']}",
                          ["tool", "MB/s", "MB per CPU s", "encode s (CPU s)", "import s", "load s (after import)",
                   "peak RSS / anonymous MB", "ids = tiktoken's"])
        for label, same in z["ids_identical_to_tiktoken"].items():
            x = z[label]
            if "mb_per_s" not in x:
                lines.append(f"| {label} | {_cell(x)} | | | | | | |")
                continue
            lines.append(f"| {label} | {x['mb_per_s']:.1f} | {x['mb_per_cpu_s']:.1f} | {x['encode_s']:.2f} "
                         f"({x['encode_cpu_s']:.2f}) | {x.get('import_s', 0):.2f} | {x['load_s']:.2f} | "
                         f"{_mem(x)} | {same} |")
        for prefix, what in (("tokbench", f"the zoo descriptor as is (numba scanner: "
                                          f"{z['tokbench'].get('numba_scanner')})"),
                             ("tokbench_preset", "the preset's pattern text (numba scanner: "
                                                 f"{z['tokbench_preset'].get('numba_scanner')})")):
            lines.append(f"\n{prefix} ({what}): one thread vs bpe-openai "
                         f"{_x(z.get(f'{prefix}_speed_1thread_vs_bpe-openai'))} wall, "
                         f"{_x(z.get(f'{prefix}_cpu_speed_1thread_vs_bpe-openai'))} per CPU second, vs tokendagger "
                         f"{_x(z.get(f'{prefix}_speed_1thread_vs_tokendagger'))}, vs tiktoken "
                         f"{_x(z.get(f'{prefix}_speed_1thread_vs_tiktoken'))}; {report['machine']['threads']} threads "
                         f"vs one: {_x(z.get(f'{prefix}_thread_speedup'))} ({_x(z.get(f'{prefix}_thread_cpu_ratio'))} "
                         f"the CPU time).")
    if report.get("startup"):
        lines += _section("Start-up: 1 KB through cl100k_base (fresh interpreter, median of 3)",
                          ["tool", "wall s", "import s", "load s", "tokenize s", "CPU s", "peak RSS MB"])
        for r in report["startup"]:
            f = lambda k: f"{r[k]:.3f}" if k in r else ""  # noqa: E731
            lines.append(f"| {r['tool']} | {f('wall_s')} | {f('import_s')} | {f('load_s')} | {f('tokenize_s')} | "
                         f"{f('cpu_s')} | {r.get('peak_rss_mb', 0):.0f} |")
        lines.append(f"\n`import tokbench.cli` (python -X importtime, cumulative): {report.get('cli_import_s')} s")
    if report.get("cold"):
        lines += _section("Cold start (empty numba cache, and the first run after `tokbench warmup`)",
                          ["task", "cache", "wall s", "warm wall s", "wall ratio", "CPU s", "warm CPU s"])
        for c in report["cold"]:
            if "error" in c:
                lines.append(f"| {c['task']} | {c['cache']} | {_cell(c)} | | | | |")
                continue
            lines.append(f"| {c['task']} {c['size_mb']} MB | {c['cache']} | {c['cold_wall_s']:.2f} | "
                         f"{c['warm_wall_s'] or 0:.2f} | {_x(c['wall_ratio'])} | {c['cold_cpu_s']:.2f} | "
                         f"{c['warm_cpu_s'] or 0:.2f} |")
    if report.get("streaming"):
        lines += _section("Streaming (train path on the same text repeated: memory follows distinct words)",
                          ["input MB", "wall s", "peak RSS MB"])
        for r in report["streaming"]:
            lines.append(f"| {r['input_bytes'] / MB:.0f} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} |")
        lines.append(f"\nSame merges: {report['streaming_same_merges']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
