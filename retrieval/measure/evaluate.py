"""``khabar eval``: retrieval and answer quality of a variant on a question set.

A set is a directory with ``corpus/*.txt`` and ``questions*.jsonl`` lines of
``{"id", "lang", "q", "doc", "answers", "answerable"}``. The corpus is indexed incrementally
into a cache keyed by set and settings, so a second run only asks.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from khabar.retrieval.engine import Khabar, Options
from khabar.retrieval.errors import KhabarError
from khabar.retrieval.index.store import SCHEMA_VERSION
from khabar.retrieval.normalize import contains
from khabar.retrieval.stages.checks import citations, split_sentences
from khabar.retrieval.stages.compose import ComposeOptions
from khabar.retrieval.stages.llm import LLM
from khabar.retrieval.stages.rerank.base import RerankOptions
from khabar.retrieval.stages.retrieve import RetrieveOptions
from khabar.retrieval.types import Answer

_R, _S, _C = RetrieveOptions, RerankOptions, ComposeOptions
VARIANTS: dict[str, Options] = {
    "hybrid": Options(),
    "dense": Options(retrieve=_R(mode="dense")),
    "lexical": Options(retrieve=_R(mode="lexical")),
    "hybrid-1sent": Options(compose=_C(max_sentences=1)),
    "no-translit": Options(retrieve=_R(transliterate=False), rerank=_S(transliterate=False)),
    "no-center": Options(retrieve=_R(center_languages=False)),
    "no-dates": Options(retrieve=_R(dates=False)),
    "passages-only": Options(rerank=_S(sentence_weight=0.0)),
    "no-lexicon": Options(retrieve=_R(lexicon=False)),
    "no-covered": Options(compose=_C(covered_below=1.0)),
}
EVAL_K = 10


class EvalSetError(KhabarError):
    """A question set or variant that cannot be used as given."""


def variant(name: str) -> Options:
    if name not in VARIANTS:
        raise EvalSetError(f"Invalid variant: {name!r}. Choose from {', '.join(VARIANTS)}.")
    return VARIANTS[name]


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    lang: str
    q: str
    doc: str | None
    answers: tuple[str, ...]
    answerable: bool
    # Every article that states the answer (``doc`` among them): one story, several outlets.
    docs: tuple[str, ...] = ()
    # Earlier questions of the same conversation, oldest first (follow-up sets).
    history: tuple[str, ...] = ()
    kind: str | None = None
    # The set (its directory name) a line belongs to, for files that mix several corpora.
    corpus: str | None = None

    @property
    def accepted(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*([self.doc] if self.doc else []), *self.docs]))


# How a question's conversation reaches the service: ``context`` is Khabar's own reading of
# follow-ups; ``alone`` ignores the history and ``concat`` glues the last question to the new
# one, the two naive references it is measured against.
HISTORY_MODES = ("context", "alone", "concat")


@dataclass
class _Tally:
    n: int = 0
    doc1: int = 0
    doc3: int = 0
    doc10: int = 0
    rr: float = 0.0
    ans: int = 0
    snip3: int = 0
    false_abstain: int = 0
    unanswerable: int = 0
    abstained: int = 0
    latencies: list[float] = field(default_factory=list)
    embeds: list[float] = field(default_factory=list)
    # Generated answers (``--llm``): citations made and those whose passage holds an accepted
    # answer; sentences generated and removed by the checks; questions the model was asked and
    # those answered extractively instead.
    cited: int = 0
    cited_key: int = 0
    sentences: int = 0
    removed: int = 0
    asked: int = 0
    fallbacks: int = 0

    def llm_row(self) -> dict[str, float | int | None]:
        def share(x: float, n: int) -> float | None:
            return round(x / n, 3) if n else None

        return {"llm_asked": self.asked, "cite_precision": share(self.cited_key, self.cited),
                "removed_rate": share(self.removed, self.sentences),
                "fallback_rate": share(self.fallbacks, self.asked)}

    def row(self) -> dict[str, float | int | None]:
        def share(x: float, n: int) -> float | None:
            return round(x / n, 3) if n else None

        def pct(values: list[float], p: int) -> float | None:
            return round(float(np.percentile(values, p)), 1) if values else None

        return {
            "n": self.n, "doc@1": share(self.doc1, self.n), "doc@3": share(self.doc3, self.n),
            "doc@10": share(self.doc10, self.n), "mrr@10": share(self.rr, self.n),
            "ans@answer": share(self.ans, self.n), "ans@snip3": share(self.snip3, self.n),
            "false_abstain": share(self.false_abstain, self.n),
            "unanswerable": self.unanswerable,
            "abstain": share(self.abstained, self.unanswerable),
            "p50_ms": pct(self.latencies, 50), "p95_ms": pct(self.latencies, 95),
            "embed_p50_ms": pct(self.embeds, 50),
        }


_LINE_FORMAT = ('Each line is an object with "id", "q" and "answerable" (and "answers", "doc",'
                ' "lang" ...: the question-set format in the README).')


def load_questions(path: Path) -> list[Question]:
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(Question(str(d["id"]), d.get("lang") or "und", d["q"], d.get("doc"),
                                tuple(d.get("answers") or ()), bool(d["answerable"]),
                                tuple(d.get("docs") or ()), tuple(d.get("history") or ()),
                                d.get("kind"), d.get("corpus")))
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path}:{i}: not a JSON line ({exc.msg}, column {exc.colno})."
                               f" {_LINE_FORMAT}") from None
        except KeyError as exc:
            raise EvalSetError(f"{path}:{i}: the field {exc} is missing. {_LINE_FORMAT}") from None
        except (TypeError, AttributeError):
            raise EvalSetError(f"{path}:{i}: not a question object. {_LINE_FORMAT}") from None
    return out


def question_files(set_dir: Path, questions: str | None) -> list[Path]:
    if questions:
        for candidate in (set_dir / questions, Path(questions)):
            if candidate.is_file():
                return [candidate]
        raise EvalSetError(f"question file {questions} not found in {set_dir} or here")
    files = sorted(set_dir.glob("questions*.jsonl"))
    if not files:
        raise EvalSetError(f"{set_dir} has no questions*.jsonl; pass --questions FILE")
    return files


def cached_engine(engine: Khabar, set_dir: Path, cache_root: Path,
                  options: Options,
                  progress: Callable[[int, int], None] | None = None,
                  llm: LLM | None = None) -> Khabar:
    """``engine``'s embedder and passage settings over the set's corpus, indexed incrementally
    into a cache keyed by everything that shapes its passages and vectors."""
    corpus = set_dir / "corpus"
    if not corpus.is_dir():
        raise EvalSetError(f"{set_dir} has no corpus/ directory of articles")
    shape = json.dumps(engine.chunker.settings, sort_keys=True)
    key = hashlib.sha256(
        f"{corpus.resolve()}|{engine.embedder.spec}|{shape}|{SCHEMA_VERSION}".encode()
    )
    cached = Khabar(engine.index_dir.sibling(
                        cache_root, f"{set_dir.resolve().name}-{key.hexdigest()[:12]}"),
                    seeds=corpus, embedder=engine.embedder, config=engine.config,
                    options=options, llm=llm)
    cached.index(progress=progress)
    return cached


def ask_beside_floor(engine: Khabar, question: str, k: int | None,
                     floor_first: bool, history: Sequence[str] = ()) -> tuple[Answer, float]:
    """``ask`` the question and time its floor, the bare query embedding, right beside it.

    Callers alternate ``floor_first``: whichever of the two runs first is slower (the
    embedder's threads are cold), so a fixed order would bias every ratio built on the pair.
    """
    if not floor_first:
        answer = engine.ask(question, k, history)
    started = time.perf_counter()
    engine.embedder.embed_one_query(question)
    floor_ms = (time.perf_counter() - started) * 1000
    if floor_first:
        answer = engine.ask(question, k, history)
    return answer, floor_ms


def _asked(q: Question, mode: str) -> tuple[str, tuple[str, ...]]:
    """The question text and history handed to the service under a history ``mode``."""
    if mode == "alone" or not q.history:
        return q.q, ()
    if mode == "concat":
        return f"{q.history[-1]} {q.q}", ()
    return q.q, q.history


def evaluate(engine: Khabar, questions: Iterable[Question],
             history: str = "context", llm: bool = False,
             details: Callable[[dict], None] | None = None) -> dict[str, dict]:
    """Ask every question; returns metric rows keyed by ``all``, by question language and by
    question kind (``kind:...``) where the set gives kinds. With ``llm``, rows also say how
    generated answers fared (``_count_generated``). ``details`` receives one record per
    question (``_detail``): which questions failed is what a set's owner looks at next."""
    if history not in HISTORY_MODES:
        raise EvalSetError(f"Invalid history mode: {history!r}. "
                           f"Choose from {', '.join(HISTORY_MODES)}.")
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for i, q in enumerate(questions):
        text, earlier = _asked(q, history)
        for j in range(len(earlier)):  # the conversation so far, as a chat would have asked it
            engine.ask(earlier[j], EVAL_K, earlier[:j])
        answer, bare = ask_beside_floor(engine, text, EVAL_K, i % 2 == 0, earlier)
        docs = [c.doc for c in answer.citations]
        rank = min((docs.index(d) + 1 for d in q.accepted if d in docs), default=None)
        answered = answer.found and any(contains(answer.answer, a) for a in q.answers)
        in_snippets = any(contains(c.snippet, a) for c in answer.citations[:3] for a in q.answers)
        if details is not None:
            details(_detail(q, answer, rank, answered, in_snippets))
        keys = ["all", q.lang] + ([f"kind:{q.kind}"] if q.kind else [])
        for key in keys:
            t = tallies[key]
            t.latencies.append(answer.timings_ms["total"])
            t.embeds.append(bare)
            if llm:
                _count_generated(t, q, answer)
            if not q.answerable:
                t.unanswerable += 1
                t.abstained += not answer.found
                continue
            t.n += 1
            t.doc1 += rank == 1
            t.doc3 += rank is not None and rank <= 3
            t.doc10 += rank is not None
            t.rr += 1 / rank if rank else 0.0
            t.ans += answered
            t.snip3 += in_snippets
            t.false_abstain += not answer.found
    order = sorted(tallies, key=lambda k: (k != "all", k.startswith("kind:"), k))
    return {k: tallies[k].row() | (tallies[k].llm_row() if llm else {}) for k in order}


def _detail(q: Question, answer: Answer, rank: int | None, answered: bool,
            in_snippets: bool) -> dict:
    """One question's outcome, as ``khabar eval --details`` writes it. For an unanswerable
    question only ``found`` is scored (false is right)."""
    scored = q.answerable
    return {"id": q.id, "lang": q.lang, "kind": q.kind, "q": q.q, "answerable": q.answerable,
            "found": answer.found, "rank": rank if scored else None,
            "ans@answer": answered if scored else None,
            "ans@snip3": in_snippets if scored else None,
            "cited": list(dict.fromkeys(c.doc for c in answer.citations))[:3],
            "answer": answer.answer, "ms": round(answer.timings_ms["total"], 1)}


def _count_generated(t: _Tally, q: Question, answer: Answer) -> None:
    """Tally one answer of an ``--llm`` run. The model was asked when the answer is generated
    or fell back; citation precision counts each ``[n]`` in an answer to an answerable
    question, and is right when citation n's snippet holds an accepted answer."""
    if answer.mode != "llm" and answer.fallback is None:
        return
    t.asked += 1
    t.fallbacks += answer.fallback is not None
    t.removed += len(answer.removed)
    t.sentences += len(answer.removed) + (
        len(split_sentences(answer.answer)) if answer.mode == "llm" and answer.found else 0)
    if answer.mode != "llm" or not answer.found or not q.answerable:
        return
    snippets = {c.n: c.snippet for c in answer.citations}
    for sentence in split_sentences(answer.answer):
        for n in citations(sentence):
            t.cited += 1
            t.cited_key += any(contains(snippets.get(n, ""), a) for a in q.answers)


COLUMNS = ["n", "doc@1", "doc@3", "doc@10", "mrr@10", "ans@answer", "ans@snip3",
           "false_abstain", "unanswerable", "abstain", "p50_ms", "p95_ms", "embed_p50_ms"]


LLM_COLUMNS = ["llm_asked", "cite_precision", "removed_rate", "fallback_rate"]


def table(rows: dict[str, dict]) -> str:
    columns = COLUMNS + [c for c in LLM_COLUMNS if any(c in r for r in rows.values())]
    header = ["lang", *columns]
    lines = [header] + [[k] + ["-" if r[c] is None else str(r[c]) for c in columns]
                        for k, r in rows.items()]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(line, widths, strict=True))
                     for line in lines)
