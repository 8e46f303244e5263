"""Benchmark scale-out: `tokbench count` and `tokbench train` with one process, `--workers 1` and `--workers 2`, on
the full corpora (`make corpora`, ~150 MB) and on a 4x input (the corpora's lines four times over, shuffled with a
fixed seed, as one file: it is cut into byte ranges), beside HF `tokenizers` training on the same input in the same
run. Wall time of each command (a fresh process, start-up and cluster start included) and peak RSS of the client and
of each worker process (polled with psutil). Writes reports/bench/scale.json and .md.

    python -m bench.scale [--sizes 1,4] [--vocab-size 32000] [--skip-train] [--timeout 1500]

The machine is shared: the load average is recorded before and after each run, and ratios are what carries over.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TMP = ROOT / "reports" / "bench" / "tmp" / "scale"
MODES = {"1 process": [], "--workers 1": ["--workers", "1"], "--workers 2": ["--workers", "2"]}

HF_TRAIN = """
import sys
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
files, vocab = open(sys.argv[1], encoding="utf-8").read().splitlines(), int(sys.argv[2])
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=vocab, show_progress=False,
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train(files, trainer)
"""


def base_corpus() -> Path:
    full = ROOT / "corpora" / "full"
    if not full.is_dir():
        sys.exit("bench.scale needs the full corpora: run `make corpora` first")
    return full


def text_files(folder: Path) -> list[Path]:
    from tokbench.corpus import Corpus

    return [Path(s.path) for s in Corpus([str(folder)]).sources]


def four_x(files: list[Path], times: int, seed: int = 0) -> Path:
    """The lines of `files`, `times` over, shuffled with a fixed seed, as one file (built once, kept in tmp/)."""
    dest = TMP / f"corpus-{times}x-seed{seed}.txt"
    if dest.exists():
        return dest
    lines: list[bytes] = []
    for f in files:
        data = f.read_bytes()
        lines += data.splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"
    lines = [ln if ln.endswith(b"\n") else ln + b"\n" for ln in lines] * times
    random.Random(seed).shuffle(lines)
    TMP.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(".part")
    with open(part, "wb") as out:
        out.writelines(lines)
    os.replace(part, dest)
    return dest


def measure(cmd: list[str], timeout: float) -> dict:
    """Run `cmd`, polling the RSS of it and every process below it; peak per process, wall seconds, exit code."""
    import psutil

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peaks: dict[int, dict] = {}
    timed_out = False
    while proc.poll() is None:
        if time.perf_counter() - started > timeout:
            timed_out = True
            for child in root.children(recursive=True):
                child.kill()
            proc.kill()
            break
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                rss = p.memory_info().rss
                if p.pid not in peaks:
                    cmdline = " ".join(p.cmdline())
                    peaks[p.pid] = {"rss": 0, "role": _role(p.pid == proc.pid, cmdline)}
                peaks[p.pid]["rss"] = max(peaks[p.pid]["rss"], rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        time.sleep(0.1)
    err = proc.communicate()[1] if not timed_out else ""
    wall = time.perf_counter() - started
    mb = 1 << 20
    workers = sorted((v["rss"] / mb for v in peaks.values() if v["role"] == "worker"), reverse=True)
    client = sum(v["rss"] for v in peaks.values() if v["role"] == "client") / mb
    return {"seconds": round(wall, 2), "exit": None if timed_out else proc.returncode, "timed_out": timed_out,
            "client_peak_mb": round(client, 1), "worker_peak_mb": [round(w, 1) for w in workers],
            "total_peak_mb": round(client + sum(workers), 1), "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2), "stderr_tail": err.strip().splitlines()[-1:] if err else []}


def _role(is_root: bool, cmdline: str) -> str:
    if is_root:
        return "client"
    if "resource_tracker" in cmdline or "semaphore_tracker" in cmdline:
        return "helper"
    return "worker"


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else None


def report(rows: list[dict], args) -> dict:
    return {"rows": rows, "summary": summarize(rows), "vocab_size": args.vocab_size, "cores": os.cpu_count(),
            "note": "cores shared with other jobs: see load_before/load_after per run; one run each. '1 process' "
                    "counts with every core's thread (--threads defaults to the cores)"}


def save(rep: dict, out: Path) -> None:
    out.write_text(json.dumps(rep, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(rep), encoding="utf-8")


def run(args) -> dict:
    full = base_corpus()
    files = text_files(full)
    inputs = {}
    for times in args.sizes:
        path = full if times == 1 else four_x(files, times)
        size = sum(f.stat().st_size for f in files) if times == 1 else path.stat().st_size
        inputs[f"{times}x"] = (path, size)
    cli = [sys.executable, "-m", "tokbench.cli"]
    rows = _Saved(args)
    for label, (path, size) in inputs.items():
        for mode, flags in MODES.items():
            out = TMP / "counts"
            shutil.rmtree(out, ignore_errors=True)
            print(f"count {label} {mode}", file=sys.stderr, flush=True)
            r = measure([*cli, "count", str(path), "-o", str(out), *flags], args.timeout)
            rows.append({"task": "count", "input": label, "mb": round(size / 1e6, 1), "engine": "tokbench",
                         "mode": mode, **r})
            shutil.rmtree(out, ignore_errors=True)
        if args.skip_train:
            continue
        hashes = {}
        for mode, flags in MODES.items():
            out = TMP / f"tok-{label}-{mode.replace(' ', '').replace('-', '')}.json"
            out.unlink(missing_ok=True)
            print(f"train {label} {mode}", file=sys.stderr, flush=True)
            r = measure([*cli, "train", str(path), "--vocab-size", str(args.vocab_size), "-o", str(out), *flags],
                        args.timeout)
            hashes[mode] = digest(out)
            rows.append({"task": "train", "input": label, "mb": round(size / 1e6, 1), "engine": "tokbench",
                         "mode": mode, "sha256_16": hashes[mode], **r})
        print(f"train {label} HF tokenizers", file=sys.stderr, flush=True)
        listing = TMP / "hf-files.txt"  # thousands of files: too many for a command line
        listing.write_text("\n".join(str(f) for f in (files if path.is_dir() else [path])), encoding="utf-8")
        r = measure([sys.executable, "-c", HF_TRAIN, str(listing), str(args.vocab_size)], args.timeout)
        rows.append({"task": "train", "input": label, "mb": round(size / 1e6, 1), "engine": "hf-tokenizers",
                     "mode": "all cores (its own threads)", **r})
    return report(rows, args)


class _Saved(list):
    """The rows so far, written out after each one (a long run stopped midway keeps what it measured)."""

    def __init__(self, args):
        super().__init__()
        self.args = args

    def append(self, row) -> None:
        super().append(row)
        save(report(list(self), self.args), Path(self.args.out))


def summarize(rows: list[dict]) -> dict:
    def get(task, inp, mode=None, engine="tokbench"):
        for r in rows:
            if (r["task"], r["input"], r["engine"]) == (task, inp, engine) and mode in (None, r["mode"]):
                return r if r["exit"] == 0 else None
        return None

    out = {}
    for inp in sorted({r["input"] for r in rows}):
        one, w1, w2 = (get("count", inp, m) for m in MODES)
        s = {}
        if one and w2:
            s["count_speedup_workers2_vs_1process"] = round(one["seconds"] / w2["seconds"], 2)
        if one and w1:
            s["count_overhead_workers1_vs_1process"] = round(w1["seconds"] / one["seconds"] - 1, 3)
        if w2:
            s["count_worker_peak_mb_workers2"] = max(w2["worker_peak_mb"] or [0])
        t2, hf = get("train", inp, "--workers 2"), get("train", inp, engine="hf-tokenizers")
        if t2 and hf:
            s["train_workers2_vs_hf_seconds"] = round(t2["seconds"] / hf["seconds"], 3)
            s["train_workers2_total_peak_mb"] = t2["total_peak_mb"]
            s["hf_total_peak_mb"] = hf["total_peak_mb"]
        hashes = {r["sha256_16"] for r in rows if r["task"] == "train" and r["input"] == inp and r.get("sha256_16")}
        if hashes:
            s["train_outputs_identical"] = len(hashes) == 1
        out[inp] = s
    ins = sorted(out)
    if len(ins) > 1:
        a, b = out[ins[0]].get("count_worker_peak_mb_workers2"), out[ins[-1]].get("count_worker_peak_mb_workers2")
        if a and b:
            out["worker_peak_growth"] = round(b / a, 3)
    return out


def markdown(report: dict) -> str:
    lines = ["# Scale-out: count and train on Dask (one process, --workers 1, --workers 2) vs HF tokenizers", "",
             report["note"], "", f"vocab size {report['vocab_size']}, {report['cores']} cores", "",
             "| task | input | MB | engine | mode | seconds | client MB | worker MB | total MB | load | exit |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        workers = ", ".join(f"{w:.0f}" for w in r["worker_peak_mb"]) or "-"
        lines.append(f"| {r['task']} | {r['input']} | {r['mb']} | {r['engine']} | {r['mode']} | {r['seconds']} | "
                     f"{r['client_peak_mb']:.0f} | {workers} | {r['total_peak_mb']:.0f} | "
                     f"{r['load_before']}->{r['load_after']} | {'timeout' if r['timed_out'] else r['exit']} |")
    lines += ["", "## Summary", "", "```json", json.dumps(report["summary"], indent=2), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,4", help="input sizes as multiples of the full corpora (1 = as built)")
    ap.add_argument("--vocab-size", type=int, default=32000)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--timeout", type=float, default=1500, help="seconds per run before it is stopped")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench" / "scale.json"))
    args = ap.parse_args(argv)
    args.sizes = [int(x) for x in args.sizes.split(",")]
    rep = run(args)
    save(rep, Path(args.out))
    print(json.dumps(rep["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
