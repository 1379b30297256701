"""Documents -> passages (retrieval units) and sentences (answer units), all as file offsets.

Passages are cut by LangChain's recursive splitter with sentence boundaries of Arabic, Persian
and Latin script as its preferred separators, so a passage is a run of whole sentences unless
one sentence alone exceeds the size. Sentences inside a passage are found by the same boundary
rule; they are what an answer quotes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from langchain_text_splitters import RecursiveCharacterTextSplitter

from khabar.retrieval.config import DEFAULTS
from khabar.retrieval.types import PAGE_BREAK, Document, Passage, Span

# A sentence ends at . ! ? ؟ or … (possibly doubled), optionally followed by closing quotes or
# brackets, and then whitespace. Requiring the whitespace keeps "2.5" and "U.S." whole.
_CLOSERS = "\"'”’»)\\]"
_SENTENCE_END = re.compile(rf"[.!?؟…]+[{_CLOSERS}]*(?=\s|$)")
_SEPARATORS = [
    r"(?<=[.!?؟…])\s+",
    rf"(?<=[.!?؟…][{_CLOSERS}])\s+",
    r"(?<=[؛;])\s+",
    r"(?<=[،,])\s+",
    r"\s+",
    "",
]


def sentence_spans(text: str, start: int, end: int) -> tuple[Span, ...]:
    """Sentences of ``text[start:end]`` as stripped, non-empty spans into ``text``."""
    spans: list[Span] = []
    cursor = start
    segment = text[start:end]
    for m in _SENTENCE_END.finditer(segment):
        _append_stripped(spans, text, cursor, start + m.end())
        cursor = start + m.end()
    _append_stripped(spans, text, cursor, end)
    return tuple(spans)


def _append_stripped(spans: list[Span], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append(Span(start + lead, start + lead + len(stripped)))


# Blocks shorter than this (headlines, datelines, captions) are not passages of their own: a
# three-word line matches queries on surface form alone and crowds out the paragraph that holds
# the answer. They join the block that follows them when nothing but whitespace lies between,
# and never across a page break, so a passage, and each citation, lies on one page.
SHORT_BLOCK = 200
# Raised whenever a change to ``corpus.parse`` or to this module changes which text becomes
# which passage (2: agency end markers, self-links, bare tag lines and pagers are dropped).
READING_RULES = 2


def merge_short_blocks(text: str, blocks: tuple[Span, ...]) -> list[Span]:
    merged: list[Span] = []
    pending: Span | None = None
    for block in blocks:
        if pending is not None:
            between = text[pending.end:block.start]
            if between.strip() or PAGE_BREAK in between:
                merged.append(pending)
            else:
                block = Span(pending.start, block.end)
            pending = None
        if block.end - block.start < SHORT_BLOCK:
            pending = block
        else:
            merged.append(block)
    if pending is not None:
        merged.append(pending)
    return merged


def embedding_text(passage: Passage, title: str | None) -> str:
    """What is embedded for a passage: its text, headed by the article title.

    The title gives every passage the article's topic, which a paragraph deep in the article
    often never names; it is context for the vector only, never part of offsets or snippets.
    """
    if title and title not in passage.text:
        return f"{title}\n{passage.text}"
    return passage.text


class Chunker:
    """Cuts documents into passages of at most ``max_chars`` characters."""

    def __init__(self, max_chars: int = DEFAULTS.chunk_chars,
                 overlap_chars: int = DEFAULTS.chunk_overlap) -> None:
        if max_chars < 50:
            raise ValueError(f"chunk size {max_chars} is too small; use at least 50 characters")
        self.max_chars = max_chars
        self.overlap_chars = overlap_chars
        self._splitter = RecursiveCharacterTextSplitter(
            separators=_SEPARATORS,
            is_separator_regex=True,
            keep_separator="end",
            chunk_size=max_chars,
            chunk_overlap=overlap_chars,
            strip_whitespace=True,
        )

    @property
    def settings(self) -> dict[str, int]:
        """Everything that shapes passages: a generation records it, and an index built with
        other settings is rebuilt (every passage, and so every vector, would differ).
        ``rules`` is the version of how articles are read and cut (``READING_RULES``), so an
        upgrade that reads them differently re-reads every article once."""
        return {"chars": self.max_chars, "overlap": self.overlap_chars, "rules": READING_RULES}

    def passages(self, doc: Document) -> Iterator[Passage]:
        ordinal = 0
        blocks = merge_short_blocks(doc.text, doc.blocks)
        if len(blocks) > 1:
            # A headline standing alone is carried by every passage's embedding text instead.
            blocks = [b for b in blocks if doc.text[b.start:b.end] != doc.title]
        for block in blocks:
            for span in self._block_chunks(doc.text, block):
                yield Passage(
                    doc=doc.path,
                    ordinal=ordinal,
                    start=span.start,
                    end=span.end,
                    text=doc.text[span.start:span.end],
                    sentences=sentence_spans(doc.text, span.start, span.end),
                )
                ordinal += 1

    def _block_chunks(self, text: str, block: Span) -> Iterator[Span]:
        body = text[block.start:block.end]
        if len(body) <= self.max_chars:
            yield block
            return
        cursor = 0
        for chunk in self._splitter.split_text(body):
            # Chunks are verbatim substrings in order; with overlap a chunk may begin before
            # the previous one ended, so search from just after the previous start.
            at = body.find(chunk, cursor)
            if at < 0:
                at = body.find(chunk)
            cursor = at + 1
            yield Span(block.start + at, block.start + at + len(chunk))
