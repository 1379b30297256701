"""Structured logs: one ``key=value`` line per event, secrets redacted before anything is written.

Code logs an event name and its fields, ``log.info("answered", extra={"user_id": 7})``, and
this formatter prints every field: ``... level=INFO logger=khabar.bot.telegram event=answered
user_id=7``. Secrets are removed from the whole line, tracebacks included.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from typing import TextIO

# A Telegram bot token, "<bot id>:<secret>"; it also appears inside the request URLs httpx logs.
BOT_TOKEN = re.compile(r"\d{5,12}:[A-Za-z0-9_-]{30,}")
_REDACTED = "<redacted>"
# Attributes every LogRecord has; anything else on a record came from ``extra``.
# uvicorn's ``color_message`` repeats the message with terminal colours.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName",
                                                          "color_message"}
_BARE = re.compile(r"^[^\s\"=]+$")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every given secret and anything shaped like a bot token removed."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return BOT_TOKEN.sub(_REDACTED, text)


def _value(value: object) -> str:
    text = str(value)
    if _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class StructuredFormatter(logging.Formatter):
    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
        self.secrets = tuple(s for s in secrets if s)

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = [f"{k}={_value(v)}" for k, v in record.__dict__.items() if k not in _STANDARD]
        line = super().formatMessage(record)
        message = record.getMessage()
        if _BARE.match(message):
            line = line[:len(line) - len(message)] + f"event={message}"
        return " ".join([line, *fields])

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record), self.secrets)
        # A file name that is not UTF-8 carries surrogates; stderr escapes them, but stdout (the
        # services' log) would raise, and the line would be lost.
        return line.encode("utf-8", "backslashreplace").decode("utf-8")


def service_level(level: str) -> str:
    """A service's level: INFO unless asked otherwise, since its log is its only output (every
    answer, request and index run is a line), where a command's warnings are enough."""
    return "INFO" if level == "WARNING" else level


def setup(level: str = "WARNING", secrets: tuple[str, ...] = (),
          stream: TextIO | None = None) -> None:
    """Structured logs on ``stream`` (stderr unless given), and tracebacks that never print a
    secret.

    The service roles (``serve``, ``telegram``, ``index --watch``, ``feeds``) pass stdout: their
    log is their output, and ``docker logs`` shows it as such. Commands whose stdout is an
    answer or a report (``ask``, ``index``) keep stderr, so piping their output stays clean.

    Libraries put secrets into their own exception messages (python-telegram-bot's
    ``InvalidToken`` quotes the token), so an uncaught exception's traceback is redacted too,
    in the main thread and in every other.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StructuredFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "faiss"):  # request lines; which CPU build of FAISS loaded
        logging.getLogger(noisy).setLevel(logging.WARNING)
    kept = tuple(s for s in secrets if s)

    def excepthook(kind: type[BaseException], value: BaseException, tb: object) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(redact(text, kept))

    sys.excepthook = excepthook
    threading.excepthook = lambda args: excepthook(args.exc_type, args.exc_value,
                                                   args.exc_traceback)
