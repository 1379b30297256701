"""The rules every chat front end shares, with plain ids: access, rate, conversation memory."""

from __future__ import annotations

from khabar.bot.sessions import Access, Conversations


def test_access_allowlist_admins_by_id_and_one_refusal():
    open_to_all = Access()
    assert open_to_all.allows(7) and not open_to_all.is_admin(7)
    access = Access(Access.parse("@Alice, 42"), Access.parse("99"))
    assert access.allows(42) and access.allows(5, "ALICE") and access.allows(99)
    assert not access.allows(5, "bob") and not access.allows(5)
    assert access.is_admin(99) and not access.is_admin(42)
    assert access.first_refusal(5) and not access.first_refusal(5)


def test_access_rate_limit_per_user():
    access = Access(per_minute=1)
    assert access.retry_after(1, now=0) == 0 and access.retry_after(2, now=0) == 0
    assert access.retry_after(1, now=30) == 31


def test_conversation_memory_threads_ttl_and_reset():
    memory = Conversations(ttl=100)
    memory.add(("chat", 1), "Who is Peskov?", [("chat", 500)], now=0)
    memory.add(("chat", 1), "And his boss?", now=10)
    assert memory.history(("chat", 1), now=20) == ["Who is Peskov?", "And his boss?"]
    assert memory.thread(("chat", 500)) == ("chat", 1) and memory.thread(("chat", 501)) is None
    assert memory.history(("chat", 1), now=110) == []  # silent for the whole ttl
    memory.reset(("chat", 1))
    assert memory.history(("chat", 1), now=20) == []
