"""A live corpus: watch mode, and serving processes switching generations mid-stream."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, SMALL_CORPUS, write_articles

from khabar.retrieval.engine import Khabar
from khabar.retrieval.index.generations import IndexDir


def _paths(index_dir: IndexDir, spec: str) -> set[str]:
    if index_dir.current_name() is None:
        return set()
    gen = index_dir.open(spec)
    try:
        return {d.path for d in gen.store.documents()}
    finally:
        gen.close()


def _until(predicate, timeout: float = 180.0) -> None:
    """Poll ``predicate`` with a bound; the watcher works in another process."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the watcher"
        time.sleep(0.1)


@pytest.mark.slow
def test_watch_mode_follows_add_change_rename_remove(tmp_path: Path, embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    index_dir = IndexDir(tmp_path / "index")
    proc = subprocess.Popen([sys.executable, "-m", "khabar.bot", "index", "--watch", "--seeds",
                             str(seeds), "--index", str(index_dir.root)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _until(lambda: _paths(index_dir, embedder.spec) == {"a.txt", "b.txt", "c.txt"})
        write_articles(seeds / "sub", {"d.txt": "Flood in Basra\n\nHeavy rain flooded Basra "
                                                "streets on Friday, officials said."})
        _until(lambda: "sub/d.txt" in _paths(index_dir, embedder.spec))
        (seeds / "sub").rename(seeds / "basra")  # a folder move is one event for many files
        _until(lambda: "basra/d.txt" in _paths(index_dir, embedder.spec)
               and "sub/d.txt" not in _paths(index_dir, embedder.spec))
        (seeds / "a.txt").rename(seeds / "a2.txt")
        _until(lambda: {"a2.txt", "b.txt"} <= _paths(index_dir, embedder.spec)
               and "a.txt" not in _paths(index_dir, embedder.spec))
        (seeds / "b.txt").unlink()
        _until(lambda: "b.txt" not in _paths(index_dir, embedder.spec))
        (seeds / "c.txt").write_text("Port news\n\nThe port of Alexandria closed again on "
                                     "Monday because of high waves.", encoding="utf-8")
        engine = Khabar(index_dir.root, embedder=embedder)
        _until(lambda: "closed again" in engine.ask("Why did Alexandria port close?").answer)
        assert proc.poll() is None  # still watching
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    # watchfiles may group events differently under load; each burst logs one summary line
    # (to stdout: the watcher is a service role).
    assert out.count("event=indexed") >= 2


def test_serving_switches_generations_mid_stream(tmp_path: Path, embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder)
    engine.index()
    service = engine
    errors: list[BaseException] = []
    generations: set[str] = set()
    stop = threading.Event()

    def ask_forever() -> None:
        questions = ["Where did environment ministers meet?", "How many ships waited?"]
        i = 0
        while not stop.is_set():
            try:
                service.ask(questions[i % 2])
                generations.add(service.generation().name)
            except BaseException as exc:  # any failure at all is the bug under test
                errors.append(exc)
                return
            i += 1

    worker = threading.Thread(target=ask_forever)
    worker.start()
    try:
        for n in range(3):
            write_articles(seeds, {f"new{n}.txt": f"Festival {n}\n\nThe film festival number {n} "
                                                  "opened in Shiraz with forty films."})
            engine.index()
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not errors, errors
    assert len(generations) >= 2  # questions were answered on more than one generation
    answer = service.ask("Which festival opened in Shiraz?")
    assert any(c.doc.startswith("new") for c in answer.citations)
    assert service.generation().name == engine.index_dir.current_name()


def test_a_serving_process_reads_the_live_generation_only_after_a_commit(tmp_path: Path,
                                                                          embedder, monkeypatch):
    """Asked before every question, noticing a new generation must not read the store each
    time (that cost 0.4 ms a question), yet must see every commit of another writer."""
    from khabar.retrieval.index import generations as gens

    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    Khabar(tmp_path / "index", seeds=seeds, embedder=embedder).index()
    reads: list[int] = []
    real = gens._read_committed
    monkeypatch.setattr(gens, "_read_committed", lambda db: reads.append(1) or real(db))
    server = Khabar(tmp_path / "index", embedder=embedder)
    first = server.generation()
    reads.clear()
    for _ in range(5):
        assert server.generation() is first
    assert not reads
    write_articles(seeds, {"d.txt": "Festival\n\nThe film festival opened in Shiraz."})
    Khabar(tmp_path / "index", seeds=seeds, embedder=embedder).index()  # another writer
    reads.clear()
    assert server.generation() is not first
    assert reads  # the commit was noticed and read
    assert "d.txt" in {d.path for d in server.documents()}
    server.close()
