"""The one exception type that means "the user asked for something that cannot be done".

The command line's error boundary (:func:`cvprimer.cli.main`) prints a :class:`UserError` as one line,
``cvprimer <verb>: <message>``, and exits with status 2; any other exception is an internal error and keeps
its traceback. Library functions raise ``ValueError``/``TypeError`` as usual; a verb turns the ones that
come from the user's own input into ``UserError`` at the point where it knows they do.
"""

from __future__ import annotations


class UserError(Exception):
    """A user error: the message says what is wrong and what to do, in one line."""
