"""The one base class for errors a user can fix.

Anything raised as a ``KhabarError`` is shown by the front ends as one line (its message names
the file or setting at fault and the fix); every other exception is a bug and keeps its
traceback. Library code raises these; only the front ends turn them into messages.
"""

from __future__ import annotations


class KhabarError(Exception):
    """An error meant for the user: bad input, a missing index, a wrong setting."""


class SettingsError(KhabarError):
    """A setting (environment variable, ``.env`` line or flag) has a value we cannot use."""


class SeedsNotFoundError(KhabarError):
    """The articles directory does not exist."""


class QuestionError(KhabarError):
    """The question cannot be answered as asked; ``check`` names the check that failed
    (``empty`` or ``too_long``) so each front end can word it in the user's language."""

    def __init__(self, check: str, message: str, **details: int) -> None:
        super().__init__(message)
        self.check = check
        self.details = details
