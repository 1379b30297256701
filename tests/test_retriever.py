from conftest import SEEDS
from langchain_core.retrievers import BaseRetriever

from khabar.retrieval.retriever import KhabarRetriever


def test_retriever_is_a_langchain_retriever_with_citation_metadata(seeds_engine):
    retriever = KhabarRetriever(engine=seeds_engine, k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Who confirmed that North Korean troops were deployed in Russia?")
    assert len(docs) == 3
    # The answering article is among them (since the best-sentence re-rank, second: an Arabic
    # article about the same troops ranks first; docs/experiments.md, v9).
    assert "003_dc3d2b073bfb3a07.txt" in [d.metadata["doc"] for d in docs]
    top = docs[0]
    text = (SEEDS / top.metadata["doc"]).read_text(encoding="utf-8")
    assert text[top.metadata["start"]:top.metadata["end"]] == top.page_content
    assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs),
                                                         reverse=True)
