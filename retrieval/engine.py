"""``Khabar``: one object that wires an index directory, an embedder, the indexer and the
answer service, so front ends, measuring tools and tests never repeat that wiring.

    engine = Khabar(".khabar/index", seeds="seeds")
    engine.index()
    print(engine.ask("Who signed the treaty?").answer)

Everything is built lazily: constructing a ``Khabar`` loads no model and opens no index.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from khabar.embeddings.base import Embedder
from khabar.embeddings.registry import DEFAULT_EMBEDDER, get_embedder
from khabar.retrieval.answer.compose import AnswerOptions
from khabar.retrieval.answer.service import AnswerService, ServiceStats
from khabar.retrieval.answer.types import Answer
from khabar.retrieval.index.backend import Generation, IndexBackend
from khabar.retrieval.index.generations import IndexDir
from khabar.retrieval.index.indexer import Indexer, IndexReport, ProgressFn
from khabar.retrieval.index.records import DocMeta, StoredArticle, StoredPassage
from khabar.retrieval.index.registry import open_backend
from khabar.retrieval.ingest.chunking import Chunker
from khabar.retrieval.ingest.fetch import FetchOptions
from khabar.retrieval.lexicon import Lexicon
from khabar.retrieval.search import SearchOptions, SearchResult

if TYPE_CHECKING:
    from khabar.retrieval.answer.llm import LLM, LLMConfig
    from khabar.retrieval.intake import Intake


class EngineSettings(Protocol):
    """What ``Khabar.from_settings`` reads; ``khabar.bot.settings.Settings`` provides it."""

    seeds_dir: Path
    index_dir: Path
    backend: str
    milvus_uri: str
    milvus_token: str
    milvus_prefix: str
    milvus_index: str
    embedder: str
    top_k: int
    chunk_chars: int
    chunk_overlap: int
    search_mode: str
    max_file_bytes: int
    max_question_chars: int
    llm: str
    llm_base_url: str
    llm_api_key: str
    llm_timeout: float
    llm_max_tokens: int
    llm_verify: bool
    fetch_timeout: float
    max_page_bytes: int
    fetch_allow_private: bool


class Khabar:
    """The engine: articles in ``seeds``, an index in ``index`` (a directory, or any
    ``IndexBackend`` such as a Milvus deployment), answers out."""

    def __init__(self, index: Path | str | IndexBackend, *, seeds: Path | str = "seeds",
                 embedder: str | Embedder = DEFAULT_EMBEDDER, top_k: int = 5,
                 chunk_chars: int = 600, chunk_overlap: int = 0,
                 search_options: SearchOptions | None = None,
                 answer_options: AnswerOptions | None = None,
                 max_file_bytes: int = 20_000_000, max_question_chars: int = 1000,
                 llm: LLMConfig | LLM | None = None,
                 fetch_options: FetchOptions | None = None,
                 state_dir: Path | str | None = None) -> None:
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
        self.chunker = Chunker(chunk_chars, chunk_overlap)
        self.top_k = top_k
        self.search_options = search_options or SearchOptions()
        self.answer_options = answer_options or AnswerOptions()
        self.max_file_bytes = max_file_bytes
        self.max_question_chars = max_question_chars
        # A chat model for generated answers, or its settings (built on first use, so commands
        # that answer nothing never load LangChain's chat models).
        self._llm = llm
        self.fetch_options = fetch_options or FetchOptions()

    @classmethod
    def from_settings(cls, settings: EngineSettings, *,
                      search_options: SearchOptions | None = None,
                      answer_options: AnswerOptions | None = None) -> Khabar:
        llm = None
        if settings.llm:
            from khabar.retrieval.answer.llm import LLMConfig

            llm = LLMConfig(settings.llm, settings.llm_base_url, settings.llm_api_key,
                            settings.llm_timeout, settings.llm_max_tokens,
                            settings.llm_verify)
        return cls(open_backend(settings), seeds=settings.seeds_dir, embedder=settings.embedder,
                   top_k=settings.top_k, chunk_chars=settings.chunk_chars,
                   chunk_overlap=settings.chunk_overlap,
                   search_options=search_options or SearchOptions(mode=settings.search_mode),
                   answer_options=answer_options, max_file_bytes=settings.max_file_bytes,
                   max_question_chars=settings.max_question_chars, llm=llm,
                   fetch_options=FetchOptions(timeout=settings.fetch_timeout,
                                              max_bytes=settings.max_page_bytes,
                                              allow_private=settings.fetch_allow_private),
                   state_dir=settings.index_dir)

    @cached_property
    def llm(self) -> LLM | None:
        """The chat model behind generated answers; None = extractive answers only. Raises
        ``LLMSetupError`` when it cannot be built (a bad spec, the extra not installed)."""
        if self._llm is None:
            return None
        from khabar.retrieval.answer.llm import LLM, LLMConfig

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
    def service(self) -> AnswerService:
        return AnswerService(self.index_dir, self.embedder, k=self.top_k,
                             search_options=self.search_options,
                             answer_options=self.answer_options,
                             max_question_chars=self.max_question_chars,
                             llm=self.llm, lexicon=self.lexicon)

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
        return self.indexer.run(self.seeds, rebuild=rebuild, progress=progress, only=only)

    def watch(self, on_report: Callable[[IndexReport], None],
              stop: threading.Event | None = None) -> None:
        """Reindex after every burst of changes in ``seeds`` until ``stop`` is set."""
        from khabar.retrieval.index.watch import watch

        watch(self.indexer, self.seeds, on_report, stop)

    def ask(self, question: str, k: int | None = None, history: Sequence[str] = (), *,
            on_text: Callable[[str], None] | None = None) -> Answer:
        """Answer ``question``; ``history`` holds the conversation's earlier questions;
        ``on_text`` receives a generated answer as it is written (see ``AnswerService.ask``)."""
        return self.service.ask(question, k, history, on_text=on_text)

    def validate(self, question: str) -> str:
        """The question stripped, or ``QuestionError`` naming the check it fails, so a front
        end can refuse it in the user's language before showing any progress."""
        return self.service.validate(question)

    def search(self, question: str, k: int | None = None) -> SearchResult:
        """The passages a question retrieves, with their articles (the LangChain retriever's
        view: no answer is composed)."""
        return self.service.search(self.service.query(question), k)

    def documents(self) -> list[DocMeta]:
        """Every indexed article's metadata, by path."""
        return self.service.documents()

    def passage(self, passage_id: int) -> StoredPassage | None:
        """One passage with its article, or None once a newer index no longer has it."""
        return self.service.passage(passage_id)

    def article(self, path: str) -> StoredArticle | None:
        """One article's stored text (citation offsets index it) with its passages' spans."""
        return self.service.article(path)

    def passage_counts(self) -> dict[str, int]:
        """Passages per indexed article, by path."""
        return self.service.passage_counts()

    @property
    def stats(self) -> ServiceStats:
        """Questions answered by this process and their latencies."""
        return self.service.stats

    def generation(self) -> Generation:
        """The live generation; raises with the fix when there is no usable index."""
        return self.service.generation()

    def close(self) -> None:
        """Close the open generation and the backend's connections (another process may
        then open a Milvus Lite file, which serves one process at a time)."""
        if "service" in self.__dict__:
            self.service.live.close()
        if "lexicon" in self.__dict__:
            self.lexicon.close()
        self.index_dir.close()
