"""The reliability suite (issue 14): the real `tokbench` CLI in a child process, in a temporary folder.

Each test provokes one failure class the way a user or the OS would (an existing output, a full disk via a small
RLIMIT_FSIZE, a real SIGTERM/SIGINT/SIGKILL, a truncated .gz, a closed stream...) and asserts the exit code, that
stderr is one line naming the path, and what is left on disk.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ENTRY_POINT

REPO = Path(__file__).resolve().parents[2]
# real English text from the bundled corpus (a few KB: training on it takes well under a second)
TEXT_SOURCE = sorted((REPO / "corpora" / "en-tech").rglob("*.txt"))


@dataclass
class Run:
    code: int
    out: str
    err: str

    def one_line(self, *needles: str) -> str:
        """stderr ends in exactly one `tokbench: ...` line (a table eval printed before the failure may precede it),
        holding every needle, with no traceback."""
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        ours = [ln for ln in lines if ln.startswith("tokbench: ")]
        assert len(ours) == 1 and lines and lines[-1] == ours[0], f"expected one tokbench: line last:\n{self.err}"
        assert "Traceback" not in self.err and "internal error" not in self.err, self.err
        for needle in needles:
            assert str(needle) in ours[0], f"{needle!r} not in {ours[0]!r}"
        return ours[0]


def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")  # this checkout's package, from any cwd
    env.setdefault("TOKBENCH_CACHE", str(REPO / ".cache"))
    env.pop("COLUMNS", None)
    env.update(extra or {})
    return env


def _preexec(fsize: int | None, umask: int | None, memory: int | None):
    def setup() -> None:
        if fsize is not None:  # a "full disk" for files: writes past `fsize` bytes fail with EFBIG
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if umask is not None:
            os.umask(umask)
    return setup


def command(args, drop_dac: bool = False) -> list[str]:
    cmd = [*ENTRY_POINT, *map(str, args)]
    if drop_dac and os.geteuid() == 0:  # root reads everything: drop the capabilities that let it
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", *cmd]
    return cmd


@pytest.fixture
def tb(tmp_path):
    """tb(*args, stdin=bytes|file|None, fsize=, umask=, memory=, env=, drop_dac=) -> Run, with cwd = tmp_path."""

    def run(*args, stdin=None, fsize=None, umask=None, memory=None, env=None, drop_dac=False, stdout=None,
            timeout=300) -> Run:
        kwargs = {}
        if isinstance(stdin, (bytes, str)):
            kwargs["input"] = stdin.encode() if isinstance(stdin, str) else stdin
        else:
            kwargs["stdin"] = subprocess.DEVNULL if stdin is None else stdin
        proc = subprocess.run(command(args, drop_dac), cwd=tmp_path, env=_env(env), timeout=timeout,
                              stdout=subprocess.PIPE if stdout is None else stdout, stderr=subprocess.PIPE,
                              preexec_fn=_preexec(fsize, umask, memory), **kwargs)
        out = proc.stdout.decode("utf-8", "replace") if proc.stdout is not None else ""
        return Run(proc.returncode, out, proc.stderr.decode("utf-8", "replace"))

    return run


@pytest.fixture
def spawn(tmp_path):
    """Start the CLI as a child process (for signals); returns the Popen (stdin a pipe we hold open)."""
    procs = []

    def start(*args, env=None, stdin=subprocess.PIPE) -> subprocess.Popen:
        proc = subprocess.Popen(command(args), cwd=tmp_path, env=_env(env), stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(predicate, timeout: float = 60.0, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def leftovers(folder: Path) -> list[str]:
    """Temp or backup entries tokbench must never leave behind (`.NAME.*.tmp`, `.NAME.old`)."""
    return sorted(p.name for p in Path(folder).rglob(".*") if p.name.endswith((".tmp", ".old")))


def snapshot(path: Path) -> dict:
    """Every file under `path` (or the file itself) with its bytes, to prove an output was left untouched."""
    path = Path(path)
    if path.is_file():
        return {".": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session", autouse=True)
def warm_kernels(tmp_path_factory):
    """Compile and cache the numba kernels once, unconstrained: a file size limit must hit tokbench's output, not
    numba writing its cache."""
    folder = tmp_path_factory.mktemp("warm")
    text = folder / "t.txt"
    text.write_bytes(b"".join(f.read_bytes() for f in TEXT_SOURCE[:3]))
    for args in (["train", text, "--vocab-size", "300", "-o", folder / "t.json"],
                 ["count", text, "-o", folder / "c.parquet"],
                 ["tokenize", "-t", folder / "t.json", text]):
        subprocess.run(command(args), cwd=folder, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=600)


def corpus_text() -> bytes:
    """~20 KB of the bundled en-tech sample, cut at a line end."""
    text = b""
    for f in TEXT_SOURCE:
        text += f.read_bytes()
        if len(text) > 20_000:
            break
    return text[:20_000].rsplit(b"\n", 1)[0] + b"\n"


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A small real-text corpus file, corpus.txt."""
    path = tmp_path / "corpus.txt"
    path.write_bytes(corpus_text())
    return path


@pytest.fixture
def big_corpus(tmp_path) -> Path:
    """The whole bundled en-tech sample in one file (training a large vocabulary on it takes seconds)."""
    path = tmp_path / "big.txt"
    with open(path, "wb") as out:
        for f in TEXT_SOURCE:
            out.write(f.read_bytes())
    return path


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
