"""``khabar``: index, add, feeds, ask, chat, follow, timeline, eval, replay, bench, telegram,
serve, health. Heavy modules load inside commands, so ``--help`` is fast.

Library code raises ``KhabarError`` for what a user can fix; this module alone turns those into
one-line messages and exit status 1. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from khabar.bot.settings import Settings
from khabar.retrieval.config import DEFAULTS, SEARCH_MODES
from khabar.retrieval.index.registry import BACKENDS

_log = logging.getLogger("khabar.bot.cli")

if TYPE_CHECKING:
    from khabar.retrieval.engine import Khabar
    from khabar.retrieval.index.indexer import IndexReport
    from khabar.retrieval.intake import AddReport, PollReport


@contextmanager
def _user_errors() -> Iterator[None]:
    from khabar.retrieval.errors import KhabarError

    try:
        yield
    except KhabarError as exc:
        raise click.ClickException(str(exc)) from None


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--seeds/--index/--embedder on every command, defaulting to the settings."""

    @click.option("--seeds", "seeds", type=click.Path(path_type=Path), default=None,
                  help="Articles directory [KHABAR_SEEDS_DIR, default seeds]")
    @click.option("--index", "index", type=click.Path(path_type=Path), default=None,
                  help="Index directory [KHABAR_INDEX_DIR, default .khabar/index]")
    @click.option("--embedder", default=None,
                  help="Embedder spec: e5-small-bundled or st:<model> [KHABAR_EMBEDDER]")
    @click.option("--backend", default=None, type=click.Choice(BACKENDS),
                  help="Where the index lives [KHABAR_BACKEND, default local; milvus also "
                       "reads KHABAR_MILVUS_URI, KHABAR_MILVUS_TOKEN, KHABAR_MILVUS_PREFIX]")
    @functools.wraps(fn)
    def wrapper(seeds: Path | None, index: Path | None, embedder: str | None,
                backend: str | None, **kw: Any) -> Any:
        with _user_errors():
            settings = Settings.load(seeds_dir=seeds, index_dir=index, embedder=embedder,
                                     backend=backend)
            from khabar.bot import logs

            logs.setup(settings.log_level, settings.secrets())
            return fn(settings, **kw)

    return wrapper


def _engine(settings: Settings, mode: str | None = None) -> Khabar:
    """The one engine a command holds; ``mode`` (``ask --mode``) overrides the retrieval mode."""
    from khabar.retrieval.engine import Khabar

    if mode is not None:
        settings = settings.model_copy(update={"search_mode": mode})
    return Khabar.from_settings(settings)


def _check_llm(engine: Khabar) -> None:
    """Build the configured chat model and probe its server once, at start-up: a setting to
    fix stops the command with one line; a server that is down is one warning line, and
    questions are answered extractively (with the reason) until it is back."""
    if engine.llm is None:
        return
    warning = engine.llm.probe()
    if warning:
        click.echo(f"Warning: {warning}", err=True)


