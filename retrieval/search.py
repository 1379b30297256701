"""Hybrid passage search: dense (FAISS) and lexical (FTS5 BM25), fused with care.

Blind rank fusion hurts here: an English question over Arabic articles shares no words with
them, so BM25 ranks noise, and fusing that noise pulls the right passage down. Lexical evidence
is therefore weighted by how far it can be trusted: only for passages in the question's own
script, and in proportion to how much of the question's vocabulary the passage really covers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from khabar.retrieval.dates import Period
from khabar.retrieval.index.backend import Generation
from khabar.retrieval.index.records import PassageRow, StoredPassage
from khabar.retrieval.index.store import Store
from khabar.retrieval.normalize import FUSED_QUESTION_WORDS, STOPWORDS
from khabar.retrieval.translit import FOLD_PREFIX, folds, latin_names, lookup_keys, skeletons
from khabar.retrieval.types import Hit, Query, Sentence

MODES = ("hybrid", "dense", "lexical")
_MAX_LEXICAL_TERMS = 12
# FTS5 scores every passage that holds any query term (~1 ms per 1,000 at 100,000 passages), so
# the terms looked up are the rarest ones whose posting lists fit this budget together.
_LEXICAL_POSTINGS = 1_000
# An Arabic-script question word the corpus does not hold, at least this long, is looked up as
# a name spelled another way (زلنسکی / زيلينسكي).
_UNKNOWN_NAME_LETTERS = 5


@dataclass(frozen=True, slots=True)
class SearchOptions:
    mode: str = "hybrid"
    candidates: int = 30
    lexical_weight: float = 0.06
    # The top hits whose sentences are read with them, for the answer stage to choose from.
    sentence_passages: int = 3
    # Names asked in one script are looked up in the others too (``retrieval.translit``), and
    # a passage's lexical evidence counts across scripts when names or numbers match.
    transliterate: bool = True
    # In a corpus of several languages, a passage is ranked by how far it stands out from the
    # average passage of its own language, not by its raw cosine (see ``search``).
    center_languages: bool = True
    # A question word the corpus never uses counts, for lexical evidence, as the corpus terms
    # nearest to it in the embedder's space (``Query.read_as``, ``retrieval.lexicon``).
    lexicon: bool = True
    # A question that pins a time ("in 2023", "آخر", "جدیدترین") ranks first, among the
    # passages of the best one's story (``_by_period``), those of articles published then (or
    # the newest); it looks at ``date_candidates`` times as many candidates to find them.
    dates: bool = True
    date_margin: float = 0.05
    date_candidates: int = 4
    same_story: float = 0.85
    # A passage vector averages its sentences, and one sentence that matches the question is
    # what an answer needs: the top ``sentence_rerank`` candidates gain ``sentence_weight``
    # times their best (centred) sentence cosine. Sentence vectors are stored at indexing.
    sentence_rerank: int = 10
    sentence_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Invalid search mode: {self.mode!r}. Choose from {', '.join(MODES)}.")


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: tuple[Hit, ...]
    search_ms: float
    # The candidate with the highest cosine, whatever the fused rank: abstention's evidence.
    closest: Hit | None
    # The stored rows of the hits and of ``closest``, so the answer stage does not read them
    # again (the other candidates' article texts are never read: at 100,000 passages that was
    # a third of the search time).
    passages: dict[int, StoredPassage]
    # The sentences of the first ``SearchOptions.sentence_passages`` hits (stored order).
    sentences: tuple[Sentence, ...]
    # Share of the question's IDF mass in words the corpus never uses: high for questions
    # about something the articles do not cover, whatever their cosine scores say.
    unseen: float
    # Each question term with the corpus terms that count as it (itself, and its spellings in
    # the other scripts when it is a name), and how many passages hold each of those.
    forms: dict[str, frozenset[str]]
    document_frequency: dict[str, int]
    # The question's pull toward each article language (see ``search``), which the answer
    # stage takes off its sentences' cosines as ranking takes it off passages'.
    language_pull: dict[str | None, float] = field(default_factory=dict)
    # Whether the first hit holds every word of the question (names in any script; the
    # lexicon's readings do not count): a short "who is X?" matches a long passage with a low
    # cosine, but a passage naming X in full covers it (see ``AnswerOptions.covered_below``).
    covered: bool = False


def search(generation: Generation, query: Query, k: int, options: SearchOptions) -> SearchResult:
    """The top ``k`` passages for ``query`` with dense, lexical and fused scores."""
    started = time.perf_counter()
    store = generation.store
    period = query.period if options.dates else None
    n = max(k, options.candidates) * (options.date_candidates if period else 1)
    dense = dict(generation.vectors.search(query.vector, n)) if options.mode != "lexical" else {}
    q_set = query.tokens
    total = generation.manifest.passages
    spelled = (_forms(store, query, total) if options.transliterate
               else {t: frozenset([t]) for t in q_set})
    # A word the corpus never uses also counts, for lexical evidence, as the corpus terms the
    # lexicon reads it as (killed -> قتل); it stays unseen for abstention: every word has
    # nearest terms, so they say nothing about whether the corpus covers the question.
    forms = ({t: f | query.read_as.get(t, frozenset()) for t, f in spelled.items()}
             if options.transliterate and options.lexicon and query.read_as else spelled)
    df = store.document_frequencies(sorted(set().union(*forms.values())))
    lexical = dict(store.lexical(_selective(df, total), n)) if options.mode != "dense" else {}

    ids = list(dict.fromkeys([*dense, *lexical]))
    rows = store.passage_rows(ids)
    missing = [i for i in ids if i not in dense and i in rows]
    if missing:
        for pid, vec in store.passage_vectors(missing).items():
            dense[pid] = float(vec @ query.vector)

    # e5 scores a question higher against passages in its own language, relevant or not: a
    # Persian question is pulled to the one Persian article of a mostly Arabic corpus. The
    # question's cosine to each language's centroid (the mean passage of that language) is
    # that pull; ranking subtracts it. With one language it is a constant: rankings unchanged.
    shift: dict[str | None, float] = {}
    if options.center_languages:
        pull = {lang: float(c @ query.vector) for lang, c in generation.centroids().items()}
        if len(pull) > 1:
            mean = sum(pull.values()) / len(pull)
            shift = {lang: value - mean for lang, value in pull.items()}

    top_lex = max(lexical.values(), default=0.0)
    # Each candidate's words, built once for lexical trust and read again for ``covered``.
    words: dict[int, set[str]] = {}
    scored: list[tuple[float, float, float, int]] = []
    for pid in ids:
        p = rows.get(pid)
        if p is None:
            continue
        d = dense.get(pid, 0.0)
        centred = d - shift.get(p.lang, 0.0)
        raw = lexical.get(pid, 0.0)
        lex = raw / top_lex if top_lex > 0 else 0.0
        if options.mode == "dense":
            score = centred
        elif options.mode == "lexical":
            score = lex
        else:
            trust = 0.0
            if q_set and (options.transliterate or p.script == query.script):
                words[pid] = set(p.norm.split())
                trust = coverage(forms, words[pid])
            score = centred + options.lexical_weight * lex * trust
        scored.append((score, d, lex, pid))
    raised = None
    if period is not None:
        raised = _by_period(scored, {pid: rows[pid].date for pid in rows}, period,
                            options, store)
        if raised is not None:
            scored = raised
        else:  # nothing of the asked time competes: rank what a plain question would
            plain = n // options.date_candidates
            base = {*list(dense)[:plain], *list(lexical)[:plain]}
            scored = [s for s in scored if s[3] in base]
    closest = max(scored, key=lambda s: s[1], default=None)
    scored.sort(key=lambda s: s[0], reverse=True)
    # When the asked time has ordered the candidates, dates decide: a sentence's cosine
    # would undo a step of ``date_margin`` as often as not (measured on the time dev set).
    reranked = options.sentence_rerank if options.sentence_weight and raised is None else 0
    read = store.sentences([s[3] for s in scored[:max(reranked, options.sentence_passages)]])
    if reranked:
        scored = _by_best_sentence(scored, read, query, shift, rows, options)
    top = scored[:k]
    passages = store.passages([s[3] for s in top] + ([closest[3]] if closest else []))
    answering = {s[3] for s in top[:options.sentence_passages]}
    sentences = [s for s in read if s.passage_id in answering]

    def hit(score: float, d: float, lex: float, pid: int) -> Hit:
        p = passages[pid]
        return Hit(pid, p.doc.path, p.start, p.end, p.text, score, d, lex)

    seen = {t: max(df.get(f, 0) for f in spelled[t]) for t in q_set}
    # Persian's fused question words ("کیست", "چیست") ask, like "who is", and say nothing about
    # whether the corpus covers the question: neither its coverage nor the "every word" test
    # counts them.
    asked = set(q_set) - STOPWORDS - FUSED_QUESTION_WORDS
    unseen = _unseen_share(asked, {t: n for t, n in seen.items() if n}, total)
    first = (words.get(top[0][3]) or set(passages[top[0][3]].norm.split())) if top else set()
    covered = bool(asked) and all(spelled[t] & first for t in asked)
    return SearchResult(tuple(hit(*s) for s in top), (time.perf_counter() - started) * 1000,
                        hit(*closest) if closest else None, passages, tuple(sentences), unseen,
                        forms, df, shift, covered)


def _by_best_sentence(scored: list[tuple[float, float, float, int]], read: list[Sentence],
                      query: Query, shift: dict[str | None, float],
                      rows: dict[int, PassageRow],
                      options: SearchOptions) -> list[tuple[float, float, float, int]]:
    """``scored`` (sorted) with its head re-ranked by each passage's best sentence.

    Only the head is re-ranked, so everything below it stays below.
    """
    head = scored[:options.sentence_rerank]
    best: dict[int, float] = {}
    if read:
        cosines = np.vstack([s.vector for s in read]) @ query.vector
        for s, cosine in zip(read, cosines, strict=True):
            best[s.passage_id] = max(best.get(s.passage_id, -1.0), float(cosine))
    boosted = []
    for score, d, lex, pid in head:
        if pid in best:
            score += options.sentence_weight * (best[pid] - shift.get(rows[pid].lang, 0.0))
        boosted.append((score, d, lex, pid))
    boosted.sort(key=lambda s: s[0], reverse=True)
    return boosted + scored[options.sentence_rerank:]


def _by_period(scored: list[tuple[float, float, float, int]], dates: dict[int, str | None],
               period: Period, options: SearchOptions,
               store: Store) -> list[tuple[float, float, float, int]] | None:
    """``scored`` with the passages of the asked time raised above the others it competes with.

    Only passages of the same story as the best one compete: within ``date_margin`` of its
    score and ``same_story`` of its vector (a question about "the latest on OPEC" wants the
    newest article about OPEC, not the newest article; measured in docs/quality.md). Among
    them, articles published in the asked range come first, then (for "latest") newer before
    older; each step up adds ``date_margin``, which no score difference inside the band can
    undo. Undated articles are never raised. None when the dates in the band decide nothing.
    """
    margin = options.date_margin
    top = max(scored, default=None)
    if top is None:
        return None
    band = [s for s in scored if s[0] >= top[0] - margin]
    if not any(dates.get(s[3]) for s in band):  # an undated corpus: no vectors to read
        return None
    vectors = store.passage_vectors([s[3] for s in band])
    lead = vectors[top[3]]
    band = [s for s in band if float(vectors[s[3]] @ lead) >= options.same_story]
    steps: dict[int, int] = {}
    held = {s[3] for s in band if period.holds(dates.get(s[3]))}
    # A range counts only against articles known to be of another time: an undated article
    # may well be of the asked one ("in 2015" over an archive of 2015).
    if held and any(dates.get(s[3]) and s[3] not in held for s in band):
        for s in band:
            steps[s[3]] = (len(band) + 1) * (s[3] in held)
    days = sorted({(dates.get(s[3]) or "")[:10] for s in band} - {""})
    if period.newest and len(days) > 1:
        for s in band:
            day = (dates.get(s[3]) or "")[:10]
            steps[s[3]] = steps.get(s[3], 0) + (days.index(day) + 1 if day else 0)
    if not any(steps.values()):
        return None
    return [(score + margin * steps.get(pid, 0), d, lex, pid) for score, d, lex, pid in scored]


def coverage(forms: dict[str, frozenset[str]], tokens: set[str]) -> float:
    """The share of the question's terms that ``tokens`` hold in one of their forms."""
    if not forms:
        return 0.0
    return sum(1 for accepted in forms.values() if accepted & tokens) / len(forms)


