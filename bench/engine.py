"""Benchmark the numba BPE engine against its peers; writes reports/bench/engine.json and engine.md.

Training (10 MB and 50 MB of English, vocab 8k and 32k): tokbench (numba word counts + numba merge loop), HF
`tokenizers` (the reference BpeTrainer configuration) and SentencePiece BPE, each from the text file to a saved model.
Encoding (10 MB, the 8k tokenizer trained on 10 MB): tokbench's BPEEncoder, HF `encode_batch` and tiktoken with an
Encoding built from the same merges (ranks: byte value for the 256 bytes, 256+i for merge i, keyed by raw bytes), with
one thread and with the library's default threads. Every run is its own subprocess: wall seconds include interpreter
start and imports; peak memory is the child's own ru_maxrss. tokbench runs with a warm numba cache, and once
each with an empty one (cold). The text is built by interleaving documents of the English corpora found (bundled
full corpora if `make corpora` ran, else the folders given) and cut at a line end; the report records what was used.

    python -m bench.engine [--source DIR ...] [--sizes 10 50] [--vocabs 8000 32000] [--repeats 1]
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


# ----------------------------------------------------------------------------------------------------------------------
# workers (run in a child process; print one JSON line)
# ----------------------------------------------------------------------------------------------------------------------
def _lines(path: str):
    """Lines as HF's trainer reads a file: cut after "\\n" only, each keeping it."""
    with open(path, encoding="utf-8", newline="\n") as handle:
        yield from handle


def worker_train_tokbench(path: str, vocab: int, out: str) -> dict:
    t0 = time.perf_counter()
    from tokbench.train.bpe import train_bpe_counts
    from tokbench.train.counts import count_words

    t1 = time.perf_counter()
    counts = count_words(_lines(path), "gpt2")
    t2 = time.perf_counter()
    tok = train_bpe_counts(counts, vocab)
    t3 = time.perf_counter()
    tok.save(out)
    return {"import_s": t1 - t0, "count_s": t2 - t1, "merge_s": t3 - t2, "words": len(counts)}


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


def _texts(path: str) -> list[str]:
    return list(_lines(path))


def _digest(flat) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(flat, dtype=np.int64).tobytes()).hexdigest()[:16]


def worker_encode_tokbench(tokjson: str, path: str) -> dict:
    texts = _texts(path)
    t0 = time.perf_counter()
    from tokbench.tokenizer.fast_bpe import BPEEncoder

    enc = BPEEncoder.from_tokenizer_json(tokjson)
    t1 = time.perf_counter()
    ids, offsets = enc.encode_batch(texts)
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "encode_s": t2 - t1, "tokens": len(ids), "digest": _digest(ids)}


def worker_encode_hf(tokjson: str, path: str) -> dict:
    texts = _texts(path)
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
    texts = _texts(path)
    t0 = time.perf_counter()
    import numpy as np

    enc, rank_to_id = tiktoken_from_tokenizer_json(tokjson)
    t1 = time.perf_counter()
    # one thread: a plain loop (encode_ordinary_batch's thread pool costs tens of microseconds per text)
    out = [enc.encode_ordinary(t) for t in texts] if threads == 1 else enc.encode_ordinary_batch(texts, num_threads=threads)
    t2 = time.perf_counter()
    flat = np.asarray(rank_to_id, np.int64)[np.fromiter((i for ids in out for i in ids), np.int64)]
    return {"load_s": t1 - t0, "encode_s": t2 - t1, "tokens": len(flat), "digest": _digest(flat)}


WORKERS = {
    "train-tokbench": worker_train_tokbench,
    "train-stream": worker_train_stream,
    "train-hf": worker_train_hf,
    "train-spm": worker_train_spm,
    "encode-tokbench": worker_encode_tokbench,
    "encode-hf": worker_encode_hf,
    "encode-tiktoken": worker_encode_tiktoken,
}


