"""The retrieve stage: candidates for a question, dense (FAISS) and lexical (FTS5 BM25), fused
with care, then ranked by the time the question asks about.

Blind rank fusion hurts here: an English question over Arabic articles shares no words with
them, so BM25 ranks noise, and fusing that noise pulls the right passage down. Lexical evidence
is therefore weighted by how far it can be trusted: only for passages in the question's own
script, and in proportion to how much of the question's vocabulary the passage really covers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from khabar.retrieval.config import DEFAULTS, SEARCH_MODES
from khabar.retrieval.dates import Period
from khabar.retrieval.index.backend import Generation, StoreReader
from khabar.retrieval.index.records import PassageRow, StoredPassage
from khabar.retrieval.normalize import FUSED_QUESTION_WORDS, STOPWORDS
from khabar.retrieval.translit import FOLD_PREFIX, folds, latin_names, lookup_keys, skeletons
from khabar.retrieval.types import Candidate, Hit, Query, Sentence

_MAX_LEXICAL_TERMS = 12
# FTS5 scores every passage that holds any query term (~1 ms per 1,000 at 100,000 passages), so
# the terms looked up are the rarest ones whose posting lists fit this budget together.
_LEXICAL_POSTINGS = 1_000
# An Arabic-script question word the corpus does not hold, at least this long, is looked up as
# a name spelled another way (زلنسکی / زيلينسكي).
_UNKNOWN_NAME_LETTERS = 5


@dataclass(frozen=True, slots=True)
class RetrieveOptions:
    mode: str = DEFAULTS.search_mode
    candidates: int = 30
    lexical_weight: float = 0.06
    # Names asked in one script are looked up in the others too (``retrieval.translit``), and
    # a passage's lexical evidence counts across scripts when names or numbers match.
    transliterate: bool = True
    # In a corpus of several languages, a passage is ranked by how far it stands out from the
    # average passage of its own language, not by its raw cosine (see ``retrieve``).
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

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_MODES:
            raise ValueError(f"Invalid search mode: {self.mode!r}. "
                             f"Choose from {', '.join(SEARCH_MODES)}.")


@dataclass(frozen=True, slots=True)
class Retrieved:
    """The candidates of one question, best first, with everything the later stages read:
    the stored rows of all of them, the passages (with their articles) and the sentences of
    the head, and the question's lexical evidence."""

    candidates: tuple[Candidate, ...]
    # The candidate with the highest cosine, whatever the fused rank: abstention's evidence.
    closest: Candidate | None
    rows: dict[int, PassageRow]
    # The stored passages of the first ``depth`` candidates and of ``closest`` (the other
    # candidates' article texts are never read: at 100,000 passages that was a third of the
    # search time).
    passages: dict[int, StoredPassage]
    # The sentences (stored order, with their vectors) of the first ``depth`` candidates.
    sentences: tuple[Sentence, ...]
    # Whether the asked time ordered the candidates (``_by_period``): dates then decide.
    time_ranked: bool
    # Share of the question's IDF mass in words the corpus never uses: high for questions
    # about something the articles do not cover, whatever their cosine scores say.
    unseen: float
    # Each question term with the corpus terms that count as it (itself, and its spellings in
    # the other scripts when it is a name), and how many passages hold each of those.
    forms: dict[str, frozenset[str]]
    # The forms of names and spellings alone (the lexicon's readings left out): what the
    # "every word" test of ``covered`` counts.
    spelled: dict[str, frozenset[str]]
    document_frequency: dict[str, int]
    # The question's pull toward each article language (see ``retrieve``), which later stages
    # take off sentence cosines as ranking takes it off passages'.
    language_pull: dict[str | None, float]
    # The question's terms that ask about something: what coverage and ``covered`` count.
    asked: frozenset[str]
    search_ms: float
    # Each candidate's words, as lexical trust built them, so ``covered`` reads them again
    # instead of splitting the passage twice per question.
    words: dict[int, set[str]]

    def covered(self, pid: int) -> bool:
        """Whether passage ``pid`` holds every word of the question (names in any script; the
        lexicon's readings do not count): a short "who is X?" matches a long passage with a
        low cosine, but a passage naming X in full covers it."""
        words = self.words.get(pid) or set(self.rows[pid].norm.split())
        return bool(self.asked) and all(self.spelled[t] & words for t in self.asked)

    def hit(self, c: Candidate) -> Hit:
        p = self.passages[c.passage_id]
        return Hit(c.passage_id, p.doc.path, p.start, p.end, p.text, c.score, c.dense,
                   c.lexical)


