"""Class 4: SIGTERM is handled like Ctrl-C (temps removed, exit 143); Ctrl-C anywhere, numba routines included, is
"interrupted" with exit 130, printed every time; temps a SIGKILLed run left are cleaned by the next run."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.reliability.conftest import leftovers, wait_for


def _reading_stdin(proc) -> bool:
    """The child is blocked in read(0, ...) (Linux: /proc/PID/syscall starts with the read syscall on fd 0)."""
    import platform

    read = {"x86_64": "0", "aarch64": "63"}.get(platform.machine())
    try:
        fields = open(f"/proc/{proc.pid}/syscall").read().split()
    except OSError:
        fields = []
    if read is None or not fields:  # no way to look: give it time to start
        time.sleep(5)
        return True
    return len(fields) > 1 and fields[0] == read and fields[1] == "0x0"


def _temps(folder):
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_signal_while_writing_removes_the_temp(spawn, tmp_path, sig, code, word):
    """eval --per-document opens its (temp) output, then blocks reading a stdin that never ends."""
    out = tmp_path / "docs.jsonl"
    proc = spawn("eval", "-t", "gpt2", "-c", "-", "--per-document", out)
    proc.stdin.write(b"some text that is read but never finished\n")
    proc.stdin.flush()
    assert wait_for(lambda: _temps(tmp_path), timeout=120), proc.stderr.read() if proc.poll() is not None else ""
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == code
    err = proc.stderr.read().decode()
    assert err.strip() == f"tokbench: {word}" or err.strip().startswith(f"tokbench: {word}"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert leftovers(tmp_path) == [] and not out.exists()


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_reading_stdin(spawn, tmp_path, sig, code):
    proc = spawn("train", "-", "--vocab-size", "300", "-o", tmp_path / "t.json")
    assert wait_for(lambda: _reading_stdin(proc), timeout=120)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == code
    err = proc.stderr.read().decode()
    assert err.count("tokbench: ") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "t.json").exists() and leftovers(tmp_path) == []


SUPER = ["--algo", "superbpe", "--vocab-size", "30000"]


@pytest.fixture(scope="module")
def timed_training(tmp_path_factory):
    """All bundled text in one file, and how long a warm superbpe run on it takes here until its output appears
    (start-up, numba reading, counting and two merge stages: the interrupts below land in each phase). Timed to the
    output's commit, not to the process's exit: after the commit there is nothing left to interrupt, and the
    interpreter's shutdown is a fifth of the run once counting is fast."""
    import subprocess

    from tests.reliability.conftest import REPO, _env, command

    folder = tmp_path_factory.mktemp("timed")
    text = folder / "all.txt"
    with open(text, "wb") as out:
        for f in sorted((REPO / "corpora").rglob("*.txt")):
            out.write(f.read_bytes())
    for k in range(2):  # the first run may compile
        out = folder / f"t{k}.json"
        started = time.monotonic()
        proc = subprocess.Popen(command(["train", text, *SUPER, "-o", out]), cwd=folder, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not out.exists() and proc.poll() is None:
            time.sleep(0.005)
        seconds = time.monotonic() - started
        assert proc.wait(timeout=600) == 0 and out.is_file()
    return text, seconds


@pytest.mark.parametrize("fraction", [0.2, 0.4, 0.6, 0.8])
def test_ctrl_c_during_training_is_interrupted(spawn, tmp_path, timed_training, fraction):
    """Wherever the Ctrl-C lands (start-up, reading, numba counting, the numba merge loops), the one line is
    "interrupted", exit 130, and no output or temp appears."""
    text, seconds = timed_training
    out = tmp_path / "t.json"
    proc = spawn("train", text, *SUPER, "-o", out)
    time.sleep(fraction * seconds)
    if proc.poll() is not None:
        pytest.skip(f"training finished within {fraction * seconds:.1f}s on this machine")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    err = proc.stderr.read().decode()
    assert err.strip().splitlines()[-1] == "tokbench: interrupted", err
    assert "Traceback" not in err and "internal error" not in err
    assert not out.exists() and leftovers(tmp_path) == []


def test_sigkill_leftovers_are_cleaned_by_the_next_run(spawn, tb, tmp_path, corpus):
    out = tmp_path / "docs.jsonl"
    proc = spawn("eval", "-t", "gpt2", "-c", "-", "--per-document", out)
    assert wait_for(lambda: _temps(tmp_path), timeout=120)
    proc.kill()
    proc.wait(timeout=30)
    assert _temps(tmp_path)  # SIGKILL cannot be handled: the temp stays ...
    r = tb("eval", "-t", "gpt2", "-c", corpus, "--per-document", out)
    assert r.code == 0, r.err
    assert leftovers(tmp_path) == [] and out.is_file()  # ... until the next run to the same output


@pytest.mark.parametrize("out", ["t.json", "tokdir"])
def test_stale_temps_of_dead_runs_are_cleaned(tb, tmp_path, corpus, out):
    """Temps named for a pid that no longer runs (files and folders) go; a live run's temp is kept."""
    dead = 2 ** 22 + 12345  # above the default pid_max: no such process
    stale_file = tmp_path / f".{out}.{dead}.abc123.tmp"
    stale_file.write_bytes(b"x" * 1000)
    stale_dir = tmp_path / f".{out}.{dead}.def456.tmp"
    stale_dir.mkdir()
    (stale_dir / "tokenizer.json").write_text("{}")
    live = tmp_path / f".{out}.{os.getpid()}.ghi789.tmp"  # this test process is alive
    live.write_text("in progress")
    r = tb("train", corpus, "--vocab-size", "300", "-o", tmp_path / out)
    assert r.code == 0, r.err
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists()


# Run the CLI with one line of instrumentation: a Ctrl-C sent from inside LLVM's object-cache callback, which numba
# reaches on every kernel it loads from its cache. An exception raised in a callback from native code is swallowed
# ("Exception ignored on calling ctypes callback function"), so the run used to finish and write its output, then
# report "interrupted" with a traceback.
CTRL_C_IN_LLVM_CALLBACK = """
import os, signal, sys
import llvmlite.binding.executionengine as ee
find = ee.ExecutionEngine._find_module_ptr
def find_after_ctrl_c(self, ptr):
    ee.ExecutionEngine._find_module_ptr = find
    os.kill(os.getpid(), signal.SIGINT)
    return find(self, ptr)  # the handler runs here, inside the callback
ee.ExecutionEngine._find_module_ptr = find_after_ctrl_c
from tokbench.cli import main
main(sys.argv[1:])
"""

# ... and a Ctrl-C arriving once the command is done (in the interpreter's shutdown), through the real entry point.
CTRL_C_AT_EXIT = """
import atexit, os, signal, sys, time
atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.2)))
import tokbench
tokbench.main()
"""


def _run_instrumented(tmp_path, script: str, *args):
    import subprocess
    import sys

    from tests.reliability.conftest import _env

    launcher = tmp_path / "launch.py"
    launcher.write_text(script)
    return subprocess.run([sys.executable, launcher, *map(str, args)], cwd=tmp_path, env=_env(), capture_output=True,
                          timeout=300)


def test_ctrl_c_inside_numbas_cache_loader_interrupts_the_run(tmp_path, corpus):
    """The kernel loads in the main thread (--threads 1); the interrupt takes effect as numba releases its compiler
    lock: exit 130, one line, no output."""
    out = tmp_path / "t.json"
    proc = _run_instrumented(tmp_path, CTRL_C_IN_LLVM_CALLBACK, "train", corpus, "--vocab-size", "300",
                             "--threads", "1", "-o", out)
    err = proc.stderr.decode()
    assert proc.returncode == 130, err
    assert err.strip() == "tokbench: interrupted", err
    assert not out.exists() and leftovers(tmp_path) == []


def test_ctrl_c_after_the_command_finished_changes_nothing(tmp_path, corpus):
    """The output is committed and the exit code settled: a signal in the shutdown is recorded, not raised (it used
    to end the process by SIGINT, exit -2, with a traceback)."""
    out = tmp_path / "t.json"
    proc = _run_instrumented(tmp_path, CTRL_C_AT_EXIT, "train", corpus, "--vocab-size", "300", "-o", out)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "interrupted" not in err, err
    assert out.is_file() and leftovers(tmp_path) == []
