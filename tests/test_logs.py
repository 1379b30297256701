"""One structured log style: every ``extra`` field is printed, secrets never are."""

from __future__ import annotations

import logging

from khabar.bot.logs import BOT_TOKEN, StructuredFormatter, redact

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


def _format(record: logging.LogRecord, secrets: tuple[str, ...] = ()) -> str:
    return StructuredFormatter(secrets).format(record)


def test_event_and_every_extra_field_are_printed():
    log = logging.getLogger("khabar.test")
    record = log.makeRecord("khabar.test", logging.INFO, __file__, 1, "answered", (), None,
                            extra={"user_id": 7, "found": True, "reason": "two words"})
    line = _format(record)
    assert "level=INFO logger=khabar.test event=answered" in line
    assert line.endswith('user_id=7 found=True reason="two words"')


def test_secrets_are_redacted_from_messages_fields_and_tracebacks():
    try:
        raise RuntimeError(f"request to /bot{TOKEN}/getMe failed")
    except RuntimeError as exc:
        error = exc
    record = logging.makeLogRecord({"name": "x", "levelno": logging.ERROR, "levelname": "ERROR",
                                    "msg": "failed", "exc_info": (RuntimeError, error,
                                                                  error.__traceback__),
                                    "url": f"https://api.telegram.org/bot{TOKEN}/getMe"})
    line = _format(record, ("sk-secret-key",))
    assert "Traceback" in line and TOKEN not in line and TOKEN.split(":")[1] not in line
    assert redact("key sk-secret-key here", ("sk-secret-key",)) == "key <redacted> here"


def test_the_token_shape_is_the_redaction_pattern():
    assert BOT_TOKEN.fullmatch(TOKEN)
    assert not BOT_TOKEN.fullmatch("not-a-token")
