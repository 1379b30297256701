"""Following stories in Telegram: /follow, /following, /unfollow, /digest, /timeline, the
follow button under answers, and the two jobs that deliver what the engine queues.

The engine matches every newly indexed article against all followed topics in whichever
process indexes (``khabar index --watch``, ``/reindex``, a file or link sent to the bot) and
writes each alert into the outbox of the follows file. This module only sends: the outbox is
read about once a second, and each alert is marked sent as soon as Telegram has accepted it,
so a bot killed mid-way sends, once restarted, exactly the alerts Telegram had not taken.
Chats are keyed ``tg:<chat id>`` in that file, so that other front ends can share it.

Both jobs schedule their next run when the current one ends: a round that waits out a 429 is
never overlapped by the next (APScheduler would log a warning for each skipped run).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from khabar.bot.telegram.faults import Retry, classify
from khabar.bot.telegram.format import (
    alert_blocks,
    digest_blocks,
    mark,
    pack,
    timeline_blocks,
)
from khabar.retrieval.errors import QuestionError
from khabar.retrieval.follow.digest import DigestText, check_time, collect, due
from khabar.retrieval.follow.store import Alert, Digest, FollowError, FollowStore
from khabar.retrieval.strings import say, ui_lang
from khabar.retrieval.types import Citation

if TYPE_CHECKING:
    from khabar.bot.telegram.app import BotState

log = logging.getLogger(__name__)

CHAT_PREFIX = "tg:"
FOLLOW_DATA = "f"  # the follow button's callback data; the question is looked up by message
ALERT_EVERY_S = 1.0
DIGEST_EVERY_S = 30.0
# Alerts read per round: a burst of matches is sent in rounds of this many, oldest first.
_BATCH = 100
# Answers whose question the follow button can still follow (a restart forgets them all).
_REMEMBERED = 10_000
# An alert Telegram refuses as malformed (our bug) is tried again after this long, doubling.
_HELD_S, _HELD_CAP_S = 60.0, 3600.0
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

Gate = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[bool]]
Clock = Callable[[], datetime]
# What became of one alert: sent (or possibly shown: not sent again), its chat dropped, the
# whole outbox waiting for Telegram, or this alert held back (a bug).
Outcome = Literal["sent", "dropped", "wait", "held"]


def chat_key(chat_id: int) -> str:
    """A Telegram chat as the follows file names it."""
    return f"{CHAT_PREFIX}{chat_id}"


def follow_button(lang: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(say("follow_button", lang), callback_data=FOLLOW_DATA)


def _lang(update: Update) -> str:
    return ui_lang(update.effective_user.language_code if update.effective_user else None)


class Outbox:
    """Sends the queued alerts of ``tg:`` chats, oldest first.

    ``faults.Sender`` has already waited out each 429 and made again each send that sent
    nothing, several times, when a send raises here. What is left: Telegram still down or
    still throttling (every alert waits, backing off, and none is lost), a read timeout
    (Telegram may have delivered it: marked sent, as answers are never sent twice), a chat
    that blocked the bot (``Sender`` has dropped its follows and alerts), and a message
    Telegram refuses as malformed (a bug: that alert is held, the others go on).
    """

    def __init__(self, store: FollowStore, retry: Retry) -> None:
        self.store = store
        self.retry = retry
        self.resume_at = 0.0
        self.delay = retry.first
        self.held: dict[int, float] = {}
        self.store_error: str | None = None

    async def deliver(self, bot: Bot) -> int:
        """One round: send what is queued (unless Telegram asked us to wait); how many
        alerts were sent."""
        now = time.monotonic()
        if now < self.resume_at:
            return 0
        try:
            alerts = await asyncio.to_thread(self.store.pending, CHAT_PREFIX, _BATCH)
            sent, gone = 0, set()
            for alert in alerts:
                if self.held.get(alert.id, 0.0) > now or alert.chat in gone:
                    continue
                outcome = await self._send(bot, alert)
                if outcome == "wait":
                    break
                if outcome == "dropped":  # its other alerts went with it
                    gone.add(alert.chat)
                sent += outcome == "sent"
        except (sqlite3.Error, OSError) as exc:  # the follows file: locked for long, disk full
            # An alert Telegram took but that could not be marked sent goes again: twice
            # rather than never.
            if self.store_error is None:
                log.warning("follow_store_failed", extra={"error": str(exc),
                                                          "action": "alerts wait"})
            self.store_error = str(exc)
            return 0
        if self.store_error is not None:
            log.info("follow_store_recovered")
            self.store_error = None
        return sent

    async def _send(self, bot: Bot, alert: Alert) -> Outcome:
        lang = alert.topic.lang
        try:
            cited = Citation.from_json(alert.match.citation)
            parts = pack(alert_blocks(alert.topic.text, cited, lang))
            markup = (InlineKeyboardMarkup([[InlineKeyboardButton(
                "[1]", callback_data=f"p:{cited.passage_id}")]]) if cited.passage_id else None)
            for i, part in enumerate(parts):
                await bot.send_message(int(alert.chat.removeprefix(CHAT_PREFIX)), part,
                                       parse_mode=ParseMode.HTML,
                                       link_preview_options=_NO_PREVIEW,
                                       reply_markup=markup if i == len(parts) - 1 else None)
        except Forbidden:
            return "dropped"  # Sender forgot the chat, its alerts with it, in one line
        except TelegramError as exc:
            fault = classify(exc)
            if fault is None:
                return await self._hold(alert, exc)
            if not fault.resend and fault.kind == "unreachable":
                # Past a read timeout Telegram may have shown it: Sender logged it once.
                await asyncio.to_thread(self.store.sent, alert.id)
                return "sent"
            return await self._wait(alert, fault.retry_after, fault.detail)
        except (ValueError, KeyError, TypeError) as exc:  # a citation we cannot render: a bug
            return await self._hold(alert, exc)
        await asyncio.to_thread(self.store.sent, alert.id)
        self.delay = self.retry.first
        self.held.pop(alert.id, None)
        log.info("alert_sent", extra={"alert_id": alert.id, "chat": alert.chat,
                                      "topic_id": alert.topic.id, "doc": alert.match.path})
        return "sent"

    async def _wait(self, alert: Alert, retry_after: float, detail: str) -> Outcome:
        """Telegram is down or throttling past Sender's patience: this alert and the ones
        after it wait, the wait doubling each time; logged once until one gets through."""
        await asyncio.to_thread(self.store.attempt, alert.id)
        wait = max(retry_after, self.delay)
        if self.delay == self.retry.first:
            log.warning("alerts_waiting", extra={"alert_id": alert.id, "chat": alert.chat,
                                                 "retry_in_s": round(wait, 1),
                                                 "detail": detail})
        self.resume_at = time.monotonic() + wait
        self.delay = min(self.retry.cap, self.delay * self.retry.factor)
        return "wait"

    async def _hold(self, alert: Alert, exc: BaseException) -> Outcome:
        """A bug: the traceback once (at the alert's first failure), then the alert is tried
        again after a growing pause while the others are sent."""
        await asyncio.to_thread(self.store.attempt, alert.id)
        wait = min(_HELD_CAP_S, _HELD_S * 2 ** alert.attempts)
        self.held[alert.id] = time.monotonic() + wait
        log.error("alert_failed", exc_info=exc if alert.attempts == 0 else None,
                  extra={"alert_id": alert.id, "chat": alert.chat,
                         "attempts": alert.attempts + 1, "retry_in_s": wait,
                         "error": str(exc)})
        return "held"


class Following:
    """The follow commands and jobs of one bot. Handlers call the engine in worker threads
    (embedding a topic, the follows file) and word every reply in the user's language."""

    def __init__(self, state: BotState, gate: Gate, retry: Retry,
                 clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.state = state
        self.gate = gate
        self.clock = clock
        self.outbox = Outbox(state.engine.follows, retry)
        self.remembered: OrderedDict[tuple[int, int], str] = OrderedDict()

    @property
    def store(self) -> FollowStore:
        return self.state.engine.follows

    def register(self, app: Application) -> None:
        """Add the commands, the follow button and the two delivery jobs to ``app``."""
        app.add_handler(CommandHandler("follow", self.follow_command))
        app.add_handler(CommandHandler("following", self.following_command))
        app.add_handler(CommandHandler("unfollow", self.unfollow_command))
        app.add_handler(CommandHandler("digest", self.digest_command))
        app.add_handler(CommandHandler("timeline", self.timeline_command))
        app.add_handler(CallbackQueryHandler(self.follow_pressed, pattern=f"^{FOLLOW_DATA}$"))
        app.job_queue.run_once(self._alert_job, ALERT_EVERY_S, name="follow_alerts")
        app.job_queue.run_once(self._digest_job, DIGEST_EVERY_S, name="follow_digests")

    # The follow button -----------------------------------------------------------------------

    def remember(self, message: Message, question: str) -> None:
        """The question the follow button under ``message`` follows."""
        self.remembered[(message.chat_id, message.message_id)] = question
        while len(self.remembered) > _REMEMBERED:
            self.remembered.popitem(last=False)

    async def follow_pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Follow the question of the answer the button is under."""
        query = update.callback_query
        await query.answer()
        if not await self.gate(update, context) or query.message is None:
            return
        question = self.remembered.get((query.message.chat.id, query.message.message_id))
        if question is None:
            await context.bot.send_message(query.message.chat.id,
                                           say("follow_forgotten", _lang(update)))
            return
        await self._follow(update, context, question)

    # Commands ---------------------------------------------------------------------------------

    async def follow_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Follow the story named after /follow: its new articles will be sent to this chat."""
        if await self.gate(update, context):
            await self._follow(update, context, " ".join(context.args or []))

    async def _follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                      topic: str) -> None:
        lang, chat = _lang(update), update.effective_chat.id
        if not topic.strip():
            await context.bot.send_message(chat, say("follow_usage", lang))
            return
        wait = self.state.access.retry_after(update.effective_user.id)  # a topic is embedded
        if wait:
            await context.bot.send_message(chat, say("rate", lang, s=wait))
            return
        try:
            followed = await asyncio.to_thread(self.state.engine.follow, chat_key(chat), topic,
                                               lang)
        except QuestionError as exc:
            key = "topic_too_long" if exc.check == "too_long" else "follow_usage"
            await context.bot.send_message(chat, say(key, lang, **exc.details))
            return
        except FollowError as exc:
            await context.bot.send_message(chat, say(f"follow_{exc.check}", lang, **exc.details))
            return
        log.info("followed", extra={"chat": chat_key(chat), "topic_id": followed.id,
                                    "user_id": update.effective_user.id})
        await context.bot.send_message(chat, say("followed", lang, id=followed.id,
                                                 topic=followed.text))

    async def following_command(self, update: Update,
                                context: ContextTypes.DEFAULT_TYPE) -> None:
        """List this chat's topics with the numbers /unfollow takes, and its digest."""
        if not await self.gate(update, context):
            return
        lang, key = _lang(update), chat_key(update.effective_chat.id)
        topics = await asyncio.to_thread(self.state.engine.following, key)
        digest = await asyncio.to_thread(self._digest_of, key)
        lines = [say("following", lang) if topics else say("following_none", lang)]
        lines += [f"{mark(t.text)}#{t.id} {t.text}" for t in topics]
        if digest is not None:
            lines.append(say("digest_at", lang, at=digest.at, tz=digest.tz))
        await update.effective_message.reply_text("\n".join(lines))

    def _digest_of(self, chat: str) -> Digest | None:
        return next((d for d in self.store.digests() if d.chat == chat), None)

    async def unfollow_command(self, update: Update,
                               context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop following a topic, named by its number in /following or by its words."""
        if not await self.gate(update, context):
            return
        lang, message = _lang(update), update.effective_message
        which = " ".join(context.args or []).strip().lstrip("#")
        if not which:
            await message.reply_text(say("unfollow_usage", lang))
            return
        try:
            topic = await asyncio.to_thread(self.state.engine.unfollow,
                                            chat_key(message.chat_id), which)
        except FollowError as exc:
            await message.reply_text(say(f"follow_{exc.check}", lang, **exc.details))
            return
        log.info("unfollowed", extra={"chat": chat_key(message.chat_id), "topic_id": topic.id})
        await message.reply_text(say("unfollowed", lang, id=topic.id, topic=topic.text))

    async def digest_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/digest daily HH:MM [Area/City] (UTC when no zone is given), or /digest off."""
        if not await self.gate(update, context):
            return
        lang, message = _lang(update), update.effective_message
        key, args = chat_key(message.chat_id), context.args or []
        if [a.lower() for a in args] == ["off"]:
            stopped = await asyncio.to_thread(self.store.stop_digest, key)
            await message.reply_text(say("digest_off" if stopped else "digest_none", lang))
            return
        if len(args) not in (2, 3) or args[0].lower() != "daily":
            await message.reply_text(say("digest_usage", lang))
            return
        try:
            at, tz = check_time(args[1], args[2] if len(args) == 3 else "UTC")
        except FollowError as exc:
            await message.reply_text(say(f"follow_{exc.check}", lang, **exc.details))
            return
        await asyncio.to_thread(self.store.set_digest, key, at, tz, lang)
        log.info("digest_set", extra={"chat": key, "at": at, "tz": tz})
        reply = say("digest_set", lang, at=at, tz=tz)
        if len(args) == 2:
            reply += "\n" + say("digest_utc", lang, at=at)
        await message.reply_text(reply)

    async def timeline_command(self, update: Update,
                               context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show a story's dated articles, oldest first, one cited sentence each."""
        if not await self.gate(update, context):
            return
        lang, message = _lang(update), update.effective_message
        topic = " ".join(context.args or [])
        if not topic.strip():
            await message.reply_text(say("timeline_usage", lang))
            return
        wait = self.state.access.retry_after(update.effective_user.id)
        if wait:
            await message.reply_text(say("rate", lang, s=wait))
            return
        await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
        await self.reply_timeline(message, topic, lang)

    async def reply_timeline(self, message: Message, topic: str, lang: str) -> list[Message]:
        """Answer ``message`` with the timeline of ``topic`` (``/timeline``, or a question
        that asks for one), a follow button under it; returns the messages sent."""
        try:
            timeline = await asyncio.to_thread(self.state.engine.timeline, topic)
        except QuestionError as exc:
            key = "topic_too_long" if exc.check == "too_long" else "timeline_usage"
            return [await message.reply_text(say(key, lang, **exc.details))]
        parts = pack(timeline_blocks(timeline, lang))
        markup = InlineKeyboardMarkup([[follow_button(lang)]])
        sent = [await message.reply_text(part, parse_mode=ParseMode.HTML,
                                         link_preview_options=_NO_PREVIEW,
                                         reply_markup=markup if i == len(parts) - 1 else None)
                for i, part in enumerate(parts)]
        self.remember(sent[-1], timeline.topic)
        log.info("timeline", extra={"chat_id": message.chat_id,
                                    "entries": len(timeline.entries)})
        return sent

    # Jobs ---------------------------------------------------------------------------------

    async def _alert_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Send the queued alerts, then look again in a second."""
        try:
            await self.outbox.deliver(context.bot)
        finally:
            context.job_queue.run_once(self._alert_job, ALERT_EVERY_S, name="follow_alerts")

    async def _digest_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Send the digests due now, then look again in half a minute."""
        try:
            await self.send_digests(context.bot, self.clock())
        except (sqlite3.Error, OSError) as exc:
            log.warning("digests_failed", extra={"error": str(exc)})
        finally:
            context.job_queue.run_once(self._digest_job, DIGEST_EVERY_S,
                                       name="follow_digests")

    async def send_digests(self, bot: Bot, now: datetime) -> int:
        """Send every ``tg:`` digest due at ``now`` (aware); how many were sent. A due day
        with nothing new is marked done, so a match arriving later that day waits for the
        next day's digest instead of making a second one."""
        sent = 0
        for digest in await asyncio.to_thread(self.store.digests):
            day = due(digest, now) if digest.chat.startswith(CHAT_PREFIX) else None
            if day is None:
                continue
            news = await asyncio.to_thread(collect, self.store, digest, day)
            if news is None:
                await asyncio.to_thread(self.store.digest_sent, digest.chat, day,
                                        digest.last_match)
            elif await self._send_digest(bot, digest, news):
                sent += 1
        return sent

    async def _send_digest(self, bot: Bot, digest: Digest, news: DigestText) -> bool:
        chat = int(digest.chat.removeprefix(CHAT_PREFIX))
        try:
            for part in pack(digest_blocks(news)):
                await bot.send_message(chat, part, parse_mode=ParseMode.HTML,
                                       link_preview_options=_NO_PREVIEW)
        except Forbidden:
            return False  # Sender forgot the chat, its digest with it
        except TelegramError as exc:
            fault = classify(exc)
            if fault is not None and fault.resend:
                return False  # Sender logged it; the next look (30 s) sends it again
            if fault is None:  # a bug: the day is skipped, its stories wait for tomorrow
                log.error("digest_failed", exc_info=exc, extra={"chat": digest.chat})
                await asyncio.to_thread(self.store.digest_sent, digest.chat, news.day,
                                        digest.last_match)
                return False
            # A read timeout: Telegram may have delivered it (Sender logged it once).
        await asyncio.to_thread(self.store.digest_sent, digest.chat, news.day, news.last_match)
        log.info("digest_sent", extra={"chat": digest.chat, "day": news.day,
                                       "topics": len(news.topics)})
        return True

    # A chat that is gone ------------------------------------------------------------------------

    async def forget_chat(self, chat_id: int) -> dict[str, Any]:
        """A chat that blocked or removed the bot: its conversations, followed topics, queued
        alerts and digest are dropped (``faults.Sender`` calls this at each 403)."""
        self.state.conversations.forget(chat_id)
        if not self.store.exists:
            return {}
        try:
            topics = await asyncio.to_thread(self.store.drop_chat, chat_key(chat_id))
        except sqlite3.Error as exc:
            return {"follows_error": str(exc)}
        return {"topics_dropped": topics}
