"""The Telegram front end: handlers that call the shared answer service and format its result.

Embedding and search run in worker threads (``asyncio.to_thread``) and updates are processed
concurrently, so one slow question never holds up another chat. Admins add articles by
sending a document or a message made only of links; when feeds are set, the JobQueue polls
them in the background and ``/feeds`` shows how each one fared. Following stories (the
commands, the button under answers, alerts, digests, timelines) is ``follow``'s.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from dataclasses import dataclass, field

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from khabar.bot.answers import byline
from khabar.bot.sessions import Access, ConversationKey, Conversations
from khabar.bot.telegram.faults import (
    PATIENT,
    Incidents,
    PollingRequest,
    Retry,
    Sender,
    classify,
    quiet_ptb,
)
from khabar.bot.telegram.follow import Following
from khabar.bot.telegram.format import (
    added_blocks,
    answer_blocks,
    feeds_blocks,
    pack,
    passage_html,
)
from khabar.bot.telegram.stream import citation_markup, reply_streamed
from khabar.retrieval.engine import Khabar
from khabar.retrieval.errors import KhabarError, QuestionError, SettingsError
from khabar.retrieval.intake import AddReport, Failed
from khabar.retrieval.strings import say, ui_lang

log = logging.getLogger(__name__)
SOURCES_PAGE = 10
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Bots may download files of at most 20 MB (getFile refuses larger ones).
TELEGRAM_FILE_LIMIT = 20 * 1024 * 1024
_LINK = re.compile(r"https?://\S+", re.IGNORECASE)
_MAX_LINKS = 20
# Seconds to wait for Telegram's answer to a call (on top of the long-poll wait for getUpdates):
# PTB's default. Past it the call is a fault (``faults.classify``): a poll is made again at
# once, a send is not (Telegram may have carried it out).
READ_TIMEOUT = 5.0


@dataclass
class BotState:
    engine: Khabar
    access: Access
    conversations: Conversations = field(default_factory=Conversations)
    username: str = ""
    # Feeds the JobQueue polls every ``feed_interval`` seconds (none: no polling).
    feeds: list[str] = field(default_factory=list)
    feed_interval: int = 900


def _state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data["khabar"]


def _conversation(state: BotState, message: Message, user_id: int,
                  bot_id: int) -> ConversationKey:
    """A private chat is one conversation. In a group each user has their own, and a reply to
    one of the bot's answers continues the conversation that answer belonged to, whoever
    replies."""
    if message.chat.type == ChatType.PRIVATE:
        return (message.chat_id,)
    reply = message.reply_to_message
    if reply and reply.from_user and reply.from_user.id == bot_id:
        thread = state.conversations.thread((message.chat_id, reply.message_id))
        if thread is not None:
            return thread
    return (message.chat_id, user_id)


def _following(context: ContextTypes.DEFAULT_TYPE) -> Following:
    return context.application.bot_data["follow"]


def _lang(update: Update) -> str:
    return ui_lang(update.effective_user.language_code if update.effective_user else None)


async def _gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Apply the allowlist; strangers get their id once and are ignored after that."""
    state = _state(context)
    user = update.effective_user
    if user is None:
        return False
    if state.access.allows(user.id, user.username):
        return True
    if state.access.first_refusal(user.id) and update.effective_message:
        await update.effective_message.reply_text(say("denied", _lang(update), uid=user.id))
    log.info("refused", extra={"user_id": user.id})
    return False


async def _admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> BotState | None:
    """The bot state if the sender is an admin; otherwise they are told, and None."""
    if not await _gate(update, context):
        return None
    state = _state(context)
    if not state.access.is_admin(update.effective_user.id):
        await update.effective_message.reply_text(say("admin_only", _lang(update)))
        return None
    return state


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say what the bot knows and how to ask."""
    if not await _gate(update, context):
        return
    state = _state(context)
    docs = await asyncio.to_thread(state.engine.documents)
    langs = ", ".join(sorted({d.lang for d in docs if d.lang})) or "-"
    latest = max((d.date for d in docs if d.date), default="-")
    await update.effective_message.reply_text(
        say("help", _lang(update), docs=len(docs), langs=langs, latest=latest)
    )


async def sources_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the indexed articles, a page at a time."""
    if not await _gate(update, context):
        return
    await _send_sources(update.effective_message, _state(context), 0, edit=False)


