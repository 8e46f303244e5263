"""Benchmark scale-out: `tokbench count` and `tokbench train` with one process, `--workers 1` and `--workers 2`, on
the full corpora (`make corpora`, ~150 MB) and on a 4x input (the corpora's lines four times over, shuffled with a
fixed seed, as one file: it is cut into byte ranges), beside HF `tokenizers` training on the same input in the same
run. Wall time of each command (a fresh process, start-up and cluster start included) and peak RSS of the client and
of each worker process (polled with psutil). Writes reports/bench/scale.json and .md.

    python -m bench.scale [--sizes 1,4] [--vocab-size 32000] [--tasks count,train] [--engines tokbench,hf]
                          [--modes "1 process,--workers 2"] [--timeout 1500] [--hf-timeout S] [--append]

A run too long for one sitting is split (`--sizes 1`, then `--sizes 4 --engines tokbench --append`, then
`--sizes 4 --engines hf --append`): --append keeps the rows already in the report.

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
MODES = {"1 process": [], "1 process --threads 1": ["--threads", "1"], "--workers 1": ["--workers", "1"],
         "--workers 2": ["--workers", "2"]}

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
    """Run `cmd`, polling the RSS of it and every process below it every 50 ms: the peak of each process, and the
    peak of their simultaneous sum (total_peak_mb: what the machine must hold at once, not the sum of peaks that
    happen at different times); wall seconds, exit code."""
    import psutil

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peaks: dict[int, dict] = {}
    total_peak = 0
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
        now = 0
        for p in procs:
            try:
                rss = p.memory_info().rss
                if p.pid not in peaks:
                    cmdline = " ".join(p.cmdline())
                    peaks[p.pid] = {"rss": 0, "role": _role(p.pid == proc.pid, cmdline)}
                peaks[p.pid]["rss"] = max(peaks[p.pid]["rss"], rss)
                now += rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        total_peak = max(total_peak, now)
        time.sleep(0.05)
    err = proc.communicate()[1] if not timed_out else ""
    wall = time.perf_counter() - started
    mb = 1 << 20
    workers = sorted((v["rss"] / mb for v in peaks.values() if v["role"] == "worker"), reverse=True)
    client = sum(v["rss"] for v in peaks.values() if v["role"] == "client") / mb
    return {"seconds": round(wall, 2), "exit": None if timed_out else proc.returncode, "timed_out": timed_out,
            "client_peak_mb": round(client, 1), "worker_peak_mb": [round(w, 1) for w in workers],
            "total_peak_mb": round(total_peak / mb, 1),
            "sum_of_peaks_mb": round(sum(v["rss"] for v in peaks.values()) / mb, 1),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
            "stderr_tail": err.strip().splitlines()[-1:] if err else []}


def _role(is_root: bool, cmdline: str) -> str:
    if is_root:
        return "client"
    if "resource_tracker" in cmdline or "semaphore_tracker" in cmdline:
        return "helper"
    return "worker"


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else None


def report(rows: list[dict], args) -> dict:
    rep = {"rows": rows, "summary": summarize(rows), "vocab_size": args.vocab_size, "cores": os.cpu_count(),
           "note": NOTE}
    if getattr(args, "analysis", None):
        rep["analysis"] = args.analysis
    return rep


NOTE = ("2 cores; each locked run (flock /work/bench.lock) had the cores at normal priority while other jobs ran "
        "niced: see load_before/load_after per run; one run each. '1 process' counts with every core's thread "
        "(--threads defaults to the cores); '1 process --threads 1' is the one-core process the issue's targets "
        "were written against. total MB = the peak over time of the simultaneous RSS sum of the command's processes "
        "(client, workers, Dask's helpers), sampled every 50 ms; shared library pages count once per process.")


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
    modes = {m: f for m, f in MODES.items() if m in args.modes}
    for label, (path, size) in inputs.items():
        common = {"input": label, "mb": round(size / 1e6, 1)}
        if "count" in args.tasks and "tokbench" in args.engines:
            for mode, flags in modes.items():
                out = TMP / "counts"
                shutil.rmtree(out, ignore_errors=True)
                print(f"count {label} {mode}", file=sys.stderr, flush=True)
                r = measure([*cli, "count", str(path), "-o", str(out), *flags], args.timeout)
                rows.append({"task": "count", **common, "engine": "tokbench", "mode": mode,
                             "sha256_16": dataset_digest(out), **r})
                shutil.rmtree(out, ignore_errors=True)
        if "train" not in args.tasks:
            continue
        if "tokbench" in args.engines:
            for mode, flags in modes.items():
                out = TMP / f"tok-{label}-{mode.replace(' ', '').replace('-', '')}.json"
                out.unlink(missing_ok=True)
                print(f"train {label} {mode}", file=sys.stderr, flush=True)
                r = measure([*cli, "train", str(path), "--vocab-size", str(args.vocab_size), "-o", str(out), *flags],
                            args.timeout)
                rows.append({"task": "train", **common, "engine": "tokbench", "mode": mode,
                             "sha256_16": digest(out), **r})
        if "hf" in args.engines:
            print(f"train {label} HF tokenizers", file=sys.stderr, flush=True)
            listing = TMP / "hf-files.txt"  # thousands of files: too many for a command line
            listing.write_text("\n".join(str(f) for f in (files if path.is_dir() else [path])), encoding="utf-8")
            r = measure([sys.executable, "-c", HF_TRAIN, str(listing), str(args.vocab_size)], args.hf_timeout)
            rows.append({"task": "train", **common, "engine": "hf-tokenizers", "mode": "all cores (its own threads)",
                         **r})
    return report(list(rows), args)


def dataset_digest(folder: Path) -> str | None:
    """One hash over a count dataset's parts (names and bytes): equal across modes when the outputs are equal."""
    if not folder.is_dir():
        return None
    h = hashlib.sha256()
    for part in sorted(folder.iterdir()):
        h.update(part.name.encode() + b"\0" + part.read_bytes())
    return h.hexdigest()[:16]