# ----------------------------------------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------------------------------------
def run_child(kind: str, args: list, env: dict | None = None) -> dict:
    """Run a worker in a fresh interpreter: (wall seconds, peak RSS MB, the worker's own JSON)."""
    cmd = [sys.executable, "-m", "bench.engine", "--worker", kind, *map(str, args)]
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed: {err.decode()[-2000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result.update({"wall_s": wall, "peak_rss_mb": result.pop("_maxrss_mb")})  # the child's own ru_maxrss
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
    for key in ("wall_s", "cpu_s", "peak_rss_mb", "encode_s", "count_s", "merge_s"):
        if key in best:
            best[key] = statistics.median(r[key] for r in runs)
    best["repeats"] = repeats
    return best


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--source", action="append", help="folders of English text (default: bundled corpora)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50], help="training sizes in MB")
    parser.add_argument("--vocabs", type=int, nargs="+", default=[8000, 32000])
    parser.add_argument("--encode-mb", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-spm", action="store_true")
    parser.add_argument("--parts", default="train,encode,cold,streaming",
                        help="sections to run; the others are kept from the existing engine.json")
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        fn = WORKERS[kind]
        rest = [int(x) if x.isdigit() else x for x in rest]
        result = fn(*rest)
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["_maxrss_mb"] = usage.ru_maxrss / 1024
        result["cpu_s"] = usage.ru_utime + usage.ru_stime  # on a shared machine, CPU time is the steadier number
        print(json.dumps(result))
        return

    sources = [Path(s) for s in (args.source or [])]
    if not sources:
        sources = [ROOT / s for s in DEFAULT_SOURCES if (ROOT / s).is_dir()] or [
            ROOT / s for s in FALLBACK_SOURCES if (ROOT / s).is_dir()]
    TMP.mkdir(parents=True, exist_ok=True)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_start": os.getloadavg()},
        "note": "shared machine (other jobs running): numbers are noisy; one run per cell unless repeats says more",
        "texts": {}, "train": [], "encode": [], "cold": [], "streaming": [],
    }
    warm_cache = TMP / "numba-warm"
    warm_env = {"NUMBA_CACHE_DIR": str(warm_cache)}
    texts = {}
    for size in sorted(set(args.sizes) | {args.encode_mb}):
        path = TMP / f"english-{size}mb.txt"
        report["texts"][f"{size}MB"] = build_text(sources, size * MB, path)
        texts[size] = path
        log(f"text {size} MB: {report['texts'][f'{size}MB']['bytes']} bytes")

    # warm the numba cache once (not recorded)
    small = texts[min(texts)]
    run_child("train-tokbench", [small, 1000, TMP / "warmup.json"], warm_env)
    run_child("encode-tokbench", [TMP / "warmup.json", small], warm_env)

    parts = set(args.parts.split(","))
    previous = json.loads((OUT / "engine.json").read_text()) if (OUT / "engine.json").exists() else {}
    for key in ("train", "encode", "cold", "streaming", "streaming_same_merges"):
        if key.split("_")[0] not in parts and key in previous:
            report[key] = previous[key]
    for size in args.sizes if "train" in parts else []:
        for vocab in args.vocabs:
            files = {}
            row = {"size_mb": size, "vocab": vocab}
            engines = [("tokbench", "train-tokbench", warm_env), ("hf", "train-hf", None)]
            if not args.skip_spm:
                engines.append(("sentencepiece", "train-spm", None))
            for name, kind, env in engines:
                out = TMP / f"{name}-{size}mb-{vocab}.json"
                files[name] = out
                target = TMP / f"spm-{size}mb-{vocab}" if name == "sentencepiece" else out
                log(f"train {name} {size} MB vocab {vocab}")
                try:
                    row[name] = median_run(kind, [texts[size], vocab, target], args.repeats, env)
                except RuntimeError as exc:
                    row[name] = {"error": str(exc)[-300:]}
            ours = json.loads(files["tokbench"].read_text())["model"]
            ref = json.loads(files["hf"].read_text())["model"]
            row["identical_to_hf"] = ours["vocab"] == ref["vocab"] and ours["merges"] == ref["merges"]
            row["wall_ratio_vs_hf"] = row["tokbench"]["wall_s"] / row["hf"]["wall_s"]
            row["rss_ratio_vs_hf"] = row["tokbench"]["peak_rss_mb"] / row["hf"]["peak_rss_mb"]
            row["cpu_ratio_vs_hf"] = row["tokbench"]["cpu_s"] / row["hf"]["cpu_s"]
            if "wall_s" in row.get("sentencepiece", {}):
                row["wall_ratio_vs_sentencepiece"] = row["tokbench"]["wall_s"] / row["sentencepiece"]["wall_s"]
            report["train"].append(row)
            log(f"  tokbench/hf wall {row['wall_ratio_vs_hf']:.2f}x rss {row['rss_ratio_vs_hf']:.2f}x "
                f"identical={row['identical_to_hf']}")

    # encoding: the 8k (or smallest) tokenizer HF trained on the smallest text
    vocab = min(args.vocabs)
    tokjson = TMP / f"hf-{min(args.sizes)}mb-{vocab}.json"
    enc_text = texts[args.encode_mb]
    nbytes = enc_text.stat().st_size
    enc = {"size_mb": args.encode_mb, "vocab": vocab, "tokenizer": str(tokjson.relative_to(ROOT))}
    contenders = [
        ("tokbench", "encode-tokbench", [tokjson, enc_text], warm_env),
        ("hf_1thread", "encode-hf", [tokjson, enc_text], {"RAYON_NUM_THREADS": "1"}),
        ("hf", "encode-hf", [tokjson, enc_text], None),
        ("tiktoken_1thread", "encode-tiktoken", [tokjson, enc_text, 1], None),
        ("tiktoken", "encode-tiktoken", [tokjson, enc_text, os.cpu_count() or 1], None),
    ]
    for name, kind, cargs, env in contenders if "encode" in parts else []:
        log(f"encode {name}")
        r = median_run(kind, cargs, args.repeats, env)
        r["mb_per_s"] = nbytes / MB / r["encode_s"]
        enc[name] = r
    if "encode" in parts:
        enc["identical_ids"] = len({enc[n]["digest"] for n, *_ in contenders}) == 1
        for name in ("hf_1thread", "hf", "tiktoken_1thread", "tiktoken"):
            enc[f"throughput_ratio_vs_{name}"] = enc["tokbench"]["mb_per_s"] / enc[name]["mb_per_s"]
        report["encode"] = [enc]
    enc = report["encode"][0]

    # cold numba cache: an empty cache folder (and an empty tokbench cache for the class table)
    cold_runs = [("train-tokbench", [texts[min(args.sizes)], vocab, TMP / "cold.json"]),
                 ("encode-tokbench", [tokjson, enc_text])]
    for kind, cargs in cold_runs if "cold" in parts else []:
        with tempfile.TemporaryDirectory() as cold:
            log(f"cold {kind}")
            r = run_child(kind, cargs, {"NUMBA_CACHE_DIR": cold + "/numba", "TOKBENCH_CACHE": cold + "/tb"})
        warm = next((row["tokbench"] for row in report["train"] if row["size_mb"] == min(args.sizes)
                     and row["vocab"] == vocab), None) if kind == "train-tokbench" else enc["tokbench"]
        report["cold"].append({"task": kind, "size_mb": min(args.sizes), "vocab": vocab, "cold_wall_s": r["wall_s"],
                               "warm_wall_s": warm["wall_s"], "added_s": r["wall_s"] - warm["wall_s"],
                               "cold_cpu_s": r["cpu_s"], "warm_cpu_s": warm["cpu_s"],
                               "added_cpu_s": r["cpu_s"] - warm["cpu_s"]})
    # streaming: the smallest text once and five times over (same distinct words, 5x the bytes)
    for repeat in (1, 5) if "streaming" in parts else []:
        log(f"streaming x{repeat}")
        out = TMP / f"stream-x{repeat}.json"
        r = run_child("train-stream", [texts[min(args.sizes)], vocab, out, repeat], warm_env)
        r["repeat"] = repeat
        report["streaming"].append(r)
    if "streaming" in parts:
        a, b = (json.loads((TMP / f"stream-x{k}.json").read_text())["model"] for k in (1, 5))
        report["streaming_same_merges"] = a["merges"] == b["merges"]
    report["machine"]["load_avg_end"] = os.getloadavg()

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "engine.json").write_text(json.dumps(report, indent=2) + "\n")
    (OUT / "engine.md").write_text(markdown(report))
    log(markdown(report))


