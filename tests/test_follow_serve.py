"""Following a story over HTTP: ``khabar serve`` for real on 127.0.0.1 over a real index of the
seeds and a story told over a year (``follow_corpus``), with alerts queued by an index run in
another process, as the indexer service queues them."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from follow_corpus import STORY, TOPIC, add_new, build
from real_server import Server, serve

KEY, OTHER, LIMITED, ALERTED = ("follow-key-0123456789abcdef", "other-key-0123456789abcdef",
                                "limited-key-0123456789abcd", "alerted-key-0123456789abcd")
MAX_TOPICS = 3
TOPIC_OUT = {"id", "topic", "lang", "created"}
CITATION = {"doc", "title", "outlet", "date", "url", "snippet", "start", "end", "score",
            "also_in", "page"}
CLIENT_A, CLIENT_B = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"


@pytest.fixture(scope="module")
def corpus(seeds_index: Path, embedder, tmp_path_factory: pytest.TempPathFactory,
           ) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("follow-serve")
    seeds, index = build(seeds_index, base, embedder)
    return base, seeds, index


@pytest.fixture(scope="module")
def server(corpus) -> Server:
    base, seeds, index = corpus
    env = {"KHABAR_API_KEYS": ",".join((KEY, OTHER, LIMITED, ALERTED)),
           "KHABAR_SERVE_RATE_LIMIT": "0", "KHABAR_MAX_TOPICS_PER_CHAT": str(MAX_TOPICS)}
    with serve(seeds, index, base, env) as running:
        yield running


def _check_error(response, status: int) -> dict:
    """The one error shape of every endpoint, with this status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    return body["error"]


def _exact(citation: dict, http) -> None:
    assert set(citation) == CITATION
    article = http.get(f"/v1/sources/{citation['doc']}").json()
    assert article["text"][citation["start"]:citation["end"]] == citation["snippet"]


@pytest.mark.slow
def test_follow_list_and_unfollow_per_key(server):
    with server.client(KEY) as http, server.client(OTHER) as other:
        created = http.post("/v1/follows", json={"topic": f"  {TOPIC} "})
        assert created.status_code == 201, created.text
        topic = created.json()
        assert set(topic) == TOPIC_OUT and topic["topic"] == TOPIC and topic["lang"] == "ar"
        again = http.post("/v1/follows", json={"topic": TOPIC})  # idempotent: the same topic
        assert again.status_code == 200 and again.json() == topic
        # With keys, the key is who follows: a client id sent beside it changes nothing.
        listed = http.get("/v1/follows", headers={"X-Khabar-Client": CLIENT_A}).json()
        assert listed == {"follows": [topic], "limit": MAX_TOPICS}
        assert other.get("/v1/follows").json()["follows"] == []
        _check_error(other.delete(f"/v1/follows/{topic['id']}"), 404)  # not theirs
        gone = http.delete(f"/v1/follows/{topic['id']}")
        assert gone.status_code == 200 and gone.json() == topic
        assert http.get("/v1/follows").json()["follows"] == []
        error = _check_error(http.delete(f"/v1/follows/{topic['id']}"), 404)
        assert error["message"] == f"no followed topic {topic['id']} (GET /v1/follows lists them)"
        schema = http.get("/openapi.json").json()
    assert {"/v1/follows", "/v1/follows/{topic_id}", "/v1/alerts", "/v1/timeline"} \
        <= set(schema["paths"])
    log = server.log_text()
    assert re.search(r"event=followed .*chat=web:[0-9a-f]{16} ", log)
    assert KEY not in log and TOPIC not in log  # topics are logged only with questions


@pytest.mark.slow
@pytest.mark.parametrize("case", ["empty", "nothing_to_look_for", "too_long", "no_topic",
                                  "unknown_field", "not_a_number", "no_key", "over_the_limit"])
def test_bad_follows_are_clear_json_errors(server, case):
    with server.client(LIMITED) as http, server.client() as anon:
        if case == "over_the_limit":
            for topic in http.get("/v1/follows").json()["follows"]:
                http.delete(f"/v1/follows/{topic['id']}")
            for i in range(MAX_TOPICS):
                assert http.post("/v1/follows", json={"topic": f"topic {i} wheat prices"}
                                 ).status_code == 201
        response = {
            "empty": lambda: http.post("/v1/follows", json={"topic": "   "}),
            "nothing_to_look_for": lambda: http.post("/v1/follows", json={"topic": "?!"}),
            "too_long": lambda: http.post("/v1/follows", json={"topic": "س" * 5000}),
            "no_topic": lambda: http.post("/v1/follows", json={}),
            "unknown_field": lambda: http.post("/v1/follows", json={"topic": TOPIC, "x": 1}),
            "not_a_number": lambda: http.delete("/v1/follows/abc"),
            "no_key": lambda: anon.get("/v1/alerts"),
            "over_the_limit": lambda: http.post("/v1/follows", json={"topic": TOPIC}),
        }[case]()
        status = {"no_key": 401, "over_the_limit": 409}.get(case, 400)
        error = _check_error(response, status)
        message = {
            "empty": "topic: nothing to look for; send a few words or a question about the story",
            "nothing_to_look_for": "topic: nothing to look for; send a few words or a question "
                                   "about the story",
            "too_long": "topic: 5,000 characters; the limit is 1,000 (KHABAR_MAX_QUESTION_CHARS)",
            "no_topic": "topic: Field required",
            "over_the_limit": f"at most {MAX_TOPICS} topics may be followed "
                              "(KHABAR_MAX_TOPICS_PER_CHAT): unfollow one first "
                              "(DELETE /v1/follows/{id})",
        }.get(case)
        if message:
            assert error["message"] == message
        if case == "over_the_limit":
            assert error["type"] == "conflict_error"
            assert len(http.get("/v1/follows").json()["follows"]) == MAX_TOPICS