async def _send_sources(message: Message, state: BotState, page: int, *, edit: bool) -> None:
    docs = await asyncio.to_thread(state.engine.documents)
    pages = max(1, -(-len(docs) // SOURCES_PAGE))
    page = min(max(page, 0), pages - 1)
    lines = [f"<b>{len(docs)}</b> articles — {page + 1}/{pages}"]
    for i, d in enumerate(docs[page * SOURCES_PAGE:(page + 1) * SOURCES_PAGE],
                          start=page * SOURCES_PAGE + 1):
        meta = byline(d.outlet, d.date)
        title = html.escape(d.title or d.path, quote=False)
        lines.append(f"{i}. {title}" + (f" — {html.escape(meta, quote=False)}" if meta else ""))
    buttons = []
    if page > 0:
        buttons.append(InlineKeyboardButton("◀", callback_data=f"s:{page - 1}"))
    if page < pages - 1:
        buttons.append(InlineKeyboardButton("▶", callback_data=f"s:{page + 1}"))
    markup = InlineKeyboardMarkup([buttons]) if buttons else None
    body = "\n".join(lines)
    if edit:
        await message.edit_text(body, parse_mode=ParseMode.HTML, reply_markup=markup)
    else:
        await message.reply_text(body, parse_mode=ParseMode.HTML, reply_markup=markup)


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show index and serving statistics (admins)."""
    state = await _admin(update, context)
    if state is None:
        return
    gen = await asyncio.to_thread(state.engine.generation)
    m = gen.manifest
    age = time.time() - m.created
    p50 = state.engine.stats.p50()
    await update.effective_message.reply_text(
        f"documents: {m.documents}\npassages: {m.passages}\ngeneration: {gen.name} "
        f"({age / 60:.0f} min old)\nembedder: {m.embedder}\nquestions served: "
        f"{state.engine.stats.questions}\np50 latency: "
        + (f"{p50:.0f} ms" if p50 is not None else "-")
    )


async def reindex_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Run the incremental index in the background and report its summary (admins)."""
    state = await _admin(update, context)
    if state is None:
        return
    message = update.effective_message
    await message.reply_text("Reindexing…")

    async def work() -> None:
        try:
            report = await asyncio.to_thread(state.engine.index)
        except KhabarError as exc:
            log.warning("reindex_failed", extra={"error": str(exc)})
            await message.reply_text(f"Reindex failed: {exc}")
            return
        summary = report.summary()
        if report.skipped:
            summary += "\n" + "\n".join(f"skipped {s.path}: {s.reason}" for s in report.skipped)
        await message.reply_text(summary)

    context.application.create_task(work(), update=update)


def _question_from(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """The question in a message, or None if the bot was not addressed (groups)."""
    message = update.effective_message
    raw = message.text or ""
    if message.chat.type == ChatType.PRIVATE:
        return raw
    username = _state(context).username.lower()
    mention = f"@{username}"
    if username and mention in raw.lower():
        start = raw.lower().index(mention)
        return raw[:start] + raw[start + len(mention):]
    reply = message.reply_to_message
    if reply and reply.from_user and reply.from_user.id == context.bot.id:
        return raw
    return None


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /ask <question> (works in groups with privacy mode on)."""
    if not await _gate(update, context):
        return
    await _answer(update, context, " ".join(context.args or []))


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a plain text message (in groups only when addressed); in a private chat, a
    message made only of links adds their articles (admins)."""
    question = _question_from(update, context)
    if question is None or not await _gate(update, context):
        return
    private = update.effective_message.chat.type == ChatType.PRIVATE
    links = _links_only(question) if private else None
    if links:
        await _add_links(update, context, links)
        return
    await _answer(update, context, question)


def _links_only(message: str) -> list[str] | None:
    words = message.split()
    if words and len(words) <= _MAX_LINKS and all(_LINK.fullmatch(w) for w in words):
        return words
    return None


async def _adder(update: Update, context: ContextTypes.DEFAULT_TYPE) -> BotState | None:
    """The bot state if the sender may add articles; others are told only admins can."""
    state = _state(context)
    if state.access.is_admin(update.effective_user.id):
        return state
    await update.effective_message.reply_text(say("add_admin_only", _lang(update)))
    log.info("add_refused", extra={"user_id": update.effective_user.id})
    return None


async def _add_links(update: Update, context: ContextTypes.DEFAULT_TYPE, links: list[str]) -> None:
    state = await _adder(update, context)
    if state is None:
        return
    message = update.effective_message
    await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
    report = await asyncio.to_thread(state.engine.intake.add, links)
    await _reply_added(update, report)


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Add the article in a document sent in a private chat (admins): saved into seeds/,
    indexed, and the reply says what was added or why not."""
    message = update.effective_message
    if message.chat.type != ChatType.PRIVATE or not await _gate(update, context):
        return
    state = await _adder(update, context)
    if state is None:
        return
    lang, document = _lang(update), message.document
    name = document.file_name or "document"
    refused = state.engine.intake.refusal(name)
    if refused:
        await _reply_added(update, AddReport(failed=[Failed(name, refused)]))
        return
    limit = min(TELEGRAM_FILE_LIMIT, state.engine.max_file_bytes)
    if document.file_size and document.file_size > limit:
        await message.reply_text(say("too_big", lang, name=name, size=document.file_size / 1e6,
                                      limit=limit / 1e6))
        return
    await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
    try:
        received = await context.bot.get_file(document.file_id)
        data = bytes(await received.download_as_bytearray())
    except TelegramError as exc:
        log.warning("download_failed", extra={"file": name, "error": str(exc)})
        await message.reply_text(say("download_failed", lang, name=name, error=str(exc)))
        return
    report = await asyncio.to_thread(state.engine.intake.add_file, name, data)
    await _reply_added(update, report)


async def _reply_added(update: Update, report: AddReport) -> None:
    log.info("added_from_chat", extra={"user_id": update.effective_user.id,
                                       "added": len(report.added),
                                       "unchanged": len(report.unchanged),
                                       "failed": len(report.failed)})
    for part in pack(added_blocks(report, _lang(update))):
        await update.effective_message.reply_text(part, parse_mode=ParseMode.HTML,
                                                  link_preview_options=_NO_PREVIEW)


async def feeds_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show each followed feed's last poll, new items and error (admins)."""
    state = await _admin(update, context)
    if state is None:
        return
    if not state.feeds:
        await update.effective_message.reply_text(say("no_feeds", _lang(update)))
        return
    results = await asyncio.to_thread(state.engine.intake.status, state.feeds)
    for part in pack(feeds_blocks(results)):
        await update.effective_message.reply_text(part, parse_mode=ParseMode.HTML,
                                                  link_preview_options=_NO_PREVIEW)


async def poll_feeds(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Poll the feeds once (a JobQueue job; APScheduler never runs two at once)."""
    state: BotState = context.application.bot_data["khabar"]
    try:
        report = await asyncio.to_thread(state.engine.intake.poll, state.feeds)
    except KhabarError as exc:
        log.warning("feeds_poll_failed", extra={"error": str(exc)})
        return
    log.info("feeds_polled", extra={
        "added": len(report.items.added), "failed": len(report.items.failed),
        "feed_errors": sum(f.status == "error" for f in report.feeds)})


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    state = _state(context)
    message = update.effective_message
    lang = _lang(update)
    try:
        q = state.engine.validate(question)
    except QuestionError as exc:
        await message.reply_text(say(exc.check, lang, **exc.details))
        return
    wait = state.access.retry_after(update.effective_user.id)
    if wait:
        await message.reply_text(say("rate", lang, s=wait))
        return
    await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
    key = _conversation(state, message, update.effective_user.id, context.bot.id)
    history = state.conversations.history(key)
    following = _following(context)
    story = state.engine.timeline_topic(q, history)
    if story is not None:  # "timeline of ...", "what happened in this story?"
        sent = await following.reply_timeline(message, story, lang)
        # The story, not the request, joins the conversation: asked again, "this story"
        # is still the same one.
        state.conversations.add(key, story, [(message.chat_id, m.message_id) for m in sent])
        return
    if state.engine.llm is not None:  # a generated answer: its draft is shown as it comes
        answer, sent = await reply_streamed(
            message, lambda on_text: state.engine.ask(q, None, history, on_text=on_text), lang)
        state.conversations.add(key, q, [(message.chat_id, m.message_id) for m in sent])
        if answer.citations:
            following.remember(sent[-1], answer.standalone or answer.question)
        log.info("answered", extra={"user_id": update.effective_user.id, "found": answer.found,
                                    "mode": answer.mode, "fallback": answer.fallback,
                                    "total_ms": round(answer.timings_ms["total"])})
        return
    answer = await asyncio.to_thread(state.engine.ask, q, None, history)
    parts = pack(answer_blocks(answer, lang))
    markup = citation_markup(answer, lang)
    sent = []
    for i, part in enumerate(parts):
        sent.append(await message.reply_text(
            part, parse_mode=ParseMode.HTML, link_preview_options=_NO_PREVIEW,
            reply_markup=markup if i == len(parts) - 1 else None,
        ))
    state.conversations.add(key, q, [(message.chat_id, m.message_id) for m in sent])
    if markup is not None:
        following.remember(sent[-1], answer.standalone or answer.question)
    log.info("answered", extra={"user_id": update.effective_user.id, "found": answer.found,
                                "total_ms": round(answer.timings_ms["total"])})


async def id_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tell anyone their numeric user id (what KHABAR_ADMINS and KHABAR_ALLOWED_USERS take)."""
    user, message = update.effective_user, update.effective_message
    if user is not None and message is not None:
        await message.reply_text(say("your_id", _lang(update), uid=user.id))


async def new_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start a new conversation: the next question is read on its own."""
    if not await _gate(update, context):
        return
    state = _state(context)
    message = update.effective_message
    state.conversations.reset(_conversation(state, message, update.effective_user.id,
                                            context.bot.id))
    await message.reply_text(say("new", _lang(update)))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show a citation's full passage, or another page of /sources."""
    query = update.callback_query
    if not await _gate(update, context):
        await query.answer()
        return
    state = _state(context)
    kind, _, value = (query.data or "").partition(":")
    await query.answer()
    if kind == "s" and value.isdigit():
        await _send_sources(query.message, state, int(value), edit=True)
        return
    if kind != "p" or not value.isdigit():
        return
    found = await asyncio.to_thread(state.engine.passage, int(value))
    if found is None:
        await query.message.reply_text(say("gone", _lang(update)))
        return
    meta = found.doc
    for part in pack([passage_html(meta.title, meta.path, meta.outlet, meta.date, meta.url,
                                   found.text)]):
        await query.message.reply_text(part, parse_mode=ParseMode.HTML,
                                       link_preview_options=_NO_PREVIEW)


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain, in private chats, that only text questions are understood."""
    message = update.effective_message
    if message is None or message.chat.type != ChatType.PRIVATE:
        return
    if not await _gate(update, context):
        return
    await message.reply_text(say("non_text", _lang(update)))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure, then tell the user something useful."""
    if classify(context.error) is not None:
        return  # Telegram's fault, logged once by faults.Sender; a reply would meet it too
    log.error("handler_error", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await update.effective_message.reply_text(say("error", _lang(update)))
        except Exception:  # the error may be that Telegram is unreachable
            log.warning("error_reply_failed")


COMMANDS = [
    ("ask", "Ask a question about the articles"),
    ("new", "Start a new conversation"),
    ("id", "Your numeric Telegram user id"),
    ("sources", "List the indexed articles"),
    ("help", "What I know and how to ask"),
    ("stats", "Index and usage statistics (admins)"),
    ("reindex", "Index new or changed articles (admins)"),
    ("feeds", "The followed feeds: last poll, new items, errors (admins)"),
    ("follow", "Get new articles on a story as they arrive"),
    ("following", "The stories you follow"),
    ("unfollow", "Stop following a story"),
    ("digest", "A daily digest of your stories: daily HH:MM [Area/City], or off"),
    ("timeline", "A story's articles in date order"),
]


async def _post_init(app: Application) -> None:
    # initialize() has already called getMe; the username is what group mentions are matched on.
    app.bot_data["khabar"].username = app.bot.username or ""
    await app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
    log.info("started", extra={"bot": app.bot.username})


def build_application(token: str, base_url: str, state: BotState, retry: Retry = PATIENT,
                      read_timeout: float = READ_TIMEOUT) -> Application:
    """The PTB application with every handler registered; the caller starts it (``updates``).
    Telegram's own faults are retried and logged once each (``faults``); ``read_timeout`` is
    a parameter so that tests can meet a Telegram that does not answer in a second, not in 5."""
    quiet_ptb()
    # APScheduler logs every run of every job at INFO: the alert job runs each second.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    following = Following(state, _gate, retry)
    app = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .base_file_url(_file_url(base_url))
        .concurrent_updates(32)
        .connection_pool_size(64)
        .read_timeout(read_timeout)
        # PTB takes no timeouts for a getUpdates request it is given: they go to the request.
        .get_updates_request(PollingRequest(Incidents("polling", retry.settle),
                                            read_timeout=read_timeout))
        .rate_limiter(Sender(retry, following.forget_chat))
        .post_init(_post_init)
        .build()
    )
    app.bot_data["khabar"] = state
    app.bot_data["follow"] = following
    following.register(app)  # before on_button, which would take the follow button's presses
    app.add_handler(CommandHandler(["start", "help"], help_command))
    app.add_handler(CommandHandler("sources", sources_command))
    app.add_handler(CommandHandler("stats", stats_command))
    app.add_handler(CommandHandler("reindex", reindex_command))
    app.add_handler(CommandHandler("ask", ask_command))
    app.add_handler(CommandHandler("new", new_command))
    app.add_handler(CommandHandler("id", id_command))
    app.add_handler(CommandHandler("feeds", feeds_command))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(~filters.TEXT & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
                                   on_other))
    app.add_error_handler(on_error)
    if state.feeds:
        app.job_queue.run_repeating(poll_feeds, interval=state.feed_interval, first=1,
                                    name="feeds")
    return app


def _file_url(base_url: str) -> str:
    """Where files are downloaded from: ``.../bot`` becomes ``.../file/bot`` (Telegram's and a
    local Bot API server's layout)."""
    base = base_url.rstrip("/")
    return base.removesuffix("/bot") + "/file/bot" if base.endswith("/bot") else base + "/file"


def make_state(engine: Khabar, allowed: str, admins: str, per_minute: int,
               feeds: list[str] | None = None, feed_interval: int = 900) -> BotState:
    """The bot's state; refuses admins given by username, warns of allowed users given so."""
    admin_ids = Access.parse(admins)
    names = sorted(a for a in admin_ids if not a.isdigit())
    if names:
        raise SettingsError(
            f"KHABAR_ADMINS takes numeric Telegram user ids, not usernames ({', '.join(names)}): "
            "a username can be changed and then taken by someone else, who would become an "
            "admin. Ask each admin to send /id to the bot and list the numbers it replies."
        )
    allowed_keys = Access.parse(allowed)
    if any(not a.isdigit() for a in allowed_keys):
        log.warning("allowed_by_username", extra={
            "advice": "KHABAR_ALLOWED_USERS: numeric ids are safer than usernames, which can "
                      "change hands; users can get theirs with /id"})
    return BotState(engine, Access(allowed_keys, admin_ids, per_minute), feeds=feeds or [],
                    feed_interval=feed_interval)
