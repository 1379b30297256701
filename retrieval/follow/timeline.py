"""A story's timeline: its dated articles in date order, one cited sentence each.

The story is what a followed topic would have been alerted about: the passages that pass the
same test as alerts (``match``), found by the vector index rather than a scan, so a timeline
costs one search at any size. Wire copies are one entry naming the other outlets; relative
dates in the chosen sentence ("yesterday", "last Tuesday") are resolved against the article's
date, as answers resolve them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from khabar.retrieval.dates import mentions
from khabar.retrieval.follow.match import best_sentence, citation, pulls
from khabar.retrieval.follow.store import name_copy
from khabar.retrieval.index.backend import Generation
from khabar.retrieval.normalize import normalize, same_story, shingles

# How many passages a timeline looks at: enough for a story told by a hundred articles.
SEARCH_DEPTH = 400


@dataclass(frozen=True, slots=True)
class Entry:
    """One article of the story: its date, the sentence cited (``Citation``'s JSON, with the
    other outlets of the same wire copy in ``also_in``) and the dates that sentence names."""

    date: str
    citation: dict
    dates: tuple[dict, ...] = ()


@dataclass(frozen=True, slots=True)
class Timeline:
    """``topic`` as a story: its dated entries, oldest first, and how many articles of it
    carry no date (left off the axis)."""

    topic: str
    entries: tuple[Entry, ...]
    undated: int = 0

    def to_json(self) -> dict:
        return {"topic": self.topic, "undated": self.undated,
                "entries": [{"date": e.date, "citation": e.citation, "dates": list(e.dates)}
                            for e in self.entries]}


def build(generation: Generation, topic: str, vector: np.ndarray, min_score: float,
          background: dict[str, np.ndarray], limit: int = 50) -> Timeline:
    """The timeline of ``topic`` (its query ``vector``) over ``generation``."""
    hits = generation.vectors.search(vector, SEARCH_DEPTH)
    rows = generation.store.passage_rows([pid for pid, _ in hits])
    pull = {lang: float(v[0]) for lang, v in
            pulls(generation, vector.reshape(1, -1), background).items()}
    best: dict[str, tuple[float, int]] = {}
    passing = [(pid, score - pull.get(rows[pid].lang, 0.0)) for pid, score in hits
               if pid in rows]
    passing = [(pid, s) for pid, s in passing if s >= min_score]
    passages = generation.store.passages([pid for pid, _ in passing])
    for pid, score in passing:
        p = passages.get(pid)
        if p is not None and (p.doc.path not in best or score > best[p.doc.path][0]):
            best[p.doc.path] = (score, pid)
    chosen = [passages[pid] for _, pid in best.values()]
    sentences: dict[int, list] = {}
    for s in generation.store.sentences([p.id for p in chosen]):
        sentences.setdefault(s.passage_id, []).append(s)
    chosen.sort(key=lambda p: (p.doc.date or "9999", p.doc.path))
    kept: list[tuple[frozenset, dict]] = []
    undated = 0
    for p in chosen:
        words = shingles(p.norm)
        twin = next((c for w, c in kept if same_story(w, words)), None)
        start, end = best_sentence(p, sentences.get(p.id, []), vector)
        cited = citation(p, start, end, best[p.doc.path][0])
        if twin is not None:
            name_copy(twin, cited)
            continue
        if not p.doc.date:
            undated += 1
            continue
        kept.append((words, cited))
    entries = [Entry(c["date"], c, _dates(c["snippet"], c["date"])) for _, c in kept]
    return Timeline(topic, tuple(entries[-limit:]), undated)


def _dates(text: str, published: str | None) -> tuple[dict, ...]:
    """The dates a sentence names that its words do not spell out ("yesterday")."""
    return tuple({"text": m.text, "date": m.resolved + (f"/{m.until}" if m.until else "")}
                 for m in mentions(text, published) if m.resolved not in m.text)


# Asking for a story's course rather than a fact: "timeline of ...", "تسلسل الأحداث ...",
# "سیر رویدادهای ...", and "what happened in this story?" (the story then is the one the
# conversation was about).
_CUES = [
    r"(?:what is |what's |give me |show me )?(?:the )?(?:timeline|chronology)(?: of| for)?",
    r"what (?:has )?happened (?:in|with|to) (?:this|that|the) story",
    r"how did (?:this|that|the) story unfold",
    r"(?:ما |اعرض |أعطني )?(?:هو )?(?:تسلسل|التسلسل الزمني ل|الجدول الزمني ل)"
    r"(?:\s*(?:ال)?(?:أحداث|احداث))?",
    r"ماذا حدث في (?:هذه|تلك) القصة",
    r"(?:سیر|روند|گاه‌?شمار|خط زمانی)(?: رویدادها| رویدادهای| وقایع| اتفاقات)?(?:ی)?",
    r"در این (?:ماجرا|داستان|خبر) چه (?:گذشت|اتفاقی افتاد)",
]
_CUE = re.compile(r"^\s*(?:" + "|".join(_CUES) + r")\s*", re.IGNORECASE)
_THIS_STORY = re.compile(
    r"^(?:this|that|the) story$|^(?:هذه|تلك) القصة$|^(?:این|آن) (?:ماجرا|داستان|خبر)$|^$")


def timeline_topic(question: str, history: Sequence[str] = ()) -> str | None:
    """The story a question asks the timeline of, or None for any other question: the words
    after the cue, or the conversation's last question when it says "this story"."""
    m = _CUE.match(question)
    if m is None:
        return None
    rest = question[m.end():].strip(" ?؟.!:،,")
    rest = re.sub(r"^(?:في|في |از|of|for)\s+", "", rest).strip()
    if _THIS_STORY.match(normalize(rest) if rest else ""):
        earlier = [h for h in history if h.strip()]
        return earlier[-1] if earlier else None
    if not rest and m.end() < len(question.strip()):
        return None
    return rest or None