def _ready(engine: Khabar) -> None:
    """Before a chat front end starts: no usable index stops it now, with the fix, rather than
    at the first question; then the chat model is probed."""
    engine.generation()
    _check_llm(engine)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Khabar: ask questions about news articles; answers quote and cite them."""


@main.command()
@_common
@click.option("--rebuild", is_flag=True, help="Ignore the existing index and build anew.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--watch", "keep_watching", is_flag=True,
              help="Keep running; reindex within seconds of any change in --seeds.")
@click.option("--check", "check_only", is_flag=True,
              help="Verify the index (store integrity, vectors, counts) and change nothing.")
def index(settings: Settings, rebuild: bool, as_json: bool, keep_watching: bool,
          check_only: bool) -> None:
    """Index the articles in --seeds, re-embedding only what changed."""
    if check_only:
        _check_index(settings, as_json)
        return
    from khabar.bot.progress import progress_bar
    from khabar.bot.render import printable

    stop = _serve_forever(settings) if keep_watching else None
    engine = _engine(settings)
    with progress_bar("Indexing") as update:
        report = engine.index(rebuild=rebuild, progress=update)

    def show(report: IndexReport) -> None:
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False))
            return
        for damage in report.repaired:
            click.echo(f"repaired: the index was damaged ({damage}); rebuilt it from the "
                       "articles", err=True)
        for label, entries in (("skipped", report.skipped), ("warning", report.warnings)):
            for s in entries:
                click.echo(f"{label} {printable(s.path)}: {s.reason}", err=True)
        click.echo(report.summary())

    if stop is None:
        show(report)
        if not report.ok:
            sys.exit(1)
        return
    shown = show if as_json else _log_index_report
    shown(report)
    if not stop.is_set():
        _log.info("watching", extra={"seeds": str(settings.seeds_dir)})
        engine.watch(shown, stop)
    _log.info("stopped")


def _serve_forever(settings: Settings) -> threading.Event:
    """A service role's start: its log on stdout, and the event SIGTERM or Ctrl-C sets so that
    the work in flight finishes before it exits with status 0 (``bot/lifecycle.py``)."""
    from khabar.bot import logs
    from khabar.bot.lifecycle import stop_on_signals

    logs.setup(logs.service_level(settings.log_level), settings.secrets(), sys.stdout)
    return stop_on_signals()


def _log_index_report(report: IndexReport) -> None:
    """``index --watch``: a run as log events, one per repair, skipped file and warning."""
    from khabar.bot.render import printable

    for damage in report.repaired:
        _log.warning("repaired", extra={"damage": damage})
    for event, entries in (("skipped", report.skipped), ("file_warning", report.warnings)):
        for s in entries:
            _log.warning(event, extra={"path": printable(s.path), "reason": s.reason})
    _log.info("indexed", extra={
        "generation": report.generation, "added": report.added, "updated": report.updated,
        "removed": report.removed, "unchanged": report.unchanged,
        "documents": report.documents, "passages": report.passages,
        "seconds": round(report.seconds, 2)})


@main.command()
@_common
@click.argument("items", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help='Print {"added": [...], "unchanged": [...], "failed": [{"item", "reason"}]}.')
def add(settings: Settings, items: tuple[str, ...], as_json: bool) -> None:
    """Add articles and index them at once. Each ITEM is a link (the page or PDF is fetched
    and kept under --seeds/<site>/) or a file (copied into --seeds/files/). Exit status 1 if
    any item failed."""
    engine = _engine(settings)
    report = engine.intake.add(list(items))
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        _show_added(report)
    if not report.ok:
        sys.exit(1)


@main.command()
@_common
@click.option("--once", is_flag=True, help="Poll every feed once, then exit.")
@click.option("--feed", "feeds_given", multiple=True, metavar="URL",
              help="A feed to poll (repeatable); replaces KHABAR_FEEDS.")
@click.option("--json", "as_json", is_flag=True, help="Print each round as one JSON object.")
def feeds(settings: Settings, once: bool, feeds_given: tuple[str, ...], as_json: bool) -> None:
    """Follow RSS/Atom feeds: poll each (conditional requests), add the pages of new items and
    index them; every KHABAR_FEED_INTERVAL seconds until stopped, or once with --once (exit
    status 1 if a feed or an item failed)."""
    from khabar.retrieval.errors import SettingsError
    from khabar.retrieval.ingest.feeds import feed_urls

    stop = None if once else _serve_forever(settings)
    engine = _engine(settings)
    while True:
        urls = feed_urls(",".join(feeds_given)) if feeds_given else settings.feed_list()
        if not urls:
            raise SettingsError("no feeds to poll: set KHABAR_FEEDS (comma-separated URLs or "
                                "a file listing them) or pass --feed URL")
        report = engine.intake.poll(urls)
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False))
        elif stop is not None:
            _log_poll(report)
        else:
            for f in report.feeds:
                detail = f": {f.error}" if f.error else ""
                click.echo(f"feed {f.feed}: {f.status}" + (f" ({f.new_items})" if f.new_items
                                                            else "") + detail)
            _show_added(report.items)
        if stop is None:
            if not report.ok:
                sys.exit(1)
            return
        if stop.wait(settings.feed_interval):
            _log.info("stopped")
            return


def _log_poll(report: PollReport) -> None:
    """``feeds`` as a service: a poll as log events, one per feed and per item added or
    failed (items already there are counted in their feed's line)."""
    from khabar.bot.render import printable

    for f in report.feeds:
        extra: dict[str, object] = {"feed": f.feed, "status": f.status, "new_items": f.new_items}
        if f.error:
            extra["error"] = f.error
        _log.log(logging.WARNING if f.error else logging.INFO, "feed_polled", extra=extra)
    for a in report.items.added:
        _log.info("added", extra={"path": printable(a.path), "title": printable(a.title or "-"),
                                  "passages": a.passages})
    for failed in report.items.failed:
        _log.warning("add_failed", extra={"item": printable(failed.item),
                                          "reason": failed.reason})


def _show_added(report: AddReport) -> None:
    from khabar.bot.answers import byline
    from khabar.bot.render import printable

    for a in report.added:
        meta = byline(a.outlet, a.date, sep=" — ")
        docs = f", {a.documents} documents" if a.documents > 1 else ""
        click.echo(f"added {printable(a.path)}: {printable(a.title or '-')}"
                   + (f" ({printable(meta)})" if meta else "") + f", {a.passages} passages{docs}")
    for u in report.unchanged:
        click.echo(f"unchanged {printable(u.item)}: already in {printable(u.path)}")
    for f in report.failed:
        click.echo(f"failed {printable(f.item)}: {f.reason}", err=True)
    click.echo(f"{len(report.added)} added, {len(report.unchanged)} unchanged, "
               f"{len(report.failed)} failed")


def _check_index(settings: Settings, as_json: bool) -> None:
    """``khabar index --check``: exit 0 and say what is there, or exit 1 with the damage."""
    from khabar.retrieval.index.registry import open_backend

    index_dir = open_backend(settings)
    damage = index_dir.damage(deep=True)
    manifest = None if damage else index_dir.manifest()
    if as_json:
        click.echo(json.dumps({"ok": damage is None and manifest is not None, "damage": damage,
                               "generation": index_dir.current_name(),
                               "documents": manifest and manifest.documents,
                               "passages": manifest and manifest.passages}))
    elif damage:
        click.echo(f"damaged: {damage}; run `khabar index` to repair it", err=True)
    elif manifest is None:
        click.echo(f"no index at {index_dir.describe()}; build it with `khabar index`",
                   err=True)
    else:
        click.echo(f"index OK: {index_dir.current_name()}, {manifest.documents} documents, "
                   f"{manifest.passages} passages, embedder {manifest.embedder}")
    index_dir.close()
    if damage or manifest is None:
        sys.exit(1)


@main.command()
@_common
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (the contract).")
@click.option("-k", "k", type=click.IntRange(1, 50), default=None, help="Citations to return.")
@click.option("--mode", type=click.Choice(SEARCH_MODES), default=None,
              help=f"Retrieval mode [KHABAR_SEARCH_MODE, default {DEFAULTS.search_mode}]")
def ask(settings: Settings, question: str, as_json: bool, k: int | None, mode: str | None) -> None:
    """Answer QUESTION. With '-', answer each line of stdin with one JSON object: a line is a
    question, or {"question": ..., "history": [earlier questions, oldest first]}."""
    from khabar.bot.render import answer_text
    from khabar.bot.streams import BadLine, lines

    engine = _engine(settings, mode)
    _check_llm(engine)
    if question != "-":
        answer = engine.ask(question, k)
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False) if as_json
                   else answer_text(answer, full=True))
        return
    engine.generation()  # fail now, with the fix, if there is no usable index
    for line in lines(sys.stdin):
        if isinstance(line, BadLine):
            click.echo(json.dumps({"question": None, "error": line.reason}))
        elif line.strip():
            click.echo(json.dumps(_answer_line(engine, line, k), ensure_ascii=False))


