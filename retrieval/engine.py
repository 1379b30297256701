"""``Khabar``: the one door every front end, measuring tool and test asks through.

It wires an index (a directory or any ``IndexBackend``), an embedder, the indexer and the
answer pipeline, and runs a question through the named stages (``stages/``):

    analyse -> retrieve -> rerank -> compose -> generate (with KHABAR_LLM)

    engine = Khabar(".khabar/index", seeds="seeds")
    engine.index()
    print(engine.ask("Who signed the treaty?").answer)

It owns the live index generation and switches to a newer one between questions when
``khabar index`` publishes it, so a running chat or bot needs no restart. Everything is built
lazily: constructing a ``Khabar`` loads no model and opens no index.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from khabar.embeddings.base import Embedder
from khabar.embeddings.registry import get_embedder
from khabar.retrieval.config import DEFAULTS, EngineConfig
from khabar.retrieval.errors import QuestionError
from khabar.retrieval.follow.match import MatchReport, background, match_new
from khabar.retrieval.follow.store import FollowStore, Topic
from khabar.retrieval.follow.timeline import Timeline, timeline_topic
from khabar.retrieval.follow.timeline import build as build_timeline
from khabar.retrieval.index.backend import Generation, IndexBackend, KhabarIndexError
from khabar.retrieval.index.generations import IndexDir, LiveIndex
from khabar.retrieval.index.indexer import Indexer, IndexReport, ProgressFn
from khabar.retrieval.index.records import DocMeta, StoredArticle, StoredPassage
from khabar.retrieval.index.registry import open_backend
from khabar.retrieval.ingest.chunking import Chunker
from khabar.retrieval.ingest.fetch import FetchOptions
from khabar.retrieval.lexicon import Lexicon
from khabar.retrieval.normalize import asks_something, detect_lang
from khabar.retrieval.stages.analyse import Analyser
from khabar.retrieval.stages.compose import Composed, ComposeOptions, compose
from khabar.retrieval.stages.rerank.base import Ranking, Reranker, RerankOptions
from khabar.retrieval.stages.rerank.registry import get_reranker
from khabar.retrieval.stages.retrieve import Retrieved, RetrieveOptions, retrieve
from khabar.retrieval.strings import say
from khabar.retrieval.types import Answer, Query

if TYPE_CHECKING:
    from khabar.retrieval.intake import Intake
    from khabar.retrieval.stages.llm import LLM, LLMConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Options:
    """How a question is answered: each stage's options, and the reranker chosen by name."""

    retrieve: RetrieveOptions = field(default_factory=RetrieveOptions)
    rerank: RerankOptions = field(default_factory=RerankOptions)
    compose: ComposeOptions = field(default_factory=ComposeOptions)
    reranker: str = DEFAULTS.reranker


@dataclass(frozen=True, slots=True)
class Trace:
    """One question's way through the stages, for ``ask`` and for anyone asking why."""

    query: Query
    retrieved: Retrieved
    ranking: Ranking
    composed: Composed
    condense_ms: float
    started: float
    timings_ms: dict[str, float]


@dataclass
class Stats:
    """Questions answered by this process and their latencies (the last 1,000)."""

    questions: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def p50(self) -> float | None:
        return float(np.percentile(self.latencies_ms, 50)) if self.latencies_ms else None


