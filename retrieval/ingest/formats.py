"""Article files of every supported format -> ``Document`` records.

A file yields one document (``.txt``, ``.md``, ``.html``, ``.pdf``) or many (a ``.jsonl`` /
``.json`` export, one document per record, addressed as ``file#N``). For plain text the
document's text is the decoded file itself, so citation offsets point into the file the user
can open; for the derived formats they point into the extracted text stored with the document
(markdown syntax, HTML markup and JSON quoting removed; a PDF's text layer with its pages
separated by form feeds, so a citation can name its page).

Every format then goes through the same cleaning (``khabar.retrieval.ingest.corpus.parse``), so
a "read also" list inside a JSON record's text or a saved page is dropped the same way as in a
``.txt`` file.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import quote

from khabar.retrieval.dates import parse_date
from khabar.retrieval.ingest.corpus import Metadata, parse
from khabar.retrieval.ingest.decoding import Decoded, UnreadableFileError, read_text
from khabar.retrieval.types import PAGE_BREAK, Document

TEXT_SUFFIXES = (".txt",)
MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
JSON_SUFFIXES = (".json", ".jsonl")
PDF_SUFFIXES = (".pdf",)
ARTICLE_SUFFIXES = (TEXT_SUFFIXES + MARKDOWN_SUFFIXES + HTML_SUFFIXES + JSON_SUFFIXES
                    + PDF_SUFFIXES)

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(?P<body>.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_FRONT_FIELD = re.compile(r"^(?P<key>[A-Za-z_]+)\s*:\s*(?P<value>.*?)\s*$", re.M)
_HTML_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_-]+)", re.I)
# Where the declared charset is looked for: the top of the page, below a saved-from line.
_CHARSET_WINDOW = 8192
# Browsers mark a saved page with the address it came from (the "Mark of the Web"); Khabar
# writes the same line above every page it fetches, so the reader knows the page's final URL
# even when the page names no canonical URL of its own.
_SAVED_FROM = re.compile(r"\A\ufeff?\s*<!--\s*saved from url=\(\d+\)(?P<url>\S+?)\s*-->")
# trafilatura drops every character that is not printable (``str.isprintable``), and with them
# the zero-width non-joiner Persian spelling needs ("بین‌المللی" became "بینالمللی"), the
# joiner and the direction marks. They cross the extraction as stand-ins, letters of a script
# no news page uses (Linear B), and are put back in everything it returns.
_KEPT_FORMAT = "\u200c\u200d\u200e\u200f\u061c"
_STAND_INS = {ch: chr(0x10000 + i) for i, ch in enumerate(_KEPT_FORMAT)}
_TO_STAND_IN = str.maketrans(_STAND_INS)
_FROM_STAND_IN = str.maketrans({v: k for k, v in _STAND_INS.items()})
_FORMAT_ENTITY = re.compile(r"&(zwnj|zwj|lrm|rlm);|&#(?:[xX]0*([0-9a-fA-F]{3,4})|0*(\d{4}));")
_ENTITY_NAMES = {"zwnj": "\u200c", "zwj": "\u200d", "lrm": "\u200e", "rlm": "\u200f"}
# Where a PDF fetched by link records its address: a key of its document information
# dictionary, written as an incremental update, so the fetched bytes stay as they were.
_PDF_SOURCE_KEY = "/KhabarSourceURL"
# PDF producers store Arabic and Persian as presentation forms (positional glyphs); they are
# folded to the letters a reader types, or nothing would match them.
_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufefe]+")
_ARABIC_LETTER = re.compile("[\u0600-\u06ff]")
# pypdf reorders right-to-left lines but leaves a sentence's final mark where it is drawn, on
# the left, i.e. at the start of the extracted line.
_RTL_LEADING_MARK = re.compile(r"^([.!؟?:؛،]+)\s*(?=[\u0600-\u06ff])")
_SENTENCE_END = (".", "!", "?", "؟", ":", "»", "\"", "”")
# A line shorter than this share of the page's longest line ends its paragraph.
_SHORT_LINE = 0.7
_FILE_TITLE = re.compile(r"(?i)^(?:microsoft \w+ - |untitled\b)|\.(?:docx?|pdf|odt|indd|rtf)$")
_MAX_PAGE_LIST = 10
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
    if suffix in PDF_SUFFIXES:
        return _pdf(path, data)
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
    """A saved news page: trafilatura finds the main text, title, date and canonical URL (the
    address on a saved-from line stands in when the page names none)."""
    import trafilatura

    saved = _SAVED_FROM.match(html)
    protected = html  # a page that itself uses the stand-ins is extracted as it is
    if not any(ch in html for ch in _STAND_INS.values()):
        protected = _FORMAT_ENTITY.sub(_entity_stand_in, html).translate(_TO_STAND_IN)
    found = trafilatura.bare_extraction(protected, with_metadata=True, include_comments=False,
                                        include_tables=False, url=saved["url"] if saved else None)
    if found is None or not (found.text or "").strip():
        raise UnreadableFileError("no article text found in the HTML page")
    known = _known(_restored(found.title), found.date, _restored(found.sitename), found.url)
    return parse(path, _restored(found.text) + "\n", known)


def _entity_stand_in(m: re.Match[str]) -> str:
    """A format character written as an entity (``&zwnj;``, ``&#8204;``) as its stand-in."""
    if m[1]:
        return _STAND_INS[_ENTITY_NAMES[m[1]]]
    ch = chr(int(m[2], 16) if m[2] else int(m[3]))
    return _STAND_INS.get(ch, m[0])


def _restored(value: str | None) -> str | None:
    return value.translate(_FROM_STAND_IN) if value else value


def saved_page(data: bytes, url: str, charset: str | None) -> bytes:
    """A fetched page as Khabar keeps it: the bytes as fetched under a saved-from line naming
    its final URL and, when only the server declared the charset, a ``<meta charset>`` saying
    it (the file alone must read as the page did). A byte-order mark stays first."""
    url = quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    prefix = f"<!-- saved from url=({len(url):04d}){url} -->\n"
    if charset and not _HTML_CHARSET.search(data[:_CHARSET_WINDOW]):
        prefix += f'<meta charset="{quote(charset)}">\n'
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return bom + prefix.encode(encoding) + data[len(bom):]
    return prefix.encode("ascii") + data


def saved_pdf(data: bytes, url: str) -> bytes:
    """A fetched PDF with its URL in its document information, appended as an incremental
    update (the fetched bytes stay as they were, first); as fetched if pypdf cannot."""
    from pypdf import PdfWriter

    try:
        writer = PdfWriter(io.BytesIO(data), incremental=True)
        writer.add_metadata({_PDF_SOURCE_KEY: url})
        out = io.BytesIO()
        writer.write(out)
    except Exception:  # a damaged PDF: the reader reports it; the URL is only a nicety
        return data
    return out.getvalue()


def _decode_html(data: bytes) -> Decoded:
    """The page's declared charset first (a windows-1256 page says so), then our own rules."""
    declared = _HTML_CHARSET.search(data[:_CHARSET_WINDOW])
    if declared:
        try:
            return Decoded(data.decode(declared.group(1).decode("ascii")))
        except (LookupError, UnicodeDecodeError):
            pass
    return read_text(data)


# --- PDF ------------------------------------------------------------------------------------


def _pdf(path: str, data: bytes) -> Extracted:
    """A PDF's text layer, page by page, wrapped lines joined into paragraphs; pages are
    separated by a form feed, which is how a citation learns its page. A PDF with no text at
    all is a scan: it is refused as such rather than indexed empty."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFileError("the PDF is protected by a password; add an unprotected "
                                      "copy")
        pages = [_page_text(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata or {}
        title, source = info.get("/Title"), info.get(_PDF_SOURCE_KEY)
    except UnreadableFileError:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on damaged or odd files
        raise UnreadableFileError(f"not a readable PDF ({type(exc).__name__}: "
                                  f"{str(exc)[:80]})") from None
    if not pages:
        raise UnreadableFileError("the PDF has no pages")
    blank = [n for n, text in enumerate(pages, start=1) if not text.strip()]
    if len(blank) == len(pages):
        raise UnreadableFileError(
            f"a scanned PDF: none of its {len(pages)} page(s) has a text layer; run OCR on it "
            "(e.g. ocrmypdf) and add the result")
    title = title if isinstance(title, str) and not _FILE_TITLE.search(title.strip()) else None
    text = f"\n{PAGE_BREAK}\n".join(pages) + "\n"
    out = Extracted([parse(path, text, _known(title, url=source))])
    if blank:
        shown = ", ".join(map(str, blank[:_MAX_PAGE_LIST]))
        shown += "…" if len(blank) > _MAX_PAGE_LIST else ""
        out.warnings.append((path, f"page(s) {shown} have no text layer (scanned?); only the "
                                   "other pages are indexed"))
    return out


def _page_text(raw: str) -> str:
    """One page's extracted lines as paragraphs: presentation forms folded, a right-to-left
    line's final mark put back at its end, wrapped lines joined (a short line ends a
    paragraph, as does a sentence end on a line shorter than the longest)."""
    raw = _PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m[0]), raw)
    lines = [_rtl_mark_at_end(line.strip()) for line in raw.replace(PAGE_BREAK, "\n").split("\n")]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if not line:
            paragraphs.append([])
            continue
        current = paragraphs[-1]
        if current:
            prev = current[-1]
            if len(prev) < _SHORT_LINE * width or (prev.endswith(_SENTENCE_END)
                                                   and len(prev) < width):
                paragraphs.append(current := [])
        current.append(line)
    return "\n\n".join(_join_lines(p) for p in paragraphs if p)


def _rtl_mark_at_end(line: str) -> str:
    m = _RTL_LEADING_MARK.match(line)
    return line[m.end():] + m[1] if m and _ARABIC_LETTER.search(line) else line


def _join_lines(lines: list[str]) -> str:
    out = lines[0]
    for line in lines[1:]:
        out += line if out.endswith("-") else " " + line
    return out


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