def _forms(store: Store, query: Query, total: int) -> dict[str, frozenset[str]]:
    """Each question term with the corpus terms that count as it: itself; for an Arabic-script
    term its Persian or Arabic spelling (پوتین / بوتين); and for a name the corpus's spellings
    of it in any script (Putin -> بوتين). Only names are matched by skeleton: an ordinary
    English word's skeleton meets too many unrelated Arabic ones. An Arabic-script word the
    corpus never uses is taken for a name spelled differently."""
    terms = query.tokens
    keys: dict[str, frozenset[str]] = {}
    names = set(latin_names(query.text)) & terms
    known = store.document_frequencies(sorted(terms))
    for t in terms:
        if t in STOPWORDS:
            continue
        if t in names:
            keys[t] = skeletons(t)
        elif not t.isascii() and not t.isdigit():
            unknown = t not in known and len(t) >= _UNKNOWN_NAME_LETTERS
            keys[t] = folds(t) | (skeletons(t, query.lang == "fa") if unknown else frozenset())
    spelled = store.spellings(k for ks in keys.values() for k in ks)
    common = max(10, total // 10)
    forms = {t: {t} for t in terms}
    for term, df in spelled.items():
        of_term = lookup_keys(term)
        for t, ks in keys.items():
            matched = ks & of_term
            if matched and (df <= common or any(k.startswith(FOLD_PREFIX) for k in matched)):
                forms[t].add(term)
    return {t: frozenset(f) for t, f in forms.items()}


def _selective(df: dict[str, int], passages: int) -> list[str]:
    """The question's terms worth a BM25 lookup: present, rare, and cheap enough together.

    Terms found in over a tenth of the passages ("في", "the", "است") add almost nothing to BM25
    but make FTS5 score a large share of the corpus, which is what slows lexical search as the
    corpus grows; the rarest terms carry the evidence, so they are taken first until the
    postings budget is spent (the rarest one is always kept). On corpora of a few thousand
    passages the budget never binds; at 100,000 it keeps lexical search near 1 ms.
    """
    cap = max(10, passages // 10)
    kept: list[str] = []
    postings = 0
    for n, t in sorted((n, t) for t, n in df.items() if n <= cap):
        if len(kept) == _MAX_LEXICAL_TERMS or (kept and postings + n > _LEXICAL_POSTINGS):
            break
        kept.append(t)
        postings += n
    return kept


def _unseen_share(terms: set[str], df: dict[str, int], passages: int) -> float:
    if not terms:
        return 0.0
    idf = {t: math.log((passages + 1) / (df.get(t, 0) + 0.5)) for t in terms}
    total = sum(idf.values())
    return sum(w for t, w in idf.items() if t not in df) / total if total > 0 else 0.0
