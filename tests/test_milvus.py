"""What only the Milvus backend has: a server several processes share, the lease lock, the
one-process rule of a Milvus Lite file, and its settings; and the suite every backend passes
(``backend_suite.py``), run on Milvus Lite."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from backend_suite import BackendKit, BackendSuite
from conftest import ROOT, SMALL_CORPUS, requires_milvus, write_articles

from khabar.bot.settings import Settings
from khabar.retrieval.engine import Khabar
from khabar.retrieval.errors import SettingsError
from khabar.retrieval.index.backend import IndexLockedError
from khabar.retrieval.index.milvus import MilvusIndex

pytestmark = requires_milvus


def milvus_lite_index(folder: Path) -> MilvusIndex:
    """A Milvus Lite file under ``folder``, with its collections under their own prefix."""
    return MilvusIndex(str(folder / "milvus.db"), prefix="test")


def _drop_passages(engine: Khabar) -> str:
    index = engine.index_dir
    store = index.manifest().store
    index.client.drop_collection(f"{index.prefix}_{store}_passages")
    return "passages of gen-000001 is missing"


class TestMilvusLiteBackend(BackendSuite):
    @pytest.fixture
    def backend_kit(self) -> BackendKit:
        return BackendKit("milvus", milvus_lite_index, _drop_passages)


def _khabar(*args: str, env: dict[str, str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "khabar.bot", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **env}, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_settings_check_the_uri_and_keep_the_token_secret():
    with pytest.raises(SettingsError, match="KHABAR_MILVUS_URI"):
        Settings.load(milvus_uri="milvus.sqlite")
    with pytest.raises(SettingsError, match="KHABAR_MILVUS_PREFIX"):
        Settings.load(milvus_prefix="my-corpus")
    with pytest.raises(SettingsError) as error:
        Settings.load(milvus_token=["s3cret-token"], backend="milvus")
    assert "s3cret-token" not in str(error.value)
    settings = Settings.load(backend="milvus", milvus_uri="http://127.0.0.1:19530",
                             milvus_token="root:s3cret-token", telegram_bot_token="")
    assert settings.secrets() == ("root:s3cret-token",)

    from khabar.bot.logs import StructuredFormatter

    formatter = StructuredFormatter(settings.secrets())
    record = logging.makeLogRecord({"msg": "connect", "uri": "http://root:s3cret-token@host"})
    assert "s3cret-token" not in formatter.format(record)


def test_a_lite_file_open_in_another_process_is_explained(tmp_path, fake_embedder):
    index = milvus_lite_index(tmp_path)
    engine = Khabar(index, seeds=tmp_path / "seeds", embedder=fake_embedder)
    write_articles(tmp_path / "seeds", SMALL_CORPUS)
    engine.index()
    try:
        other = _khabar("ask", "Where?", env=index.environment())
        _, err = other.communicate(timeout=120)
        assert other.returncode == 1
        assert "open in another process" in err and "milvus-lite server" in err
    finally:
        engine.close()
    again = _khabar("ask", "--json", "Where did ministers meet?",
                    env={**index.environment(), "KHABAR_EMBEDDER": "e5-small-bundled"})
    _, err = again.communicate(timeout=120)
    assert "was built with embedder 'fake-hash'" in err  # the file opens once released


def test_a_dead_writers_lease_is_freed_and_a_live_ones_is_not(tmp_path, fake_embedder):
    index = milvus_lite_index(tmp_path)
    write_articles(tmp_path / "seeds", SMALL_CORPUS)
    engine = Khabar(index, seeds=tmp_path / "seeds", embedder=fake_embedder)
    try:
        engine.index()
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
        index._lease("lock:dead", {"host": socket.gethostname(), "pid": int(gone.stdout),
                                   "started": time.time()})
        write_articles(tmp_path / "seeds", {"d.txt": "Tide\n\nThe tide rose in Basra."})
        assert engine.index().added == 1  # the dead writer on this machine held nothing
        index._lease("lock:elsewhere", {"host": "another-machine", "pid": 1,
                                        "started": time.time()})
        with pytest.raises(IndexLockedError, match="pid 1 on another-machine"):
            engine.index()
    finally:
        engine.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_serving_processes_follow_a_new_generation(tmp_path):
    """A Milvus server (Milvus Lite's, on loopback) shared by an indexer and two serving
    processes: both answer from the new generation after `khabar index` adds an article,
    without a restart."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir",
                               str(tmp_path / "milvus"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    env = {"KHABAR_BACKEND": "milvus", "KHABAR_MILVUS_URI": f"http://127.0.0.1:{port}",
           "KHABAR_MILVUS_PREFIX": "live", "KHABAR_SEEDS_DIR": str(tmp_path / "seeds")}
    servers: list[subprocess.Popen] = []
    try:
        _until(lambda: _accepts(port) or server.poll() is not None)
        assert server.poll() is None, server.communicate()
        write_articles(tmp_path / "seeds", SMALL_CORPUS)
        first = _khabar("index", env=env)
        assert first.wait(300) == 0, first.communicate()
        servers = [_khabar("ask", "-", env=env, stdin=subprocess.PIPE) for _ in range(2)]

        def ask(proc: subprocess.Popen, question: str) -> dict:
            proc.stdin.write(question + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            return json.loads(line)

        question = "Which festival opened in Shiraz?"
        for proc in servers:
            assert all(c["doc"] != "new.txt" for c in ask(proc, question)["citations"])
        write_articles(tmp_path / "seeds", {"new.txt": "Festival\n\nThe film festival opened "
                                                       "in Shiraz with forty films."})
        second = _khabar("index", "--json", env=env)
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
        assert json.loads(out)["added"] == 1
        for proc in servers:
            answer = ask(proc, question)
            assert answer["citations"][0]["doc"] == "new.txt", answer
            assert "Shiraz" in answer["citations"][0]["snippet"]
        for proc in servers:
            proc.stdin.close()
            assert proc.wait(60) == 0
    finally:
        for proc in [*servers, server]:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)


def test_eval_and_bench_corpora_get_their_own_prefix(tmp_path: Path):
    index = milvus_lite_index(tmp_path)
    sibling = index.sibling(tmp_path / "eval", "seeds-dev-0123abcd")
    assert sibling.prefix == "test_seeds_dev_0123abcd" and sibling.uri == index.uri
    assert sibling.environment()["KHABAR_MILVUS_PREFIX"] == "test_seeds_dev_0123abcd"


def test_the_local_backend_never_imports_pymilvus(seeds_index):
    """With the extra installed, the default backend answers and indexes without loading
    pymilvus or Milvus Lite (their import alone costs about a second)."""
    code = ("import sys; from khabar.bot.cli import main\n"
            "for args in (['ask', 'Where did Putin travel?'], ['index', '--check']):\n"
            f"    try:\n        main([*args, '--index', {str(seeds_index)!r}])\n"
            "    except SystemExit:\n        pass\n"
            "print('MILVUS', [m for m in ('pymilvus', 'milvus_lite') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=120, env={**os.environ, "KHABAR_BACKEND": "local"})
    assert "MILVUS []" in out.stdout, out.stdout + out.stderr
    assert "index OK" in out.stdout
