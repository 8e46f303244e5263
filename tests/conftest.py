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
