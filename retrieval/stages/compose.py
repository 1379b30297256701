"""The compose stage: the extractive answer, its citations and the found/not-found decision.

The rerank stage has ordered the passages and scored their sentences; this stage takes the best
one or two, quotes them verbatim, numbers the citations (one per story: wire copies are named
as ``also_in``), cuts each snippet as an exact span of its article, and abstains, saying so
plainly, when even the best evidence is weak relative to what a real match in this corpus looks
like. It reads nothing; it only chooses and formats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from khabar.retrieval.dates import Mention, mentions
from khabar.retrieval.index.records import StoredPassage
from khabar.retrieval.normalize import same_story, shingles
from khabar.retrieval.stages.rerank.base import Ranking
from khabar.retrieval.stages.retrieve import Retrieved
from khabar.retrieval.strings import say
from khabar.retrieval.types import Citation, Query, ScoredSentence, Source, page_at

SNIPPET_CHARS = 500
_SPACE = re.compile(r"\s")
@dataclass(frozen=True, slots=True)
class ComposeOptions:
    """Answer length and abstention; every default was measured (docs/experiments.md)."""

    # Two sentences, not one: on every dev set the second-best sentence often holds the answer
    # (docs/experiments.md: "always two sentences").
    max_sentences: int = 2
    # Evidence = best passage cosine, + a bonus when question and passage are in different
    # scripts (e5 scores cross-lingual matches ~0.06 lower), - a penalty for the share of the
    # question's words the corpus never uses. Below the cut the corpus does not cover it.
    cross_script_bonus: float = 0.10
    unseen_penalty: float = 0.05
    abstain_below: float = 0.80
    # ... and below this one when the first passage holds every word of the question
    # (``Retrieved.covered``). Short questions ("من هو X؟", "X کیست؟") score lower cosines
    # than long ones: at 0.80, 20-55% of those the articles answer were declined
    # (eval/conv/short-*.jsonl). Covered and declined at 0.80, the answerable ones scored
    # 0.776-0.798, and one unanswerable question of all dev sets scores above 0.75
    # (docs/experiments.md).
    covered_below: float = 0.75


@dataclass(frozen=True, slots=True)
class Composed:
    found: bool
    answer: str
    citations: tuple[Citation, ...]


def evidence(query: Query, retrieved: Retrieved, options: ComposeOptions) -> float:
    """How strongly the closest passage supports an answer, comparable across languages."""
    best = retrieved.closest
    if best is None:
        return 0.0
    cross = query.script != retrieved.passages[best.passage_id].script
    return (best.dense + options.cross_script_bonus * cross
            - options.unseen_penalty * retrieved.unseen)


def compose(query: Query, retrieved: Retrieved, ranking: Ranking,
            options: ComposeOptions) -> Composed:
    """Pick answer sentences from the ranking and build the citation list."""
    not_found = say("not_found", query.lang)
    hits = ranking.hits
    if not hits:
        return Composed(False, not_found, ())
    passages = retrieved.passages
    chosen = ranking.sentences[:options.max_sentences]
    needed = (min(options.covered_below, options.abstain_below)
              if retrieved.covered(hits[0].passage_id) else options.abstain_below)
    found = bool(chosen) and evidence(query, retrieved, options) >= needed

    order: list[int] = []
    for s in chosen if found else ():
        if s.passage_id not in order:
            order.append(s.passage_id)
    order += [h.passage_id for h in hits if h.passage_id not in order]
    scores = {h.passage_id: h.score for h in hits}
    focus = {s.passage_id: s for s in reversed(chosen)} if found else {}
    kept: list[tuple[int, frozenset[tuple[str, ...]], list[Source]]] = []
    for pid in order:
        p = passages.get(pid)
        if p is None:
            continue
        words = shingles(p.norm)
        twin = next((k for k in kept if same_story(k[1], words)), None)
        if twin is not None:  # one agency story told by another outlet: cite it once
            named = {passages[twin[0]].doc.path, *(source.doc for source in twin[2])}
            if p.doc.path not in named:
                twin[2].append(Source(p.doc.path, p.doc.title, p.doc.outlet, p.doc.date))
            continue
        kept.append((pid, words, []))
    citations = []
    for pid, _, also in kept:
        p = passages[pid]
        start, end = _snippet_span(p, focus.get(pid))
        citations.append(Citation(
            n=len(citations) + 1, doc=p.doc.path, title=p.doc.title, outlet=p.doc.outlet,
            date=p.doc.date, url=p.doc.url, snippet=p.doc_text[start:end], start=start, end=end,
            score=scores[pid], passage_id=pid, also_in=tuple(also),
            page=page_at(p.doc_text, start),
        ))
    if not found:
        return Composed(False, not_found, tuple(citations))
    number = {c.passage_id: c.n for c in citations}
    parts = []
    dated: list[tuple[Mention, str | None]] = []
    for s in sorted(chosen, key=lambda s: (number.get(s.passage_id, 99), s.start)):
        p = passages[s.passage_id]
        text = p.doc_text[s.start:s.end]
        parts.append(f"{text} [{number.get(s.passage_id, 1)}]")
        if query.wants_date:
            dated += [(m, p.doc.date) for m in mentions(text, p.doc.date)
                      if m.resolved not in m.text]
    answer = " ".join(parts)
    if dated:
        answer += "\n" + _dates_line(dated, query.lang)
    return Composed(True, answer, tuple(citations))


def _dates_line(dated: list[tuple[Mention, str | None]], lang: str) -> str:
    """What the answer's relative dates mean, e.g. "Date: 2024-06-19 («اليوم الأربعاء», in
    an article of 2024-06-19)": a when-question's answer states the date."""
    label, context = say("date_label", lang), say("date_context", lang)
    items = []
    for m, published in dated[:2]:
        value = m.resolved + (f" – {m.until}" if m.until else "")
        items.append(f"{value} («{m.text}»" + (f", {context} {published})" if published
                                                 else ")"))
    return f"{label}: " + "; ".join(items)


def _snippet_span(p: StoredPassage, focus: ScoredSentence | None) -> tuple[int, int]:
    """At most ``SNIPPET_CHARS`` of the passage, around the answer sentence when there is one."""
    if p.end - p.start <= SNIPPET_CHARS:
        return p.start, p.end
    anchor = focus.start if focus else p.start
    start = max(p.start, min(anchor, p.end - SNIPPET_CHARS))
    text = p.doc_text
    # Pulled back from an answer near the passage's end, the window may open inside a word
    # ("تبادلة" of "المتبادلة"): it starts at the next word instead, never past the answer.
    if start > p.start and not text[start - 1].isspace():
        gap = _SPACE.search(text, start, anchor)
        if gap:
            start = gap.end()
    end = min(p.end, start + SNIPPET_CHARS)
    if end < p.end:  # end on a word boundary, never mid-word
        cut = text.rfind(" ", start, end)
        if cut > start + SNIPPET_CHARS // 2:
            end = cut
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
