"""``khabar serve`` over HTTP: a real server process on 127.0.0.1, a real index of the seeds,
the official ``openai`` client; and the pure parts (markdown, limiter, binding) in the fast
tier."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SEED_QUESTIONS, SEEDS
from real_server import Server, serve

from khabar.bot.cli import main
from khabar.bot.serve.app import is_loopback
from khabar.bot.serve.markdown import answer_markdown, escape
from khabar.bot.serve.protocol import AnswerOut
from khabar.bot.sessions import RateLimiter
from khabar.retrieval.types import Answer, Citation

KEY, OTHER_KEY = "test-key-0123456789abcdef", "second-key-fedcba9876543210"
CONTRACT = {"question", "standalone", "found", "answer", "citations", "timings_ms", "mode",
            "removed", "fallback"}
FIRST = "ماذا طلب بوتين بشأن العقوبات المفروضة على كوريا الشمالية؟"
FOLLOW_UP = "ومن الذي فرضها؟"
PRIVATE_QUESTION = "Who confirmed that North Korean troops had been deployed in Russia?"


def _questions() -> list[dict]:
    return [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()]


def _copy_index(seeds_index: Path, base: Path) -> tuple[Path, Path]:
    """A private copy of the seeds and their index (mtimes kept: nothing needs re-embedding)."""
    seeds, index = base / "seeds", base / "index"
    shutil.copytree(SEEDS, seeds)
    shutil.copytree(seeds_index, index)
    return seeds, index


@pytest.fixture(scope="module")
def server(seeds_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Server:
    base = tmp_path_factory.mktemp("serve")
    seeds, index = _copy_index(seeds_index, base)
    env = {"KHABAR_API_KEYS": f"{KEY},{OTHER_KEY}", "KHABAR_SERVE_RATE_LIMIT": "0"}
    with serve(seeds, index, base, env) as running:
        yield running


def _check_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    assert body["error"]["message"] and "Traceback" not in response.text
    return body["error"]


def _check_spans(citations: list[dict], seeds: Path) -> None:
    assert citations
    for c in citations:
        text = (seeds / c["doc"]).read_text(encoding="utf-8")
        assert text[c["start"]:c["end"]] == c["snippet"]


# --- the native API -----------------------------------------------------------------------

@pytest.mark.slow
def test_ask_is_the_ask_json_contract_with_exact_spans(server, seeds_engine):
    with server.client(KEY) as http:
        for q in _questions():
            response = http.post("/v1/ask", json={"question": q["q"]})
            assert response.status_code == 200, response.text
            got = response.json()
            assert set(got) == CONTRACT
            _check_spans(got["citations"], server.seeds)
            expected = seeds_engine.ask(q["q"]).to_json()
            got.pop("timings_ms"), expected.pop("timings_ms")
            assert got == expected  # one serialiser: byte for byte what `ask --json` prints
            assert got["found"] is q["answerable"]
        k2 = http.post("/v1/ask", json={"question": _questions()[0]["q"], "k": 2}).json()
        assert 1 <= len(k2["citations"]) <= 2


@pytest.mark.slow
def test_follow_up_with_history(server):
    with server.client(KEY) as http:
        follow = http.post("/v1/ask", json={"question": FOLLOW_UP, "history": [FIRST]}).json()
        alone = http.post("/v1/ask", json={"question": FOLLOW_UP}).json()
    assert follow["question"] == FOLLOW_UP and "العقوبات" in follow["standalone"]
    assert "مجلس الأمن" in follow["answer"]
    assert alone["standalone"] == FOLLOW_UP
    _check_spans(follow["citations"], server.seeds)


@pytest.mark.slow
def test_sources_and_an_article_in_context(server):
    with server.client(KEY) as http:
        sources = http.get("/v1/sources").json()["sources"]
        assert sorted(s["doc"] for s in sources) == sorted(p.name for p in SEEDS.glob("*.txt"))
        assert all(s["passages"] > 0 and s["title"] for s in sources)
        answer = http.post("/v1/ask", json={"question": PRIVATE_QUESTION}).json()
        cited = answer["citations"][0]
        article = http.get(f"/v1/sources/{cited['doc']}").json()
        assert article["text"][cited["start"]:cited["end"]] == cited["snippet"]
        assert any(p["start"] <= cited["start"] and cited["end"] <= p["end"]
                   for p in article["passages"])
        _check_error(http.get("/v1/sources/no-such-article.txt"), 404)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["bad_json", "not_an_object", "empty", "too_long", "one_mb",
                                  "unknown_field", "no_key", "wrong_key", "unknown_model",
                                  "no_user_message", "no_route"])
def test_bad_requests_get_json_errors_and_the_server_goes_on(server, case):
    statuses = {"one_mb": 413, "no_key": 401, "wrong_key": 401, "unknown_model": 404,
                "no_route": 404}
    with server.client(KEY) as http, server.client("wrong") as wrong, server.client() as anon:
        response = {
            "bad_json": lambda: http.post("/v1/ask", content=b'{"question": "x"',
                                          headers={"Content-Type": "application/json"}),
            "not_an_object": lambda: http.post("/v1/ask", json=["question"]),
            "empty": lambda: http.post("/v1/ask", json={"question": "   "}),
            "too_long": lambda: http.post("/v1/ask", json={"question": "س" * 5000}),
            "one_mb": lambda: http.post("/v1/ask", json={"question": "x" * 1_000_000}),
            "unknown_field": lambda: http.post("/v1/ask", json={"question": "x", "kk": 3}),
            "no_key": lambda: anon.post("/v1/ask", json={"question": FIRST}),
            "wrong_key": lambda: wrong.get("/v1/sources"),
            "unknown_model": lambda: http.post("/v1/chat/completions", json={
                "model": "gpt-4", "messages": [{"role": "user", "content": FIRST}]}),
            "no_user_message": lambda: http.post("/v1/chat/completions", json={
                "model": "khabar", "messages": [{"role": "system", "content": "Be brief."}]}),
            "no_route": lambda: http.get("/v2/anything"),
        }[case]()
        error = _check_error(response, statuses.get(case, 400))
        if case in ("no_key", "wrong_key"):
            assert response.headers["www-authenticate"] == "Bearer"
            assert error["type"] == "authentication_error"
        if case == "empty":
            assert "empty" in error["message"]
        if case == "too_long":
            assert "limit is 1,000" in error["message"]
        after = http.post("/v1/ask", json={"question": FIRST})
        assert after.status_code == 200 and after.json()["citations"]


# --- OpenAI-compatible --------------------------------------------------------------------

@pytest.mark.slow
def test_the_official_openai_client_streaming_and_not(server):
    import openai

    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0,
                           http_client=openai.DefaultHttpxClient(trust_env=False))
    assert [m.id for m in client.models.list()] == ["khabar"]
    messages = [{"role": "system", "content": "You are helpful."},
                {"role": "user", "content": FIRST},
                {"role": "assistant", "content": "an earlier answer"},
                {"role": "user", "content": FOLLOW_UP}]
    completion = client.chat.completions.create(model="khabar", messages=messages)
    content = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert "مجلس الأمن" in content and "[1]" in content and "**المصادر**" in content
    structured = completion.model_extra["khabar"]
    assert structured["standalone"] != FOLLOW_UP and "العقوبات" in structured["standalone"]
    _check_spans(structured["citations"], server.seeds)
    assert all(f"[{c['n']}]" in content for c in structured["citations"])

    stream = client.chat.completions.create(model="khabar", messages=messages, stream=True)
    events = list(stream)
    streamed = "".join(e.choices[0].delta.content or "" for e in events)
    assert streamed == content
    assert events[-1].choices[0].finish_reason == "stop"
    assert events[-1].model_extra["khabar"]["citations"] == structured["citations"]

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0,
                      http_client=openai.DefaultHttpxClient(trust_env=False),
                      ).chat.completions.create(model="khabar", messages=messages)


# --- operations ---------------------------------------------------------------------------

@pytest.mark.slow
def test_metrics_probes_and_a_log_without_questions_or_keys(server):
    with server.client(KEY) as http:
        http.post("/v1/ask", json={"question": PRIVATE_QUESTION})
        http.post("/v1/ask", json={"question": "Who won the 2018 FIFA World Cup?"})
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz").json()
        assert ready["documents"] == 5 and ready["passages"] > 5
        text = http.get("/metrics").text
        schema = http.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/chat/completions", "/v1/sources/{doc}"} <= set(schema["paths"])
    assert 'khabar_http_requests_total{endpoint="/v1/ask",method="POST",status="200"}' in text
    assert 'khabar_http_request_duration_seconds_bucket{endpoint="/v1/ask",le="0.5"}' in text
    assert 'khabar_answers_total{outcome="found"}' in text
    assert 'khabar_answers_total{outcome="abstained"}' in text
    assert re.search(r"^khabar_index_generation \d+\.0$", text, re.M)
    assert re.search(r"^khabar_index_age_seconds \d", text, re.M)
    log = server.log_text()
    assert "event=request" in log and "endpoint=/v1/ask" in log and "caller=key1" in log
    assert PRIVATE_QUESTION not in log and "FIFA" not in log
    assert KEY not in log and OTHER_KEY not in log


@pytest.mark.slow
def test_an_article_indexed_while_serving_is_answered_next(server):
    (server.seeds / "new" / "zz.txt").parent.mkdir()
    (server.seeds / "new" / "zz.txt").write_text(
        "Lighthouse of Alexandria rebuilt\n\nEgypt said on Sunday that engineers will rebuild "
        "the Lighthouse of Alexandria by 2031, using stones recovered from the harbour floor.\n",
        encoding="utf-8")
    with server.client(KEY) as http:
        before = http.get("/readyz").json()["generation"]
        indexed = subprocess.run(
            [sys.executable, "-m", "khabar.bot", "index", "--seeds", str(server.seeds),
             "--index", str(server.index)], capture_output=True, text=True, timeout=300,
            cwd=server.seeds.parent)
        assert indexed.returncode == 0, indexed.stderr
        answer = http.post("/v1/ask", json={"question": "When will the lighthouse of "
                                                        "Alexandria be rebuilt?"}).json()
        assert answer["found"] and answer["citations"][0]["doc"] == "new/zz.txt"
        assert "2031" in answer["answer"]
        _check_spans(answer["citations"][:1], server.seeds)
        assert http.get("/readyz").json()["generation"] != before
        assert http.get("/v1/sources/new/zz.txt").json()["title"].startswith("Lighthouse")


@pytest.mark.slow
def test_no_index_is_503_then_rate_limits_per_key(seeds_index, tmp_path):
    """Started before any index exists: 503 in JSON until one is published, with no restart;
    then each key has its own budget of questions per minute. Question texts are logged only
    when asked for."""
    index = tmp_path / "index"
    env = {"KHABAR_API_KEYS": f"{KEY},{OTHER_KEY}", "KHABAR_SERVE_RATE_LIMIT": "3",
           "KHABAR_SERVE_LOG_QUESTIONS": "true"}
    with serve(SEEDS, index, tmp_path, env, ready=False) as running, \
            running.client(KEY) as http, running.client(OTHER_KEY) as other:
        not_ready = _check_error(http.get("/readyz"), 503)["message"]
        assert not_ready == "not ready: no index yet; build it with `khabar index`"
        assert str(index) not in not_ready and http.get("/livez").status_code == 200
        assert _check_error(other.post("/v1/ask", json={"question": FIRST}), 503)["type"] \
            == "service_unavailable"
        shutil.copytree(seeds_index, index, dirs_exist_ok=True)  # publish a built index
        assert http.get("/readyz").status_code == 200
        for _ in range(3):
            assert http.post("/v1/ask", json={"question": FIRST}).status_code == 200
        limited = http.post("/v1/ask", json={"question": FIRST})
        error = _check_error(limited, 429)
        assert error["type"] == "rate_limit_error" and int(limited.headers["retry-after"]) >= 1
        assert other.post("/v1/ask", json={"question": FIRST}).status_code == 200
        assert http.get("/v1/sources").status_code == 200  # only questions are counted
        assert f'question="{FIRST}"' in running.log_text() and KEY not in running.log_text()


@pytest.mark.slow
def test_serve_bench_compares_http_with_in_process(seeds_index, tmp_path):
    from khabar.bot.serve import bench

    result = CliRunner().invoke(bench.main, ["--seeds", str(SEEDS), "--index", str(seeds_index),
                                             "--workers", "1", "--clients", "1,2",
                                             "--questions", "16", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output.strip().splitlines()[-1])
    assert [(r["workers"], r["clients"]) for r in rows] == [(1, 1), (1, 2)]
    for r in rows:
        assert r["requests"] >= 16 and 0 < r["http_p50_ms"] <= r["http_p99_ms"]
        assert 0 < r["inproc_p50_ms"] <= r["inproc_p99_ms"] and r["beyond_engine_p50_ms"] > 0


# --- fast: the pure parts -----------------------------------------------------------------

def test_serving_elsewhere_without_keys_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KHABAR_API_KEYS", "")
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "refusing to serve on 0.0.0.0 without API keys" in result.output
    assert "KHABAR_API_KEYS" in result.output


@pytest.mark.parametrize("origins", ["", "https://intranet.example"])
def test_cors_is_off_unless_origins_are_set(tmp_path, monkeypatch, origins):
    from fastapi.testclient import TestClient

    from khabar.bot.serve.app import create_app
    from khabar.bot.settings import Settings

    monkeypatch.chdir(tmp_path)
    app = create_app(Settings.load(cors_origins=origins))
    preflight = TestClient(app).options("/v1/ask", headers={
        "Origin": "https://intranet.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    allowed = preflight.headers.get("access-control-allow-origin")
    assert allowed == (origins or None)


def test_loopback_addresses():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.org"))


def test_rate_limiter_sliding_window():
    limiter = RateLimiter(2)
    assert limiter.retry_after("a", now=0) == 0 and limiter.retry_after("a", now=10) == 0
    assert limiter.retry_after("a", now=20) == 41  # the first slot frees at t=60
    assert limiter.retry_after("b", now=20) == 0  # keys are independent
    assert limiter.retry_after("a", now=60) == 0
    assert RateLimiter(0).retry_after("a") == 0


def _answer(**kw) -> Answer:
    cites = (
        Citation(1, "a.txt", "Port *reopens*", "Al-Ahram", "2024-06-19", "https://x.test/a",
                 "The port reopened\non Tuesday.", 0, 28, 0.9, 1),
        Citation(2, "b.txt", None, None, None, None, "Forty <ships> waited.", 5, 26, 0.5, 2),
        Citation(3, "a.txt", "Port *reopens*", "Al-Ahram", "2024-06-19", "https://x.test/a",
                 "Officials said so.", 40, 58, 0.4, 3),
    )
    fields = {"question": "Which port reopened?", "found": True,
              "answer": "The port reopened on Tuesday. [1] Forty ships waited. [2]",
              "citations": cites, "timings_ms": {"total": 1.0}} | kw
    return Answer(**fields)


def test_markdown_lists_each_article_once_with_numbered_snippets():
    text = answer_markdown(_answer())
    assert text.startswith("The port reopened on Tuesday. [1] Forty ships waited. [2]")
    assert "**Sources**" in text and text.count("Port \\*reopens\\*") == 1
    assert "[Port \\*reopens\\*](<https://x.test/a>)** — Al-Ahram · 2024-06-19" in text
    assert "  - **[1]** “The port reopened on Tuesday.”" in text
    assert "  - **[3]** “Officials said so.”" in text
    assert "- **b.txt** · `b.txt`" in text and "Forty \\<ships\\> waited." in text
    followed = answer_markdown(_answer(question="و متى؟",
                                       standalone="متى أعيد فتح الميناء؟ و متى؟"))
    assert followed.startswith("*فُهم السؤال على أنه: ") and "**المصادر**" in followed
    assert escape("# not a heading") == "\\# not a heading"


def test_the_json_contract_validates_against_the_documented_model():
    payload = _answer().to_json()
    assert AnswerOut.model_validate(payload).model_dump() == payload
