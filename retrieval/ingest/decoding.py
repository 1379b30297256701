"""Bytes to text for article files, refusing what is not text rather than indexing garbage.

News desks still produce Windows-1256 files, and exports arrive as UTF-16; both must read as
the words they hold. A binary or undecodable file is rejected with a reason the indexer reports
by file name.
"""

from __future__ import annotations

import codecs
import unicodedata

from khabar.retrieval.errors import KhabarError


class UnreadableFileError(KhabarError):
    """The file is empty, binary, or in an encoding we cannot read with confidence."""


_FALLBACKS = ("cp1256",)


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


def decode(data: bytes) -> str:
    """Decode article bytes: UTF-8 (BOM kept as a character), UTF-16 with BOM, then cp1256.

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
        return text
    if b"\x00" in data:
        raise UnreadableFileError("binary content (NUL bytes); not a text article")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not _plausible(text):
            raise UnreadableFileError("decodes as UTF-8 but is mostly control characters")
        return text
    for encoding in _FALLBACKS:
        text = data.decode(encoding, errors="replace")
        if "\ufffd" not in text and _plausible(text):
            return text
    raise UnreadableFileError(
        "not valid UTF-8, UTF-16 or Windows-1256 text; re-save the file as UTF-8"
    )