@pytest.mark.slow
def test_alerts_are_delivered_once_after_indexing_a_matching_article(server, corpus, embedder):
    _, seeds, index = corpus
    with server.client(ALERTED) as http, server.client(OTHER) as other:
        topic = http.post("/v1/follows", json={"topic": TOPIC}).json()
        other_topic = other.post("/v1/follows", json={"topic": "أسعار القمح"}).json()
        assert http.get("/v1/alerts").json() == {"alerts": []}  # the archive never alerts
        add_new(seeds, index, embedder)  # the indexer's run, in another process
        with ThreadPoolExecutor(4) as pool:  # four polls at once (tabs): one gets the alert
            polls = list(pool.map(lambda _: http.get("/v1/alerts").json()["alerts"], range(4)))
        alerts = [a for poll in polls for a in poll]
        assert [(a["topic"], a["citation"]["doc"]) for a in alerts] \
            == [(topic, "new/ar-2025-01-lighthouse-second-stone.txt")]
        assert set(alerts[0]) == {"id", "topic", "citation"}
        _exact(alerts[0]["citation"], http)
        assert "منارة الإسكندرية" in alerts[0]["citation"]["snippet"]
        assert http.get("/v1/alerts").json() == {"alerts": []}  # delivered once
        assert other.get("/v1/alerts").json() == {"alerts": []}  # the tennis final is not wheat
        metrics = http.get("/metrics").text
        other.delete(f"/v1/follows/{other_topic['id']}")
    assert re.search(r"^khabar_alerts_delivered_total [1-9]", metrics, re.M)
    assert re.search(r'^khabar_follows_total\{action="follow"\} [1-9]', metrics, re.M)


@pytest.mark.slow
def test_timeline_json_with_exact_spans_in_date_order(server):
    with server.client(KEY) as http:
        response = http.get("/v1/timeline", params={"topic": TOPIC})
        assert response.status_code == 200, response.text
        timeline = response.json()
        assert set(timeline) == {"topic", "undated", "entries"} and timeline["topic"] == TOPIC
        entries = timeline["entries"]
        assert len(entries) >= 2
        assert [e["date"] for e in entries] == sorted(e["date"] for e in entries)
        assert {e["citation"]["doc"] for e in entries} <= STORY
        for e in entries:
            assert set(e) == {"date", "citation", "dates"} and e["date"] == e["citation"]["date"]
            assert all(set(d) == {"text", "date"} for d in e["dates"])
            _exact(e["citation"], http)
        named = {d["text"]: d["date"] for e in entries for d in e["dates"]}
        assert named.get("أمس") == "2024-06-17"  # the divers' "yesterday", from 2024-06-18
        _check_error(http.get("/v1/timeline"), 400)
        assert _check_error(http.get("/v1/timeline", params={"topic": " "}), 400)["message"] \
            .startswith("topic: nothing to look for")


@pytest.mark.slow
def test_without_keys_a_validated_client_id_names_who_follows(corpus, tmp_path):
    _, seeds, index = corpus
    with serve(seeds, index, tmp_path, {"KHABAR_API_KEYS": ""}) as running, \
            running.client() as http:
        missing = _check_error(http.get("/v1/follows"), 400)["message"]
        assert missing.startswith("missing client id: send the header X-Khabar-Client")
        for bad in ("abc", CLIENT_A + "0", CLIENT_A[:-1] + "g", "../" + CLIENT_A[3:]):
            error = _check_error(http.get("/v1/follows", headers={"X-Khabar-Client": bad}), 400)
            assert error["message"].startswith("X-Khabar-Client: not a client id")
        a, b = {"X-Khabar-Client": CLIENT_A}, {"X-Khabar-Client": CLIENT_B}
        topic = http.post("/v1/follows", json={"topic": TOPIC}, headers=a).json()
        assert http.get("/v1/follows", headers=a).json()["follows"] == [topic]
        upper = {"X-Khabar-Client": CLIENT_A.upper()}
        assert http.get("/v1/follows", headers=upper).json()["follows"] == [topic]
        assert http.get("/v1/follows", headers=b).json()["follows"] == []
        _check_error(http.delete(f"/v1/follows/{topic['id']}", headers=b), 404)
        assert http.delete(f"/v1/follows/{topic['id']}", headers=a).status_code == 200
        log = running.log_text()
    assert CLIENT_A not in log and re.search(r"event=followed .*chat=web:[0-9a-f]{16} ", log)
