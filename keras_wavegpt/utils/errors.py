"""The errors a run stops with that its user can act on.

The experiment scripts print a `RunError` as one line and exit with status
1, with no traceback; `KERAS_WAVEGPT_TRACEBACK=1` in the environment shows
the traceback instead.
"""

TRACEBACK_VARIABLE = "KERAS_WAVEGPT_TRACEBACK"


class RunError(RuntimeError):
    """A run stopped for a reason its user can act on.

    Args:
        message: str. One line: what stopped the run and the ways on.
    """


class FolderInUseError(RunError):
    """Another process holds the run folder's lock.

    Args:
        message: str. One line: what stopped the run and the ways on.
    """


class BackupError(RunError):
    """No usable backup to resume from, or a backup could not be written.

    Args:
        message: str. One line: what stopped the run and the ways on.
    """


class NonFiniteLossError(RunError, FloatingPointError):
    """Training met a NaN or infinite loss; the last good checkpoint stays.

    Args:
        message: str. One line: what stopped the run and the ways on.
    """
