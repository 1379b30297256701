"""Lines from standard input, one at a time, each decoded on its own.

A pipe can carry one line in another encoding among hundreds of good ones; decoding the stream
as a whole would stop at that line and lose every line after it. Each line is decoded alone,
and a line that is not UTF-8 is handed on as a ``BadLine`` for the caller to answer with an
error for that line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    reason: str


def lines(stream: TextIO) -> Iterator[str | BadLine]:
    """The stream's lines (end-of-line kept), a ``BadLine`` for each one that is not UTF-8."""
    binary = getattr(stream, "buffer", None)
    if binary is None:  # already text (an in-memory stream): nothing left to decode
        yield from stream
        return
    for number, raw in enumerate(binary, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield BadLine(number, f"line {number} is not valid UTF-8 text (byte {exc.start + 1} "
                                  "of the line); send it as UTF-8")
