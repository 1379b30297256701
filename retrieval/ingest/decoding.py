"""Bytes to text for article files, refusing what is not text rather than indexing garbage.

News desks still produce Windows-1256 files, and exports arrive as UTF-16; both must read as
the words they hold. But a legacy code page decodes almost any bytes, so it is chosen only when
the file is clearly in it: a UTF-8 file with a few damaged bytes is read as UTF-8 (the damaged
bytes replaced, and a warning given), never as Windows-1256 mojibake. A binary or undecodable
file is rejected with a reason the indexer reports by file name.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

from khabar.retrieval.errors import KhabarError


class UnreadableFileError(KhabarError):
    """The file is empty, binary, or in an encoding we cannot read with confidence."""


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    # Said of a file read with some loss (damaged bytes replaced), for the index report.
    warning: str | None = None


_FALLBACKS = ("cp1256",)
# A well-formed UTF-8 multi-byte character; a file full of them is UTF-8 even if a few bytes
# around them are damaged.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
                             rb"|[\xf0-\xf4][\x80-\xbf]{3}")
# Damaged bytes tolerated in a UTF-8 file: at most one per this many good multi-byte
# characters (a few broken characters in an article, not a different encoding).
_GOOD_PER_BAD = 20
# A legacy decoding is believed only if most of its letters are in the script it exists for.
_LEGACY_SCRIPT_SHARE = 0.6
_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff]")


def _plausible(text: str) -> bool:
    """Whether decoded text looks like prose rather than binary: few control characters.

    Format characters (ZWNJ, RLM) are ordinary in Persian and Arabic text, and symbols such as
    ``<`` or ``=`` in articles about code or maths; only C0/C1 controls, private-use and
    unassigned code points count against a file.
    """
    if not text:
        return False
    bad = sum(
        1 for ch in text
        if ch not in "\n\r\t" and unicodedata.category(ch) in ("Cc", "Co", "Cn", "Cs")
    )
    return bad / len(text) <= 0.05


def _legacy_plausible(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    arabic = sum(1 for ch in letters if _ARABIC_SCRIPT.match(ch))
    return bool(letters) and arabic / len(letters) >= _LEGACY_SCRIPT_SHARE


def read_text(data: bytes) -> Decoded:
    """Decode article bytes: UTF-8 (BOM kept as a character), UTF-16 with BOM, UTF-8 with a
    few damaged bytes (with a warning), then Windows-1256 when the file is clearly in it.

    The UTF-8 BOM is kept rather than stripped so that offsets stay valid for anyone reading
    the file as UTF-8; it is whitespace to every later stage.
    """
    if not data.strip():
        raise UnreadableFileError("the file is empty")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(f"invalid UTF-16: {exc.reason}") from None
        if not _plausible(text):
            raise UnreadableFileError("UTF-16 BOM but the content is not text")
        return Decoded(text)
    if b"\x00" in data:
        raise UnreadableFileError("binary content (NUL bytes); not a text article")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not _plausible(text):
            raise UnreadableFileError("decodes as UTF-8 but is mostly control characters")
        return Decoded(text)
    repaired = data.decode("utf-8", errors="replace")
    damaged = repaired.count("\ufffd")
    good = len(_UTF8_MULTIBYTE.findall(data))
    if good >= _GOOD_PER_BAD * damaged and _plausible(repaired):
        return Decoded(repaired, f"{damaged} damaged byte sequence(s) in UTF-8 text were "
                                 "replaced with U+FFFD; re-save the file as UTF-8 to fix it")
    for encoding in _FALLBACKS:
        text = data.decode(encoding, errors="replace")
        if "\ufffd" not in text and _plausible(text) and _legacy_plausible(text):
            return Decoded(text)
    raise UnreadableFileError(
        "not valid UTF-8, UTF-16 or Windows-1256 text; re-save the file as UTF-8"
    )


def decode(data: bytes) -> str:
    """``read_text`` for callers that have no report to carry its warning."""
    return read_text(data).text
