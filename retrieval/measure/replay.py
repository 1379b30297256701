"""``khabar replay``: how well following a story works, measured on a real archive.

A set directory's ``corpus/`` is fed into an empty seeds folder in publication order (a day's
articles at a time, by the dates indexing itself reads from them), each day indexed through
the real path (``Khabar.index``, which matches new articles against followed topics). The
topics (``{"id", "lang", "topic", "groups"}`` lines) are followed before the first article
arrives; a topic's story is the articles of its ``groups`` in ``selection.json``.

Scored: every article a topic matched (its alerts, and the later wire copies named under
them) against the story's articles, as precision and recall; every alert's snippet checked to
be the exact span of its article; and the time matching took beside indexing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from khabar.retrieval.config import DEFAULTS, EngineConfig
from khabar.retrieval.engine import Khabar
from khabar.retrieval.errors import KhabarError
from khabar.retrieval.follow.store import topic_key
from khabar.retrieval.ingest.formats import read_articles
from khabar.retrieval.normalize import asks_something


class ReplaySetError(KhabarError):
    """A replay set or topics file that cannot be used as given."""


@dataclass
class ReplayResult:
    topics: int
    articles: int
    days: int
    matched: int
    correct: int
    story_articles: int
    found: int
    alerts: int
    exact_spans: int
    index_seconds: float
    match_seconds: float
    per_topic: list[dict] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.matched if self.matched else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.story_articles if self.story_articles else 1.0

    def to_json(self) -> dict:
        return {
            "topics": self.topics, "articles": self.articles, "days": self.days,
            "precision": round(self.precision, 3), "recall": round(self.recall, 3),
            "matched": self.matched, "correct": self.correct,
            "story_articles": self.story_articles, "found": self.found,
            "alerts": self.alerts, "exact_spans": self.exact_spans,
            "index_seconds": round(self.index_seconds, 1),
            "match_seconds": round(self.match_seconds, 2), "per_topic": self.per_topic,
        }


def load_topics(path: Path) -> list[dict]:
    topics = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            topics.append({k: item[k] for k in ("id", "topic", "groups")})
        except (ValueError, KeyError, TypeError):
            raise ReplaySetError(f"{path}:{n}: not a topic line; each line is "
                                 '{"id", "lang", "topic", "groups": [...]}') from None
    return topics


def publication_days(corpus: Path) -> list[tuple[str, list[str]]]:
    """The corpus files grouped by the date indexing reads from them, oldest day first;
    undated files come last, one at a time."""
    dated: dict[str, list[str]] = defaultdict(list)
    undated: list[str] = []
    for path in sorted(corpus.glob("*.txt")):
        docs = read_articles(path.name, path.read_bytes()).documents
        day = min((d.date for d in docs if d.date), default=None)
        (dated[day] if day else undated).append(path.name)
    return sorted(dated.items()) + [("", [name]) for name in undated]


def replay(set_dir: Path, topics_file: Path, config: EngineConfig = DEFAULTS,
           progress: Callable[[int, int], None] | None = None) -> ReplayResult:
    corpus, selection = set_dir / "corpus", set_dir / "selection.json"
    if not corpus.is_dir() or not selection.is_file():
        raise ReplaySetError(f"{set_dir} needs corpus/ and selection.json (see its SOURCES.md "
                             "for how to build the corpus)")
    group_of = {r["file"]: r["group"] for r in json.loads(selection.read_text("utf-8"))}
    topics = load_topics(topics_file)
    days = publication_days(corpus)
    work = Path(tempfile.mkdtemp(prefix="khabar-replay-"))
    seeds = work / "seeds"
    seeds.mkdir()
    engine = Khabar(work / "index", seeds=seeds, embedder=config.embedder, config=config)
    try:
        chats = {}
        for t in topics:
            chat = f"replay:{t['id']}"
            chats[engine.follow(chat, t["topic"]).id] = t
        index_s = match_s = 0.0
        for done, (_, names) in enumerate(days):
            for name in names:
                shutil.copy2(corpus / name, seeds / name)
            started = time.perf_counter()
            engine.indexer.run(seeds)
            indexed = time.perf_counter()
            engine.match_follows()
            index_s += indexed - started
            match_s += time.perf_counter() - indexed
            if progress:
                progress(done + 1, len(days))
        return _score(engine, topics, chats, group_of, len(days), index_s, match_s)
    finally:
        engine.close()
        shutil.rmtree(work, ignore_errors=True)


def _score(engine: Khabar, topics: list[dict], chats: dict[int, dict],
           group_of: dict[str, str], days: int, index_s: float,
           match_s: float) -> ReplayResult:
    store = engine.follows
    matched: dict[int, set[str]] = defaultdict(set)
    alerts = exact = 0
    for topic_id in chats:
        for m in store.matches_since(f"replay:{chats[topic_id]['id']}", 0):
            matched[topic_id].add(m.path)
            article = engine.article(m.path)
            c = m.citation
            exact += article is not None and article.text[c["start"]:c["end"]] == c["snippet"]
    alerts = len(store.pending("replay:", limit=1_000_000))
    per_topic = []
    total_matched = correct = story_total = found = 0
    for topic_id, t in chats.items():
        story = {f for f, g in group_of.items() if g in t["groups"]}
        got = matched[topic_id]
        total_matched += len(got)
        correct += len(got & story)
        story_total += len(story)
        found += len(got & story)
        per_topic.append({"id": t["id"], "story": len(story), "matched": len(got),
                          "correct": len(got & story),
                          "wrong": sorted(got - story), "missed": sorted(story - got)})
    return ReplayResult(len(topics), len(group_of), days, total_matched, correct, story_total,
                        found, alerts, exact, index_s, match_s, per_topic)


@dataclass(frozen=True, slots=True)
class CostResult:
    """Indexing the same new articles without topics and with ``topics`` followed."""

    articles: int
    topics: int
    without_s: float
    with_s: float
    alerts: int

    @property
    def ratio(self) -> float:
        return self.with_s / self.without_s

    def to_json(self) -> dict:
        return {"articles": self.articles, "topics": self.topics,
                "without_seconds": round(self.without_s, 2),
                "with_seconds": round(self.with_s, 2), "ratio": round(self.ratio, 3),
                "alerts": self.alerts}


def synthetic_topics(corpus: Path, n: int) -> list[str]:
    """``n`` distinct topics a reader might follow: runs of three to six words from the
    corpus's titles and opening lines, so that many of them do match."""
    words: list[list[str]] = []
    for path in sorted(corpus.glob("*.txt")):
        for doc in read_articles(path.name, path.read_bytes()).documents:
            body = doc.text[doc.blocks[0].start:doc.blocks[0].end] if doc.blocks else ""
            for line in (doc.title or "", body[:300]):
                if line.split():
                    words.append(line.split())
    topics: dict[str, str] = {}  # by ``topic_key``: what one chat cannot follow twice
    size = 3
    while len(topics) < n and size <= 12:
        for w in words:
            for i in range(0, max(1, len(w) - size + 1), size):
                text = " ".join(w[i:i + size])
                if asks_something(text):
                    topics.setdefault(topic_key(text), text)
        size += 1
    if len(topics) < n:
        raise ReplaySetError(f"{corpus} gives only {len(topics)} distinct topics; {n} wanted")
    return list(topics.values())[:n]


