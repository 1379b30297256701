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


class CheckError(KhabarError):
    """Input that fails a named check; ``check`` names it so each front end can word the
    refusal in the user's language, ``details`` hold the values that sentence needs."""

    def __init__(self, check: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.check = check
        self.details = details


class QuestionError(CheckError):
    """The question cannot be answered as asked (``empty`` or ``too_long``)."""