class _Saved(list):
    """The rows so far (with --append, those of the report already on disk, a rerun row replacing its old one),
    written out after each one (a long run stopped midway keeps what it measured)."""

    def __init__(self, args):
        super().__init__()
        self.args = args
        out = Path(args.out)
        if args.append and out.exists():
            old = json.loads(out.read_text(encoding="utf-8"))
            super().extend(old["rows"])
            args.analysis = old.get("analysis")

    def append(self, row) -> None:
        key = (row["task"], row["input"], row["engine"], row["mode"])
        kept = [r for r in self if (r["task"], r["input"], r["engine"], r["mode"]) != key]
        self.clear()
        super().extend(kept)
        super().append(row)
        order = {m: k for k, m in enumerate([*MODES, "all cores (its own threads)"])}
        self.sort(key=lambda r: (int(r["input"].rstrip("x")), r["task"] != "count", r["engine"] != "tokbench",
                                 order.get(r["mode"], 99)))
        save(report(list(self), self.args), Path(self.args.out))


def summarize(rows: list[dict]) -> dict:
    def get(task, inp, mode=None, engine="tokbench", finished=True):
        for r in rows:
            if (r["task"], r["input"], r["engine"]) == (task, inp, engine) and mode in (None, r["mode"]):
                return r if r["exit"] == 0 or (not finished and r["timed_out"]) else None
        return None

    out = {}
    for inp in sorted({r["input"] for r in rows}, key=lambda x: int(x.rstrip("x"))):
        s = {}
        one, one1, w1, w2 = (get("count", inp, m) for m in MODES)
        for name, base in (("1process", one), ("1process_threads1", one1)):
            if base and w2:
                s[f"count_speedup_workers2_vs_{name}"] = round(base["seconds"] / w2["seconds"], 2)
            if base and w1:
                s[f"count_overhead_workers1_vs_{name}"] = round(w1["seconds"] / base["seconds"] - 1, 3)
        if w2:
            s["count_worker_peak_mb_workers2"] = max(w2["worker_peak_mb"] or [0])
        t2, hf = get("train", inp, "--workers 2"), get("train", inp, engine="hf-tokenizers", finished=False)
        if t2 and hf:
            ratio = round(t2["seconds"] / hf["seconds"], 3)
            if hf["timed_out"]:  # HF was stopped: its time is a lower bound, so the ratio is an upper bound
                s["train_workers2_vs_hf_seconds_upper_bound"] = ratio
            else:
                s["train_workers2_vs_hf_seconds"] = ratio
                s["hf_total_peak_mb"] = hf["total_peak_mb"]
            s["train_workers2_total_peak_mb"] = t2["total_peak_mb"]
        for task in ("count", "train"):
            hashes = {r["sha256_16"] for r in rows if r["task"] == task and r["input"] == inp and r.get("sha256_16")}
            n = sum(1 for r in rows if r["task"] == task and r["input"] == inp and r["engine"] == "tokbench")
            if hashes:
                s[f"{task}_outputs_identical"] = len(hashes) == 1 and n == sum(
                    1 for r in rows if r["task"] == task and r["input"] == inp and r.get("sha256_16"))
        out[inp] = s
    ins = [k for k in out]
    if len(ins) > 1:
        a, b = out[ins[0]].get("count_worker_peak_mb_workers2"), out[ins[-1]].get("count_worker_peak_mb_workers2")
        if a and b:
            out["worker_peak_growth"] = round(b / a, 3)
    return out


