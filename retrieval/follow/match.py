"""New articles against every followed topic, in one batch.

After an index run, the articles no matching has looked at are read from the new generation
with their passage vectors (computed by indexing, never again here), and scored against all
topic vectors at once: one matrix product, so the cost grows with passages + topics, not with
their product's Python loops.

A passage belongs to a topic when its cosine to the topic, less the topic's pull toward the
passage's language, is at least ``min_score``. The pull is what makes one threshold hold
across languages: an English topic sits about 0.05 closer to every English passage than to any
Arabic one, relevant or not. It is the topic's cosine to the mean of a built-in sample of
news-like text in that language (``background.txt``), not to the index's own mean passage as
``retrieve`` reads it: with a handful of articles that mean is those articles, and a story's
first report would never pass; with the sample, whether an article matches does not depend on
what else happens to be indexed. A language the sample lacks falls back to the index's mean.
Measured on the archive's 30 stories (dev) and checked on the held-out archive's 21 (see
``docs/follow.md``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from khabar.retrieval.follow.store import FollowStore, NewMatch, Topic
from khabar.retrieval.index.backend import Generation
from khabar.retrieval.index.records import StoredPassage
from khabar.retrieval.normalize import same_story, shingles
from khabar.retrieval.types import Citation, page_at

log = logging.getLogger(__name__)
# The longest snippet an alert quotes: the matching sentence, cut at a word if longer.
SNIPPET_CHARS = 500

BACKGROUND = Path(__file__).with_name("background.txt")
# Background vectors by embedder and sample, made once per process (or read from the follows
# file, where the indexing process keeps them).
_BACKGROUNDS: dict[str, dict[str, np.ndarray]] = {}
# The follows files known to keep them already.
_KEPT_IN: set[tuple[str, Path]] = set()

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class MatchReport:
    """One matching run: articles looked at, topics, and alerts queued."""

    articles: int
    topics: int
    matches: int
    alerts: int


def match_new(generation: Generation, store: FollowStore, spec: str, embed: Embed,
              embed_passages: Embed, min_score: float) -> MatchReport:
    """Match the articles of ``generation`` no earlier run looked at against every topic and
    queue an alert per new story of each topic (``FollowStore.baseline`` noted what was
    indexed before the first topic, so the archive itself never alerts)."""
    paths = [d.path for d in generation.store.documents()]
    unseen = store.unseen(paths)
    if not unseen:
        return MatchReport(0, 0, 0, 0)
    topics, matrix = topic_matrix(store, spec, embed)
    if not topics:
        store.record(unseen, [])
        return MatchReport(len(unseen), 0, 0, 0)
    found = find(generation, unseen, topics, matrix, min_score,
                 background(spec, embed_passages, store))
    alerts = store.record(unseen, found, same_story)
    return MatchReport(len(unseen), len(topics), len(found), len(alerts))


def topic_matrix(store: FollowStore, spec: str, embed: Embed) -> tuple[list[Topic], np.ndarray]:
    """Every topic's query vector, made again for topics an earlier embedder made."""
    topics, matrix, stale = store.vectors(spec)
    if stale:
        vectors = embed([t.text for t in stale])
        for topic, vector in zip(stale, vectors, strict=True):
            store.set_vector(topic.id, spec, vector)
        topics, matrix, _ = store.vectors(spec)
    return topics, matrix


def background(spec: str, embed_passages: Embed,
               store: FollowStore | None = None) -> dict[str, np.ndarray]:
    """Each background language's mean passage vector under embedder ``spec``: made once per
    process, or read from ``store``, which keeps it for the other processes."""
    sections = _background_sections()
    key = f"{spec}:{_background_digest()}"
    kept = _BACKGROUNDS.get(key)
    shared = store is not None and store.exists
    if kept is None and shared:
        kept = store.background(key)
        if kept is not None:
            _BACKGROUNDS[key] = kept
            _KEPT_IN.add((key, store.path))
    if kept is None:
        vectors = embed_passages([t for lines in sections.values() for t in lines])
        kept, at = {}, 0
        for lang, lines in sections.items():
            kept[lang] = vectors[at:at + len(lines)].mean(axis=0).astype(np.float32)
            at += len(lines)
        _BACKGROUNDS[key] = kept
    if shared and (key, store.path) not in _KEPT_IN:
        if store.background(key) is None:
            store.set_background(key, kept)
        _KEPT_IN.add((key, store.path))
    return kept


