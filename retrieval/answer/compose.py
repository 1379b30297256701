"""Extractive answers: the best sentence or two, quoted verbatim, with numbered citations.

Sentences compete across the top passages using vectors computed at index time (no embedding
at question time beyond the query itself). The answer abstains, saying so plainly, when even
the best evidence is weak relative to what a real match in this corpus looks like.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from khabar.retrieval.answer.types import Citation, Source
from khabar.retrieval.dates import Mention, may_mention, mentions
from khabar.retrieval.index.records import StoredPassage
from khabar.retrieval.normalize import normalize
from khabar.retrieval.search import SearchResult, coverage
from khabar.retrieval.types import Query, Sentence, page_at

NOT_FOUND = {
    "ar": "لا تغطي المقالات المفهرسة هذا السؤال. أقرب ما وُجد:",
    "fa": "مقاله‌های نمایه‌شده به این پرسش نمی‌پردازند. نزدیک‌ترین موارد:",
    "en": "The indexed articles do not cover this question. Closest passages:",
}
# Said to "test", "?", "null" or an emoji: there is nothing to look up.
NOTHING_TO_ASK = {
    "ar": "لم أجد في رسالتك سؤالاً عن الأخبار. اسأل عن شيء في المقالات، مثلاً: من وقّع المعاهدة؟",
    "fa": "در پیام شما پرسشی درباره خبرها نیافتم. درباره چیزی در مقاله‌ها بپرسید، مثلاً: چه کسی "
          "پیمان را امضا کرد؟",
    "en": "There is no question about the news in that. Ask about something in the articles, "
          "e.g. \"Who signed the treaty?\"",
}
SNIPPET_CHARS = 500
_SPACE = re.compile(r"\s")
# Question words asking for a number or a date, matched on normalised text (so "متى" is "متي").
_NUMERIC_QUESTION = re.compile(
    r"\b(?:how (?:many|much|long|old)|(?:what|which|in what) year|when|what percentage)\b"
    r"|(?:^|\s)(?:كم|متي|عدد|في اي (?:عام|سنه|سنوات)|اي (?:عام|سنه|سنوات))(?:\s|$)"
    r"|(?:^|\s)(?:چند|چه (?:سالي|زماني|تاريخي)|در چه سال|كي)(?:\s|$)"
)


# When-questions, on normalised text: their answers state the dates their sentences imply.
_WHEN_QUESTION = re.compile(
    r"\b(?:when|what (?:date|day|month|year)|which (?:date|day|month|year)|on what)\b"
    r"|(?:^|\s)(?:متي|في اي (?:يوم|تاريخ|شهر|عام|سنه)|اي (?:يوم|تاريخ))(?:\s|$)"
    r"|(?:^|\s)(?:چه (?:تاريخي|روزي|زماني|ماهي|سالي)|كدام (?:روز|ماه|سال)|كي)(?:\s|$|؟)"
)
_DATE_WORDS = {
    "en": ("Date", "in an article of"),
    "ar": ("التاريخ", "في مقال بتاريخ"),
    "fa": ("تاریخ", "در مقاله‌ای به تاریخ"),
}


@dataclass(frozen=True, slots=True)
class AnswerOptions:
    """Answer selection and abstention; every default was measured (docs/quality.md)."""

    max_sentences: int = 2
    sentence_lexical_weight: float = 0.08
    passage_prior_weight: float = 1.0
    # Evidence = best passage cosine, + a bonus when question and passage are in different
    # scripts (e5 scores cross-lingual matches ~0.06 lower), - a penalty for the share of the
    # question's words the corpus never uses. Below the cut the corpus does not cover it.
    cross_script_bonus: float = 0.10
    unseen_penalty: float = 0.05
    abstain_below: float = 0.80
    # ... and below this one when the first passage holds every word of the question
    # (``SearchResult.covered``). Short questions ("من هو X؟", "X کیست؟") score lower cosines
    # than long ones: at 0.80, 20-55% of those the articles answer were declined
    # (eval/conv/short-*.jsonl). Covered and declined at 0.80, the answerable ones scored
    # 0.776-0.798, and one unanswerable question of all dev sets scores above 0.75
    # (docs/quality.md).
    covered_below: float = 0.75
    # "How many / when / كم / متى / چند ..." questions want a number or a date: sentences that
    # state one (``_states_quantity``) get this bonus. Helped every dev set, most the
    # cross-lingual one.
    numeric_answer_bonus: float = 0.03
    # A sentence's lexical overlap counts names and numbers across scripts (see
    # ``SearchOptions.transliterate``).
    transliterate: bool = True


@dataclass(frozen=True, slots=True)
class _Sentence:
    passage_id: int
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class Composed:
    found: bool
    answer: str
    citations: tuple[Citation, ...]


def evidence(query: Query, result: SearchResult, options: AnswerOptions) -> float:
    """How strongly the closest passage supports an answer, comparable across languages."""
    best = result.closest
    if best is None:
        return 0.0
    cross = query.script != result.passages[best.passage_id].script
    return best.dense + options.cross_script_bonus * cross - options.unseen_penalty * result.unseen


def compose(query: Query, result: SearchResult, options: AnswerOptions) -> Composed:
    """Pick answer sentences from the hits and build the citation list."""
    not_found = NOT_FOUND.get(query.lang, NOT_FOUND["en"])
    hits = result.hits
    if not hits:
        return Composed(False, not_found, ())
    passages = result.passages
    chosen = _pick_sentences(query, result, options)
    needed = min(options.covered_below, options.abstain_below) if result.covered \
        else options.abstain_below
    found = bool(chosen) and evidence(query, result, options) >= needed

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
        shingles = _shingles(p.norm)
        twin = next((k for k in kept if _same_story(k[1], shingles)), None)
        if twin is not None:  # one agency story told by another outlet: cite it once
            named = {passages[twin[0]].doc.path, *(source.doc for source in twin[2])}
            if p.doc.path not in named:
                twin[2].append(Source(p.doc.path, p.doc.title, p.doc.outlet, p.doc.date))
            continue
        kept.append((pid, shingles, []))
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
    wants_date = bool(_WHEN_QUESTION.search(normalize(query.text)))
    for s in sorted(chosen, key=lambda s: (number.get(s.passage_id, 99), s.start)):
        p = passages[s.passage_id]
        text = p.doc_text[s.start:s.end]
        parts.append(f"{text} [{number.get(s.passage_id, 1)}]")
        if wants_date:
            dated += [(m, p.doc.date) for m in mentions(text, p.doc.date)
                      if m.resolved not in m.text]
    answer = " ".join(parts)
    if dated:
        answer += "\n" + _dates_line(dated, query.lang)
    return Composed(True, answer, tuple(citations))


# Passages sharing at least this share of their three-word runs tell one story: a wire copy
# republished with a new headline or a trimmed paragraph, not two reports of one event.
_SAME_STORY = 0.5


def _shingles(norm: str) -> frozenset[tuple[str, ...]]:
    words = norm.split()
    return frozenset(tuple(words[i:i + 3]) for i in range(max(1, len(words) - 2)))


def _same_story(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> bool:
    return bool(a and b) and len(a & b) / len(a | b) >= _SAME_STORY


def _dates_line(dated: list[tuple[Mention, str | None]], lang: str) -> str:
    """What the answer's relative dates mean, e.g. "Date: 2024-06-19 («اليوم الأربعاء», in
    an article of 2024-06-19)": a when-question's answer states the date."""
    label, context = _DATE_WORDS.get(lang, _DATE_WORDS["en"])
    items = []
    for m, published in dated[:2]:
        value = m.resolved + (f" – {m.until}" if m.until else "")
        items.append(f"{value} («{m.text}»" + (f", {context} {published})" if published
                                                 else ")"))
    return f"{label}: " + "; ".join(items)