def _answer_line(engine: Khabar, line: str, k: int | None) -> dict:
    """One ``ask -`` line answered, or ``{"error"}`` for that line alone."""
    from khabar.retrieval.errors import QuestionError

    question, history = line, []
    if line.lstrip().startswith("{"):
        try:
            payload = json.loads(line)
            question = payload["question"]
            history = payload.get("history") or []
            if not isinstance(question, str) or not isinstance(history, list) or not all(
                    isinstance(h, str) for h in history):
                raise TypeError("question and history must be strings")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            return {"question": line.strip(), "error": f"not a question line: {exc}"}
    try:
        return engine.ask(question, k, history).to_json()
    except QuestionError as exc:
        return {"question": question.strip(), "error": str(exc)}


@main.command()
@_common
def chat(settings: Settings) -> None:
    """Chat in the terminal; with stdin not a TTY, answer each piped line."""
    from khabar.bot import chat as chat_mod

    engine = _engine(settings)
    _ready(engine)
    chat_mod.run(engine, settings.index_dir.parent / "history", out=click.echo)


@main.command()
@_common
@click.argument("topic")
def follow(settings: Settings, topic: str) -> None:
    """Follow TOPIC (words or a question): new articles of its story are shown by `khabar
    alerts` and in `khabar chat`, once indexing (index, add, feeds, --watch) takes them in."""
    from khabar.bot.chat import LOCAL_CHAT

    with _user_errors():
        t = _engine(settings).follow(LOCAL_CHAT, topic)
    click.echo(f"Following {t.id}. {t.text}")


