"""Errors users see as one line. The CLI maps each kind to an exit code; nothing else prints tracebacks.

Library code raises errors about values and names the parameter, never a flag: `f"{param('seq_len')} must be >= 2"`.
The CLI decides how a parameter is spelled (`flags(steps="--heal-steps")` around the library call, where the library's
name is not the flag's); everywhere else the convention every command follows applies: parameter `top_k` is `--top-k`.
"""

import contextlib
import contextvars
import signal
import sys
import threading
from collections.abc import Iterator


class TokbenchError(Exception):
    """Base class: a message meant for the user, no traceback."""

    exit_code = 1


class UsageError(TokbenchError):
    """The command line asked for something impossible or contradictory (exit 2)."""

    exit_code = 2


class InputError(TokbenchError):
    """An input file is missing, empty, unreadable or malformed (exit 1)."""


class WorkError(TokbenchError):
    """The work itself failed: training, writing, a model that would not load (exit 1)."""


_FLAGS: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("tokbench_flags", default={})


def param(name: str) -> str:
    """How an error message names parameter `name`: the flag the running command gives it (see `flags`), else by the
    convention (`top_k` is `--top-k`), which is also what a Python caller reads."""
    return _FLAGS.get().get(name) or "--" + name.replace("_", "-")


@contextlib.contextmanager
def flags(**spelled: str) -> Iterator[None]:
    """Within the block, errors name parameter `key` as flag `value`: a command whose flags differ from the library's
    parameter names (transplant's `--heal-steps` is HealOptions' `steps`) says so here, once."""
    token = _FLAGS.set({**_FLAGS.get(), **spelled})
    try:
        yield
    finally:
        _FLAGS.reset(token)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM arrived: raised inside the running code so every atomic output removes its temps on
    the way out. A KeyboardInterrupt, so code that already lets Ctrl-C through lets this through too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_received: list[int] = []  # every SIGINT/SIGTERM this process got, in order
_raised = False  # the interrupt has reached the running code: later signals must not cut its cleanup short
_armed = False  # inside `interruptible()`: the command's work, where an interrupt is raised at once
_waiting_on_numba = False  # a listener raises the held interrupt as numba's compiler lock is released


def _in_numba_compiler() -> bool:
    """Whether this thread holds numba's compiler lock (compiling, or loading a kernel from the cache). There LLVM
    calls back into Python (its object-cache hooks run on every cached load), and an exception raised inside such a
    callback is printed as "Exception ignored" and lost while the run goes on to finish."""
    compiler_lock = sys.modules.get("numba.core.compiler_lock")  # never imports numba
    return compiler_lock is not None and compiler_lock.global_compiler_lock.is_locked()


def _raise_when_numba_is_done() -> None:
    """Hold the interrupt until the lock is released: milliseconds for a cached kernel."""
    global _waiting_on_numba
    if _waiting_on_numba:
        return
    _waiting_on_numba = True
    import numba.core.event as numba_events  # imported already: its compiler lock is held

    class RaiseOnRelease(numba_events.Listener):
        def on_start(self, event) -> None:
            pass

        def on_end(self, event) -> None:
            if threading.current_thread() is threading.main_thread():
                _raise_pending()

    numba_events.register("numba:compiler_lock", RaiseOnRelease())


def _raise_pending() -> None:
    global _raised
    if not _received or not _armed or _raised:
        return
    if _in_numba_compiler():
        _raise_when_numba_is_done()
        return
    _raised = True
    raise Interrupted(_received[0])


def _on_signal(signum: int, _frame) -> None:
    _received.append(signum)
    _raise_pending()


def install_signal_handlers() -> None:
    """Handle SIGTERM (timeout, CI cancellation, docker stop) exactly like Ctrl-C. Outside `interruptible()` a signal
    is only recorded (the CLI reports it once it has the exit code); `settle()` ends handling for good."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block a signal raises `Interrupted` wherever the code is; one recorded before it raises on entry."""
    global _armed
    _armed = True
    try:
        _raise_pending()
        yield
    finally:
        _armed = False


def settle() -> None:
    """The process is leaving with its exit code decided: from here to its end SIGINT/SIGTERM change nothing. Ignored,
    not just recorded: the interpreter's shutdown puts the default action back for signals with a Python handler, and
    a Ctrl-C landing there would end a finished run by the signal (exit -2)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def received_signal() -> int | None:
    """The first SIGINT/SIGTERM this process got, if any. An error raised after one (numba reports a Ctrl-C inside a
    compiled routine as SystemError) is reported as the interruption it is."""
    return _received[0] if _received else None
