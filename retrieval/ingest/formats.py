"""Article files of every supported format -> ``Document`` records.

A file yields one document (``.txt``, ``.md``, ``.html``) or many (a ``.jsonl`` / ``.json``
export, one document per record, addressed as ``file#N``). For plain text the document's text
is the decoded file itself, so citation offsets point into the file the user can open; for the
derived formats they point into the extracted text stored with the document (markdown syntax,
HTML markup and JSON quoting removed).

Every format then goes through the same cleaning (``khabar.retrieval.ingest.corpus.parse``), so
a "read also" list inside a JSON record's text or a saved page is dropped the same way as in a
``.txt`` file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from khabar.retrieval.dates import parse_date
from khabar.retrieval.ingest.corpus import Metadata, parse
from khabar.retrieval.ingest.decoding import Decoded, UnreadableFileError, read_text
from khabar.retrieval.types import Document

TEXT_SUFFIXES = (".txt",)
MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
JSON_SUFFIXES = (".json", ".jsonl")
ARTICLE_SUFFIXES = TEXT_SUFFIXES + MARKDOWN_SUFFIXES + HTML_SUFFIXES + JSON_SUFFIXES

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(?P<body>.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_FRONT_FIELD = re.compile(r"^(?P<key>[A-Za-z_]+)\s*:\s*(?P<value>.*?)\s*$", re.M)
_HTML_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_-]+)", re.I)
_RECORD_FIELDS = ("title", "text", "date", "url", "outlet")
_JSON_KINDS = {str: "string", list: "list", int: "number", float: "number", bool: "boolean",
               type(None): "null"}


@dataclass
class Extracted:
    """What one file gave: its documents, the records in it that could not be used, and what
    the user should know about the rest (a few damaged bytes replaced)."""

    documents: list[Document] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (document path, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _BadLine:
    """A JSON Lines line that is not JSON (a string record is a record, not an error)."""

    reason: str


def is_article(name: str) -> bool:
    return name.lower().endswith(ARTICLE_SUFFIXES)


def is_hidden(name: str) -> bool:
    """Dot-files and dot-folders (editor swap files, ``.git``) are never part of the corpus."""
    return name.startswith(".")


def read_articles(path: str, data: bytes) -> Extracted:
    """Parse one file; raises ``UnreadableFileError`` when nothing in it is usable text."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in HTML_SUFFIXES:
        decoded = _decode_html(data)
        out = Extracted([_html(path, decoded.text)])
    else:
        decoded = read_text(data)
        text = decoded.text
        if suffix in MARKDOWN_SUFFIXES:
            out = Extracted([_markdown(path, text)])
        elif suffix == ".jsonl":
            out = _records(path, _jsonl(text))
        elif suffix == ".json":
            out = _records(path, _json(text))
        else:
            out = Extracted([parse(path, text)])
    if decoded.warning:
        out.warnings.append((path, decoded.warning))
    return out


def _clean(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _known(title: object = None, date: object = None, outlet: object = None,
           url: object = None) -> Metadata:
    raw_date = _clean(date)
    return Metadata(title=_clean(title), date=parse_date(raw_date) if raw_date else None,
                    outlet=_clean(outlet), url=_clean(url))


# --- Markdown -------------------------------------------------------------------------------


def _markdown(path: str, text: str) -> Document:
    """Markdown rendered to plain paragraphs; front matter and the first ``#`` heading give
    the metadata."""
    from markdown_it import MarkdownIt

    fields: dict[str, str] = {}
    front = _FRONT_MATTER.match(text)
    if front:
        fields = {m["key"].lower(): m["value"].strip("\"'") for m in
                  _FRONT_FIELD.finditer(front["body"])}
        text = text[front.end():]
    blocks: list[str] = []
    heading: str | None = None
    tokens = MarkdownIt("commonmark").parse(text)
    for i, tok in enumerate(tokens):
        if tok.type != "inline":
            continue
        plain = _inline_text(tok.children or [])
        if not plain.strip():
            continue
        opener = tokens[i - 1] if i else None
        if opener is not None and opener.type == "heading_open" and opener.tag == "h1":
            heading = heading or plain.strip()
        blocks.append(plain.strip())
    known = _known(fields.get("title") or heading, fields.get("date"),
                   fields.get("outlet") or fields.get("source"),
                   fields.get("url") or fields.get("canonical_url"))
    return parse(path, "\n\n".join(blocks) + "\n", known)


def _inline_text(children: list) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" " if child.type == "softbreak" else "\n")
    return "".join(parts)


# --- HTML -----------------------------------------------------------------------------------


def _html(path: str, html: str) -> Document:
    """A saved news page: trafilatura finds the main text, title, date and canonical URL."""
    import trafilatura

    found = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                        include_tables=False)
    if found is None or not (found.text or "").strip():
        raise UnreadableFileError("no article text found in the HTML page")
    known = _known(found.title, found.date, found.sitename, found.url)
    return parse(path, found.text + "\n", known)


def _decode_html(data: bytes) -> Decoded:
    """The page's declared charset first (a windows-1256 page says so), then our own rules."""
    declared = _HTML_CHARSET.search(data[:4096])
    if declared:
        try:
            return Decoded(data.decode(declared.group(1).decode("ascii")))
        except (LookupError, UnicodeDecodeError):
            pass
    return read_text(data)


# --- JSON exports ---------------------------------------------------------------------------


def _jsonl(text: str) -> list[tuple[str, object]]:
    records: list[tuple[str, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append((str(number), json.loads(line)))
            except json.JSONDecodeError as exc:
                records.append((str(number), _BadLine(f"invalid JSON on line {number}: "
                                                      f"{exc.msg}")))
    return records


def _json(text: str) -> list[tuple[str, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFileError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if isinstance(data, dict):
        return [("", data)]
    if isinstance(data, list):
        return [(str(i), item) for i, item in enumerate(data, start=1)]
    raise UnreadableFileError("a .json export must hold one article object or a list of them")


def _records(path: str, records: list[tuple[str, object]]) -> Extracted:
    """One document per record (``file#N``, or ``file`` for a single-object ``.json``); a bad
    record is reported (by its kind, never its content) and the others still count."""
    out = Extracted()
    for key, record in records:
        doc_path = f"{path}#{key}" if key else path
        if isinstance(record, _BadLine):
            out.problems.append((doc_path, record.reason))
            continue
        if not isinstance(record, dict):
            kind = _JSON_KINDS.get(type(record), "value")
            out.problems.append((doc_path, f"not a JSON object but a {kind}"))
            continue
        text = _clean(record.get("text"))
        if text is None:
            fields = ", ".join(_RECORD_FIELDS)
            out.problems.append((doc_path, f'no "text" string (fields read: {fields})'))
            continue
        known = _known(record.get("title"), record.get("date"), record.get("outlet"),
                       record.get("url"))
        out.documents.append(parse(doc_path, text + "\n", known))
    if not out.documents and not out.problems:
        raise UnreadableFileError("the export holds no records")
    return out