@main.command()
@_common
def following(settings: Settings) -> None:
    """List the topics followed from this machine's terminal."""
    from khabar.bot.chat import LOCAL_CHAT
    from khabar.bot.render import topics_text

    click.echo(topics_text(_engine(settings).following(LOCAL_CHAT)))


@main.command()
@_common
@click.argument("which")
def unfollow(settings: Settings, which: str) -> None:
    """Stop following a topic, named by its number (see `khabar following`) or its words."""
    from khabar.bot.chat import LOCAL_CHAT

    with _user_errors():
        t = _engine(settings).unfollow(LOCAL_CHAT, which)
    click.echo(f"Stopped following: {t.text}")


@main.command()
@_common
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
def alerts(settings: Settings, as_json: bool) -> None:
    """Show the new articles of followed stories not shown yet (each is shown once)."""
    from khabar.bot.chat import LOCAL_CHAT
    from khabar.bot.render import alert_text

    for alert in _engine(settings).follows.take(LOCAL_CHAT, limit=1000):
        click.echo(json.dumps({"topic": alert.topic.text, "citation": alert.match.citation},
                              ensure_ascii=False) if as_json else alert_text(alert) + "\n")


@main.command()
@_common
@click.argument("topic")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
def timeline(settings: Settings, topic: str, as_json: bool) -> None:
    """TOPIC's story as its dated articles in date order, one cited sentence each."""
    from khabar.bot.render import timeline_text

    engine = _engine(settings)
    engine.generation()
    result = engine.timeline(topic)
    click.echo(json.dumps(result.to_json(), ensure_ascii=False) if as_json
               else timeline_text(result))