def _pick_sentences(query: Query, result: SearchResult, options: AnswerOptions) -> list[_Sentence]:
    if not result.sentences:
        return []
    best = result.hits[0].score
    prior = {h.passage_id: h.score - best for h in result.hits}
    passages = result.passages
    asked = normalize(query.text)
    wants_date = bool(_WHEN_QUESTION.search(asked))
    wants_quantity = wants_date or bool(_NUMERIC_QUESTION.search(asked))
    dense = np.vstack([s.vector for s in result.sentences]) @ query.vector
    candidates: list[_Sentence] = []
    seen: set[str] = set()
    for s, d in zip(result.sentences, dense, strict=True):
        if s.norm in seen:  # the same sentence twice (a wire story quoted by two outlets)
            continue
        seen.add(s.norm)
        lex = 0.0
        if query.tokens and (options.transliterate
                             or passages[s.passage_id].script == query.script):
            lex = coverage(result.forms, set(s.norm.split()))
        d -= result.language_pull.get(passages[s.passage_id].doc.lang, 0.0)
        score = (float(d) + options.sentence_lexical_weight * lex
                 + options.passage_prior_weight * prior[s.passage_id])
        if wants_quantity and _states_quantity(s, passages[s.passage_id], wants_date):
            score += options.numeric_answer_bonus
        candidates.append(_Sentence(s.passage_id, s.start, s.end, score))
    candidates.sort(key=lambda s: s.score, reverse=True)
    # Two sentences, not one: on every dev set the second-best sentence holds the answer often
    # enough to add 4-10 points of answer recall (docs/quality.md).
    return candidates[:options.max_sentences]


def _states_quantity(s: Sentence, p: StoredPassage, wants_date: bool) -> bool:
    """Whether a sentence states what a how-many or when question asks for: a number, or for a
    when-question a date, relative ones included ("الثلاثاء" in an article of 2024-06-19: digits
    alone missed it). Numbers written out ("نحو ساعتين") were measured and left out: they helped
    no dev set and cost three xquad-ar answers (docs/quality.md)."""
    if any(ch.isdigit() for ch in s.norm):
        return True
    return (wants_date and may_mention(s.norm.split())
            and bool(mentions(p.doc_text[s.start:s.end], p.doc.date)))


def _snippet_span(p: StoredPassage, focus: _Sentence | None) -> tuple[int, int]:
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
