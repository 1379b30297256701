"""Articles that arrive by themselves: links, files and feed items, saved into seeds/ and
indexed at once.

Each item is fetched (or read), checked exactly as the indexer will read it, and only then
saved; a batch is indexed in one targeted run over its own files (no scan of seeds/), so an
article costs its embedding. Per item the outcome is added, unchanged or failed with the
reason; one bad item never stops the others, and a bad one is never written, so nothing
already indexed is lost.

Where things go:

- a page: ``seeds/<site>/<slug>-<hash of its canonical URL>.html``, the bytes as fetched under
  a saved-from line naming the final URL (``formats.saved_page``);
- a PDF by link: the same name ending in ``.pdf``, its URL in its document information;
- a file: ``seeds/<folder>/<its name>`` (``files`` from the command line, ``telegram`` from
  the bot), numbered when the name is taken by other content.

Unchanged means the canonical URL is already saved (the file name says so) or the same bytes
were added before (the ledger remembers their hash).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from khabar.retrieval.errors import KhabarError
from khabar.retrieval.index.indexer import IndexReport
from khabar.retrieval.ingest.chunking import Chunker
from khabar.retrieval.ingest.feeds import FeedError, parse_feed
from khabar.retrieval.ingest.fetch import FEED_TYPES, PAGE_TYPES, Fetcher, FetchError, FetchOptions
from khabar.retrieval.ingest.formats import (
    ARTICLE_SUFFIXES,
    Extracted,
    is_article,
    read_articles,
    saved_page,
    saved_pdf,
)
from khabar.retrieval.ingest.ledger import FeedState, Ledger

log = logging.getLogger(__name__)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SLUG_CHARS = 60
_NAME_CHARS = 100
_PAGE_SUFFIXES = re.compile(r"\.(?:s?html?|php|aspx?|jsp|cms)$", re.I)


class IntakeError(KhabarError):
    """An item that cannot be added as it is (a file name or type Khabar cannot take)."""


@dataclass(frozen=True, slots=True)
class Added:
    """An item saved and indexed: the first article's metadata, the file it is in, and how
    many documents (an export holds several) and passages it gave."""

    item: str
    path: str
    title: str | None
    outlet: str | None
    date: str | None
    url: str | None
    passages: int
    documents: int = 1


@dataclass(frozen=True, slots=True)
class Unchanged:
    item: str
    path: str


@dataclass(frozen=True, slots=True)
class Failed:
    item: str
    reason: str


Outcome = Added | Unchanged | Failed


@dataclass
class AddReport:
    """What came of a batch; ``index`` is the targeted run's report (None if none ran)."""

    added: list[Added] = field(default_factory=list)
    unchanged: list[Unchanged] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    index: IndexReport | None = None

    @classmethod
    def of(cls, outcomes: Sequence[Outcome], index: IndexReport | None) -> AddReport:
        report = cls(index=index)
        for o in outcomes:
            {Added: report.added, Unchanged: report.unchanged, Failed: report.failed}[
                type(o)].append(o)
        return report

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict:
        return {
            "added": [{"item": a.item, "path": a.path, "title": a.title, "outlet": a.outlet,
                       "date": a.date, "url": a.url, "passages": a.passages,
                       "documents": a.documents} for a in self.added],
            "unchanged": [{"item": u.item, "path": u.path} for u in self.unchanged],
            "failed": [{"item": f.item, "reason": f.reason} for f in self.failed],
        }


@dataclass(frozen=True, slots=True)
class FeedResult:
    """One feed's poll: status "new items", "no new items", "not modified" or "error"."""

    feed: str
    status: str
    new_items: int = 0
    error: str | None = None
    last_poll: float | None = None

    @classmethod
    def of(cls, state: FeedState) -> FeedResult:
        return cls(state.url, state.status or "never polled", state.new_items, state.error,
                   state.last_poll)


@dataclass
class PollReport:
    feeds: list[FeedResult] = field(default_factory=list)
    items: AddReport = field(default_factory=AddReport)

    @property
    def ok(self) -> bool:
        return self.items.ok and all(f.status != "error" for f in self.feeds)

    def to_json(self) -> dict:
        feeds = [{"feed": f.feed, "status": f.status, "new_items": f.new_items,
                  "error": f.error} for f in self.feeds]
        return {"feeds": feeds, **self.items.to_json()}