class Khabar:
    """The engine: articles in ``seeds``, an index in ``index`` (a directory, or any
    ``IndexBackend`` such as a Milvus deployment), answers out."""

    def __init__(self, index: Path | str | IndexBackend, *,
                 seeds: Path | str = DEFAULTS.seeds_dir,
                 embedder: str | Embedder = DEFAULTS.embedder,
                 config: EngineConfig = DEFAULTS, options: Options | None = None,
                 llm: LLMConfig | LLM | None = None,
                 fetch_options: FetchOptions | None = None,
                 state_dir: Path | str | None = None,
                 clock: Callable[[], date] = date.today) -> None:
        self.index_dir = index if isinstance(index, IndexBackend) else IndexDir(Path(index))
        # This machine's own files beside the index (the intake ledger): the index directory
        # for the local backend; an index in Milvus has none, so KHABAR_INDEX_DIR names it
        # (``from_settings``), or a hidden folder in seeds, which indexing never reads.
        if state_dir is None:
            local = isinstance(self.index_dir, IndexDir)
            state_dir = self.index_dir.root if local else Path(seeds) / ".khabar"
        self.state_dir = Path(state_dir)
        self.seeds = Path(seeds)
        self.embedder = get_embedder(embedder) if isinstance(embedder, str) else embedder
        self.config = config
        self.chunker = Chunker(config.chunk_chars, config.chunk_overlap)
        self.top_k = config.top_k
        self.options = options or Options(retrieve=RetrieveOptions(mode=config.search_mode),
                                          reranker=config.reranker)
        self.max_file_bytes = config.max_file_bytes
        self.max_question_chars = config.max_question_chars
        # A chat model for generated answers, or its settings (built on first use, so commands
        # that answer nothing never load LangChain's chat models).
        self._llm = llm
        # The fetch limits the configuration sets, unless a caller tunes the rest (retries).
        self.fetch_options = fetch_options or FetchOptions(
            timeout=config.fetch_timeout, max_bytes=config.max_page_bytes,
            allow_private=config.fetch_allow_private)
        # "yesterday", "last June", "this year" in a question are read against this day.
        self.clock = clock
        self.stats = Stats()
        self._stats_lock = threading.Lock()
        # One SQLite connection per generation is shared by the bot's worker threads; reads are
        # a few milliseconds, so serialising them costs nothing while embedding runs in parallel.
        self._read_lock = threading.Lock()

    @classmethod
    def from_settings(cls, config: EngineConfig) -> Khabar:
        """The engine ``config`` describes (``khabar.bot.settings.Settings`` is one): its
        backend, embedder, articles and model."""
        llm = None
        if config.llm:
            from khabar.retrieval.stages.llm import LLMConfig

            llm = LLMConfig(config.llm, config.llm_base_url, config.llm_api_key,
                            config.llm_timeout, config.llm_max_tokens, config.llm_verify)
        return cls(open_backend(config), seeds=config.seeds_dir, embedder=config.embedder,
                   config=config, llm=llm, state_dir=config.index_dir)

    @cached_property
    def llm(self) -> LLM | None:
        """The chat model behind generated answers; None = extractive answers only. Raises
        ``LLMSetupError`` when it cannot be built (a bad spec, the extra not installed)."""
        if self._llm is None:
            return None
        from khabar.retrieval.stages.llm import LLM, LLMConfig

        if isinstance(self._llm, LLMConfig):
            return LLM.from_config(self._llm)
        return self._llm

    @cached_property
    def lexicon(self) -> Lexicon:
        """Corpus terms' vectors for reading question words the corpus never uses; kept in
        ``state_dir`` so that an index in Milvus has one too."""
        return Lexicon(self.state_dir, self.embedder)

    @cached_property
    def indexer(self) -> Indexer:
        return Indexer(self.index_dir, self.embedder, self.chunker,
                       max_file_bytes=self.max_file_bytes, lexicon=self.lexicon)

    @cached_property
    def live(self) -> LiveIndex:
        """The live generation, switched between questions when a newer one is published."""
        return LiveIndex(self.index_dir, self.embedder.spec)

    @cached_property
    def analyser(self) -> Analyser:
        retrieve_options = self.options.retrieve
        return Analyser(self.embedder, lexicon=self.lexicon,
                        read_unknown=retrieve_options.lexicon and retrieve_options.transliterate,
                        llm=self.llm, max_question_chars=self.max_question_chars,
                        clock=lambda: self.clock())

    @cached_property
    def reranker(self) -> Reranker:
        return get_reranker(self.options.reranker, self.options.rerank)

    @cached_property
    def intake(self) -> Intake:
        """Adds links, files and feed items to ``seeds`` and indexes them at once."""
        from khabar.retrieval.ingest.ledger import Ledger
        from khabar.retrieval.intake import Intake

        return Intake(self.seeds, Ledger(self.state_dir / "intake.sqlite"),
                      lambda only: self.index(only=only), self.chunker, self.fetch_options,
                      self.max_file_bytes)

    def index(self, *, rebuild: bool = False, progress: ProgressFn | None = None,
              only: Sequence[str] | None = None) -> IndexReport:
        """Bring the index in line with ``seeds`` (only what changed is embedded); ``only``
        (paths relative to ``seeds``) looks at those files alone."""
        report = self.indexer.run(self.seeds, rebuild=rebuild, progress=progress, only=only)
        self.match_follows()
        return report

    def watch(self, on_report: Callable[[IndexReport], None],
              stop: threading.Event | None = None) -> None:
        """Reindex after every burst of changes in ``seeds`` until ``stop`` is set; new
        articles are matched against followed topics after each run."""
        from khabar.retrieval.index.watch import watch

        def report(run: IndexReport) -> None:
            on_report(run)
            self.match_follows()

        watch(self.indexer, self.seeds, report, stop)

    # Following stories ---------------------------------------------------------------------

    @cached_property
    def follows(self) -> FollowStore:
        """Followed topics, their matches and the alerts to send (``state_dir``)."""
        return FollowStore(self.state_dir / "follows.sqlite")

    def follow(self, chat: str, topic: str, lang: str | None = None) -> Topic:
        """``chat`` follows ``topic`` (words or a question, checked like a question): new
        articles of its story will be queued as alerts for that chat. ``FollowError`` when
        the chat already follows it or follows the most topics allowed."""
        text = self.validate(topic)
        if not asks_something(text):
            raise QuestionError("empty", "the topic has no word to look for")
        limit = self.config.max_topics_per_chat
        if self.follows.exists:
            self.follows.check(chat, text, limit)
        vector = self.embedder.embed([text], query=True)[0]
        if not self.follows.baselined():
            try:
                paths = [d.path for d in self.documents()]
            except KhabarIndexError:
                paths = []  # nothing indexed yet: every article to come is new
            self.follows.baseline(paths)
        # The language background is made here, once per follows file, and kept in it: the
        # indexing process then reads it instead of embedding the sample on its first match,
        # which would delay the first alert by seconds.
        background(self.embedder.spec, self._embed_passages, self.follows)
        return self.follows.follow(chat, text, lang or detect_lang(text), self.embedder.spec,
                                   vector, limit)

    def _embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts, query=False)

    def unfollow(self, chat: str, which: str) -> Topic:
        """Stop following the topic named by its number or its words."""
        return self.follows.unfollow(chat, which)

    def following(self, chat: str) -> list[Topic]:
        return self.follows.topics(chat) if self.follows.exists else []

    def match_follows(self) -> MatchReport | None:
        """Match articles no run has looked at against every followed topic, queueing an
        alert per new story of a topic. Indexing calls it after every run; a fault here is
        one log line and never fails the run (the articles stay unseen, so the next run
        matches them)."""
        if not self.follows.exists:
            return None
        try:
            with self.live.use() as generation, self._read_lock:
                report = match_new(generation, self.follows, self.embedder.spec,
                                   lambda texts: self.embedder.embed(texts, query=True),
                                   self._embed_passages, self.config.follow_min_score)
        except (KhabarIndexError, sqlite3.Error, OSError) as exc:
            log.warning("follow_match_failed", extra={"error": str(exc)})
            return None
        if report.articles:
            log.info("follow_matched", extra={"articles": report.articles,
                                              "topics": report.topics,
                                              "alerts": report.alerts})
        return report

    def timeline(self, topic: str, limit: int = 50) -> Timeline:
        """``topic``'s story as dated articles, oldest first, one cited sentence each."""
        text = self.validate(topic)
        vector = self.embedder.embed([text], query=True)[0]
        prior = background(self.embedder.spec, self._embed_passages,
                           self.follows if self.follows.exists else None)
        with self.live.use() as generation, self._read_lock:
            return build_timeline(generation, text, vector, self.config.follow_min_score,
                                  prior, limit)

    @staticmethod
    def timeline_topic(question: str, history: Sequence[str] = ()) -> str | None:
        """The story ``question`` asks the timeline of ("timeline of ...", "تسلسل أحداث
        ...", "what happened in this story?"), or None for any other question."""
        return timeline_topic(question, history)

    def validate(self, question: str) -> str:
        """The question stripped, or ``QuestionError`` naming the check it fails, so a front
        end can refuse it in the user's language before showing any progress."""
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

    def ask(self, question: str, k: int | None = None, history: Sequence[str] = (), *,
            on_text: Callable[[str], None] | None = None) -> Answer:
        """Answer ``question``; ``history`` holds the conversation's earlier questions (oldest
        first); ``on_text`` receives a generated answer as it is written, before it is
        checked."""
        q = self.validate(question)
        if not asks_something(q):
            self.generation()  # a missing or incompatible index fails here too
            return Answer(q, False, say("nothing_to_ask", detect_lang(q)), (),
                          {"embed": 0.0, "search": 0.0, "answer": 0.0, "total": 0.0})
        # The trace opens the live generation first: a missing or incompatible index fails
        # before the embedding, and the question checks for a new generation once.
        trace = self.trace(q, history, k)
        answer = Answer(q, trace.composed.found, trace.composed.answer,
                        trace.composed.citations, trace.timings_ms, standalone=trace.query.text)
        if self.llm is not None:
            from khabar.retrieval.stages.generate import generate

            answer = generate(self.llm, answer, trace.query, trace.composed, trace.started,
                              trace.condense_ms, on_text)
        with self._stats_lock:
            self.stats.questions += 1
            self.stats.latencies_ms.append(answer.timings_ms["total"])
            del self.stats.latencies_ms[:-1000]
        return answer

    def trace(self, question: str, history: Sequence[str] = (), k: int | None = None) -> Trace:
        """What each stage made of ``question`` (validated, not empty of content): the
        ``Query``, the retrieved candidates, their ranking and the composed answer, with the
        time each took. ``ask`` is this plus the optional generate stage."""
        started = time.perf_counter()
        with self.live.use() as generation:
            analysis = self.analyser.analyse(question, history, self._vocabulary(generation))
            query = analysis.query
            analysed = time.perf_counter()
            retrieved, ranking = self._rank(generation, query, k or self.top_k)
        ranked = time.perf_counter()
        composed = compose(query, retrieved, ranking, self.options.compose)
        done = time.perf_counter()
        timings = {
            "embed": (analysed - started) * 1000,
            "search": (ranked - analysed) * 1000,
            "answer": (done - ranked) * 1000,
            "total": (done - started) * 1000,
        }
        return Trace(query, retrieved, ranking, composed, analysis.condense_ms, started, timings)

    def _rank(self, generation: Generation, query: Query, k: int) -> tuple[Retrieved, Ranking]:
        with self._read_lock:
            retrieved = retrieve(generation, query, max(k, self.reranker.depth),
                                 self.options.retrieve)
        return retrieved, self.reranker.rerank(query, retrieved, k)

    def _vocabulary(self, generation: Generation) -> Callable[[list[str]], dict[str, int]]:
        """The live generation's document frequencies of terms, read under the read lock."""

        def vocabulary(terms: list[str]) -> dict[str, int]:
            with self._read_lock:
                return generation.store.document_frequencies(terms)

        return vocabulary

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

    def generation(self) -> Generation:
        """The live generation, reopened if a newer one was published since the last call;
        raises with the fix when there is no usable index."""
        return self.live.current()

    def close(self) -> None:
        """Close the open generation and the backend's connections (another process may
        then open a Milvus Lite file, which serves one process at a time)."""
        if "live" in self.__dict__:
            self.live.close()
        if "lexicon" in self.__dict__:
            self.lexicon.close()
        if "follows" in self.__dict__:
            self.follows.close()
        self.index_dir.close()
