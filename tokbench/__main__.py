"""The `tokbench` command and `python -m tokbench`: the signal handlers go in before anything heavy is imported.

Importing the app (typer, every capability's CLI) takes a noticeable part of a short run; a Ctrl-C landing there would
otherwise be Python's default KeyboardInterrupt, a traceback and exit -2, instead of "interrupted" and exit 130. On the
way out the signals are settled (ignored), so one landing in the interpreter's shutdown cannot end a finished run.
"""


def main() -> None:
    from tokbench.errors import install_signal_handlers, settle

    install_signal_handlers()
    from tokbench.cli import main as run

    try:
        run()
    finally:  # run() leaves by SystemExit with the exit code
        settle()


if __name__ == "__main__":
    main()
