"""Errors users see as one line. The CLI maps each kind to an exit code; nothing else prints tracebacks.

Library code raises errors about values and names the parameter, never a flag: `f"{param('seq_len')} must be >= 2"`.
The CLI decides how a parameter is spelled (`flags(steps="--heal-steps")` around the library call, where the library's
name is not the flag's); everywhere else the convention every command follows applies: parameter `top_k` is `--top-k`.
"""

import contextlib
import contextvars
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


_received: list[int] = []


def _on_signal(signum: int, _frame) -> None:
    _received.append(signum)
    if len(_received) == 1:  # a second signal during the cleanup must not cut the cleanup short
        raise Interrupted(signum)


def install_signal_handlers() -> None:
    """Handle SIGTERM (timeout, CI cancellation, docker stop) exactly like Ctrl-C."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)


def received_signal() -> int | None:
    """The first SIGINT/SIGTERM this process got, if any. An error raised after one (numba reports a Ctrl-C inside a
    compiled routine as SystemError) is reported as the interruption it is."""
    return _received[0] if _received else None
