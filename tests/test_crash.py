"""Kill the indexer with SIGKILL mid-run: the previous generation must keep answering."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, SEEDS

from retrieval.chunking import sentence_spans


def _generated_articles(count: int, seed: int = 7) -> dict[str, str]:
    """Articles recombined from real seed sentences, so embedding costs what real text costs."""
    sentences = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        sentences += [text[s.start:s.end] for s in sentence_spans(text, 0, len(text))
                      if len(text[s.start:s.end]) > 60]
    rng = random.Random(seed)
    return {f"gen_{i:03d}.txt": f"خبر رقم {i}\n\n" + " ".join(rng.sample(sentences, 6)) + "\n"
            for i in range(count)}


def _khabar(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _ask(index: Path, question: str) -> dict:
    proc = _khabar("ask", "--json", "--index", str(index), question)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_sigkill_mid_index_keeps_previous_and_next_run_completes(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for path in SEEDS.glob("*.txt"):
        (seeds / path.name).write_bytes(path.read_bytes())
    index = tmp_path / "index"
    first = _khabar("index", "--seeds", str(seeds), "--index", str(index))
    assert first.wait(timeout=300) == 0
    question = "من هو السكرتير الصحفي للرئيس الروسي؟"
    before = _ask(index, question)
    current = (index / "CURRENT").read_text()

    for name, text in _generated_articles(60).items():
        (seeds / name).write_text(text, encoding="utf-8")
    rng = random.Random(3)
    for _ in range(3):
        proc = _khabar("index", "--seeds", str(seeds), "--index", str(index))
        deadline = time.monotonic() + 120
        while not list(index.glob("gen-*.tmp-*")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert (index / "CURRENT").read_text() == current
        after = _ask(index, question)
        assert after["answer"] == before["answer"]
        assert after["citations"] == before["citations"]

    done = _khabar("index", "--seeds", str(seeds), "--index", str(index), "--json")
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    report = json.loads(out)
    assert report["added"] == 60 and report["unchanged"] == 5
    scratch = _khabar("index", "--seeds", str(seeds), "--index", str(tmp_path / "fresh"), "--json")
    fresh = json.loads(scratch.communicate(timeout=600)[0])
    assert (report["documents"], report["passages"]) == (fresh["documents"], fresh["passages"])
    assert not list(index.glob("gen-*.tmp-*"))
    assert os.path.exists(index / report["generation"])
