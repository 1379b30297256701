"""Generated answers: the claim checks, the prompt, streaming and fallbacks in-process with
LangChain's fake chat models, and the wire (OpenAI-compatible SSE and JSON, Ollama NDJSON,
every fault) against the scripted fake server in ``fake_llm.py``."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from click.testing import CliRunner
from conftest import SEEDS
from fake_llm import MODEL, FakeLLM, Reply
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage

from khabar.bot.chat import CHECKED, ChatSession
from khabar.bot.cli import main
from khabar.retrieval.engine import Khabar
from khabar.retrieval.errors import SettingsError
from khabar.retrieval.stages import checks
from khabar.retrieval.stages.llm import (
    LLM,
    NO_ANSWER,
    LLMConfig,
    LLMSetupError,
    answer_messages,
    parse_spec,
    probe,
    says_no,
)
from khabar.retrieval.strings import say
from khabar.retrieval.types import Citation

PUTIN = Citation(1, "a.txt", "بوتين في بيونغ يانغ", "سبوتنيك", "2024-06-19", None,
                 "زار الرئيس الروسي فلاديمير بوتين بيونغ يانغ يوم 19 يونيو والتقى كيم جونغ أون. "
                 "وقال بيسكوف إن الاتفاقية «تشمل بند الدفاع المشترك» وتضم ۲۳ مادة.", 0, 10, 1.0)
PORT = Citation(2, "c.txt", "Harbour reopens", "Reuters", "2024-01-02", None,
                "The port of Alexandria reopened on Tuesday after a storm closed it for three "
                "days. Officials said forty ships were waiting outside.", 0, 10, 0.9)
SOURCES = [PUTIN, PORT]
GROUNDED = ("Putin visited Pyongyang on 19 June [1]. He met Kim Jong Un there [1]. "
            "The port of Alexandria reopened after three days [2].")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def fake():
    with FakeLLM() as server:
        yield server


def _fake_llm(*replies: str) -> LLM:
    """An in-process model replaying ``replies`` (streamed word by word)."""
    return LLM(GenericFakeChatModel(messages=iter([AIMessage(r) for r in replies])),
               name="fake", timeout=10, verify=False)


def _wire(fake: FakeLLM, provider: str = "openai", timeout: float = 5, max_tokens: int = 100,
          verify: bool = True) -> LLM:
    url = fake.url + "/v1" if provider == "openai" else fake.url
    return LLM.from_config(LLMConfig(f"{provider}:{MODEL}", url, "sk-test-secret", timeout,
                                     max_tokens, verify))


# --- the checks -------------------------------------------------------------------------


def _sources() -> list[str]:
    from khabar.retrieval.stages.llm import source_text

    return [source_text(c) for c in SOURCES]


def test_sentences_and_citations():
    text = ("**Putin** visited [1]. The U.S. said nothing [2]. قال بيسكوف ذلك [١، ٢]؟\n"
            "- Kim met him. [1][2]\nNo source here")
    sentences = checks.split_sentences(text)
    assert sentences == ["Putin visited [1].", "The U.S. said nothing [2].",
                         "قال بيسكوف ذلك [١، ٢]؟", "Kim met him. [1][2]", "No source here"]
    assert [checks.citations(s) for s in sentences] == [[1], [2], [1, 2], [1, 2], []]


@pytest.mark.parametrize(("sentence", "reason"), [
    ("Putin visited Pyongyang on 19 June [1].", None),
    ("بوتين زار بيونغ يانغ في ١٩ يونيو [1].", None),              # Arabic-Indic digits
    ("پوتین در ۱۹ ژوئن به پیونگ یانگ رفت [1].", None),           # Persian digits
    ("The treaty has 23 articles [1].", None),                     # ۲۳ in the passage
    ("Forty ships waited outside the port [2].", None),
    ("40 ships were waiting outside [2].", None),                  # "forty" in the passage
    ("The storm closed the port in 2024 [2].", None),              # the date of the header
    ("Peskov spoke about the treaty [1].", None),                  # بيسكوف
    ("Vladimir Putin and Kim Jong Un met [1].", None),
    ("Putin visited Pyongyang on 21 June [1].", "number 21 is not in [1]"),
    ("45 ships were waiting [2].", "number 45 is not in [2]"),
    ("Putin met Xi Jinping [1].", "name Xi Jinping is not in [1]"),
    ("Lavrov commented on the treaty [1].", "name Lavrov is not in [1]"),
    ("Putin visited Pyongyang [9].", "cites [9], which was not given"),
    ("Putin visited Pyongyang.", "no citation"),
    ("[1][2]", "cites without stating anything"),
    ("Passage [1].", "cites without stating anything"),  # the real 1.5B model's whole answer
    ("See the source [2].", "cites without stating anything"),
    ("The answer is in the passage above [1].", "cites without stating anything"),
    ("انظر المقطع [1].", "cites without stating anything"),
    ("به متن منبع مراجعه کنید [2].", "cites without stating anything"),
    ("Yes [1].", None),                                            # an answer, however short
    ("No [1].", None),
    ("The answer is no [1].", None),
    ("لا [1].", None),
    ("خیر [2].", None),
    ("The answer is 23 [1].", None),                               # a number states something
    ("According to passage [1], Putin visited Pyongyang.", None),
    ("Officials said 40 ships were waiting outside [1].", "number 40 is not in [1]"),
    ("The Russian president visited Pyongyang [1].", None),  # روسي
    ("بيسكوف قال إن الاتفاقية «تشمل بند الدفاع المشترك» [1].", None),
    ("Peskov said \"تشمل بند الدفاع\" [1].", None),                  # a verbatim span
    ("بيسكوف قال إن الاتفاقية «تشمل بند الهجوم المشترك» [1].", "quote is not verbatim in [1]"),
    ("Officials said \"forty ships were waiting outside\" [2].", None),
    ("Officials said \"many ships were waiting\" [2].", "quote is not verbatim in [2]"),
])
def test_each_check(sentence, reason):
    assert checks.check_sentence(sentence, _sources()) == reason


def test_names_across_scripts():
    for latin, arabic in [("Putin", "فلاديمير بوتين"), ("Pyongyang", "في بيونغ يانغ"),
                          ("Peskov", "ديمتري بيسكوف"), ("Interfax", "وكالة إنترفاكس"),
                          ("Lavrov", "سيرغي لافروف"), ("Washington", "واشنطن"),
                          ("Zakharova", "ماريا زاخاروفا"), ("Sputnik", "وكالة سبوتنيك"),
                          ("Moscow", "في موسكو"), ("Nebenzia", "نيبينزيا")]:
        assert checks.same_name(latin, arabic), (latin, arabic)
    for latin, arabic in [("Lavrov", "بيسكوف"), ("Putin", "بايدن"), ("Seoul", "بيونغ يانغ")]:
        assert not checks.same_name(latin, arabic), (latin, arabic)


def test_too_little_left_is_a_fallback():
    ok = checks.check(GROUNDED, _sources())
    assert ok.fallback is None and len(ok.kept) == 3 and not ok.removed
    half = checks.check("Putin visited Pyongyang [1]. Xi came [9]. Lavrov came [1].", _sources())
    assert half.fallback == "only 1 of 3 generated sentences passed the checks"
    assert [r.reason for r in half.removed] == ["cites [9], which was not given",
                                                "name Lavrov is not in [1]"]
    none = checks.check("Nothing is cited here.", _sources())
    assert none.fallback == "no sentence of the generated answer passed the checks"


# --- prompt, streaming and checks in-process -------------------------------------------------


def test_prompt_numbers_passages_with_their_metadata():
    system, human = answer_messages("Who did Putin meet?", "fa", SOURCES)
    assert "Answer in Persian" in system.content and NO_ANSWER in system.content
    assert "[1] بوتين في بيونغ يانغ — سبوتنيك, 2024-06-19\nزار الرئيس" in human.content
    assert "[2] Harbour reopens — Reuters, 2024-01-02\nThe port" in human.content
    assert human.content.endswith("Question: Who did Putin meet?")


def test_streamed_then_checked_in_process():
    llm = _fake_llm(GROUNDED + " Biden was there too [1].")
    deltas: list[str] = []
    generated = llm.answer("q", "en", SOURCES, deltas.append)
    assert len(deltas) > 10 and "".join(deltas).startswith("Putin visited")
    assert generated.fallback is None and generated.found
    assert generated.text == GROUNDED
    assert [(r.text, r.reason) for r in generated.removed] == [
        ("Biden was there too [1].", "name Biden is not in [1]")]


def test_no_answer_is_not_found_in_the_question_language():
    generated = _fake_llm(NO_ANSWER).answer("ما هو الطقس؟", "ar", SOURCES)
    assert not generated.found and generated.fallback is None
    assert generated.text.startswith("لا تغطي المقالات")


def test_spec_and_missing_extra(monkeypatch):
    assert parse_spec("ollama:qwen2.5:7b") == ("ollama", "qwen2.5:7b")
    with pytest.raises(LLMSetupError, match="openai:<model>"):
        parse_spec("gpt-4o")
    monkeypatch.setitem(sys.modules, "langchain_openai", None)  # as if the extra were missing
    with pytest.raises(LLMSetupError, match=r"pip install 'khabar\[llm\]'"):
        LLM.from_config(LLMConfig("openai:x", "http://127.0.0.1:9/v1"))


def test_service_answers_with_the_model_and_condenses_follow_ups(seeds_index, embedder):
    grounded = "Peskov is the press secretary of the Russian president [1]."
    standalone = "من هو السكرتير الصحفي للرئيس الروسي؟"
    model = FakeListChatModel(responses=[standalone, grounded])
    engine = Khabar(seeds_index, seeds=SEEDS, embedder=embedder,
                    llm=LLM(model, name="fake", timeout=10, verify=False))
    answer = engine.ask("And his press secretary?", history=["Who is Putin?"])
    assert answer.standalone == standalone
    payload = answer.to_json()
    assert payload["mode"] == "llm" and payload["fallback"] is None and payload["removed"] == []
    assert set(payload["timings_ms"]) == {"embed", "search", "answer", "llm", "total"}
    assert answer.answer == grounded


def test_an_answer_that_only_points_at_a_passage_never_reaches_the_user(seeds_index,
                                                                        embedder):
    """The real 1.5B model once answered an English seed question with "Passage [1]"."""
    engine = Khabar(seeds_index, seeds=SEEDS, embedder=embedder,
                    llm=LLM(FakeListChatModel(responses=["Passage [1]"]), name="fake",
                            timeout=10, verify=False))
    answer = engine.ask("Who is the press secretary of the Russian president?")
    assert answer.mode == "extractive" and answer.fallback.startswith("no sentence")
    assert answer.found and answer.answer != "Passage [1]"
    assert [r.reason for r in answer.removed] == ["cites without stating anything"]


def test_condense_failure_falls_back_to_the_rule_based_reading(seeds_index, embedder, caplog):
    engine = Khabar(seeds_index, seeds=SEEDS, embedder=embedder,
                    llm=LLM(FakeListChatModel(responses=["", "Nothing cited."]), name="fake",
                            timeout=10, verify=False))
    alone = Khabar(seeds_index, seeds=SEEDS, embedder=embedder)
    history = ["من هو السكرتير الصحفي للرئيس الروسي؟"]
    with caplog.at_level(logging.WARNING):
        answer = engine.ask("وماذا قال عن كوريا؟", history=history)
    assert answer.standalone == alone.ask("وماذا قال عن كوريا؟", history=history).standalone
    assert answer.mode == "extractive" and answer.fallback.startswith("no sentence")
    assert [r.message for r in caplog.records].count("condense_failed") == 1
    assert [r.message for r in caplog.records].count("llm_fallback") == 1


def test_chat_streams_the_draft_then_prints_the_checked_answer(seeds_index, embedder):
    draft = "Peskov is the press secretary of the Russian president [1]. He was born in 1990 [1]."
    engine = Khabar(seeds_index, seeds=SEEDS, embedder=embedder,
                    llm=LLM(FakeListChatModel(responses=[draft]), name="fake", timeout=10,
                            verify=False))
    shown: list[str] = []
    session = ChatSession(engine, stream=shown.append)
    reply = session.handle("من هو السكرتير الصحفي للرئيس الروسي؟")
    assert "".join(shown) == draft
    assert reply.startswith(f"\n{CHECKED}\n{draft.split(' He')[0]}")
    assert "1990" not in reply and "1 generated sentence removed" in reply


def test_without_a_model_the_answer_is_unchanged(seeds_engine):
    answer = seeds_engine.ask("من هو السكرتير الصحفي للرئيس الروسي؟")
    payload = answer.to_json()
    assert payload["mode"] == "extractive" and payload["removed"] == []
    assert payload["fallback"] is None and "llm" not in payload["timings_ms"]


# --- the wire ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "ollama"])
@pytest.mark.parametrize("streamed", [True, False])
@pytest.mark.parametrize(("reply", "kept", "removed"), [
    (GROUNDED, GROUNDED, []),
    (GROUNDED + " Putin also visited Seoul [9].", GROUNDED, ["cites [9], which was not given"]),
    (GROUNDED + " The visit cost 500 million dollars.", GROUNDED, ["no citation"]),
    (GROUNDED + " 45 ships were waiting [2].", GROUNDED, ["number 45 is not in [2]"]),
    (GROUNDED + " Putin met Xi Jinping [1].", GROUNDED, ["name Xi Jinping is not in [1]"]),
    (GROUNDED + " Peskov said the treaty «تشمل بند الدفاع المشترك» [1].",
     GROUNDED + " Peskov said the treaty «تشمل بند الدفاع المشترك» [1].", []),
    (GROUNDED + " Peskov said the treaty «تشمل بند الدفاع الكامل» [1].", GROUNDED,
     ["quote is not verbatim in [1]"]),
])
def test_answers_over_the_wire(fake, provider, streamed, reply, kept, removed):
    fake.script(Reply(reply))
    deltas: list[str] = []
    generated = _wire(fake, provider).answer("q", "en", SOURCES,
                                             deltas.append if streamed else None)
    assert generated.fallback is None and generated.text == kept
    assert [r.reason for r in generated.removed] == removed
    assert (len(deltas) > 1) == streamed
    body = fake.chats()[0]
    if provider == "openai":  # LangChain's ChatOllama streams from Ollama either way
        assert bool(body.get("stream")) == streamed
    assert body["model"] == MODEL and "[2] Harbour reopens" in json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize("provider", ["openai", "ollama"])
@pytest.mark.parametrize("streamed", [True, False])
@pytest.mark.parametrize(("replies", "reason", "requests"), [
    ([Reply(status=429), Reply(GROUNDED)], None, 2),
    ([Reply(status=503), Reply(GROUNDED)], None, 2),
    ([Reply(status=429, retry_after="0")], "HTTP 429 from the model server", 2),
    ([Reply(status=500)], "HTTP 500 from the model server", 2),
    ([Reply(GROUNDED, malformed=True)], "the model server sent a malformed answer", 1),
    ([Reply(GROUNDED, cut=True)], "the model server broke off its answer", 1),
    ([Reply(GROUNDED, repeat=40)], "the answer ran far past KHABAR_LLM_MAX_TOKENS", 1),
    ([Reply(GROUNDED, delay=4)], "the model took longer than 1.5 s", 1),
])
def test_faults_end_in_the_extractive_answer(fake, caplog, provider, streamed, replies, reason,
                                             requests):
    fake.script(*replies)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="khabar.retrieval.stages.llm"):
        generated = _wire(fake, provider, timeout=1.5).answer(
            "q", "en", SOURCES, (lambda d: None) if streamed else None)
    assert generated.fallback == reason
    assert time.monotonic() - started < 1.5 + 1
    assert len(fake.chats()) == requests
    logged = [r for r in caplog.records if r.message == "llm_fallback"]
    assert len(logged) == (reason is not None)
    if reason:
        assert logged[0].reason == reason


# --- whether the passages answer at all (KHABAR_LLM_VERIFY) ----------------------------------


@pytest.mark.parametrize(("reply", "no"), [
    ("NO", True), ("No.", True), ("**NO**", True), ("not in the passages", True),
    ("YES", False), ("Yes [1]", False), ("", False), ("نه", False), ("Nothing else", False),
])
def test_a_verification_reply_is_a_no_only_when_it_says_no(reply, no):
    assert says_no(reply) is no


@pytest.mark.parametrize("provider", ["openai", "ollama"])
def test_a_no_is_not_found_in_the_question_language_without_an_answer_call(fake, provider):
    more = [replace(PUTIN, n=3), replace(PORT, n=4, title="Fourth passage")]
    fake.script(Reply(GROUNDED), verdict=Reply("No."))
    generated = _wire(fake, provider).answer("كم عدد قتلى زلزال بم؟", "ar", SOURCES + more)
    assert not generated.found and generated.fallback is None
    assert generated.text == say("not_found", "ar")
    assert fake.chats() == []  # the answer itself was never asked for
    (body,) = fake.verifications
    sent = json.dumps(body, ensure_ascii=False)
    assert "كم عدد قتلى زلزال بم؟" in sent and "[3] " in sent and "Fourth passage" not in sent


def test_a_yes_goes_on_to_the_answer_and_the_verification_can_be_switched_off(fake):
    fake.script(Reply(GROUNDED))
    generated = _wire(fake).answer("q", "en", SOURCES)
    assert generated.found and generated.text == GROUNDED
    assert len(fake.verifications) == 1 and len(fake.chats()) == 1
    fake.script(Reply(GROUNDED), verdict=Reply("NO"))
    generated = _wire(fake, verify=False).answer("q", "en", SOURCES)
    assert generated.found and fake.verifications == [] and len(fake.chats()) == 1


def test_a_failing_verification_is_the_extractive_answer_with_its_reason(fake):
    fake.script(Reply(GROUNDED), verdict=Reply(status=500))
    generated = _wire(fake).answer("q", "en", SOURCES)
    assert generated.fallback == "HTTP 500 from the model server"
    assert fake.chats() == [] and len(fake.verifications) == 2  # one retry


def test_the_verification_and_the_answer_share_one_deadline(fake):
    fake.script(Reply(GROUNDED, delay=1.0), verdict=Reply("YES", delay=1.0))
    started = time.monotonic()
    generated = _wire(fake, timeout=1.5).answer("q", "en", SOURCES)
    assert generated.fallback == "the model took longer than 1.5 s"
    assert time.monotonic() - started < 1.5 + 1


def test_an_in_process_model_is_verified_as_a_configured_one_is():
    model = LLM(FakeListChatModel(responses=["NO", GROUNDED]), name="fake", timeout=10)
    generated = model.answer("q", "en", SOURCES)
    assert not generated.found and generated.text == say("not_found", "en")


def test_khabar_llm_verify_reaches_the_model(monkeypatch, tmp_path):
    from khabar.bot.settings import Settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KHABAR_LLM", "openai:x")
    assert Settings.load().llm_verify is True
    monkeypatch.setenv("KHABAR_LLM_VERIFY", "false")
    engine = Khabar.from_settings(Settings.load())
    assert engine._llm.verify is False


@pytest.mark.parametrize("provider", ["openai", "ollama"])
def test_a_stream_that_ends_without_finishing_or_trickles_past_the_deadline(fake, provider):
    fake.script(Reply(GROUNDED, no_finish=True))
    generated = _wire(fake, provider).answer("q", "en", SOURCES, lambda d: None)
    assert generated.fallback == "the model's answer was cut off (no finish reason)"
    fake.script(Reply(GROUNDED, chunk_delay=0.3))  # every read is quick; the whole is not
    started = time.monotonic()
    generated = _wire(fake, provider, timeout=1.5).answer("q", "en", SOURCES, lambda d: None)
    assert generated.fallback == "the model took longer than 1.5 s"
    assert time.monotonic() - started < 2.5


def test_connection_refused_and_probe():
    down = LLMConfig("openai:x", "http://127.0.0.1:9/v1", timeout=2)
    assert "is not answering (cannot connect to the model server)" in probe(down)
    generated = LLM.from_config(down).answer("q", "en", SOURCES)
    assert generated.fallback == "cannot connect to the model server"
    ollama = LLM.from_config(LLMConfig("ollama:x", "http://127.0.0.1:9", timeout=2))
    assert ollama.answer("q", "en", SOURCES, lambda d: None).fallback == (
        "cannot connect to the model server")


def test_probe_names_the_models_served(fake):
    assert probe(LLMConfig(f"openai:{MODEL}", fake.url + "/v1")) is None
    assert probe(LLMConfig(f"ollama:{MODEL}", fake.url)) is None
    for spec, url in ((f"openai:{MODEL}-x", fake.url + "/v1"), (f"ollama:{MODEL}-x", fake.url)):
        with pytest.raises(LLMSetupError, match=f"has no model '{MODEL}-x'; it serves {MODEL}"):
            probe(LLMConfig(spec, url))


# --- the command line, end to end ---------------------------------------------------------


def _env(fake_url: str, **extra: str) -> dict[str, str]:
    return {"KHABAR_LLM": f"openai:{MODEL}", "KHABAR_LLM_BASE_URL": fake_url,
            "KHABAR_LLM_API_KEY": "sk-test-secret-123456", "KHABAR_LLM_TIMEOUT": "2",
            "KHABAR_LOG_LEVEL": "WARNING", "NO_PROXY": "127.0.0.1", **extra}


def _ask(index, question: str, env: dict[str, str]):
    return CliRunner().invoke(main, ["ask", "--json", question, "--index", str(index)], env=env)


def test_ask_json_with_a_grounded_and_a_lying_model(fake, seeds_index):
    question = "من هو السكرتير الصحفي للرئيس الروسي؟"
    fake.script(Reply("Dmitry Peskov is the press secretary of the Russian president [1]. "
                      "Putin accepted Kim Jong Un's invitation [1]. "
                      "He has held the post since 2012 [1]. He once visited Seoul [7]."))
    result = _ask(seeds_index, question, _env(fake.url + "/v1"))
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["mode"] == "llm" and answer["fallback"] is None
    assert answer["answer"] == ("Dmitry Peskov is the press secretary of the Russian president "
                                "[1]. Putin accepted Kim Jong Un's invitation [1].")
    assert [r["reason"] for r in answer["removed"]] == ["number 2012 is not in [1]",
                                                        "cites [7], which was not given"]
    assert "llm" in answer["timings_ms"] and answer["citations"][0]["n"] == 1
    prompt = json.dumps(fake.chats()[0], ensure_ascii=False)
    assert "Answer in Arabic" in prompt and "[1] " in prompt


def test_bad_model_name_is_one_line_at_start_up(fake, seeds_index):
    result = _ask(seeds_index, "x", _env(fake.url + "/v1", KHABAR_LLM="openai:nope"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"has no model 'nope'; it serves {MODEL}" in result.output
    bad = _ask(seeds_index, "x", _env(fake.url + "/v1", KHABAR_LLM="gpt4"))
    assert bad.exit_code == 1 and "KHABAR_LLM='gpt4'" in bad.output


@pytest.mark.slow
@pytest.mark.parametrize("server", ["down", "slow"])
def test_ask_answers_extractively_when_the_server_is_down_or_slow(fake, seeds_index, server,
                                                                  tmp_path):
    """The acceptance check, through a real process: within the timeout plus a few seconds,
    exit status 0, the fallback set, and the API key in no output."""
    fake.script(Reply("Peskov [1].", delay=30))
    url = "http://127.0.0.1:9/v1" if server == "down" else fake.url + "/v1"
    env = {**_env(url), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    question = "من هو السكرتير الصحفي للرئيس الروسي؟"

    def ask(environment: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "khabar.bot", "ask", "--json", question,
                               "--index", str(seeds_index)], capture_output=True, text=True,
                              cwd=tmp_path, timeout=120, env=environment)
        return done, time.monotonic() - started

    plain, plain_s = ask({k: v for k, v in env.items() if not k.startswith("KHABAR_LLM")})
    run, took = ask(env)
    extractive = json.loads(plain.stdout)
    answer = json.loads(run.stdout)
    assert run.returncode == 0 and "Traceback" not in run.stderr
    assert answer["mode"] == "extractive" and answer["fallback"]
    assert answer["answer"] == extractive["answer"] and answer["found"] is True
    assert answer["timings_ms"]["llm"] < (2 + 0.5) * 1000  # the model stage keeps its deadline
    # The whole command: as long as without a model, plus the timeout, plus loading LangChain's
    # OpenAI client and the probe (seconds on a loaded machine).
    assert took < plain_s + 2 + 12, (took, plain_s)
    assert "sk-test-secret-123456" not in run.stdout + run.stderr
    if server == "down":
        assert "is not answering" in run.stderr


def test_text_answer_says_why_it_is_extractive(seeds_index):
    env = _env("http://127.0.0.1:9/v1")
    result = CliRunner().invoke(main, ["ask", "من هو السكرتير الصحفي للرئيس الروسي؟",
                                       "--index", str(seeds_index)], env=env)
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert "Warning: KHABAR_LLM=openai:fake-model: http://127.0.0.1:9/v1 is not answering" in (
        result.stderr)
    assert "(extractive answer: cannot connect to the model server)" in result.stdout
    assert "بيسكوف" in result.stdout


def test_api_key_falls_back_to_openai_and_is_redacted(monkeypatch, tmp_path):
    from khabar.bot.logs import StructuredFormatter
    from khabar.bot.settings import Settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KHABAR_LLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-openai-variable")
    settings = Settings.load()
    assert settings.llm_api_key == "sk-from-the-openai-variable"
    record = logging.makeLogRecord({"msg": "llm_call", "levelname": "INFO",
                                    "header": "Bearer sk-from-the-openai-variable"})
    line = StructuredFormatter(settings.secrets()).format(record)
    assert "sk-from" not in line and "header=\"Bearer <redacted>\"" in line
    monkeypatch.setenv("KHABAR_LLM_API_KEY", "sk-khabar-own")
    monkeypatch.setenv("KHABAR_LLM_TIMEOUT", "0")
    with pytest.raises(SettingsError, match="KHABAR_LLM_TIMEOUT='0'"):
        Settings.load()
    assert Settings.load(llm_timeout=5).llm_api_key == "sk-khabar-own"
