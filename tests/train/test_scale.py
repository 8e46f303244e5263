"""Scale-out on real Dask (no mocks): `count`, `train` and `eval` on a cluster give what one process gives, on bundled
text sharded unevenly (many small files, a file cut mid-way by --shard-size, JSONL, an empty file); a cluster of
`dask scheduler` + `dask worker` processes gives the same tokenizer.json with a worker killed mid-run; an unreachable
scheduler is one line, exit 1, within --scheduler-timeout. One LocalCluster is shared (`dask_address`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.helpers import ENTRY_POINT
from tokbench.corpus import Corpus
from tokbench.train.counts import WordCounts, count_words

SHARD = "20000"  # cuts big.txt into byte ranges, and the corpus into ~20 tasks


def test_count_on_cluster_equals_one_process(cli, dask_address, sharded_corpus, tmp_path):
    reference = count_words(Corpus([str(sharded_corpus)]).lines(), "gpt2")
    one = cli("count", sharded_corpus, "-o", tmp_path / "one")
    many = cli("count", sharded_corpus, "-o", tmp_path / "many", "--scheduler", dask_address, "--shard-size", SHARD)
    assert one.code == many.code == 0, one.err + many.err
    assert WordCounts.load(tmp_path / "one") == WordCounts.load(tmp_path / "many") == reference
    parts = sorted((tmp_path / "one").iterdir())
    assert len(parts) > 1 and [p.read_bytes() for p in parts] == [
        p.read_bytes() for p in sorted((tmp_path / "many").iterdir())]  # the same dataset, byte for byte
    kept = cli("count", sharded_corpus, "-o", tmp_path / "kept", "--scheduler", dask_address, "--shard-size", SHARD,
               "--min-word-count", "3")
    assert kept.code == 0, kept.err
    assert WordCounts.load(tmp_path / "kept").to_dict() == {w: c for w, c in reference.to_dict().items() if c >= 3}
    again = cli("count", sharded_corpus, "-o", tmp_path / "many", "--scheduler", dask_address)
    assert again.code == 2 and "already exists" in again.err  # nothing replaced without --force
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "e.txt").write_text("", encoding="utf-8")
    runs = [cli("count", tmp_path / "blank", "-o", tmp_path / f"e{k}", *flags)
            for k, flags in enumerate([[], ["--scheduler", dask_address]])]
    errs = [r.err.strip().splitlines()[-1] for r in runs]  # (the cluster run also showed its progress)
    assert [r.code for r in runs] == [1, 1] and errs[0] == errs[1] and "corpus is empty" in errs[0]
    assert not (tmp_path / "e0").exists() and not (tmp_path / "e1").exists()


@pytest.mark.parametrize("algo,extra", [("bpe", []), ("char-bpe", ["--max-token-chars", "3"]),
                                        ("superbpe", ["--transition", "0.5"])])
def test_train_on_cluster_is_byte_identical(cli, dask_address, sharded_corpus, tmp_path, algo, extra):
    args = ["train", sharded_corpus, "--algo", algo, "--vocab-size", "700", *extra]
    one = cli(*args, "-o", tmp_path / "one.json")
    many = cli(*args, "-o", tmp_path / "many.json", "--scheduler", dask_address, "--shard-size", SHARD)
    assert one.code == many.code == 0, one.err + many.err
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "many.json").read_bytes()
    if algo == "bpe":  # and from a count dataset made on the cluster
        assert cli("count", sharded_corpus, "-o", tmp_path / "c", "--scheduler", dask_address).code == 0
        fc = cli("train", "--from-counts", tmp_path / "c", "--vocab-size", "700", "-o", tmp_path / "fc.json")
        assert fc.code == 0, fc.err
        assert (tmp_path / "fc.json").read_bytes() == (tmp_path / "one.json").read_bytes()


@pytest.mark.parametrize("algo", ["sp-unigram", "unigram", "wordpiece", "supertoken"])
def test_algorithms_that_cannot_train_from_counts_refuse(cli, sharded_corpus, tmp_path, algo):
    started = time.perf_counter()
    r = cli("train", sharded_corpus, "--algo", algo, "--vocab-size", "500", "-o", tmp_path / "t.json", "--workers", "2")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and algo in r.err, r.err
    assert not (tmp_path / "t.json").exists() and time.perf_counter() - started < 5  # refused before any cluster


TIMINGS = {"throughput_mb_s", "throughput_cpu_mb_s", "first_use_s"}  # seconds, the one thing a cluster may change


def _records(out: str) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in json.loads(out)]


def test_eval_on_cluster_equals_one_process(cli, dask_address, sharded_corpus, tmp_path):
    args = ["eval", "-t", "gpt2", "-t", "mistral-v1", "--corpus", f"{sharded_corpus}:en", "--corpus",
            str(REPO / "corpora" / "multi" / "tr") + ":tr", "--format", "json"]
    one = cli(*args, "--per-document", tmp_path / "one.jsonl")
    many = cli(*args, "--per-document", tmp_path / "many.jsonl", "--scheduler", dask_address, "--shard-size", "2000")
    assert one.code == many.code == 0, one.err + many.err
    assert _records(many.out) == _records(one.out)
    assert len(_records(one.out)) == 4 and all(r["tokens"] > 0 for r in _records(one.out))
    rows = [(tmp_path / n).read_text().splitlines() for n in ("one.jsonl", "many.jsonl")]
    assert sorted(rows[0]) == sorted(rows[1]) and len(rows[0]) > 40  # the same rows, numbered the same


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def test_dask_cluster_processes_survive_a_killed_worker(sharded_corpus, tmp_path):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1; one worker is killed once training has started;
    the scheduler reruns its tasks on the other and the file equals the one-process file."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    dask = str(Path(sys.executable).parent / "dask")  # the `dask` command of this environment
    port = _free_port()
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    address = f"tcp://127.0.0.1:{port}"
    try:
        _wait_port(port)
        for name in ("w1", "w2"):
            procs.append(subprocess.Popen(
                [dask, "worker", address, "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--name", name, "--host", "127.0.0.1"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        cmd = [*ENTRY_POINT, "train", str(sharded_corpus), "--vocab-size", "700",
               "--shard-size", "3000"]
        run = subprocess.Popen([*cmd, "-o", str(tmp_path / "many.json"), "--scheduler", address], env=env,
                               cwd=REPO, stderr=subprocess.PIPE, text=True)
        for line in run.stderr:  # progress lines: kill a worker once shards are done but the run is not
            if "shards done" in line:
                break
        killed_mid_run = run.poll() is None
        procs[1].send_signal(signal.SIGKILL)
        rest = run.communicate(timeout=300)[1]
        assert run.returncode == 0, rest
        assert killed_mid_run
        one = subprocess.run([*cmd, "-o", str(tmp_path / "one.json")], env=env, cwd=REPO, capture_output=True,
                             text=True, timeout=300)
        assert one.returncode == 0, one.stderr
        assert (tmp_path / "many.json").read_bytes() == (tmp_path / "one.json").read_bytes()
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=30)


def test_unreachable_scheduler_is_one_line_within_the_timeout(cli, sharded_corpus, tmp_path):
    port = _free_port()  # nothing listens there
    started = time.perf_counter()
    r = cli("train", sharded_corpus, "-o", tmp_path / "t.json", "--scheduler", f"tcp://127.0.0.1:{port}",
            "--scheduler-timeout", "2")
    elapsed = time.perf_counter() - started
    assert r.code == 1 and len(r.err.strip().splitlines()) == 1 and f"127.0.0.1:{port}" in r.err, r.err
    assert elapsed < 2 + 8 and not (tmp_path / "t.json").exists()


def test_counts_dataset_is_one_table_for_pandas(cli, dask_address, sharded_corpus, tmp_path):
    """The documented count format: a folder of parquet parts (word: binary, count: int64, presets in metadata)."""
    import pandas as pd

    assert cli("count", sharded_corpus, "-o", tmp_path / "c", "--scheduler", dask_address).code == 0
    frame = pd.read_parquet(tmp_path / "c")
    assert list(frame.columns) == ["word", "count"] and str(frame["count"].dtype) == "int64"
    assert dict(zip(frame["word"], frame["count"])) == WordCounts.load(tmp_path / "c").to_dict()
    assert Path(tmp_path / "c").is_dir()


def test_without_cluster_flags_dask_is_not_imported(sharded_corpus, tmp_path):
    code = ("import sys\nfrom tokbench.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\nassert 'dask' not in sys.modules and 'distributed' not in sys.modules\n")
    for args in (["count", str(sharded_corpus), "-o", str(tmp_path / "c")],
                 ["train", str(sharded_corpus), "--vocab-size", "300", "-o", str(tmp_path / "t.json")]):
        r = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)
        assert r.returncode == 0, r.stderr


def test_min_word_count_trains_on_the_words_left(cli, sharded_corpus, tmp_path):
    """--min-word-count K (no cluster needed) = training on the exact counts with the words below K dropped."""
    from tokbench.train.bpe import train_bpe_counts

    r = cli("train", sharded_corpus, "--vocab-size", "600", "--min-word-count", "4", "-o", tmp_path / "k.json")
    assert r.code == 0, r.err
    counts = count_words(Corpus([str(sharded_corpus)]).lines(), "gpt2")
    kept = WordCounts.from_dict({w: c for w, c in counts.to_dict().items() if c >= 4}, "gpt2")
    assert (tmp_path / "k.json").read_text(encoding="utf-8") == train_bpe_counts(kept, 600).to_str(pretty=True)
    assert train_bpe_counts(kept, 600).to_str() != train_bpe_counts(counts, 600).to_str()  # it did change merges


def test_local_workers_equal_one_process_and_leave_no_process(sharded_corpus, tmp_path):
    """`--workers 2` as a user runs it: a LocalCluster whose workers are forked from a preloaded forkserver. The
    dataset and the tokenizer.json equal the one-process ones byte for byte, and once the command has exited no
    process it started (forkserver, workers) is left running."""
    import uuid

    import psutil

    mark = uuid.uuid4().hex
    env = dict(os.environ, PYTHONPATH=str(REPO), TOKBENCH_TEST_MARK=mark)

    def run(*args):
        done = subprocess.run([*ENTRY_POINT, *map(str, args)], env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return done

    for name, flags in (("one", []), ("many", ["--workers", "2", "--shard-size", SHARD])):
        run("count", sharded_corpus, "-o", tmp_path / f"{name}-counts", *flags)
        run("train", sharded_corpus, "--vocab-size", "600", "-o", tmp_path / f"{name}.json", *flags)
    parts = [sorted((tmp_path / f"{name}-counts").iterdir()) for name in ("one", "many")]
    assert len(parts[0]) > 1 and [p.read_bytes() for p in parts[0]] == [p.read_bytes() for p in parts[1]]
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "many.json").read_bytes()

    def left() -> list[int]:
        pids = []
        for proc in psutil.process_iter():
            try:
                if proc.environ().get("TOKBENCH_TEST_MARK") == mark:
                    pids.append(proc.pid)
            except psutil.Error:
                continue
        return pids

    deadline = time.monotonic() + 10
    while left() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left() == []