def matching_cost(set_dir: Path, topics: int = 1000, articles: int = 100,
                  config: EngineConfig = DEFAULTS) -> CostResult:
    """Index the corpus's last ``articles`` files (in publication order) onto an index of the
    rest, once with no topic followed and once with ``topics``; same machine, same run."""
    corpus = set_dir / "corpus"
    names = [name for _, day in publication_days(corpus) for name in day]
    if len(names) <= articles:
        raise ReplaySetError(f"{corpus} has {len(names)} articles; more than {articles} needed")
    base, new = names[:-articles], names[-articles:]
    texts = synthetic_topics(corpus, topics)
    work = Path(tempfile.mkdtemp(prefix="khabar-cost-"))
    try:
        seeds = work / "seeds"
        seeds.mkdir()
        for name in base:
            shutil.copy2(corpus / name, seeds / name)
        Khabar(work / "base", seeds=seeds, embedder=config.embedder, config=config).index()
        timings = {}
        alerts = 0
        for label, follow in (("without", []), ("with", texts)):
            run = work / label
            shutil.copytree(seeds, run / "seeds")
            shutil.copytree(work / "base", run / "index")
            engine = Khabar(run / "index", seeds=run / "seeds", embedder=config.embedder,
                            config=config.model_copy(update={"max_topics_per_chat": 1000}))
            for i, text in enumerate(follow):
                engine.follow(f"cost:{i // 1000}", text)
            for name in new:
                shutil.copy2(corpus / name, run / "seeds" / name)
            started = time.perf_counter()
            engine.index()
            timings[label] = time.perf_counter() - started
            if follow:
                alerts = len(engine.follows.pending("cost:", limit=1_000_000))
            engine.close()
        return CostResult(len(new), len(texts), timings["without"], timings["with"], alerts)
    finally:
        shutil.rmtree(work, ignore_errors=True)
