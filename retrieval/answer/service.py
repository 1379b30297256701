"""The answer service every front end shares: question in, ``Answer`` out.

It owns the open index generation and switches to a newer one between questions when
``khabar index`` publishes it, so a running chat or bot needs no restart. Front ends never
touch FAISS or SQLite; they call ``ask``. A question flows one way: the service analyses it
once (``Query``), search reads everything the answer stage needs, and the answer stage only
chooses and formats.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from khabar.embeddings.base import Embedder
from khabar.retrieval.answer.compose import NOTHING_TO_ASK, AnswerOptions, Composed, compose
from khabar.retrieval.answer.conversation import Turn, read
from khabar.retrieval.answer.types import Answer
from khabar.retrieval.dates import Period, asked_period, without_newest_words
from khabar.retrieval.errors import QuestionError
from khabar.retrieval.index.backend import Generation, IndexBackend
from khabar.retrieval.index.generations import LiveIndex
from khabar.retrieval.index.records import DocMeta, StoredArticle, StoredPassage
from khabar.retrieval.lexicon import (
    CANDIDATES,
    MIN_PASSAGES,
    NEIGHBOURS,
    Lexicon,
    worth_a_vector,
)
from khabar.retrieval.normalize import asks_something, detect_lang, script, tokens
from khabar.retrieval.search import SearchOptions, SearchResult, search
from khabar.retrieval.translit import latin_names
from khabar.retrieval.types import Query

if TYPE_CHECKING:
    from khabar.retrieval.answer.llm import LLM

log = logging.getLogger(__name__)


@dataclass
class ServiceStats:
    questions: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def p50(self) -> float | None:
        return float(np.percentile(self.latencies_ms, 50)) if self.latencies_ms else None


_QUERY_CACHE = 256
# Earlier questions a follow-up is read against: enough for a chain of follow-ups.
_HISTORY_TURNS = 6
# A follow-up's vector = its own + this share of its context turn's. Measured on the follow-up
# dev sets (docs/quality.md): 0.5 beat 0.8 and 1.2, and beat embedding the glued text.
_CONTEXT_WEIGHT = 0.5


class AnswerService:
    def __init__(self, index_dir: IndexBackend, embedder: Embedder, *, k: int = 5,
                 search_options: SearchOptions | None = None,
                 answer_options: AnswerOptions | None = None,
                 max_question_chars: int = 1000, llm: LLM | None = None,
                 clock: Callable[[], date] = date.today, lexicon: Lexicon | None = None) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.k = k
        self.search_options = search_options or SearchOptions()
        self.answer_options = answer_options or AnswerOptions()
        self.max_question_chars = max_question_chars
        # A chat model (KHABAR_LLM) that writes the answer from the passages and condenses
        # follow-ups; None = extractive answers only.
        self.llm = llm
        # "yesterday", "last June", "this year" in a question are read against this day.
        self.clock = clock
        # Corpus terms' vectors: a question word the corpus never uses is read as its nearest
        # corpus terms (None: words count only as themselves and as names across scripts).
        self.lexicon = lexicon
        self.stats = ServiceStats()
        self._lock = threading.Lock()
        # One SQLite connection per generation is shared by the bot's worker threads; reads are
        # a few milliseconds, so serialising them costs nothing while embedding runs in parallel.
        self._read_lock = threading.Lock()
        self.live = LiveIndex(index_dir, embedder.spec)
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._turns: OrderedDict[str, np.ndarray] = OrderedDict()

    def generation(self) -> Generation:
        """The live generation, reopened if a newer one was published since the last call."""
        return self.live.current()

    def validate(self, question: str) -> str:
        """The question stripped, or ``QuestionError`` saying which check it fails."""
        q = question.strip()
        if not q:
            raise QuestionError("empty", "the question is empty")
        if len(q) > self.max_question_chars:
            raise QuestionError(
                "too_long",
                f"the question is {len(q):,} characters long; the limit is "
                f"{self.max_question_chars:,} (KHABAR_MAX_QUESTION_CHARS). Ask something shorter.",
                length=len(q), limit=self.max_question_chars,
            )
        return q

    def query_vector(self, question: str) -> np.ndarray:
        """The question's vector, from a small LRU cache when the question repeats."""
        with self._lock:
            cached = self._vectors.get(question)
            if cached is not None:
                self._vectors.move_to_end(question)
                return cached
        vector = self.embedder.embed_one_query(question)
        with self._lock:
            self._vectors[question] = vector
            if len(self._vectors) > _QUERY_CACHE:
                self._vectors.popitem(last=False)
        return vector

    def documents(self) -> list[DocMeta]:
        """Every indexed article's metadata, by path."""
        with self.live.use() as generation, self._read_lock:
            return generation.store.documents()

    def passage(self, passage_id: int) -> StoredPassage | None:
        """One passage with its article, or None once a newer index no longer has it."""
        with self.live.use() as generation, self._read_lock:
            return generation.store.passages([passage_id]).get(passage_id)

    def article(self, path: str) -> StoredArticle | None:
        """One article's stored text (citation offsets index it) with its passages' spans."""
        with self.live.use() as generation, self._read_lock:
            return generation.store.article(path)

    def passage_counts(self) -> dict[str, int]:
        """Passages per indexed article, by path."""
        with self.live.use() as generation, self._read_lock:
            return generation.store.passage_counts()

    def query(self, text: str) -> Query:
        """The question analysed once for every later stage (the vector is the slow part)."""
        period, searched = self._time_asked(text, self.clock())
        terms = frozenset(tokens(searched))
        return Query(searched, self.query_vector(searched), terms, script(text),
                     detect_lang(text), period, self.read_as(searched, terms))

    def read_as(self, text: str, terms: frozenset[str]) -> dict[str, frozenset[str]]:
        """The words of ``text`` the corpus never uses (names aside: ``translit`` spells those),
        each with the corpus terms the lexicon reads it as. Search options that would ignore
        them (``lexicon``, ``transliterate`` off) embed no word for nothing."""
        options = self.search_options
        if self.lexicon is None or not (options.lexicon and options.transliterate):
            return {}
        wanted = [t for t in terms if worth_a_vector(t)]
        if wanted:
            wanted = sorted(set(wanted) - set(latin_names(text)))
        if not wanted:
            return {}
        with self.live.use() as generation:
            with self._read_lock:
                known = generation.store.document_frequencies(wanted)
            nearest = self.lexicon.nearest([t for t in wanted if t not in known], CANDIDATES)
            if not nearest:
                return {}
            # Only terms this generation holds as a fresh build would have given them vectors:
            # what a question is read as depends on the live index alone.
            with self._read_lock:
                df = generation.store.document_frequencies(
                    sorted({t for terms in nearest.values() for t in terms}))
        return {w: frozenset([t for t in terms if df.get(t, 0) >= MIN_PASSAGES][:NEIGHBOURS])
                for w, terms in nearest.items()}

    @staticmethod
    def _time_asked(question: str, today: date) -> tuple[Period | None, str]:
        """The time ``question`` asks about, and the text to search: without the words asking
        for the newest news, which say how to rank, not what to look for."""
        period = asked_period(question, today)
        return period, without_newest_words(question) if period and period.newest else question

    def search(self, query: Query, k: int | None = None) -> SearchResult:
        """Hybrid search on the live generation, with what the answer stage needs."""
        with self.live.use() as generation, self._read_lock:
            return search(generation, query, k or self.k, self.search_options)

    def turn(self, question: str, history: Sequence[str] = ()) -> Turn:
        """``question`` as understood after ``history`` (earlier questions, oldest first)."""
        earlier = [h.strip()[:self.max_question_chars] for h in history if h.strip()]
        if not earlier:
            return Turn(question, question)
        if self.llm is not None:
            from khabar.retrieval.answer.llm import LLMFailure

            try:
                return Turn(question, self.llm.condense(question, earlier[-_HISTORY_TURNS:],
                                                        self.max_question_chars))
            except LLMFailure as exc:  # the rule-based reading below still understands it
                log.warning("condense_failed", extra={"model": self.llm.name,
                                                      "reason": exc.reason})
        with self.live.use() as generation:

            def vocabulary(terms: list[str]) -> dict[str, int]:
                with self._read_lock:
                    return generation.store.document_frequencies(terms)

            return read(question, earlier[-_HISTORY_TURNS:], vocabulary)

    def turn_vector(self, turn: Turn) -> np.ndarray:
        """The vector a turn is searched with: its question's embedding, mixed with the vector
        its context turn was searched with (cached, so a live conversation embeds one question
        per turn)."""
        if turn.context is None:
            return self.query_vector(turn.question)
        with self._lock:
            cached = self._turns.get(turn.text)
        if cached is not None:
            return cached
        mixed = self.query_vector(turn.question) + _CONTEXT_WEIGHT * self.turn_vector(
            turn.context)
        vector = (mixed / np.linalg.norm(mixed)).astype(np.float32)
        with self._lock:
            self._turns[turn.text] = vector
            if len(self._turns) > _QUERY_CACHE:
                self._turns.popitem(last=False)
        return vector

    def ask(self, question: str, k: int | None = None, history: Sequence[str] = (), *,
            on_text: Callable[[str], None] | None = None) -> Answer:
        """Answer ``question``; ``history`` holds the conversation's earlier questions.
        ``on_text`` receives a generated answer as it is written, before it is checked."""
        q = self.validate(question)
        self.generation()  # a missing or incompatible index fails before the embedding
        if not asks_something(q):
            lang = detect_lang(q)
            return Answer(q, False, NOTHING_TO_ASK.get(lang, NOTHING_TO_ASK["en"]), (),
                          {"embed": 0.0, "search": 0.0, "answer": 0.0, "total": 0.0})
        started = time.perf_counter()
        today = self.clock()
        period, searched = self._time_asked(q, today)
        turn = self.turn(searched, history)
        condensed = time.perf_counter()
        if period is None and turn.context is not None:  # a follow-up keeps its context's time
            period = asked_period(turn.context.text, today)
        terms = frozenset(tokens(turn.text))
        query = Query(turn.text, self.turn_vector(turn), terms, script(q), detect_lang(q), period,
                      self.read_as(turn.text, terms))
        embedded = time.perf_counter()
        result = self.search(query, k)
        searched = time.perf_counter()
        composed = compose(query, result, self.answer_options)
        done = time.perf_counter()
        timings = {
            "embed": (embedded - started) * 1000,
            "search": (searched - embedded) * 1000,
            "answer": (done - searched) * 1000,
            "total": (done - started) * 1000,
        }
        answer = Answer(q, composed.found, composed.answer, composed.citations, timings,
                        standalone=turn.text)
        if self.llm is not None:
            answer = self._generated(answer, query, composed, started,
                                     condensed - started if history else 0.0, on_text)
        with self._lock:
            self.stats.questions += 1
            self.stats.latencies_ms.append(answer.timings_ms["total"])
            del self.stats.latencies_ms[:-1000]
        return answer

    def _generated(self, answer: Answer, query: Query, composed: Composed, started: float,
                   condense_s: float, on_text: Callable[[str], None] | None) -> Answer:
        """The model's checked answer from the composed citations, or the extractive one with
        the reason. The model is asked only when retrieval found the question covered."""
        timings = answer.timings_ms
        llm_ms = condense_s * 1000  # a follow-up was condensed by the model, not embedded
        changes: dict = {}
        if composed.found:
            generated = self.llm.answer(answer.question, query.lang, composed.citations, on_text)
            llm_ms += generated.ms
            changes = {"removed": generated.removed, "fallback": generated.fallback}
            if generated.fallback is None:
                changes |= {"found": generated.found, "answer": generated.text, "mode": "llm"}
        timings = {**timings, "embed": timings["embed"] - condense_s * 1000, "llm": llm_ms,
                   "total": (time.perf_counter() - started) * 1000}
        return replace(answer, timings_ms=timings, **changes)
