"""Hybrid passage search: dense (FAISS) and lexical (FTS5 BM25), fused with care.

Blind rank fusion hurts here: an English question over Arabic articles shares no words with
them, so BM25 ranks noise, and fusing that noise pulls the right passage down. Lexical evidence
is therefore weighted by how far it can be trusted: only for passages in the question's own
script, and in proportion to how much of the question's vocabulary the passage really covers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from retrieval.index import Generation
from retrieval.normalize import STOPWORDS, script, tokens
from retrieval.store import StoredPassage
from retrieval.types import Hit

MODES = ("hybrid", "dense", "lexical")
_MAX_LEXICAL_TERMS = 12


@dataclass(frozen=True, slots=True)
class SearchOptions:
    mode: str = "hybrid"
    candidates: int = 30
    lexical_weight: float = 0.06

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Invalid search mode: {self.mode!r}. Choose from {', '.join(MODES)}.")


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: tuple[Hit, ...]
    query_vector: np.ndarray
    search_ms: float
    # The candidate with the highest cosine, whatever the fused rank: abstention's evidence.
    closest: Hit | None
    # The stored rows of every candidate, so the answer stage does not read them again.
    passages: dict[int, StoredPassage]
    # Share of the question's IDF mass in words the corpus never uses: high for questions
    # about something the articles do not cover, whatever their cosine scores say.
    unseen: float


def search(generation: Generation, question: str, query_vector: np.ndarray, k: int,
           options: SearchOptions) -> SearchResult:
    """The top ``k`` passages for ``question`` with dense, lexical and fused scores."""
    started = time.perf_counter()
    store = generation.store
    n = max(k, options.candidates)
    dense = dict(generation.vectors.search(query_vector, n)) if options.mode != "lexical" else {}
    q_tokens = tokens(question)
    q_set = set(q_tokens)
    df = store.document_frequencies(sorted(q_set))
    total = generation.manifest.passages
    lexical = dict(store.lexical(_selective(df, total), n)) if options.mode != "dense" else {}

    ids = list(dict.fromkeys([*dense, *lexical]))
    passages = store.passages(ids)
    missing = [i for i in ids if i not in dense and i in passages]
    if missing:
        vecs = store.passage_vectors(missing, generation.manifest.dim)
        for pid, vec in vecs.items():
            dense[pid] = float(vec @ query_vector)

    top_lex = max(lexical.values(), default=0.0)
    q_script = script(question)
    scored: list[Hit] = []
    for pid in ids:
        p = passages.get(pid)
        if p is None:
            continue
        d = dense.get(pid, 0.0)
        raw = lexical.get(pid, 0.0)
        lex = raw / top_lex if top_lex > 0 else 0.0
        if options.mode == "dense":
            score = d
        elif options.mode == "lexical":
            score = lex
        else:
            trust = 0.0
            if q_set and script(p.text[:200]) == q_script:
                covered = q_set & set(p.norm.split())
                trust = len(covered) / len(q_set)
            score = d + options.lexical_weight * lex * trust
        scored.append(Hit(pid, p.doc.path, p.start, p.end, p.text, score, d, lex))
    closest = max(scored, key=lambda h: h.dense, default=None)
    scored.sort(key=lambda h: h.score, reverse=True)
    unseen = _unseen_share(q_set - STOPWORDS, df, total)
    return SearchResult(tuple(scored[:k]), query_vector, (time.perf_counter() - started) * 1000,
                        closest, passages, unseen)


def _selective(df: dict[str, int], passages: int) -> list[str]:
    """The question's terms worth a BM25 lookup: present, and not in most passages.

    Terms found in over a tenth of the passages ("في", "the", "است") add almost nothing to BM25
    but make FTS5 score a large share of the corpus, which is what slows lexical search as the
    corpus grows; the rarest terms carry the evidence.
    """
    cap = max(10, passages // 10)
    kept = sorted((n, t) for t, n in df.items() if n <= cap)
    return [t for _, t in kept[:_MAX_LEXICAL_TERMS]]


def _unseen_share(terms: set[str], df: dict[str, int], passages: int) -> float:
    if not terms:
        return 0.0
    idf = {t: math.log((passages + 1) / (df.get(t, 0) + 0.5)) for t in terms}
    total = sum(idf.values())
    return sum(w for t, w in idf.items() if t not in df) / total if total > 0 else 0.0
