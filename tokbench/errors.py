"""Errors users see as one line. The CLI maps each kind to an exit code; nothing else prints tracebacks."""


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