@main.command()
@_common
@click.argument("set_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--topics", "topics_file", required=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Topic lines: {\"id\", \"lang\", \"topic\", \"groups\": [...]}.")
@click.option("--cost", is_flag=True,
              help="Also time indexing SET_DIR's last 100 articles with 1,000 topics followed "
                   "against none.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def replay(settings: Settings, set_dir: Path, topics_file: Path, cost: bool,
           as_json: bool) -> None:
    """Measure following stories: SET_DIR's corpus indexed day by day in publication order
    with the topics followed; alerts scored against each topic's story (selection.json)."""
    from khabar.bot.progress import progress_bar
    from khabar.retrieval.measure.replay import matching_cost
    from khabar.retrieval.measure.replay import replay as run_replay

    with _user_errors(), progress_bar("replaying") as bar:
        result = run_replay(set_dir, topics_file, settings, progress=bar)
        costs = matching_cost(set_dir, config=settings) if cost else None
    data = result.to_json()
    if costs is not None:
        data["cost"] = costs.to_json()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    per_topic = data.pop("per_topic")
    click.echo(f"{set_dir}: {data['topics']} topics, {data['articles']} articles over "
               f"{data['days']} days: precision {data['precision']:.3f}, recall "
               f"{data['recall']:.3f} ({data['correct']} of {data['matched']} matched "
               f"articles in their story; {data['found']} of {data['story_articles']} story "
               f"articles found); {data['alerts']} alerts; {data['exact_spans']} of "
               f"{data['matched']} snippets exact spans; matching {data['match_seconds']:.2f}s "
               f"beside indexing {data['index_seconds']:.1f}s")
    for t in per_topic:
        if t["wrong"] or t["missed"]:
            click.echo(f"  {t['id']}: wrong {t['wrong']} missed {t['missed']}")
    if costs is not None:
        click.echo(f"cost: indexing {costs.articles} new articles took {costs.without_s:.1f}s "
                   f"with no topic, {costs.with_s:.1f}s with {costs.topics} topics followed "
                   f"({costs.ratio:.3f}x; {costs.alerts} alerts)")


@main.command(name="eval")
@_common
@click.argument("set_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--questions", default=None, help="Question file (in SET_DIR or a path).")
@click.option("--variant", default="hybrid", show_default=True,
              help="Retrieval/answer variant: hybrid, or an ablation of it (an unknown name "
                   "lists them all).")
@click.option("--history", "history", default="context", show_default=True,
              type=click.Choice(["context", "alone", "concat"]),
              help="Follow-ups: Khabar's reading of the conversation, the question alone, or "
                   "the last question glued to it (the two naive references).")
@click.option("--llm", "use_llm", is_flag=True,
              help="Answer with the model in KHABAR_LLM and add its columns: citation "
                   "precision, removed-sentence rate, fallback rate.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option("--details", type=click.Path(path_type=Path, dir_okay=False, writable=True),
              default=None, help="Also write one JSON line per question to this file: found, "
                                 "rank of the answering article, whether the answer and the "
                                 "first three snippets hold a key, the answer itself.")
def eval_(settings: Settings, set_dir: Path, questions: str | None, variant: str,
          history: str, use_llm: bool, as_json: bool, details: Path | None) -> None:
    """Score retrieval and answers on the question set in SET_DIR (lines of other sets in a
    mixed file, by their "corpus" field, are left out)."""
    from dataclasses import replace

    from khabar.bot.progress import progress_bar
    from khabar.retrieval.measure import evaluate

    options = replace(evaluate.variant(variant), reranker=settings.reranker)
    files = evaluate.question_files(set_dir, questions)
    qs = [q for f in files for q in evaluate.load_questions(f)
          if q.corpus in (None, set_dir.resolve().name)]
    if use_llm and not settings.llm:
        raise click.ClickException("--llm needs a model: set KHABAR_LLM (see .env.example)")
    engine = _engine(settings)
    if use_llm:
        _check_llm(engine)
    with progress_bar("Indexing the eval corpus") as update:
        engine = evaluate.cached_engine(engine, set_dir, settings.index_dir.parent / "eval",
                                        options, update,
                                        llm=engine.llm if use_llm else None)
    if details is None:
        rows = evaluate.evaluate(engine, qs, history, llm=use_llm)
    else:
        with details.open("w", encoding="utf-8") as out:
            rows = evaluate.evaluate(
                engine, qs, history, llm=use_llm,
                details=lambda d: out.write(json.dumps(d, ensure_ascii=False) + "\n"))
    if as_json:
        payload = {"set": set_dir.name, "questions": [f.name for f in files],
                   "variant": variant, "history": history, "embedder": settings.embedder,
                   "llm": settings.llm if use_llm else None, "metrics": rows}
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(f"{set_dir.name} ({', '.join(f.name for f in files)}), variant {variant}, "
                   f"embedder {settings.embedder}"
                   + (f", model {settings.llm}" if use_llm else ""))
        click.echo(evaluate.table(rows))


@main.command()
@_common
def telegram(settings: Settings) -> None:
    """Run the Telegram bot (polling, or a webhook: KHABAR_TELEGRAM_WEBHOOK_URL) until SIGTERM."""
    from khabar.bot import logs
    from khabar.retrieval.errors import SettingsError

    token = settings.telegram_bot_token.strip()
    if not token:
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and put "
            "TELEGRAM_BOT_TOKEN=<token> in .env (see .env.example)"
        )
    if not logs.BOT_TOKEN.fullmatch(token):
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN is malformed: expected '<digits>:<35 letters>' as given by "
            "@BotFather"
        )
    from khabar.bot.telegram.app import build_application, make_state
    from khabar.bot.telegram.updates import run, webhook

    logs.setup(logs.service_level(settings.log_level), settings.secrets(), sys.stdout)
    engine = _engine(settings)
    state = make_state(engine, settings.allowed_users, settings.admins, settings.rate_limit,
                       settings.feed_list(), settings.feed_interval)
    _ready(engine)
    _check_token(token, settings.telegram_api_base_url)
    app = build_application(token, settings.telegram_api_base_url, state)
    run(app, webhook(settings))


