"""A generated answer in Telegram: a placeholder, edited with the draft as the model writes it,
then replaced by the checked answer and its citation buttons.

Telegram throttles message edits (AnythingLLM's users see 429 errors at faster rates), so the
placeholder is edited at most once per ``EDIT_INTERVAL``, the final edit included; a 429 that
comes anyway is waited out by ``faults.Sender``, like any send's. The final edit replaces the
whole draft: a sentence the checks removed never stays on screen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from khabar.bot.telegram.follow import follow_button
from khabar.bot.telegram.format import MAX_MESSAGE, answer_blocks, pack
from khabar.retrieval.strings import say
from khabar.retrieval.types import Answer

EDIT_INTERVAL = 1.0
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def citation_markup(answer: Answer, lang: str = "en") -> InlineKeyboardMarkup | None:
    """One button per citation, which shows the whole passage, and under them one to follow
    the story the question was about (an answer with nothing cited asked about nothing)."""
    buttons = [InlineKeyboardButton(f"[{c.n}]", callback_data=f"p:{c.passage_id}")
               for c in answer.citations]
    return InlineKeyboardMarkup([buttons, [follow_button(lang)]]) if buttons else None


class _Pacer:
    """Edits one message no more often than ``EDIT_INTERVAL``."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.next_at = time.monotonic() + EDIT_INTERVAL  # sending the placeholder counts too

    async def wait(self) -> None:
        delay = self.next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def edit(self, body: str, **kwargs: object) -> None:
        await self.wait()
        try:
            await self.message.edit_text(body, **kwargs)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
        self.next_at = time.monotonic() + EDIT_INTERVAL


def _draft(so_far: str) -> str:
    """The draft as shown while it is written: plain text, within one message."""
    return so_far if len(so_far) <= MAX_MESSAGE - 2 else so_far[:MAX_MESSAGE - 2] + " …"


async def reply_streamed(message: Message, ask: Callable[[Callable[[str], None]], Answer],
                         lang: str) -> tuple[Answer, list[Message]]:
    """Answer ``message`` with ``ask(on_text)`` run in a worker thread, showing its draft as
    it comes; returns the answer and the messages that hold it."""
    loop = asyncio.get_running_loop()
    draft: list[str] = []
    written = asyncio.Event()

    def on_text(delta: str) -> None:  # called in the worker thread
        draft.append(delta)
        loop.call_soon_threadsafe(written.set)

    placeholder = await message.reply_text(say("writing", lang))
    pacer = _Pacer(placeholder)
    work = asyncio.ensure_future(asyncio.to_thread(ask, on_text))
    shown = ""
    while not work.done():
        waiter = asyncio.ensure_future(written.wait())
        await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        written.clear()
        await asyncio.wait({work}, timeout=max(pacer.next_at - time.monotonic(), 0))
        current = "".join(draft)
        if not work.done() and current.strip() and current != shown:
            shown = current
            await pacer.edit(_draft(current))
    answer = work.result()
    parts = pack(answer_blocks(answer, lang))
    markup = citation_markup(answer, lang)
    await pacer.edit(parts[0], parse_mode=ParseMode.HTML,
                     link_preview_options=_NO_PREVIEW,
                     reply_markup=markup if len(parts) == 1 else None)
    sent = [placeholder]
    for i, part in enumerate(parts[1:], start=2):
        sent.append(await message.reply_text(
            part, parse_mode=ParseMode.HTML, link_preview_options=_NO_PREVIEW,
            reply_markup=markup if i == len(parts) else None))
    return answer, sent
