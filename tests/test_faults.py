"""Fault injection: every mistake a user or an operator can make, and what Khabar does.

Each test uses real files and, where the fault lives in a process (a token Telegram refuses, a
full disk, a watcher), a real ``khabar`` process. docs/reliability.md lists each fault with the
test that proves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, SEEDS, SMALL_CORPUS, write_articles
from fake_telegram import FakeBotAPI

from khabar.bot.cli import main
from khabar.retrieval.engine import Khabar
from khabar.retrieval.index.generations import IndexDir

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
ARABIC = ("قمة المناخ في القاهرة\n\nاجتمع وزراء البيئة في القاهرة يوم الاثنين لمناقشة خطة خفض "
          "الانبعاثات بنسبة ثلاثين في المئة بحلول عام 2030. وقال الوزير إن الخطة طموحة.\n")


# Runs ``khabar`` with a cap on the size of any file it writes: a write past it fails as on a
# full disk. The child sets the cap on itself: a ``preexec_fn`` would run Python between fork
# and exec of this test process, whose threads (gRPC's, once Milvus Lite has run) make that
# unsafe; it aborted the child once in CI.
_FILE_CAP = ("import resource, runpy, signal, sys; n = int(sys.argv[1]);"
             " signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
             " resource.setrlimit(resource.RLIMIT_FSIZE, (n, n));"
             " sys.argv = ['khabar', *sys.argv[2:]];"
             " runpy.run_module('khabar.bot', run_name='__main__', alter_sys=True)")


def _khabar(*args: str, env: dict | None = None, stdin: bytes | None = None,
            file_cap: int | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    start = ["-m", "khabar.bot"] if file_cap is None else ["-c", _FILE_CAP, str(file_cap)]
    return subprocess.run([sys.executable, *start, *args], cwd=ROOT,
                          capture_output=True, input=stdin, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _text(result: subprocess.CompletedProcess) -> str:
    return result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    """The error a failed command printed: exactly one line, no traceback."""
    err = result.stderr.decode("utf-8")
    assert result.returncode == 1, _text(result)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@contextlib.contextmanager
def _read_only(folder: Path):
    """``folder`` made unwritable. Root ignores permission bits, so as root the folder is
    made immutable instead (``chattr +i``, where the file system supports it)."""
    if os.geteuid() != 0:
        os.chmod(folder, 0o555)
        try:
            yield
        finally:
            os.chmod(folder, 0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without chattr +i")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


# --- 1. secrets ----------------------------------------------------------------------------

def test_a_token_telegram_rejects_is_one_line_and_never_printed(seeds_index):
    async def scenario():
        fake = FakeBotAPI("987654321:another-token-entirely-for-this-fake-0")
        await fake.start()
        try:
            return await asyncio.to_thread(
                _khabar, "telegram", "--index", str(seeds_index),
                env={"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url,
                     "NO_PROXY": "127.0.0.1"}, timeout=120)
        finally:
            await fake.stop()
    result = asyncio.run(scenario())
    err = _one_line_error(result)
    assert "Telegram rejected the token (401 Unauthorized)" in err and "@BotFather" in err
    assert TOKEN not in _text(result) and TOKEN.split(":")[1] not in _text(result)


def test_a_library_traceback_never_prints_the_token(seeds_index):
    code = ("import sys\nfrom khabar.bot.cli import main\n"
            "from khabar.retrieval import engine\n"
            "def leak(self, *args, **kwargs):\n"
            f"    raise RuntimeError('request to /bot{TOKEN}/getMe failed')\n"
            "engine.Khabar.ask = leak\nmain(sys.argv[1:])\n")
    result = subprocess.run([sys.executable, "-c", code, "ask", "who?", "--index",
                             str(seeds_index)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN})
    assert result.returncode == 1 and "Traceback" in result.stderr  # a bug stays visible
    assert "RuntimeError: request to /bot<redacted>/getMe failed" in result.stderr
    assert TOKEN.split(":")[1] not in result.stderr


def test_bad_telegram_settings_are_one_line(tmp_path):
    for env, expected in [({"TELEGRAM_API_BASE_URL": "notaurl"}, "TELEGRAM_API_BASE_URL"),
                          ({"KHABAR_ADMINS": "@editor, 42"}, "send /id to the bot")]:
        result = _khabar("telegram", "--index", str(tmp_path / "none"),
                         env={"TELEGRAM_BOT_TOKEN": TOKEN, **env})
        assert expected in _one_line_error(result)
        assert TOKEN.split(":")[1] not in _text(result)


# --- 2. one bad entry never stops the others -----------------------------------------------

def _bad_seeds(folder: Path) -> Path:
    seeds = folder / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    (seeds / "loop-a.txt").symlink_to(seeds / "loop-b.txt")
    (seeds / "loop-b.txt").symlink_to(seeds / "loop-a.txt")
    (seeds / "dangling.txt").symlink_to(seeds / "gone.txt")
    os.mkfifo(seeds / "pipe.txt")
    with open(os.path.join(os.fsencode(seeds), b"bad-\xff-name.txt"), "wb") as fh:
        fh.write(ARABIC.encode("utf-8"))
    write_articles(seeds / "folder.txt", {"inside.txt": "Port\n\nThe port of Aden reopened "
                                                        "on Sunday after repairs.\n"})
    return seeds


def test_bad_entries_are_reported_each_and_the_rest_indexed(tmp_path):
    seeds = _bad_seeds(tmp_path)
    result = _khabar("index", "--seeds", str(seeds), "--index", str(tmp_path / "index"),
                     "--json")
    assert result.returncode == 1  # something was skipped
    report = json.loads(result.stdout)
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    assert reasons["loop-a.txt"] == reasons["loop-b.txt"] == "symbolic link loop"
    assert reasons["dangling.txt"] == "broken symbolic link"
    assert reasons["pipe.txt"] == "not a regular file"
    bad_name = next(p for p in reasons if p.startswith("bad-"))
    assert "not valid UTF-8" in reasons[bad_name]
    assert report["added"] == 4 and report["documents"] == 4  # a, b, c and folder.txt/inside


def test_an_indexed_file_that_turns_bad_keeps_its_previous_version(tmp_path, fake_embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=fake_embedder)
    engine.index()
    (seeds / "c.txt").unlink()
    (seeds / "c.txt").symlink_to(seeds / "c-moved-away.txt")
    report = engine.index()
    assert [(s.path, s.reason) for s in report.skipped] == [("c.txt", "broken symbolic link")]
    assert report.removed == 0 and "c.txt" in {d.path for d in engine.documents()}


def test_a_file_that_vanishes_while_indexing_is_reported(tmp_path, fake_embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=fake_embedder)

    def progress(done: int, total: int) -> None:
        if done == 0 and (seeds / "b.txt").exists():
            (seeds / "b.txt").unlink()  # listed, then gone before it is read

    report = engine.index(progress=progress)
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("b.txt", "disappeared while being indexed")]
    assert report.added == 2


@pytest.mark.slow
def test_the_watcher_survives_a_name_it_cannot_decode(tmp_path):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    index = tmp_path / "index"
    proc = subprocess.Popen([sys.executable, "-m", "khabar.bot", "index", "--watch", "--seeds",
                             str(seeds), "--index", str(index)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _until(lambda: IndexDir(index).current_name() is not None)
        with open(os.path.join(os.fsencode(seeds), b"late-\xfe.txt"), "wb") as fh:
            fh.write(ARABIC.encode("utf-8"))
        write_articles(seeds, {"later.txt": "Storm\n\nA storm closed the port of Aqaba on "
                                            "Friday, the authority said.\n"})

        def indexed() -> set[str]:
            gen = IndexDir(index).open("e5-small-bundled")
            try:
                return {d.path for d in gen.store.documents()}
            finally:
                gen.close()

        _until(lambda: "later.txt" in indexed())
        assert proc.poll() is None  # still watching
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    log = out + err  # the watcher logs on stdout, as every service role does
    assert b"late-\\xfe.txt" in log or b"late-\\udcfe.txt" in log  # escaped, reported


def _until(predicate, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


# --- 3. streams ----------------------------------------------------------------------------

def test_an_undecodable_line_gets_its_own_error_and_the_next_is_answered(seeds_index):
    stdin = ("من هو السكرتير الصحفي للرئيس الروسي؟\n".encode() + b"caf\xe9 au lait\n"
             + b"Who confirmed North Korean troops were in Russia?\n")
    asked = _khabar("ask", "-", "--index", str(seeds_index), stdin=stdin)
    assert asked.returncode == 0
    first, bad, last = (json.loads(line) for line in asked.stdout.decode().splitlines())
    assert first["found"] and last["found"] and "not valid UTF-8" in bad["error"]
    chat = _khabar("chat", "--index", str(seeds_index), stdin=stdin)
    assert chat.returncode == 0 and "Cannot read that: line 2" in chat.stdout.decode()
    assert chat.stdout.decode().count("· 00") >= 2  # both good lines were answered


# --- 4. decoding never guesses silently ------------------------------------------------------

def test_damaged_utf8_is_read_as_utf8_with_a_warning_and_legacy_only_when_clear(tmp_path,
                                                                               fake_embedder):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    good = ARABIC.encode("utf-8")
    (seeds / "damaged.txt").write_bytes(good[:60] + b"\xff\xfe" + good[60:])
    (seeds / "legacy.txt").write_bytes(ARABIC.encode("cp1256"))
    (seeds / "latin1.txt").write_bytes("Le café de la gare a rouvert à Alger, où "
                                       "l'été fut chaud.\n".encode("latin-1"))
    report = Khabar(tmp_path / "index", seeds=seeds, embedder=fake_embedder).index()
    assert [w.path for w in report.warnings] == ["damaged.txt"]
    assert "damaged byte" in report.warnings[0].reason
    assert [s.path for s in report.skipped] == ["latin1.txt"]  # never stored as mojibake
    assert "re-save the file as UTF-8" in report.skipped[0].reason
    gen = IndexDir(tmp_path / "index").open(fake_embedder.spec)
    try:
        texts = {p.doc.path: p.doc_text for p in gen.store.passages(range(1, 50)).values()}
    finally:
        gen.close()
    assert "القاهرة" in texts["damaged.txt"] and "\ufffd" in texts["damaged.txt"]
    assert texts["legacy.txt"] == ARABIC


# --- 5. self-repair --------------------------------------------------------------------------

def _fresh_index(tmp_path: Path) -> Path:
    index = tmp_path / "index"
    assert _khabar("index", "--seeds", str(SEEDS), "--index", str(index)).returncode == 0
    return index


def _damage_store(index: Path) -> None:
    (index / IndexDir(index).current_store()).unlink()


def _damage_vectors(index: Path) -> None:
    path = index / IndexDir(index).current_name() / "vectors.faiss"
    path.write_bytes(path.read_bytes()[:1000])


def _damage_manifest(index: Path) -> None:
    (index / IndexDir(index).current_name() / "manifest.json").write_text("{not json")


@pytest.mark.slow
@pytest.mark.parametrize("damage, found", [
    (_damage_store, "is missing"), (_damage_vectors, "vectors.faiss is damaged"),
    (_damage_manifest, "manifest.json is damaged")])
def test_a_damaged_index_is_named_by_readers_and_repaired_by_index(tmp_path, damage, found):
    index = _fresh_index(tmp_path)
    assert _khabar("index", "--check", "--index", str(index)).returncode == 0
    damage(index)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in index.rglob("*"))
    check = _khabar("index", "--check", "--index", str(index))
    assert check.returncode == 1 and found in check.stderr.decode()
    assert sorted((p.name, p.stat().st_mtime_ns) for p in index.rglob("*")) == before
    err = _one_line_error(_khabar("ask", "Who is Peskov?", "--index", str(index)))
    assert found in err and "run `khabar index` to repair it" in err
    repaired = _khabar("index", "--seeds", str(SEEDS), "--index", str(index))
    assert repaired.returncode == 0, _text(repaired)
    assert "repaired: the index was damaged" in repaired.stderr.decode()
    assert _khabar("index", "--check", "--index", str(index)).returncode == 0
    asked = _khabar("ask", "--json", "Who is Peskov?", "--index", str(index))
    assert json.loads(asked.stdout)["found"]


# --- 6. reports ------------------------------------------------------------------------------

def test_a_file_that_yields_nothing_is_reported_every_run_briefly(tmp_path, fake_embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, {"ok.txt": SMALL_CORPUS["c.txt"]})
    huge = json.dumps("x" * 5_000_000)
    (seeds / "feed.jsonl").write_text(f'{huge}\n{{"title": "no text"}}\nnot json\n',
                                      encoding="utf-8")
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=fake_embedder)
    for _ in range(2):  # the second run finds the file unchanged: still reported
        report = engine.index()
        reasons = {s.path: s.reason for s in report.skipped}
        assert set(reasons) == {"feed.jsonl#1", "feed.jsonl#2", "feed.jsonl#3"}
        assert reasons["feed.jsonl#1"] == "not a JSON object but a string"
        assert all(len(r) <= 200 and "xxxx" not in r for r in reasons.values())


def test_names_with_control_and_bidi_characters_are_escaped_in_text_only(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "fine.txt").write_text(SMALL_CORPUS["c.txt"], encoding="utf-8")
    forged = "evil\nindexed: 9 added\u202etxt.json.txt"
    (seeds / forged).write_text("", encoding="utf-8")
    text = _khabar("index", "--seeds", str(seeds), "--index", str(tmp_path / "index"))
    err = text.stderr.decode()
    assert "skipped evil\\nindexed: 9 added\\u202etxt.json.txt: the file is empty" in err
    assert "\u202e" not in err and len(err.strip().splitlines()) == 1
    as_json = _khabar("index", "--seeds", str(seeds), "--index", str(tmp_path / "index"),
                      "--json")
    assert json.loads(as_json.stdout)["skipped"][0]["path"] == forged


# --- 7. the environment --------------------------------------------------------------------

def test_an_index_path_that_is_a_file_or_not_writable_is_one_line(tmp_path):
    as_file = tmp_path / "index-file"
    as_file.write_text("not a folder")
    err = _one_line_error(_khabar("index", "--seeds", str(SEEDS), "--index", str(as_file)))
    assert f"the index path {as_file} is not a folder" in err
    locked = tmp_path / "ro"
    locked.mkdir()
    with _read_only(locked):
        result = _khabar("index", "--seeds", str(SEEDS), "--index", str(locked))
    assert "no permission to write the index folder" in _one_line_error(result)


@pytest.mark.slow
def test_a_full_disk_leaves_the_previous_index_answering(tmp_path):
    index = _fresh_index(tmp_path)
    before = json.loads(_khabar("ask", "--json", "Who is Peskov?", "--index", str(index)).stdout)
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    for i in range(8):
        (seeds / f"more{i}.txt").write_text(f"خبر {i}\n\n" + ARABIC * 20, encoding="utf-8")

    result = _khabar("index", "--seeds", str(seeds), "--index", str(index), file_cap=256 * 1024)
    err = _one_line_error(result)
    assert "cannot write the index at" in err and "previous index keeps answering" in err
    assert not list(index.glob("gen-*.tmp-*"))  # the unfinished build is gone
    after = json.loads(_khabar("ask", "--json", "Who is Peskov?", "--index", str(index)).stdout)
    assert after["answer"] == before["answer"]


def test_missing_seeds_and_bad_settings_name_what_to_fix(tmp_path):
    err = _one_line_error(_khabar("index", "--seeds", str(tmp_path / "nope"), "--index",
                                  str(tmp_path / "index")))
    assert "seeds directory" in err and "KHABAR_SEEDS_DIR" in err
    err = _one_line_error(_khabar("ask", "x", env={"KHABAR_SEARCH_MODE": "fuzzy"}))
    assert "KHABAR_SEARCH_MODE='fuzzy'" in err and "hybrid, dense, lexical" in err


# --- 8. questions with nothing to ask --------------------------------------------------------

@pytest.mark.parametrize("question", ["test", "?!", "null", "😀", "the", "ماذا؟", "تست"])
def test_nothing_to_ask_is_not_found_with_a_hint(seeds_engine, question):
    answer = seeds_engine.ask(question)
    assert not answer.found and not answer.citations
    assert "e.g." in answer.answer or "مثلاً" in answer.answer


def test_nothing_to_ask_in_the_cli_and_chat(seeds_index):
    result = CliRunner().invoke(main, ["ask", "--json", "test", "--index", str(seeds_index)])
    payload = json.loads(result.output)
    assert payload["found"] is False and payload["citations"] == []
    chat = CliRunner().invoke(main, ["chat", "--index", str(seeds_index)], input="null\n")
    assert "There is no question about the news" in chat.output


# --- 10. a serving process that lives for days -------------------------------------------------

@pytest.mark.slow
def test_soak_generations_switch_under_load_with_flat_files_and_memory(tmp_path, embedder):
    seeds = tmp_path / "seeds"
    write_articles(seeds, SMALL_CORPUS)
    engine = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder)
    engine.index()
    writer = Khabar(tmp_path / "index", seeds=seeds, embedder=embedder)
    questions = ["Where did environment ministers meet?", "How many ships waited?",
                 "نمایشگاه کتاب تهران کی برگزار شد؟", "ما هي نسبة خفض الانبعاثات؟"]
    errors: list[BaseException] = []
    answered = [0] * 4
    stop = threading.Event()

    def ask(worker: int) -> None:
        while not stop.is_set():
            try:
                answer = engine.ask(questions[worker])
                # every citation is of an article the index held at some time, whole
                assert answer.citations and all(c.snippet for c in answer.citations)
                answered[worker] += 1
            except BaseException as exc:  # any failure at all is the bug under test
                errors.append(exc)
                return

    def usage() -> tuple[int, int]:
        fds = len(os.listdir("/proc/self/fd"))
        with open("/proc/self/status") as fh:
            rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
        return fds, rss

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):  # warm: the first switches allocate what later ones reuse
            write_articles(seeds, {"warm.txt": f"Note {time.time()}\n\nA note on the harbour."})
            writer.index()
        fds_before, rss_before = usage()
        switches = 0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not errors:
            write_articles(seeds, {f"n{switches % 5}.txt": f"Note {switches}\n\nThe council "
                                                           f"met {switches} times on roads."})
            writer.index()
            switches += 1
            time.sleep(0.5)  # pacing the corpus changes, not synchronisation
        fds_after, rss_after = usage()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    assert switches >= 6 and all(n > 0 for n in answered)
    assert engine.generation().name == engine.index_dir.current_name()
    assert fds_after - fds_before <= 6, (fds_before, fds_after)
    assert rss_after - rss_before < 100_000, (rss_before, rss_after)  # kB


# --- 8 and 9 in Telegram: nothing to ask, /id, admins by id only ------------------------------

def test_telegram_nothing_to_ask_id_command_and_admins_by_id(seeds_engine, caplog):
    from test_telegram import running_bot

    from khabar.bot.telegram.app import make_state
    from khabar.retrieval.errors import SettingsError

    with pytest.raises(SettingsError, match="send /id to the bot"):
        make_state(seeds_engine, "", "@editor", 0)
    with caplog.at_level("WARNING"):
        make_state(seeds_engine, "@editor", "42", 0)
    assert any(r.getMessage() == "allowed_by_username" for r in caplog.records)

    async def scenario():
        async with running_bot(seeds_engine, admins="7") as fake:
            await fake.push(fake.message("test", user_id=5))
            await fake.push(fake.message("/id", user_id=6, username="editor"))
            await fake.push(fake.message("/stats", user_id=8, username="7"))  # a name, not id 7
            await fake.wait_for(lambda: len(fake.sent()) == 3)
            texts = {p["chat_id"]: p["text"] for p in fake.sent()}
            assert "no question about the news" in texts[5]
            assert texts[6] == "Your Telegram user id is 6."
            assert "only admins" in texts[8]
    asyncio.run(asyncio.wait_for(scenario(), 120))