@dataclass(frozen=True, slots=True)
class _Ready:
    """An item checked and ready to save: ``data`` goes to ``seeds/<rel>``."""

    item: str
    rel: str
    data: bytes
    sha256: str
    source: str
    extracted: Extracted
    passages: int
    write: bool = True


IndexFn = Callable[[Sequence[str]], IndexReport]


class Intake:
    """Adds links, files and feed items to ``seeds`` and indexes them (one batch at a time:
    each batch ends in an index run, and one process holds the index lock at a time)."""

    def __init__(self, seeds: Path, ledger: Ledger, index: IndexFn, chunker: Chunker,
                 fetch_options: FetchOptions, max_file_bytes: int) -> None:
        self.seeds = seeds
        self.ledger = ledger
        self._index = index
        self.chunker = chunker
        self.max_file_bytes = max_file_bytes
        self.fetcher = Fetcher(fetch_options)
        self._batch = threading.Lock()

    # --- adding --------------------------------------------------------------------------

    def add(self, items: Sequence[str], folder: str = "files") -> AddReport:
        """Add each item: an http(s) URL is fetched, anything else is a local file copied
        into ``seeds/<folder>/`` (a file already in seeds is indexed where it is)."""
        prepared = [self._prepare(item, folder) for item in items]
        outcomes, index = self._commit(prepared)
        return AddReport.of(outcomes, index)

    def add_file(self, name: str, data: bytes, folder: str = "telegram") -> AddReport:
        """Add a file received as bytes (a document sent to the bot)."""
        try:
            prepared = self._prepare_bytes(name, _safe_name(name), data, folder)
        except KhabarError as exc:
            prepared = Failed(name, str(exc))
        outcomes, index = self._commit([prepared])
        return AddReport.of(outcomes, index)

    @staticmethod
    def refusal(name: str) -> str | None:
        """Why a file of this name cannot be added (its type), before it is even read."""
        try:
            _safe_name(name)
        except IntakeError as exc:
            return str(exc)
        return None

    def _prepare(self, item: str, folder: str) -> _Ready | Outcome:
        try:
            if _URL.match(item.strip()):
                return self._prepare_link(item.strip())
            return self._prepare_path(item, folder)
        except KhabarError as exc:
            return Failed(item, str(exc))
        except OSError as exc:
            return Failed(item, exc.strerror or type(exc).__name__)

    def _prepare_link(self, url: str) -> _Ready | Outcome:
        fetched = self.fetcher.get(url, PAGE_TYPES)
        sha = _sha256(fetched.data)
        if known := self._known(sha):
            return Unchanged(url, known)
        if fetched.content_type == "application/pdf":
            suffix, data = ".pdf", saved_pdf(fetched.data, fetched.final_url)
        else:
            suffix, data = ".html", saved_page(fetched.data, fetched.final_url, fetched.charset)
        extracted = self._check("page" + suffix, data)
        canonical = extracted.documents[0].url or fetched.final_url
        rel = _page_path(canonical, suffix)
        if (self.seeds / rel).is_file():
            return Unchanged(url, rel)
        return self._ready(url, rel, data, sha, canonical, extracted)

    def _prepare_path(self, item: str, folder: str) -> _Ready | Outcome:
        path = Path(item).expanduser()
        if not path.is_file():
            raise IntakeError("no such file" if not path.exists() else "not a regular file")
        if path.stat().st_size > self.max_file_bytes:
            raise IntakeError(self._too_large())
        data = path.read_bytes()
        seeds = self.seeds.resolve()
        if path.resolve().is_relative_to(seeds):
            rel = path.resolve().relative_to(seeds).as_posix()
            if not is_article(rel):
                raise IntakeError(_unsupported(path.name))
            if self.ledger.file_with(_sha256(data)) == rel:
                return Unchanged(item, rel)
            return self._ready(item, rel, data, _sha256(data), item,
                               self._check(rel, data), write=False)
        return self._prepare_bytes(item, _safe_name(path.name), data, folder)

    def _prepare_bytes(self, item: str, name: str, data: bytes, folder: str) -> _Ready | Outcome:
        if len(data) > self.max_file_bytes:
            raise IntakeError(self._too_large())
        sha = _sha256(data)
        if known := self._known(sha):
            return Unchanged(item, known)
        extracted = self._check(name, data)
        stem, suffix = name[:-len(PurePosixPath(name).suffix)], PurePosixPath(name).suffix
        for n in range(1, 1000):
            rel = f"{folder}/{stem}{f'-{n}' if n > 1 else ''}{suffix}"
            target = self.seeds / rel
            if not target.exists():
                return self._ready(item, rel, data, sha, item, extracted)
            if target.is_file() and _sha256(target.read_bytes()) == sha:
                return Unchanged(item, rel)
        raise IntakeError(f"too many files named {name} in seeds/{folder}")

    def _check(self, name: str, data: bytes) -> Extracted:
        """The file read as the indexer will read it; raises with the reason it cannot be."""
        extracted = read_articles(name, data)
        if not extracted.documents:
            reason = extracted.problems[0][1] if extracted.problems else "no articles in it"
            raise IntakeError(reason)
        return extracted

    def _ready(self, item: str, rel: str, data: bytes, sha: str, source: str,
               extracted: Extracted, *, write: bool = True) -> _Ready | Failed:
        if len(data) > self.max_file_bytes:
            return Failed(item, self._too_large())
        passages = sum(1 for d in extracted.documents for _ in self.chunker.passages(d))
        if not passages:
            return Failed(item, "no article text found after cleaning")
        return _Ready(item, rel, data, sha, source, extracted, passages, write)

    def _known(self, sha: str) -> str | None:
        """The seeds file already holding these bytes, if it is still there."""
        rel = self.ledger.file_with(sha)
        return rel if rel and (self.seeds / rel).is_file() else None

    def _too_large(self) -> str:
        return f"larger than the {self.max_file_bytes:,}-byte limit (KHABAR_MAX_FILE_BYTES)"

    def _commit(self, prepared: Sequence[_Ready | Outcome],
                ) -> tuple[list[Outcome], IndexReport | None]:
        """Save the ready items, index them with the unchanged ones (which may not be indexed
        yet: a run that failed, a file saved by hand), and say what became of each."""
        with self._batch:
            outcomes: list[_Ready | Outcome] = []
            for p in prepared:
                if isinstance(p, _Ready) and p.write:
                    try:
                        _write(self.seeds / p.rel, p.data)
                    except OSError as exc:
                        p = Failed(p.item, f"cannot save {p.rel}: {exc.strerror or exc}")
                outcomes.append(p)
            files = [o.rel if isinstance(o, _Ready) else o.path for o in outcomes
                     if isinstance(o, _Ready | Unchanged)]
            if not files:
                return [o for o in outcomes if not isinstance(o, _Ready)], None
            try:
                index = self._index(files)
            except KhabarError as exc:
                return [Failed(o.item, f"saved as {o.rel} but not indexed: {exc}")
                        if isinstance(o, _Ready) else o for o in outcomes], None
            refused = {s.path: s.reason for s in index.skipped}
            done: list[Outcome] = []
            for o in outcomes:
                if not isinstance(o, _Ready):
                    done.append(o)
                elif o.rel in refused:
                    if o.write:
                        (self.seeds / o.rel).unlink(missing_ok=True)
                    done.append(Failed(o.item, refused[o.rel]))
                else:
                    self.ledger.remember(o.sha256, o.rel, o.source)
                    done.append(_added(o))
            log.info("intake", extra={"added": sum(isinstance(o, Added) for o in done),
                                      "failed": sum(isinstance(o, Failed) for o in done),
                                      "embedded_passages": index.embedded_passages})
            return done, index

    # --- feeds ---------------------------------------------------------------------------

    def poll(self, feeds: Sequence[str]) -> PollReport:
        """Poll each feed once and add its new items; one broken feed or page never stops
        the others."""
        report = PollReport()
        outcomes: list[Outcome] = []
        index: IndexReport | None = None
        for feed in feeds:
            result, got, ran = self._poll_feed(feed)
            report.feeds.append(result)
            outcomes += got
            index = ran or index
        report.items = AddReport.of(outcomes, index)
        return report

    def status(self, feeds: Sequence[str]) -> list[FeedResult]:
        """Each feed's last poll, as remembered in the ledger."""
        return [FeedResult.of(self.ledger.feed(feed)) for feed in feeds]

    def _poll_feed(self, feed: str) -> tuple[FeedResult, list[Outcome], IndexReport | None]:
        state = self.ledger.feed(feed)
        now = time.time()
        try:
            fetched = self.fetcher.get(feed, FEED_TYPES, etag=state.etag,
                                       modified=state.modified)
            if fetched.not_modified:
                return self._polled(state, now, "not modified"), [], None
            parsed = parse_feed(fetched)
        except (FetchError, FeedError) as exc:
            log.warning("feed_failed", extra={"feed": feed, "error": str(exc)})
            return self._polled(state, now, "error", error=str(exc)), [], None
        fresh = set(self.ledger.unsettled(feed, [i.id for i in parsed.items]))
        items = [i for i in parsed.items if i.id in fresh]
        outcomes, index = self._commit([self._prepare(i.link, "files") for i in items])
        pending = False
        for item, outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, Failed):
                pending |= not self.ledger.failed(feed, item.id)
            else:
                self.ledger.settle(feed, item.id)
        new = sum(isinstance(o, Added) for o in outcomes)
        # Validators are kept only once every item is settled: otherwise the next poll would
        # be told "not modified" and never retry the items that failed.
        if not pending:
            state = FeedState(feed, fetched.etag, fetched.last_modified)
        log.info("feed_polled", extra={"feed": feed, "items": len(parsed.items),
                                       "new": new, "pending": pending})
        status = "new items" if new else "no new items"
        return self._polled(state, now, status, new, parsed.warning), outcomes, index

    def _polled(self, state: FeedState, now: float, status: str, new: int = 0,
                error: str | None = None) -> FeedResult:
        saved = FeedState(state.url, state.etag, state.modified, now, status, new, error)
        self.ledger.save_feed(saved)
        return FeedResult.of(saved)


