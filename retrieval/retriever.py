"""Khabar's search as a LangChain ``BaseRetriever``, for use in any LangChain chain."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from embeddings.base import Embedder
from retrieval.index import LiveIndex
from retrieval.search import SearchOptions, search


class KhabarRetriever(BaseRetriever):
    """Hybrid passage search; each Document carries its citation metadata and offsets."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    live: LiveIndex
    embedder: Embedder
    k: int = 5
    options: SearchOptions = SearchOptions()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        generation = self.live.current()
        vector = self.embedder.embed_one_query(query)
        hits = search(generation, query, vector, self.k, self.options).hits
        stored = generation.store.passages([h.passage_id for h in hits])
        docs = []
        for h in hits:
            p = stored[h.passage_id]
            docs.append(Document(page_content=h.text, metadata={
                "doc": h.doc, "title": p.doc.title, "outlet": p.doc.outlet, "date": p.doc.date,
                "url": p.doc.url, "start": h.start, "end": h.end, "score": h.score,
                "passage_id": h.passage_id,
            }))
        return docs
