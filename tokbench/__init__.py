"""tokbench: train, transplant and evaluate tokenizers from the shell."""
__version__ = "0.1.0"


def main() -> None:
    """The `tokbench` command. The signal handlers go in before the app is imported: importing it (typer, every
    capability's CLI) is a noticeable part of a short run, and a Ctrl-C landing there would otherwise be Python's
    default KeyboardInterrupt (a traceback, exit -2) instead of "interrupted", exit 130. On the way out the signals are
    settled (ignored), so one landing in the interpreter's shutdown cannot end a finished run."""
    from tokbench.errors import install_signal_handlers, settle

    install_signal_handlers()
    from tokbench.cli import main as run

    try:
        run()
    finally:  # run() leaves by SystemExit with the exit code
        settle()
