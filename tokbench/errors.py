"""Errors that reach the user as one line (minimal stand-in; the lead's version replaces it at merge)."""


class TokbenchError(Exception):
    """Base of every error tokbench reports without a traceback."""

    exit_code = 1

    def __init__(self, msg: str):
        super().__init__(msg)
        self.msg = msg


class UsageError(TokbenchError):
    """Bad command line or arguments (exit 2)."""

    exit_code = 2


class InputError(TokbenchError):
    """An input file is missing, unreadable or malformed (exit 1)."""


class WorkError(TokbenchError):
    """The work itself failed (exit 1)."""