def _check_token(token: str, base_url: str) -> None:
    """Ask Telegram who the bot is before starting: a refused token or an unreachable API is
    one line here, not a retry loop's traceback (which quotes the token)."""
    import asyncio

    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError

    from khabar.bot import logs
    from khabar.retrieval.errors import SettingsError

    async def get_me() -> None:
        async with Bot(token, base_url=base_url):
            pass  # entering the context calls getMe

    try:
        asyncio.run(get_me())
    except InvalidToken:
        raise SettingsError("Telegram rejected the token (401 Unauthorized): create a new one "
                            "with @BotFather and set TELEGRAM_BOT_TOKEN") from None
    except NetworkError as exc:
        raise SettingsError(
            f"cannot reach the Telegram Bot API at {base_url} ({logs.redact(str(exc), (token,))}"
            "): check the network or TELEGRAM_API_BASE_URL") from None


@main.command()
@_common
@click.option("--host", default=None, help="Address to bind [KHABAR_SERVE_HOST, default "
              "127.0.0.1]; any other than loopback needs KHABAR_API_KEYS.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port [KHABAR_SERVE_PORT, default 8000]")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes, each with its own engine over the same index.")
def serve(settings: Settings, host: str | None, port: int | None, workers: int) -> None:
    """Serve the HTTP API (native and OpenAI-compatible) and the web chat at /."""
    try:
        from khabar.bot.serve.app import run
    except ImportError as exc:
        raise click.ClickException(
            f"khabar serve needs its extra ({exc.name} is missing): pip install 'khabar[serve]'"
        ) from None
    flags = {"serve_host": host, "serve_port": port}
    run(settings.model_copy(update={k: v for k, v in flags.items() if v is not None}), workers)


@main.command()
@_common
@click.option("--json", "as_json", is_flag=True,
              help='Print {"ok": ..., "checks": [{"name", "ok", "detail"}]}.')
def health(settings: Settings, as_json: bool) -> None:
    """Check that this deployment can answer: the index opens (and whether --seeds has newer
    files), and, when they are set, the Telegram token (getMe), the model server (KHABAR_LLM)
    and Milvus. One line; exit status 1 if a check failed. Quick: no model is loaded."""
    from khabar.bot.health import check

    report = check(settings)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        click.echo(report.line(), err=not report.ok)
    if not report.ok:
        sys.exit(1)


@main.command()
@_common
@click.option("--sizes", default="1000,10000,100000", show_default=True,
              help="Comma-separated corpus sizes, in passages.")
@click.option("--live-articles", type=click.IntRange(0), default=10_000, show_default=True,
              help="Article files in the live-corpus check (unchanged scan, add one); 0 skips.")
@click.option("--corpus", "corpora", multiple=True,
              type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="More article folders to draw sentences from (repeatable); the seeds alone "
                   "are enough.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def bench(settings: Settings, sizes: str, live_articles: int, corpora: tuple[Path, ...],
          as_json: bool) -> None:
    """Measure speed and scale as ratios to the bare embedder."""
    from khabar.retrieval.measure import bench as bench_mod

    try:
        counts = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise click.ClickException(
            f"--sizes must be comma-separated integers, got {sizes!r}"
        ) from None
    if any(n < 10 for n in counts):
        raise click.ClickException("--sizes: every size must be at least 10 passages")
    engine = _engine(settings)
    report = bench_mod.run(engine, settings.seeds_dir, list(corpora), counts,
                           settings.index_dir.parent / "bench",
                           log=lambda m: click.echo(m, err=True), live_articles=live_articles,
                           index=engine.index_dir)
    click.echo(bench_mod.dumps(report) if as_json else bench_mod.table(report))
