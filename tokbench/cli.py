"""The `tokbench` app: one `register(app)` call per capability, and error mapping.

This is the one place that turns a TokbenchError into a one-line message and an exit code (2 usage, 1 failed work).
The commands themselves live beside their code, in each package's cli.py.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from typing import Optional

import typer

from tokbench.errors import TokbenchError

# Command order in `tokbench --help` follows this list.
CAPABILITIES = ("tokbench.tokenizer.cli", "tokbench.train.cli", "tokbench.eval.cli", "tokbench.eval.demo",
                "tokbench.transplant.cli", "tokbench.lm.cli", "tokbench.byteprob.cli", "tokbench.kernels.warmup")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, transplant and evaluate tokenizers.", rich_markup_mode=None)


def _register_capabilities() -> None:
    """Each capability keeps its thin wrappers beside its code: <package>/cli.py exposes register(app)."""
    import importlib

    for module in CAPABILITIES:
        importlib.import_module(module).register(app)


_register_capabilities()


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: runs the app, mapping errors to one line on stderr and an exit code."""
    from tokbench.errors import install_signal_handlers, interruptible, received_signal
    from tokbench.io import finish_stdout, guard_stdio

    guard_stdio()
    install_signal_handlers()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
        import logging

        logger = logging.getLogger("tokbench")  # debug lines (e.g. which pre-tokenizer runs) go to stderr
        for old in [h for h in logger.handlers if getattr(h, "tokbench", False)]:
            logger.removeHandler(old)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("tokbench: debug: %(message)s"))
        handler.tokbench = True
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        with interruptible():
            code = app(args=args, prog_name="tokbench", standalone_mode=False)
        if received_signal() is not None or code == 130:  # typer turns Ctrl-C into a silent Exit(130)
            raise KeyboardInterrupt
        finish_stdout()
    except BaseException as exc:  # noqa: BLE001 - every way out gets its one line and exit code here
        code = _exit_code(exc, args, debug)
    else:
        code = code if isinstance(code, int) else 0  # without standalone mode, click returns typer.Exit's code
    sys.exit(code)


def _exit_code(exc: BaseException, args: list[str], debug: bool) -> int:
    """The one line (on stderr) and exit code for whatever ended the command."""
    import signal

    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer 0.29 vendors click

    from tokbench.errors import received_signal
    from tokbench.io import finish_stdout, silence_stdout

    def say(line: str) -> None:
        with contextlib.suppress(Exception):
            print(f"tokbench: {line}", file=sys.stderr, flush=True)

    signum = received_signal()
    if signum is not None:  # whatever it surfaced as (numba: SystemError), the run was interrupted
        say("interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})")
        return 128 + signum
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, (typer.Abort, KeyboardInterrupt)):
        if isinstance(exc.__context__, EOFError):  # click turns an EOFError anywhere into Abort
            say("error: unexpected end of input (EOFError)")
            return 1
        say("interrupted")
        return 130
    if isinstance(exc, NoArgsIsHelpError):
        exc.show()
        return 2
    if isinstance(exc, ClickException):
        exc.show()
        return exc.exit_code
    if debug and isinstance(exc, Exception):
        traceback.print_exception(exc)
        return 1
    if isinstance(exc, TokbenchError):
        say(f"error: {exc}")
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):  # `| head`: quiet, as other tools are
        silence_stdout()
        return 1
    if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)):
        say(f"error: out of memory{_size_hint(args)}")
        return 1
    if isinstance(exc, OSError) and exc.filename:
        say(f"error: {exc.filename}: {exc.strerror or exc}")
        return 1
    if isinstance(exc, OSError):  # a write without a file name: stdout, if flushing it fails again
        try:
            finish_stdout()
        except BrokenPipeError:
            return 1
        except TokbenchError as stdout_error:
            say(f"error: {stdout_error}")
            return 1
    say(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
    return 1


def _size_hint(args: list[str]) -> str:
    """Name the size-like flag most likely to have asked for the memory: the one given the largest number."""
    sizes = []
    for i, arg in enumerate(args):
        flag, _, value = arg.partition("=")
        if not value and i + 1 < len(args):
            value = args[i + 1]
        if flag.startswith("--") and value.isdigit():
            sizes.append((int(value), flag))
    if not sizes:
        return " (the input is too large for this machine)"
    value, flag = max(sizes)
    return f": {flag} {value} asks for more than this machine has; give a smaller {flag}"


if __name__ == "__main__":
    main()