@functools.cache
def _background_sections() -> dict[str, list[str]]:
    """``background.txt`` read once: its paragraphs by language."""
    sections: dict[str, list[str]] = {}
    lang = None
    for line in BACKGROUND.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            lang = header[1]
        elif lang is not None:
            sections.setdefault(lang, []).append(line)
    return sections


@functools.cache
def _background_digest() -> str:
    """Which sample made kept vectors: one edited makes them again."""
    return hashlib.sha256(BACKGROUND.read_bytes()).hexdigest()[:16]


def pulls(generation: Generation, matrix: np.ndarray,
          background: dict[str, np.ndarray]) -> dict[str | None, np.ndarray]:
    """Each topic's cosine to each language's mean passage: the background sample's where it
    has the language, the index's own otherwise."""
    out: dict[str | None, np.ndarray] = {}
    for lang, centroid in generation.centroids().items():
        out[lang] = matrix @ background.get(lang, centroid)
    return out


def find(generation: Generation, paths: Sequence[str], topics: Sequence[Topic],
         matrix: np.ndarray, min_score: float,
         background: dict[str, np.ndarray]) -> list[NewMatch]:
    """The (topic, article) pairs among ``paths`` that pass, each with its best passage's
    best sentence as the citation; articles in date order, so a story's first report is the
    one that alerts and later wire copies join it."""
    ids = generation.store.passage_ids(paths)
    flat = [(path, pid) for path in paths for pid in ids.get(path, ())]
    if not flat:
        return []
    vectors = generation.store.passage_vectors([pid for _, pid in flat])
    flat = [(path, pid) for path, pid in flat if pid in vectors]
    rows = generation.store.passage_rows([pid for _, pid in flat])
    pull = pulls(generation, matrix, background)
    scores = np.stack([vectors[pid] for _, pid in flat]) @ matrix.T
    langs = [rows[pid].lang if pid in rows else None for _, pid in flat]
    for lang in set(langs):
        if lang in pull:
            scores[[i for i, x in enumerate(langs) if x == lang]] -= pull[lang]
    best: dict[tuple[int, str], tuple[float, int]] = {}
    for i, j in zip(*np.nonzero(scores >= min_score), strict=True):
        path, pid = flat[i]
        key = (int(j), path)
        if key not in best or scores[i, j] > best[key][0]:
            best[key] = (float(scores[i, j]), pid)
    if not best:
        return []
    passages = generation.store.passages(sorted({pid for _, pid in best.values()}))
    sentences: dict[int, list] = {}
    for s in generation.store.sentences(sorted(passages)):
        sentences.setdefault(s.passage_id, []).append(s)
    out = []
    for (j, path), (score, pid) in best.items():
        p = passages.get(pid)
        if p is None:
            continue
        start, end = best_sentence(p, sentences.get(pid, []), matrix[j])
        out.append(NewMatch(topics[j].id, path, p.doc.date, shingles(p.norm),
                            citation(p, start, end, score)))
    out.sort(key=lambda m: (m.date or "9999", m.path, m.topic_id))
    return out


def citation(p: StoredPassage, start: int, end: int, score: float) -> dict:
    """A cited snippet as answers cite them (``Citation``'s fields; the passage id lets a
    chat show the snippet in its passage, the HTTP API leaves it out)."""
    cited = Citation(n=1, doc=p.doc.path, title=p.doc.title, outlet=p.doc.outlet,
                     date=p.doc.date, url=p.doc.url, snippet=p.doc_text[start:end],
                     start=start, end=end, score=score, passage_id=p.id,
                     page=page_at(p.doc_text, start))
    data = asdict(cited)
    data["also_in"] = []  # a list: wire copies are named here as they are found
    data["score"] = round(score, 4)
    return data


def best_sentence(p: StoredPassage, sentences: Sequence, vector: np.ndarray,
                   ) -> tuple[int, int]:
    """The passage's sentence closest to the topic, cut at a word to ``SNIPPET_CHARS``."""
    if sentences:
        scores = np.stack([s.vector for s in sentences]) @ vector
        s = sentences[int(np.argmax(scores))]
        start, end = s.start, s.end
    else:
        start, end = p.start, p.end
    if end - start > SNIPPET_CHARS:
        cut = p.doc_text.rfind(" ", start, start + SNIPPET_CHARS)
        end = cut if cut > start + SNIPPET_CHARS // 2 else start + SNIPPET_CHARS
    return start, end
