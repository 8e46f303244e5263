"""Class 7: closed or odd streams and paths get one clear line each (never an internal AttributeError/ValueError),
and errors always go to stderr."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.reliability.conftest import Run, _env, command


def _run_closed(tmp_path, args, close: int, stdin=subprocess.DEVNULL) -> Run:
    """Run with file descriptor `close` (0, 1 or 2) closed, as `<&-`, `>&-` or `2>&-` do."""
    def preexec():
        os.close(close)

    proc = subprocess.run(command(args), cwd=tmp_path, env=_env(), preexec_fn=preexec, timeout=300,
                          stdin=None if close == 0 else stdin,
                          stdout=None if close == 1 else subprocess.PIPE,
                          stderr=None if close == 2 else subprocess.PIPE)
    dec = lambda b: b.decode() if b is not None else ""  # noqa: E731
    return Run(proc.returncode, dec(proc.stdout), dec(proc.stderr))


@pytest.mark.parametrize("args", [["tokenize", "-t", "gpt2"], ["tokenize", "-t", "gpt2", "-"],
                                  ["train", "-", "--vocab-size", "300", "-o", "t.json"]])
def test_closed_stdin(tmp_path, args):
    r = _run_closed(tmp_path, args, 0)
    assert r.code == 1
    r.one_line("stdin is closed")
    assert not (tmp_path / "t.json").exists()


@pytest.mark.parametrize("args", [["zoo", "--format", "json"], ["tokenize", "-t", "gpt2", "{c}"],
                                  ["eval", "-t", "gpt2", "-c", "{c}", "--format", "json"]])
def test_closed_stdout(tmp_path, corpus, args):
    r = _run_closed(tmp_path, [str(corpus) if a == "{c}" else a for a in args], 1)
    assert r.code == 1
    r.one_line("stdout is closed")


def test_closed_stdout_does_not_capture_files(tmp_path, corpus):
    """With fd 1 closed, the next file opened would get fd 1 and print() would write into it: it must not."""
    r = _run_closed(tmp_path, ["train", corpus, "--vocab-size", "300", "-o", "t.json"], 1)
    assert r.code == 0, r.err
    from tokenizers import Tokenizer

    assert Tokenizer.from_file(str(tmp_path / "t.json")).get_vocab_size() > 256


def test_closed_stderr_keeps_the_exit_code(tmp_path):
    r = _run_closed(tmp_path, ["tokenize", "-t", "gpt2", "no-such-file.txt"], 2)
    assert r.code == 1 and r.out == ""  # the error does not move to stdout


def test_stdin_twice(tb, tmp_path):
    r = tb("train", "-", "-", "--vocab-size", "300", "-o", "t.json", stdin=b"hello world\n")
    assert r.code == 2
    r.one_line("stdin", "more than once")


@pytest.mark.parametrize("args", [["train", "{c}", "--vocab-size", "300", "-o", "."],
                                  ["train", "{c}", "--vocab-size", "300", "-o", ".", "--force"],
                                  ["count", "{c}", "-o", "."],
                                  ["eval", "-t", "gpt2", "-c", "{c}", "-o", ".", "--force"],
                                  ["sweep", "{c}", "--eval", "{c}", "--transition", "0.6", "--vocab-size", "400",
                                   "-o", ".", "--force"]])
def test_dot_as_output(tb, tmp_path, corpus, args):
    before = sorted(os.listdir(tmp_path))
    r = tb(*[str(corpus) if a == "{c}" else a for a in args])
    assert r.code == 2
    r.one_line("current folder")
    assert sorted(os.listdir(tmp_path)) == before


def test_cache_that_is_a_file(tb, tmp_path, corpus):
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    r = tb("tokenize", "-t", "cl100k_base", corpus, env={"TOKBENCH_CACHE": str(cache)})
    assert r.code == 2
    r.one_line("TOKBENCH_CACHE", str(cache))
    assert cache.read_text() == "not a folder"


@pytest.mark.parametrize("args", [["tokenize", "-t", "gpt2", "missing.txt"], ["train", "missing.txt"],
                                  ["eval", "-t", "gpt2", "-c", "missing.txt", "--format", "json"],
                                  ["compare", "missing.json", "other.json"]])
def test_errors_go_to_stderr_only(tb, args):
    r = tb(*args)
    assert r.code == 1 and r.out == ""
    r.one_line("missing")