def retrieve(generation: Generation, query: Query, depth: int,
             options: RetrieveOptions) -> Retrieved:
    """Every candidate for ``query`` with dense, lexical and fused scores, best first; the
    first ``depth`` are read whole (passages, articles, sentences) for the later stages."""
    started = time.perf_counter()
    store = generation.store
    period = query.period if options.dates else None
    n = max(depth, options.candidates) * (options.date_candidates if period else 1)
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
    words: dict[int, set[str]] = {}
    scored: list[Candidate] = []
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
        scored.append(Candidate(pid, score, d, lex))
    raised = None
    if period is not None:
        raised = _by_period(scored, {pid: rows[pid].date for pid in rows}, period,
                            options, store)
        if raised is not None:
            scored = raised
        else:  # nothing of the asked time competes: rank what a plain question would
            plain = n // options.date_candidates
            base = {*list(dense)[:plain], *list(lexical)[:plain]}
            scored = [c for c in scored if c.passage_id in base]
    closest = max(scored, key=lambda c: c.dense, default=None)
    scored.sort(key=lambda c: c.score, reverse=True)
    head = [c.passage_id for c in scored[:depth]]
    sentences = store.sentences(head)
    passages = store.passages(head + ([closest.passage_id] if closest else []))
    seen = {t: max(df.get(f, 0) for f in spelled[t]) for t in q_set}
    # Persian's fused question words ("کیست", "چیست") ask, like "who is", and say nothing about
    # whether the corpus covers the question: neither its coverage nor the "every word" test
    # counts them.
    asked = frozenset(set(q_set) - STOPWORDS - FUSED_QUESTION_WORDS)
    unseen = _unseen_share(asked, {t: n for t, n in seen.items() if n}, total)
    return Retrieved(tuple(scored), closest, rows, passages, tuple(sentences),
                     raised is not None, unseen, forms, spelled, df, shift, asked,
                     (time.perf_counter() - started) * 1000, words)


def _by_period(scored: list[Candidate], dates: dict[int, str | None], period: Period,
               options: RetrieveOptions, store: StoreReader) -> list[Candidate] | None:
    """``scored`` with the passages of the asked time raised above the others it competes with.

    Only passages of the same story as the best one compete: within ``date_margin`` of its
    score and ``same_story`` of its vector (a question about "the latest on OPEC" wants the
    newest article about OPEC, not the newest article; measured in docs/experiments.md). Among
    them, articles published in the asked range come first, then (for "latest") newer before
    older; each step up adds ``date_margin``, which no score difference inside the band can
    undo. Undated articles are never raised. None when the dates in the band decide nothing.
    """
    margin = options.date_margin
    # Ties on the score go to the higher cosine, then lexical score, then passage id.
    top = max(scored, key=lambda c: (c.score, c.dense, c.lexical, c.passage_id), default=None)
    if top is None:
        return None
    band = [c for c in scored if c.score >= top.score - margin]
    if not any(dates.get(c.passage_id) for c in band):  # an undated corpus: no vectors to read
        return None
    vectors = store.passage_vectors([c.passage_id for c in band])
    lead = vectors[top.passage_id]
    band = [c for c in band if float(vectors[c.passage_id] @ lead) >= options.same_story]
    steps: dict[int, int] = {}
    held = {c.passage_id for c in band if period.holds(dates.get(c.passage_id))}
    # A range counts only against articles known to be of another time: an undated article
    # may well be of the asked one ("in 2015" over an archive of 2015).
    if held and any(dates.get(c.passage_id) and c.passage_id not in held for c in band):
        for c in band:
            steps[c.passage_id] = (len(band) + 1) * (c.passage_id in held)
    days = sorted({(dates.get(c.passage_id) or "")[:10] for c in band} - {""})
    if period.newest and len(days) > 1:
        for c in band:
            day = (dates.get(c.passage_id) or "")[:10]
            steps[c.passage_id] = steps.get(c.passage_id, 0) + (days.index(day) + 1 if day else 0)
    if not any(steps.values()):
        return None
    return [replace(c, score=c.score + margin * steps.get(c.passage_id, 0)) for c in scored]


def coverage(forms: dict[str, frozenset[str]], tokens: set[str]) -> float:
    """The share of the question's terms that ``tokens`` hold in one of their forms."""
    if not forms:
        return 0.0
    return sum(1 for accepted in forms.values() if accepted & tokens) / len(forms)


def _forms(store: StoreReader, query: Query, total: int) -> dict[str, frozenset[str]]:
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
