"""Khabar's search as a LangChain ``BaseRetriever``, for use in any LangChain chain."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from khabar.retrieval.engine import Khabar


class KhabarRetriever(BaseRetriever):
    """Hybrid passage search; each Document carries its citation metadata and offsets."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Khabar
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        trace = self.engine.trace(self.engine.validate(query), k=self.k)
        docs = []
        for h in trace.ranking.hits:
            meta = trace.retrieved.passages[h.passage_id].doc
            docs.append(Document(page_content=h.text, metadata={
                "doc": h.doc, "title": meta.title, "outlet": meta.outlet, "date": meta.date,
                "url": meta.url, "start": h.start, "end": h.end, "score": h.score,
                "passage_id": h.passage_id,
            }))
        return docs