def markdown(report: dict) -> str:
    lines = ["# Scale-out: count and train on Dask (one process, --workers 1, --workers 2) vs HF tokenizers", "",
             report["note"], "", f"vocab size {report['vocab_size']}, {report['cores']} cores", "",
             "| task | input | MB | engine | mode | seconds | client MB | worker MB | total MB | sum of peaks MB | load "
             "| exit |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        workers = ", ".join(f"{w:.0f}" for w in r["worker_peak_mb"]) or "-"
        lines.append(f"| {r['task']} | {r['input']} | {r['mb']} | {r['engine']} | {r['mode']} | {r['seconds']} | "
                     f"{r['client_peak_mb']:.0f} | {workers} | {r['total_peak_mb']:.0f} | "
                     f"{r.get('sum_of_peaks_mb', r['total_peak_mb']):.0f} | "
                     f"{r['load_before']}->{r['load_after']} | {'timeout' if r['timed_out'] else r['exit']} |")
    lines += ["", "## Summary", "", "```json", json.dumps(report["summary"], indent=2), "```", ""]
    if report.get("analysis"):  # written by hand into the JSON after the runs; kept by --append
        lines += ["## Analysis", "", *report["analysis"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,4", help="input sizes as multiples of the full corpora (1 = as built)")
    ap.add_argument("--vocab-size", type=int, default=32000)
    ap.add_argument("--tasks", default="count,train", help="count, train or both")
    ap.add_argument("--engines", default="tokbench,hf", help="tokbench, hf (HF tokenizers training) or both")
    ap.add_argument("--modes", default=",".join(MODES), help=f"tokbench modes, of: {', '.join(MODES)}")
    ap.add_argument("--skip-train", action="store_true", help="the same as --tasks count")
    ap.add_argument("--timeout", type=float, default=1500, help="seconds per tokbench run before it is stopped")
    ap.add_argument("--hf-timeout", type=float, default=None, help="seconds for HF's run (default: --timeout)")
    ap.add_argument("--append", action="store_true",
                    help="keep the rows of the report on disk (a run split over several locked sessions)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench" / "scale.json"))
    args = ap.parse_args(argv)
    args.sizes = [int(x) for x in args.sizes.split(",")]
    args.tasks = ["count"] if args.skip_train else args.tasks.split(",")
    args.engines = args.engines.split(",")
    args.modes = [m.strip() for m in args.modes.split(",")]
    if bad := [m for m in args.modes if m not in MODES]:
        ap.error(f"--modes: unknown {bad}; choose from {list(MODES)}")
    args.hf_timeout = args.timeout if args.hf_timeout is None else args.hf_timeout
    rep = run(args)
    save(rep, Path(args.out))
    print(json.dumps(rep["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
