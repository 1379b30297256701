"""Follow-up questions: read in their conversation, in every front end; self-contained
questions unaffected by whatever came before."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner
from conftest import SEED_QUESTIONS, SEEDS
from fake_telegram import BOT_USER
from test_telegram import check_html, running_bot

from khabar.bot.cli import main
from khabar.bot.render import answer_text
from khabar.bot.telegram.format import answer_blocks
from khabar.retrieval.stages.conversation import leans_on_context, read
from khabar.retrieval.types import Answer, Citation

# A corpus vocabulary for the pure-logic cases: the names the articles use.
_KNOWN = {"بيسكوف", "peskov", "سبوتنيك"}


def _vocabulary(terms: list[str]) -> dict[str, int]:
    return {t: 1 for t in terms if t in _KNOWN}


@pytest.mark.parametrize("question", [
    "And which frigate?", "Where did he die?", "Which court restored his patents in 1943?",
    "What about the treaty?", "ومن الذي فرضها؟", "وأي وكالة نقلت ذلك؟", "وكم استمرت؟",
    "این سخنان در چه تاریخی بود؟", "او کجا سخنرانی کرد؟", "مذاکرات آن‌ها چقدر طول کشید؟",
    "Who signed it?", "When?",
])
def test_follow_ups_lean_on_the_conversation(question):
    assert leans_on_context(question, _vocabulary)


@pytest.mark.parametrize("question", [
    "Who won the 2022 World Cup final?", "How old was Manning when he played Super Bowl 50?",
    "من هو بيسكوف؟", "Who is Peskov?", "في أي سنوات وقعت الحرب الكورية التي مد فيها الاتحاد "
    "السوفييتي يد العون؟", "سفیر روسیه در سازمان ملل درباره نیروهای کره شمالی چه گفت؟",
    "What did Putin ask the UN Security Council to reconsider regarding North Korea?",
])
def test_self_contained_questions_stand_alone(question):
    assert not leans_on_context(question, _vocabulary)


def test_a_chain_of_follow_ups_keeps_its_subject_and_a_switch_drops_it():
    turn = read("And when?", ["Who signed the treaty in Pyongyang?", "Where did they meet?"],
                _vocabulary)
    assert "treaty" in turn.text and "Pyongyang" in turn.text
    assert turn.context.question == "Where did they meet?"
    assert turn.context.context.context is None  # the first question stood alone
    switch = read("Who won the 2022 World Cup final?", ["Who signed the treaty?"], _vocabulary)
    assert switch.text == switch.question and switch.context is None


def test_self_contained_questions_are_answered_exactly_as_without_history(seeds_engine):
    questions = [json.loads(line)["q"] for line in SEED_QUESTIONS.read_text("utf-8").splitlines()]
    unrelated = ["What did the finance minister say about the budget?", "And when?"]
    read_alone = 0
    for q in questions:
        with_history = seeds_engine.ask(q, history=unrelated)
        if with_history.standalone != q:
            continue
        read_alone += 1
        alone = seeds_engine.ask(q)
        assert (with_history.answer, with_history.citations) == (alone.answer, alone.citations)
    assert read_alone >= len(questions) - 1


def _cli(args, index, stdin):
    return CliRunner().invoke(main, [*args, "--index", str(index), "--seeds", str(SEEDS)],
                              input=stdin, catch_exceptions=False)


FIRST = "ماذا طلب بوتين بشأن العقوبات المفروضة على كوريا الشمالية؟"
FOLLOW_UP = "ومن الذي فرضها؟"


def test_follow_up_through_the_chat_loop_and_new_resets(seeds_index):
    result = _cli(["chat"], seeds_index, f"{FIRST}\n{FOLLOW_UP}\n/new\n{FOLLOW_UP}\n/help\n")
    assert result.exit_code == 0
    out = result.output
    read_as = [line for line in out.splitlines() if line.startswith("(read as:")]
    assert len(read_as) == 1 and "العقوبات" in read_as[0]  # only before /new
    assert "مجلس الأمن" in out.split("New conversation.")[0]
    assert "/new" in out.split("New conversation.")[1]  # /help lists it


def test_follow_up_through_ask_json_lines(seeds_index):
    lines = [json.dumps({"question": FOLLOW_UP, "history": [FIRST]}, ensure_ascii=False),
             json.dumps({"question": FIRST, "history": ["Who is Peskov?"]}, ensure_ascii=False),
             FIRST, '{"question": 42}', '{"question": "x", "history": "not a list"}']
    result = _cli(["ask", "-"], seeds_index, "\n".join(lines) + "\n")
    out = [json.loads(line) for line in result.output.splitlines()]
    follow, switched, plain, bad, bad_history = out
    assert follow["question"] == FOLLOW_UP and follow["standalone"] != FOLLOW_UP
    assert "العقوبات" in follow["standalone"] and "مجلس الأمن" in follow["answer"]
    assert switched["standalone"] == FIRST and plain["standalone"] == FIRST
    assert switched["answer"] == plain["answer"]
    assert "error" in bad and "error" in bad_history


def test_follow_ups_through_telegram_two_users_in_a_group_and_new(seeds_engine):
    group = {"chat_id": -100, "chat_type": "supergroup"}
    mention = "@khabar_test_bot "

    def answers(fake, user_id):
        return [p for p in fake.sent(chat_id=-100) if p.get("reply_markup")
                and (p.get("reply_parameters") or {}).get("message_id") in asked[user_id]]

    asked: dict[int, set[int]] = {1: set(), 2: set()}

    async def ask(fake, text, user_id, **extra):
        update = fake.message(mention + text, user_id=user_id, **group, **extra)
        asked[user_id].add(update["message"]["message_id"])
        before = len(answers(fake, user_id))
        await fake.push(update)
        await fake.wait_for(lambda: len(answers(fake, user_id)) > before)
        return answers(fake, user_id)[-1]

    async def scenario():
        async with running_bot(seeds_engine) as fake:
            await ask(fake, FIRST, 1)
            await ask(fake, "Who is Peskov?", 2)
            first = await ask(fake, FOLLOW_UP, 1)
            shown = check_html(first["text"])
            assert "↳" in shown and "العقوبات" in shown and "مجلس الأمن" in shown
            other = await ask(fake, "And what did he say?", 2)
            assert "العقوبات" not in check_html(other["text"]).split("\n")[0]
            # A reply to user 1's answer continues user 1's thread, whoever sends it.
            reply_to = {"message_id": first["_message_id"], "date": 0, "from": BOT_USER,
                        "chat": {"id": -100, "type": "supergroup"}, "text": "answer"}
            threaded = await ask(fake, "ومتى فرضها؟", 2, reply_to=reply_to)
            assert "العقوبات" in check_html(threaded["text"]).split("\n")[0]
            await fake.push(fake.message("/new", user_id=1, **group))
            await fake.wait_for(lambda: any("New conversation" in p["text"]
                                            for p in fake.sent(chat_id=-100)))
            fresh = await ask(fake, FOLLOW_UP, 1)
            assert "↳" not in check_html(fresh["text"])
    asyncio.run(asyncio.wait_for(scenario(), 180))


def test_citations_are_grouped_by_article():
    cites = tuple(
        Citation(n=i + 1, doc=doc, title=title, outlet="Wire", date="2024-06-19", url=None,
                 snippet=f"snippet {i + 1}", start=0, end=9, score=1.0, passage_id=i + 1)
        for i, (doc, title) in enumerate([("a.txt", "Treaty signed"), ("b.txt", "Other"),
                                          ("a.txt", "Treaty signed")]))
    answer = Answer("q", True, "It was signed. [1] [3]", cites, {})
    text = answer_text(answer)
    assert text.count("Treaty signed") == 1 and text.count("Other") == 1
    lines = text.splitlines()
    assert lines.index("    [3] snippet 3") == lines.index("    [1] snippet 1") + 1
    html = "\n\n".join(answer_blocks(answer))
    assert html.count("Treaty signed") == 1
    assert html.index("[1]") < html.index("[3]") < html.index("Other")
    assert answer.to_json()["citations"][2]["n"] == 3  # the JSON contract is unchanged


def test_one_agency_story_from_two_outlets_is_cited_once_with_both_named(tmp_path, embedder):
    from conftest import write_articles

    from khabar.retrieval.engine import Khabar

    story = ("The port of Alexandria reopened on Tuesday after a storm closed it for three days, "
             "the port authority said, adding that forty ships had been waiting outside and that "
             "the first vessels entered the harbour at dawn.")
    write_articles(tmp_path / "seeds", {
        "wire-a.txt": f"Title: Alexandria port reopens\nSource: Daily Nile\n\n{story}\n",
        "wire-b.txt": f"Title: Storm over, Alexandria reopens\nSource: Cairo Post\n\n{story} "
                      "Reporting by the agency.\n",
        "other.txt": "Title: Tehran book fair\nSource: Fars\n\nThe Tehran book fair opened "
                     "with two hundred foreign publishers this year, the organisers said.\n",
    })
    engine = Khabar(tmp_path / "index", seeds=tmp_path / "seeds", embedder=embedder)
    engine.index()
    answer = engine.ask("How many ships waited outside Alexandria port?")
    first = answer.citations[0]
    assert first.doc in ("wire-a.txt", "wire-b.txt")
    twin = {"wire-a.txt": "Cairo Post", "wire-b.txt": "Daily Nile"}[first.doc]
    assert [s.outlet for s in first.also_in] == [twin]
    assert not any(c.doc in ("wire-a.txt", "wire-b.txt") for c in answer.citations[1:])
    assert f"also in: {twin}" in answer_text(answer)
    assert answer.to_json()["citations"][0]["also_in"][0]["outlet"] == twin
