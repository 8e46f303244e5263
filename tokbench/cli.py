"""The `tokbench` app: one `register(app)` call per capability, and error mapping.

This is the one place that turns a TokbenchError into a one-line message and an exit code (2 usage, 1 failed work).
The commands themselves live beside their code, in each package's cli.py.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from tokbench.errors import TokbenchError

# Command order in `tokbench --help` follows this list.
CAPABILITIES = ("tokbench.tokenizer.cli", "tokbench.train.cli", "tokbench.eval.cli", "tokbench.eval.demo",
                "tokbench.transplant.cli", "tokbench.lm.cli", "tokbench.byteprob.cli", "tokbench.warmup")

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
    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer 0.29 vendors click

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
        code = app(args=args, prog_name="tokbench", standalone_mode=False)
        if isinstance(code, int) and code:  # without standalone mode, click returns typer.Exit's code
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("tokbench: interrupted", file=sys.stderr)
        sys.exit(130)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(2)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TokbenchError as exc:
        if debug:
            raise
        print(f"tokbench: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
    except Exception as exc:  # an internal error still gets one line unless --debug
        if debug:
            raise
        print(f"tokbench: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