def _added(ready: _Ready) -> Added:
    docs = ready.extracted.documents
    first = docs[0]
    return Added(ready.item, ready.rel, first.title, first.outlet, first.date, first.url,
                 ready.passages, len(docs))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all; the half-written file is hidden, so an indexer or
    watcher running meanwhile never reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _page_path(url: str, suffix: str) -> str:
    """``<site>/<slug>-<hash>.<suffix>`` for a page's canonical URL: one name per URL."""
    parts = urlsplit(url)
    site = (parts.hostname or "unknown").lower().removeprefix("www.")
    site = re.sub(r"[^\w.-]", "_", site).strip(".") or "unknown"
    segments = [s for s in unquote(parts.path).split("/") if s.strip()]
    slug = _PAGE_SUFFIXES.sub("", segments[-1]) if segments else ""
    slug = re.sub(r"[\W_]+", "-", slug).strip("-")[:_SLUG_CHARS].strip("-") or "page"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    return f"{site}/{slug}-{digest}{suffix}"


def _safe_name(name: str) -> str:
    """A file name from elsewhere made safe to write in seeds: its last component only, no
    control or direction characters (a ZWNJ stays: Persian names need it), not hidden."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = "".join(ch for ch in base if ch in " \u200c"
                   or unicodedata.category(ch)[0] not in "CZ").strip(" .")
    if not is_article(base):
        raise IntakeError(_unsupported(base or name))
    suffix = PurePosixPath(base).suffix
    return base[:-len(suffix)][:_NAME_CHARS].strip(" .") + suffix.lower()


def _unsupported(name: str) -> str:
    shown = name if len(name) <= 60 else name[:59] + "…"
    return (f"{shown!r} is not a file type Khabar reads (it reads "
            f"{' '.join(ARTICLE_SUFFIXES)})")
