"""``khabar``: index, ask, chat, eval, bench, telegram. Heavy modules load inside commands, so
``--help`` is fast.

Library code raises ``KhabarError`` for what a user can fix; this module alone turns those into
one-line messages and exit status 1. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from khabar.bot.settings import Settings

if TYPE_CHECKING:
    from khabar.retrieval.engine import Khabar


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
    @click.option("--backend", default=None, type=click.Choice(["local", "milvus"]),
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
    from khabar.retrieval.engine import Khabar
    from khabar.retrieval.search import SearchOptions

    return Khabar.from_settings(settings, search_options=SearchOptions(
        mode=mode or settings.search_mode))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Khabar: ask questions about news articles; answers quote and cite them."""


@main.command()
@_common
@click.option("--rebuild", is_flag=True, help="Ignore the existing index and build anew.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--watch", "keep_watching", is_flag=True,
              help="Keep running; reindex within seconds of any change in --seeds.")
def index(settings: Settings, rebuild: bool, as_json: bool, keep_watching: bool) -> None:
    """Index the articles in --seeds, re-embedding only what changed."""
    from khabar.bot.progress import progress_bar
    from khabar.retrieval.index.indexer import IndexReport

    engine = _engine(settings)
    with progress_bar("Indexing") as update:
        report = engine.index(rebuild=rebuild, progress=update)

    def show(report: IndexReport) -> None:
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False))
            return
        for s in report.skipped:
            click.echo(f"skipped {s.path}: {s.reason}", err=True)
        click.echo(report.summary())

    show(report)
    if keep_watching:
        click.echo(f"watching {settings.seeds_dir} for changes (Ctrl-C to stop)", err=True)
        engine.watch(show)
        return
    if not report.ok:
        sys.exit(1)


@main.command()
@_common
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (the contract).")
@click.option("-k", "k", type=click.IntRange(1, 50), default=None, help="Citations to return.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default=None,
              help="Retrieval mode [KHABAR_SEARCH_MODE, default hybrid]")
def ask(settings: Settings, question: str, as_json: bool, k: int | None, mode: str | None) -> None:
    """Answer QUESTION. With '-', answer each line of stdin with one JSON object: a line is a
    question, or {"question": ..., "history": [earlier questions, oldest first]}."""
    from khabar.bot.render import answer_text

    engine = _engine(settings, mode)
    if question != "-":
        answer = engine.ask(question, k)
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False) if as_json
                   else answer_text(answer, full=True))
        return
    engine.generation()  # fail now, with the fix, if there is no usable index
    for line in sys.stdin:
        if line.strip():
            click.echo(json.dumps(_answer_line(engine, line, k), ensure_ascii=False))


def _answer_line(engine: Khabar, line: str, k: int | None) -> dict:
    """One ``ask -`` line answered, or ``{"error"}`` for that line alone."""
    from khabar.retrieval.answer.service import QuestionError

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
    engine.generation()  # fail now, with the fix, if there is no usable index
    chat_mod.run(engine.service, settings.index_dir.parent / "history", out=click.echo)


@main.command(name="eval")
@_common
@click.argument("set_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--questions", default=None, help="Question file (in SET_DIR or a path).")
@click.option("--variant", default="hybrid", show_default=True,
              help="Retrieval/answer variant: hybrid, dense, lexical, hybrid-1sent.")
@click.option("--history", "history", default="context", show_default=True,
              type=click.Choice(["context", "alone", "concat"]),
              help="Follow-ups: Khabar's reading of the conversation, the question alone, or "
                   "the last question glued to it (the two naive references).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
def eval_(settings: Settings, set_dir: Path, questions: str | None, variant: str,
          history: str, as_json: bool) -> None:
    """Score retrieval and answers on the question set in SET_DIR (lines of other sets in a
    mixed file, by their "corpus" field, are left out)."""
    from khabar.bot.progress import progress_bar
    from khabar.retrieval.measure import evaluate

    search_options, answer_options = evaluate.variant(variant)
    files = evaluate.question_files(set_dir, questions)
    qs = [q for f in files for q in evaluate.load_questions(f)
          if q.corpus in (None, set_dir.resolve().name)]
    engine = _engine(settings)
    with progress_bar("Indexing the eval corpus") as update:
        engine = evaluate.cached_engine(engine, set_dir, settings.index_dir.parent / "eval",
                                        search_options, answer_options, update)
    rows = evaluate.evaluate(engine.service, qs, history)
    if as_json:
        payload = {"set": set_dir.name, "questions": [f.name for f in files],
                   "variant": variant, "history": history, "embedder": settings.embedder,
                   "metrics": rows}
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(f"{set_dir.name} ({', '.join(f.name for f in files)}), variant {variant}, "
                   f"embedder {settings.embedder}")
        click.echo(evaluate.table(rows))


@main.command()
@_common
def telegram(settings: Settings) -> None:
    """Run the Telegram bot (long polling) until SIGINT/SIGTERM."""
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

    logs.setup("INFO" if settings.log_level == "WARNING" else settings.log_level,
               settings.secrets())
    engine = _engine(settings)
    engine.generation()
    state = make_state(engine, settings.allowed_users, settings.admins, settings.rate_limit)
    app = build_application(token, settings.telegram_api_base_url, state)
    app.run_polling(allowed_updates=["message", "callback_query"])


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
    report = bench_mod.run(engine.embedder, settings.seeds_dir, list(corpora), counts,
                           settings.index_dir.parent / "bench",
                           log=lambda m: click.echo(m, err=True), live_articles=live_articles,
                           index=engine.index_dir)
    click.echo(bench_mod.dumps(report) if as_json else bench_mod.table(report))
