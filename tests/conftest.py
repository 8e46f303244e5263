"""Shared fixtures: run the CLI in-process, small real corpora, the bundled tokenizers."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO

@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(monkeypatch):
    """Run `tokbench ARGS` in-process; returns exit code, stdout and stderr."""
    from tokbench.cli import main

    def run(*args: str, stdin: str | bytes | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        if stdin is not None:
            data = stdin.encode() if isinstance(stdin, str) else stdin
            fake = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
            monkeypatch.setattr(sys, "stdin", fake)
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)
        code = 0
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            monkeypatch.setattr(sys, "stdout", sys.__stdout__)
            monkeypatch.setattr(sys, "stderr", sys.__stderr__)
        return Result(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture(scope="session")
def english_text() -> str:
    """About 120 KB of real English (kernel documentation) from the bundled corpora."""
    docs = sorted((REPO / "corpora" / "en-tech").glob("*.txt"))
    text = ""
    for doc in docs:
        text += doc.read_text(encoding="utf-8")
        if len(text) > 120_000:
            break
    return text


@pytest.fixture(scope="session")
def dask_address():
    """One real Dask LocalCluster (2 worker processes, one thread each) for the scale-out tests, started once: its
    address is what `--scheduler` takes, so CLI runs share it instead of paying a cluster start each."""
    import logging

    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.CRITICAL)
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="session")
def sharded_corpus(tmp_path_factory) -> Path:
    """Bundled text laid out to be sharded unevenly: many small files, one ~110 KB file that a 20 KB --shard-size
    cuts into byte ranges, a JSONL file of Turkish documents, and an empty file."""
    import json

    root = tmp_path_factory.mktemp("sharded")
    tech = sorted((REPO / "corpora" / "en-tech").glob("*.txt"))
    (root / "big.txt").write_text("".join(p.read_text(encoding="utf-8") for p in tech[:12]), encoding="utf-8")
    for p in tech[12:30]:
        (root / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    tr = sorted((REPO / "corpora" / "multi" / "tr").rglob("*.txt"))
    (root / "tr.jsonl").write_text("".join(json.dumps({"text": p.read_text(encoding="utf-8")}, ensure_ascii=False)
                                           + "\n" for p in tr), encoding="utf-8")
    (root / "empty.txt").write_text("", encoding="utf-8")
    return root
