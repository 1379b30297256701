"""``khabar bench``: the speed of every stage, as ratios to the bare embedder, in one run.

Large corpora cannot be embedded here in minutes (the embedder does ~1,000 tokens/s on two
cores), so for each size N the bench embeds a pool of real passages once and synthesises the
other vectors by mixing pool vectors with noise; texts are real sentences recombined. Search
and answer costs depend on the index's size and shape, not on which exact vectors it holds, so
the query-side numbers are real; the indexing ratio for large N extrapolates the embedding time
from the measured bare throughput and adds the overhead measured for real at that size.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from khabar.embeddings.base import Embedder
from khabar.retrieval.engine import Khabar
from khabar.retrieval.errors import KhabarError
from khabar.retrieval.index.backend import Generation, IndexBackend
from khabar.retrieval.index.generations import IndexDir
from khabar.retrieval.index.vectors import exact_top, recall
from khabar.retrieval.ingest.chunking import embedding_text, sentence_spans
from khabar.retrieval.ingest.corpus import parse
from khabar.retrieval.ingest.decoding import UnreadableFileError, decode
from khabar.retrieval.measure.evaluate import ask_beside_floor
from khabar.retrieval.types import Document, Passage, Span

_QUERIES = 100
# Builds an engine over an index and a seeds folder as the configured engine is built.
Make = Callable[[IndexBackend, Path, Embedder], Khabar]


@dataclass
class BenchReport:
    # The configuration every engine of the run was built with (the configured one's).
    settings: dict = field(default_factory=dict)
    embedder: dict = field(default_factory=dict)
    indexing: dict = field(default_factory=dict)
    cold_start_s: float | None = None
    live: dict = field(default_factory=dict)
    followups: dict = field(default_factory=dict)
    cross_language: dict = field(default_factory=dict)
    sizes: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"settings": self.settings, "embedder": self.embedder,
                "indexing": self.indexing, "cold_start_s": self.cold_start_s, "live": self.live,
                "followups": self.followups, "cross_language": self.cross_language,
                "sizes": self.sizes}


def sentence_pool(dirs: list[Path]) -> list[str]:
    """Real sentences from every readable article under ``dirs``."""
    out: list[str] = []
    for d in dirs:
        for path in sorted(d.glob("*.txt")):
            try:
                text = decode(path.read_bytes())
            except UnreadableFileError:
                continue
            doc = parse(path.name, text)
            for block in doc.blocks:
                out += [text[s.start:s.end] for s in sentence_spans(text, block.start, block.end)
                        if 40 <= s.end - s.start <= 400]
    if not out:
        raise KhabarError(f"no article text to build bench corpora from in "
                          f"{', '.join(map(str, dirs))}; check --seeds and --corpus")
    return out


def _pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)), 2)


def bare_embedder(embedder: Embedder, sentences: list[str], rng: random.Random,
                  pool: int) -> dict:
    # Distinct questions (a repeat would come from the service's vector cache): as many as the
    # sentence pool allows, so the seeds alone are enough for a run.
    count = min(_QUERIES, len(sentences))
    queries = [" ".join(s.split()[:10]) for s in rng.sample(sentences, count)]
    embedder.embed_one_query("warm up")
    lat = []
    for q in queries:
        t = time.perf_counter()
        embedder.embed_one_query(q)
        lat.append((time.perf_counter() - t) * 1000)
    passages = [" ".join(rng.sample(sentences, 3)) for _ in range(pool)]
    toks = sum(embedder.token_count(p) for p in passages)
    chars = sum(len(p) for p in passages)
    t = time.perf_counter()
    vectors = embedder.embed(passages)
    dt = time.perf_counter() - t
    return {"query_p50_ms": _pct(lat, 50), "query_p95_ms": _pct(lat, 95),
            "tokens_per_s": round(toks / dt, 1), "passages_per_s": round(len(passages) / dt, 2),
            "chars_per_token": round(chars / toks, 3), "tokens_per_passage": round(toks / pool, 1),
            "_vectors": vectors, "_queries": queries}


def _fresh(index: IndexBackend, work: Path, name: str) -> IndexBackend:
    """An empty index of ``index``'s kind for one bench corpus (a killed run's is dropped)."""
    target = index.sibling(work, name)
    target.destroy()
    return target


def real_indexing(make: Make, embedder: Embedder, sentences: list[str], bare: dict, work: Path,
                  rng: random.Random, articles: int, index: IndexBackend) -> dict:
    """Index generated articles through the real pipeline and compare to the bare embedder."""
    seeds = work / "index-seeds"
    seeds.mkdir(parents=True)
    for i in range(articles):
        body = "\n\n".join(" ".join(rng.sample(sentences, 3)) for _ in range(3))
        (seeds / f"a{i:03d}.txt").write_text(f"خبر {i}\n\n{body}\n", encoding="utf-8")
    report = make(_fresh(index, work, "index-real"), seeds, embedder).index()
    embedded_tokens = report.embedded_chars / bare["chars_per_token"]
    rate = embedded_tokens / report.seconds
    return {"articles": articles, "passages": report.passages,
            "embedded_texts": report.embedded_texts, "seconds": round(report.seconds, 2),
            "embedded_tokens_per_s": round(rate, 1),
            "ratio_to_bare": round(rate / bare["tokens_per_s"], 3)}


class _PoolEmbedder(Embedder):
    """Stands in for the real embedder while building a big live-corpus index fast: same spec
    and width, vectors mixed from real ones. Only the one new article is embedded for real."""

    batch_size = 4096

    def __init__(self, real: Embedder, pool: np.ndarray) -> None:
        super().__init__(real.spec)
        self._pool = pool
        self._calls = 0

    @property
    def dim(self) -> int:
        return int(self._pool.shape[1])

    def embed_batch(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        self._calls += 1
        return synthetic_vectors(self._pool, len(texts), seed=self._calls)


def live_corpus(make: Make, embedder: Embedder, pool: np.ndarray, sentences: list[str],
                work: Path,
                rng: random.Random, articles: int, index: IndexBackend,
                adds: int = 5) -> dict:
    """The daily job at scale: check an unchanged ``articles``-file seeds dir, then add one
    article at a time, ``adds`` times, each add timed beside embedding that article's texts on
    the bare embedder (alternating which goes first: the first of a pair runs slower). The
    ratio is of the medians, since one add on two noisy cores proves little."""
    seeds = work / "live-seeds"
    seeds.mkdir(parents=True)
    for i in range(articles):
        body = "\n\n".join(" ".join(rng.sample(sentences, 3)) for _ in range(3))
        (seeds / f"{i // 1000:02d}" / f"a{i:05d}.txt").parent.mkdir(exist_ok=True)
        (seeds / f"{i // 1000:02d}" / f"a{i:05d}.txt").write_text(f"خبر {i}\n\n{body}\n",
                                                                 encoding="utf-8")
    live = _fresh(index, work, "live-index")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    built = make(live, seeds, _PoolEmbedder(embedder, pool)).index()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine = make(live, seeds, embedder)
    unchanged = engine.index()

    add_s, bare_s, embedded = [], [], 0
    for i in range(adds):
        new = seeds / f"new-article-{i}.txt"
        body = "\n\n".join(" ".join(rng.sample(sentences, 3)) for _ in range(3))
        new.write_text(f"خبر جديد {i}\n\n{body}\n", encoding="utf-8")
        doc = parse(new.name, decode(new.read_bytes()))
        texts = []
        for p in engine.chunker.passages(doc):
            texts.append(embedding_text(p, doc.title))
            if len(p.sentences) > 1:
                texts += [doc.text[s.start:s.end] for s in p.sentences]
        for step in (("add", "bare") if i % 2 else ("bare", "add")):
            t = time.perf_counter()
            if step == "add":
                added = engine.index()
                add_s.append(time.perf_counter() - t)
                embedded = added.embedded_texts
            else:
                embedder.embed(texts)
                bare_s.append(time.perf_counter() - t)
    add_med, bare_med = statistics.median(add_s), statistics.median(bare_s)
    vector_index = live.manifest().vector_index
    live.destroy()
    return {"articles": articles, "passages": built.passages,
            "vector_index": vector_index,
            "build_seconds_without_embedding": round(built.seconds, 1),
            "build_peak_rss_growth_mb": round(max(0, rss_after - rss_before) / 1024, 1),
            "unchanged_check_s": round(unchanged.seconds, 2),
            "add_one_s": round(add_med, 3), "embed_one_bare_s": round(bare_med, 3),
            "add_one_ratio": round(add_med / bare_med, 2), "adds": adds,
            "add_one_embedded_texts": embedded}


def followups(engine: Khabar, questions: list[str]) -> dict:
    """A follow-up turn against a first question, as a chat asks them: the previous question
    was just answered (its vector is cached), then "و ..." continues it. Each follow-up is
    timed beside a new question asked alone (alternating which goes first), both embedded
    afresh, so the ratio is what reading the conversation costs."""
    alone, follow, read = [], [], 0
    pairs = list(zip(questions[0::3], questions[1::3], questions[2::3], strict=False))
    for i, (first, next_, other) in enumerate(pairs):
        engine.ask(first)
        asked = [("follow", f"و {next_}", [first]), ("alone", other, [])]
        for kind, question, history in (asked if i % 2 else asked[::-1]):
            answer = engine.ask(question, history=history)
            if kind == "follow":
                follow.append(answer.timings_ms["total"])
                read += answer.standalone != answer.question
            else:
                alone.append(answer.timings_ms["total"])
    return {"pairs": len(pairs), "read_as_followups": read,
            "ask_alone_p50_ms": _pct(alone, 50), "ask_followup_p50_ms": _pct(follow, 50),
            "followup_ratio": round(_pct(follow, 50) / _pct(alone, 50), 2)}


# Questions in another language than the seeds (Arabic): English and Persian, as users ask
# them. Their words the seeds never use are read through the lexicon, the costliest part of
# analysing a question; the bench holds them to the bare query embedding.
CROSS_LANGUAGE_QUESTIONS = (
    "Who said mutual military aid with North Korea is a sovereign matter?",
    "When did Putin visit Pyongyang?",
    "What does the new treaty between Russia and North Korea require if either is attacked?",
    "Which article of the UN Charter does the agreement cite?",
    "Which frigate did Kim Jong Un visit in Russia?",
    "What did Putin say about Western sanctions on North Korea?",
    "Who was the first country to recognise North Korea?",
    "Where did Kim Jong Un meet Putin in September?",
    "How long did Kim Jong Un stay in Russia?",
    "Which news agency reported the interview?",
    "What did the Kremlin spokesman say about the treaty?",
    "Why did South Korea summon the Russian ambassador?",
    "پوتین چه زمانی به پیونگ یانگ سفر کرد؟",
    "چه کسی گفت کمک نظامی متقابل با کره شمالی موضوعی حاکمیتی است؟",
    "پیمان جدید روسیه و کره شمالی در صورت حمله چه چیزی را الزامی می‌کند؟",
    "کیم جونگ اون در روسیه از کدام کارخانه بازدید کرد؟",
    "پوتین درباره تحریم‌های غرب علیه کره شمالی چه گفت؟",
    "سخنگوی کرملین درباره این پیمان چه گفت؟",
    "کدام کشور نخستین بار کره شمالی را به رسمیت شناخت؟",
    "دیدار کیم جونگ اون و پوتین در ماه سپتامبر کجا بود؟",
    "توافق به کدام ماده منشور سازمان ملل اشاره می‌کند؟",
    "کره جنوبی چرا سفیر روسیه را احضار کرد؟",
    "کیم جونگ اون چند روز در روسیه ماند؟",
    "کدام خبرگزاری این مصاحبه را گزارش کرد؟",
)


def cross_language(engine: Khabar, questions: Sequence[str] = CROSS_LANGUAGE_QUESTIONS) -> dict:
    """Each question asked once, beside its bare query embedding (alternating which goes
    first), so the ratios say what analysing, searching and answering add to the one model
    call a question needs."""
    totals, bare_q = [], []
    for i, q in enumerate(questions):
        answer, floor_ms = ask_beside_floor(engine, q, None, floor_first=i % 2 == 0)
        totals.append(answer.timings_ms["total"])
        bare_q.append(floor_ms)
    return {"questions": len(questions), "query_p50_ms": _pct(bare_q, 50),
            "ask_p50_ms": _pct(totals, 50), "ask_p95_ms": _pct(totals, 95),
            "ask_p50_ratio": round(_pct(totals, 50) / _pct(bare_q, 50), 2),
            "ask_p95_ratio": round(_pct(totals, 95) / _pct(bare_q, 50), 2)}


# Synthetic articles are dated from here on.
_EPOCH = date(2020, 1, 1)


def dated_questions(engine: Khabar, questions: list[str]) -> dict:
    """Questions naming a year ("... عام 2022"), which search ranks by article date (four
    times the candidates, the vectors of the best story's passages read), each timed beside
    the same question without the year, alternating which goes first; both texts are new, so
    both are embedded."""
    plain, dated = [], []
    for i, q in enumerate(questions):
        asked = [(plain, f"{q} عام"), (dated, f"{q} عام 2022")]
        for timings, text in (asked if i % 2 else asked[::-1]):
            timings.append(engine.ask(text).timings_ms["total"])
    return {"ask_plain_p50_ms": _pct(plain, 50), "ask_dated_p50_ms": _pct(dated, 50),
            "dated_ratio": round(_pct(dated, 50) / _pct(plain, 50), 2)}


def synthetic_vectors(pool: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` unit vectors mixed from real ones: realistic spread, no embedding needed."""
    rng = np.random.default_rng(seed)
    a = pool[rng.integers(0, len(pool), n)]
    b = pool[rng.integers(0, len(pool), n)]
    w = rng.uniform(0.2, 0.8, (n, 1)).astype(np.float32)
    v = w * a + (1 - w) * b + rng.normal(0, 0.02, (n, pool.shape[1])).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def build_synthetic(index: IndexBackend, chunking: dict, embedder: Embedder, vectors: np.ndarray,
                    sentences: list[str], seed: int) -> float:
    """Write a generation of ``len(vectors)`` passages through the same writer and publication
    as the indexer, one one-sentence passage per vector; returns seconds."""
    rng = random.Random(seed)
    started = time.perf_counter()
    store = index.writer(None, embedder.dim)
    try:
        per_doc = 10
        for d in range(0, len(vectors), per_doc):
            chunk = vectors[d:d + per_doc]
            texts = [" ".join(rng.sample(sentences, 2)) for _ in chunk]
            starts = np.cumsum([0] + [len(t) + 2 for t in texts[:-1]])
            path = f"synthetic/{d // per_doc:06d}.txt"
            spans = tuple(Span(int(a), int(a) + len(t))
                          for a, t in zip(starts, texts, strict=True))
            # Dated over five years, so questions naming a year rank by date as on a real archive.
            published = (_EPOCH + timedelta(days=(d // per_doc) % 1826)).isoformat()
            doc = Document(path, "\n\n".join(texts), texts[0][:60], published, None, None, "ar",
                           spans)
            passages = [Passage(path, n, sp.start, sp.end, t, (sp,))
                        for n, (sp, t) in enumerate(zip(spans, texts, strict=True))]
            store.add_document(doc, path, "", passages, chunk, chunk)
        docs, passages_count = store.counts()
        index.publish(store, embedder, base=None, documents=docs, passages=passages_count,
                      chunking=chunking)
    finally:
        store.close()
    return time.perf_counter() - started


def recall_at_10(gen: Generation, queries: np.ndarray) -> float | None:
    """Recall@10 of the served index against exact search over the stored vectors, on the
    bench's own questions (not the probes the index was tuned on); for Milvus, of its search
    (its FLAT index is exact: 1.0 confirms the generation filter loses nothing)."""
    if gen.vectors.kind == "flat":
        return None
    exact = exact_top(queries, gen.store.iter_vectors(gen.manifest.dim), 10)
    return recall(gen.vectors, queries, exact)


# The child reports its own peak from /proc (VmHWM counts only its post-exec memory): getrusage
# would also count the bench's own memory, which a forked child holds until it execs.
_ASK_THEN_REPORT_PEAK = """
import runpy, sys
sys.argv = ["khabar", "ask", sys.argv[1]]
try:
    runpy.run_module("khabar.bot", run_name="__main__")
except SystemExit as exc:
    if exc.code:
        raise
with open("/proc/self/status") as fh:
    print("VmHWM", next(line.split()[1] for line in fh if line.startswith("VmHWM")))
"""


def _child_env(index: IndexBackend) -> dict[str, str]:
    """The environment of a ``khabar`` child process pointed at ``index``."""
    return {**os.environ, **index.environment()}


def serving_rss_mb(index: IndexBackend, question: str) -> float:
    """Peak resident memory of a fresh ``khabar ask`` process on ``index``."""
    out = subprocess.run([sys.executable, "-c", _ASK_THEN_REPORT_PEAK, question],
                         check=True, capture_output=True, text=True,
                         env=_child_env(index)).stdout
    kb = next(line.split()[1] for line in out.splitlines() if line.startswith("VmHWM"))
    return round(int(kb) / 1024, 1)


def cold_start(index: IndexBackend, question: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "khabar.bot", "ask", question],
                   check=True, capture_output=True, env=_child_env(index))
    return round(time.perf_counter() - t, 2)


def run(configured: Khabar, seeds: Path, extra: list[Path], sizes: list[int], work: Path,
        log: Callable[[str], None], live_articles: int = 10_000,
        index: IndexBackend | None = None) -> BenchReport:
    """The bench; every corpus is an index of ``index``'s kind (default: local directories
    under ``work``), so ``khabar bench --backend milvus`` measures Milvus the same way, and
    every engine is built as ``configured`` is (embedder, passages, stage options)."""
    index = index or IndexDir(work)
    embedder = configured.embedder

    def make(index: IndexBackend, seeds: Path, embedder: Embedder) -> Khabar:
        return Khabar(index, seeds=seeds, embedder=embedder, config=configured.config,
                      options=configured.options)

    rng = random.Random(11)
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob("run-*"):
        shutil.rmtree(stale, ignore_errors=True)
    run_dir = work / f"run-{int(time.time())}"
    report = BenchReport(settings={
        "embedder": embedder.spec, "top_k": configured.top_k,
        "chunking": configured.chunker.settings, "reranker": configured.options.reranker,
        "search_mode": configured.options.retrieve.mode})
    sentences = sentence_pool([seeds, *extra])
    log(f"{len(sentences)} source sentences; measuring the bare embedder")
    # Small runs (the test) use small samples; a real run samples enough for stable medians.
    big = max(sizes, default=0) >= 1000
    bare = bare_embedder(embedder, sentences, rng, pool=192 if big else 48)
    pool, queries = bare.pop("_vectors"), bare.pop("_queries")
    report.embedder = bare
    log("indexing generated articles through the real pipeline")
    report.indexing = real_indexing(make, embedder, sentences, bare, run_dir, rng,
                                    articles=40 if big else 6, index=index)

    seeds_engine = make(_fresh(index, run_dir, "seeds-index"), seeds, embedder)
    seeds_engine.index()
    log("follow-up questions on the seeds")
    report.followups = followups(seeds_engine, queries[1:])
    log("questions in English and Persian on the seeds")
    report.cross_language = cross_language(seeds_engine)
    seeds_engine.close()  # a Milvus Lite file serves one process: the child's turn
    report.cold_start_s = cold_start(seeds_engine.index_dir, queries[0])
    seeds_engine.index_dir.destroy()
    if live_articles:
        log(f"live corpus: {live_articles:,} article files, then one more")
        report.live = live_corpus(make, embedder, pool, sentences, run_dir, rng, live_articles,
                                  index)

    for n in sizes:
        log(f"size {n:,}: building")
        vectors = synthetic_vectors(pool, n, seed=n)
        engine = make(_fresh(index, run_dir, f"size-{n}"), run_dir / "no-seeds", embedder)
        build_s = build_synthetic(engine.index_dir, engine.chunker.settings, embedder, vectors,
                                  sentences, seed=n)
        engine.ask(queries[0])
        # Each question's bare embedding is timed beside its ``ask``, so the ratio compares the
        # two under the same machine load (it drifts by 20-40% over a run here).
        totals, bare_q, split = [], [], {"embed": [], "search": [], "answer": []}
        for i, q in enumerate(queries[1:]):
            answer, floor_ms = ask_beside_floor(engine, q, None, floor_first=i % 2 == 0)
            timings = answer.timings_ms
            bare_q.append(floor_ms)
            totals.append(timings["total"])
            for k in split:
                split[k].append(timings[k])
        # Asked again: the query vector comes from the service's cache, so this is Khabar alone.
        repeat = [engine.ask(q).timings_ms["total"] for q in queries[1:21]]
        dated = dated_questions(engine, queries[1:41])
        gen = engine.generation()
        qv = embedder.embed(queries, query=True)
        embed_s = n * bare["tokens_per_passage"] / bare["tokens_per_s"]
        size_mb = (round(sum(p.stat().st_size for p in gen.path.iterdir()) / 2**20, 1)
                   if gen.path else None)
        recall10 = recall_at_10(gen, qv)
        engine.close()  # a Milvus Lite file serves one process: the child's turn
        report.sizes.append({
            "passages": n, "vector_index": gen.manifest.vector_index,
            "ask_p50_ms": _pct(totals, 50), "ask_p95_ms": _pct(totals, 95),
            "query_p50_ms": _pct(bare_q, 50),
            "ask_p50_ratio": round(_pct(totals, 50) / _pct(bare_q, 50), 2),
            "ask_p95_ratio": round(_pct(totals, 95) / _pct(bare_q, 50), 2),
            "repeat_ask_p50_ms": _pct(repeat, 50),
            "embed_p50_ms": _pct(split["embed"], 50), "search_p50_ms": _pct(split["search"], 50),
            "answer_p50_ms": _pct(split["answer"], 50),
            "dated_ratio": dated["dated_ratio"],
            "recall_at_10": recall10,
            "vector_setting": gen.manifest.vector_setting,
            "tuned_recall_at_10": gen.manifest.recall_at_10,
            "index_mb": size_mb,
            "serving_rss_mb": serving_rss_mb(engine.index_dir, queries[1]),
            "build_overhead_s": round(build_s, 2),
            "indexing_ratio_extrapolated": round(embed_s / (embed_s + build_s), 3),
        })
        engine.index_dir.destroy()
        engine.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    return report


def table(report: BenchReport) -> str:
    e, ix = report.embedder, report.indexing
    lines = [
        f"bare embedder: query p50 {e['query_p50_ms']} ms (p95 {e['query_p95_ms']}), "
        f"{e['tokens_per_s']} tokens/s, {e['passages_per_s']} passages/s",
        f"real indexing: {ix['embedded_tokens_per_s']} embedded tokens/s = "
        f"{ix['ratio_to_bare']} x bare ({ix['articles']} articles, {ix['seconds']} s)",
        f"cold start to first answer (seeds): {report.cold_start_s} s",
    ]
    if report.live:
        lv = report.live
        lines.append(
            f"live corpus of {lv['articles']:,} files ({lv['passages']:,} passages): unchanged "
            f"check {lv['unchanged_check_s']} s; adding one article {lv['add_one_s']} s vs "
            f"embedding it {lv['embed_one_bare_s']} s = {lv['add_one_ratio']} x")
    if report.cross_language:
        cl = report.cross_language
        lines.append(
            f"{cl['questions']} English and Persian questions on the seeds: ask p50 "
            f"{cl['ask_p50_ms']} ms, p95 {cl['ask_p95_ms']} ms vs bare query {cl['query_p50_ms']} "
            f"ms = {cl['ask_p50_ratio']} x (p95 {cl['ask_p95_ratio']} x)")
    if report.followups:
        fu = report.followups
        lines.append(
            f"follow-ups on the seeds ({fu['read_as_followups']} of {fu['pairs']} read as "
            f"follow-ups): ask p50 {fu['ask_followup_p50_ms']} ms vs {fu['ask_alone_p50_ms']} "
            f"ms alone = {fu['followup_ratio']} x")
    lines.append("")
    cols = ["passages", "vector_index", "query_p50_ms", "ask_p50_ms", "ask_p95_ms",
            "ask_p50_ratio", "ask_p95_ratio", "repeat_ask_p50_ms", "embed_p50_ms",
            "search_p50_ms", "answer_p50_ms", "dated_ratio", "recall_at_10", "vector_setting",
            "index_mb", "serving_rss_mb", "build_overhead_s", "indexing_ratio_extrapolated"]
    rows = [cols] + [[str(s[c]) for c in cols] for s in report.sizes]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def dumps(report: BenchReport) -> str:
    return json.dumps(report.to_json())

