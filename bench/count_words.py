"""Benchmark word counting (pre-tokenize each line + count) on ~10 MB: tokbench's numba counter vs its peers.

Peers: HF `tokenizers` feeding a BpeTrainer that stops at once (its own word counting, multi-threaded), HF's ByteLevel
pre-tokenizer called per line + collections.Counter, and `regex.findall` per line + Counter. Every contender starts from
the file path and ends with a word -> count table; all must agree on the total. Writes reports/bench/count_words.json.

    python -m bench.count_words [FILE ...] [--mb 10] [--out reports/bench/count_words.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_files() -> list[Path]:
    for pattern in ("corpora/en*/**/*.txt", "corpora/en*/*.txt", "corpora/**/*.txt"):
        found = sorted(ROOT.glob(pattern))
        if found:
            return found
    return sorted(Path("/work/shared/corpora/flores200").glob("eng_*"))


def make_input(files: list[Path], mb: float, dest: Path) -> Path:
    """About `mb` MB of the given files (cycled if short), cut at a line end."""
    want = int(mb * 1e6)
    parts, size = [], 0
    while size < want:
        for f in files:
            data = f.read_bytes()
            parts.append(data if data.endswith(b"\n") else data + b"\n")
            size += len(parts[-1])
            if size >= want:
                break
    blob = b"".join(parts)[:want]
    dest.write_bytes(blob[: blob.rfind(b"\n") + 1].decode("utf-8", "ignore").encode())
    return dest


def lines_of(path: Path):
    with open(path, encoding="utf-8", newline="") as f:  # newline="": keep \r, cut after \n only, as HF reads
        yield from f


def run_tokbench(path: Path):
    from tokbench.train.counts import count_words

    return count_words(lines_of(path), "gpt2").total


def run_hf_trainer(path: Path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=1, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )  # vocab below the alphabet: the trainer counts words, then stops before any merge
    tok.train([str(path)], trainer)
    return None


def run_hf_pretok(path: Path):
    from tokenizers import pre_tokenizers

    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    counts = Counter(p for line in lines_of(path) for p, _ in bl.pre_tokenize_str(line))
    return sum(counts.values())


def run_regex(path: Path):
    import regex

    from tokbench.tokenizer.presets import pattern

    findall = regex.compile(pattern("gpt2")).findall
    counts = Counter(w for line in lines_of(path) for w in findall(line))
    return sum(counts.values())


def timed(fn, path, repeat):
    """(best wall seconds, CPU seconds of that run, result); CPU time sums threads and is less hurt by a busy machine."""
    best, result = None, None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        result = fn(path)
        run = (time.perf_counter() - t, time.process_time() - c)
        best = run if best is None or run[0] < best[0] else best
    return best[0], best[1], result


def fresh_process(path: Path, empty_cache: bool) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of a fresh interpreter counting the file, import (and compile) included.

    Peak RSS is VmHWM: ru_maxrss would carry over the parent's peak across fork + exec."""
    code = (
        "import time; t = time.perf_counter(); from pathlib import Path; "
        "from bench.count_words import run_tokbench; "
        f"run_tokbench(Path({str(path)!r})); "
        "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0].split()[1]; "
        "print(time.perf_counter() - t, int(hwm) / 1024)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        if empty_cache:
            env["NUMBA_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    secs, rss = out.stdout.split()[-2:]
    return float(secs), float(rss)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=ROOT / "reports/bench/count_words.json")
    ap.add_argument("--skip-slow", action="store_true", help="skip the per-line Python peers (HF pre-tokenizer, regex)")
    args = ap.parse_args(argv)
    files = args.files or default_files()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_input(files, args.mb, Path(tmp) / "input.txt")
        mb = path.stat().st_size / 1e6
        run_tokbench(path)  # warm numba (and its on-disk cache)
        rows = {"tokbench": timed(run_tokbench, path, 3), "hf_trainer_count": timed(run_hf_trainer, path, 2)}
        if not args.skip_slow:
            rows["hf_pretokenizer_counter"] = timed(run_hf_pretok, path, 1)
            rows["regex_counter"] = timed(run_regex, path, 1)
        totals = {k: r for k, (_, _, r) in rows.items() if r is not None}
        if len(set(totals.values())) > 1:
            raise SystemExit(f"contenders disagree on the number of pre-tokens: {totals}")
        cold = fresh_process(path, empty_cache=True)
        warm = fresh_process(path, empty_cache=False)
        big = Path(tmp) / "input5x.txt"  # same text five times: 5x the bytes, the same distinct words
        big.write_bytes(path.read_bytes() * 5)
        warm5 = fresh_process(big, empty_cache=False)
    ours, ours_cpu = rows["tokbench"][:2]
    report = {
        "task": "count gpt2 pre-tokens line by line",
        "input_mb": round(mb, 2),
        "inputs": [str(f) for f in files],
        "cpus": os.cpu_count(),
        "pre_tokens": totals.get("tokbench"),
        "seconds": {k: round(s, 3) for k, (s, _, _) in rows.items()},
        "cpu_seconds": {k: round(c, 3) for k, (_, c, _) in rows.items()},
        "mb_per_s": {k: round(mb / s, 2) for k, (s, _, _) in rows.items()},
        "peer_over_tokbench": {k: round(s / ours, 2) for k, (s, _, _) in rows.items() if k != "tokbench"},
        "peer_over_tokbench_cpu": {k: round(c / ours_cpu, 2) for k, (_, c, _) in rows.items() if k != "tokbench"},
        "load_average_1min": round(os.getloadavg()[0], 2),
        "tokbench_process_seconds": {"cold_numba_cache": round(cold[0], 2), "warm_numba_cache": round(warm[0], 2)},
        "tokbench_peak_rss_mb": {"input": round(warm[1]), "input_x5_same_words": round(warm5[1])},
        "notes": "warm numba cache; best of 3 (tokbench), 2 (HF trainer), 1 (per-line Python peers); the HF trainer "
        "uses all cores (RAYON), the rest one; process seconds = fresh interpreter incl. imports (cold: empty "
        "NUMBA_CACHE_DIR); peak RSS of that process, on the input and on the input repeated 5 times",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from tokbench.io import atomic_write

    with atomic_write(args.out) as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    for k, (s, c, _) in rows.items():
        print(f"{k:24s} {s:7.3f} s wall {c:7.3f} s cpu {mb / s:7.2f} MB/s  x{s / ours:6.2f}", file=sys.stderr)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