def markdown(report: dict) -> str:
    lines = ["# BPE engine benchmark", "", f"{report['note']}. Machine: {report['machine']}.", ""]
    for key, text in report["texts"].items():
        srcs = ", ".join(f"{Path(s).name} ({v['documents']} docs)" for s, v in text["sources"].items())
        lines.append(f"- {key} text: {text['bytes']:,} bytes from {srcs}")
    lines += ["", "## Training (wall s incl. interpreter start (CPU s) / peak RSS MB)", "",
              "| text | vocab | tokbench | HF tokenizers | sentencepiece BPE | tokbench/HF wall | tokbench/HF CPU | "
              "tokbench/HF RSS | identical to HF |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["train"]:
        def cell(name):
            x = r.get(name, {})
            if "wall_s" not in x:
                return x.get("error", "-")[:40]
            return f"{x['wall_s']:.1f} s ({x['cpu_s']:.1f} CPU) / {x['peak_rss_mb']:.0f} MB"
        lines.append(f"| {r['size_mb']} MB | {r['vocab']} | {cell('tokbench')} | {cell('hf')} | "
                     f"{cell('sentencepiece')} | {r['wall_ratio_vs_hf']:.2f}x | {r['cpu_ratio_vs_hf']:.2f}x | "
                     f"{r['rss_ratio_vs_hf']:.2f}x | "
                     f"{r['identical_to_hf']} |")
    for e in report["encode"]:
        lines += ["", f"## Encoding {e['size_mb']} MB (vocab {e['vocab']}, one process; MB/s of encode call)", "",
                  "| engine | MB/s | wall s | peak RSS MB | tokbench speed-up |", "|---|---|---|---|---|"]
        for name in ("tokbench", "hf_1thread", "hf", "tiktoken_1thread", "tiktoken"):
            x = e[name]
            ratio = "" if name == "tokbench" else f"{e[f'throughput_ratio_vs_{name}']:.1f}x"
            lines.append(f"| {name} | {x['mb_per_s']:.1f} | {x['wall_s']:.1f} | {x['peak_rss_mb']:.0f} | {ratio} |")
        lines.append(f"\nSame ids from all engines: {e['identical_ids']}")
    lines += ["", "## Cold numba cache (empty NUMBA_CACHE_DIR)", "",
              "| task | cold wall s | warm wall s | added wall s | added CPU s |", "|---|---|---|---|---|"]
    for c in report["cold"]:
        lines.append(f"| {c['task']} {c['size_mb']} MB | {c['cold_wall_s']:.1f} | {c['warm_wall_s']:.1f} | "
                     f"{c['added_s']:.1f} | {c['added_cpu_s']:.1f} |")
    if report.get("streaming"):
        lines += ["", "## Streaming (train path on the same text repeated: memory follows distinct words)", "",
                  "| input MB | wall s | peak RSS MB |", "|---|---|---|"]
        for r in report["streaming"]:
            lines.append(f"| {r['input_bytes'] / MB:.0f} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} |")
        lines.append(f"\nSame merges: {report['streaming_same_merges']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
