"""``khabar``: index, ask, chat, eval. Heavy modules load inside commands, so ``--help`` is fast.

Library code raises domain errors; this module alone turns them into messages and exit codes.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from bot.settings import Settings


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--seeds/--index/--embedder on every command, defaulting to the settings."""

    @click.option("--seeds", "seeds", type=click.Path(path_type=Path), default=None,
                  help="Articles directory [KHABAR_SEEDS_DIR, default seeds]")
    @click.option("--index", "index", type=click.Path(path_type=Path), default=None,
                  help="Index directory [KHABAR_INDEX_DIR, default .khabar/index]")
    @click.option("--embedder", default=None,
                  help="Embedder spec: e5-small-bundled or st:<model> [KHABAR_EMBEDDER]")
    @functools.wraps(fn)
    def wrapper(seeds: Path | None, index: Path | None, embedder: str | None, **kw: Any) -> Any:
        overrides = {"seeds_dir": seeds, "index_dir": index, "embedder": embedder}
        try:
            settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
        except Exception as exc:  # pydantic's ValidationError names the field at fault
            raise click.ClickException(f"invalid settings: {exc}") from None
        from bot import logs

        logs.setup(settings.log_level)
        with _user_errors():
            return fn(settings, **kw)

    return wrapper


@contextmanager
def _user_errors() -> Iterator[None]:
    from embeddings.base import EmbedderError
    from embeddings.registry import UnknownEmbedderError
    from retrieval.index import KhabarIndexError

    try:
        yield
    except (KhabarIndexError, UnknownEmbedderError, EmbedderError, FileNotFoundError,
            ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def _service(settings: Settings, mode: str | None = None):
    from bot.service import AnswerService
    from embeddings.registry import get_embedder
    from retrieval.index import IndexDir
    from retrieval.search import SearchOptions

    return AnswerService(
        IndexDir(settings.index_dir), get_embedder(settings.embedder), k=settings.top_k,
        search_options=SearchOptions(mode=mode or settings.search_mode),
        max_question_chars=settings.max_question_chars,
    )


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
    from bot.progress import progress_bar
    from embeddings.registry import get_embedder
    from retrieval.chunking import Chunker
    from retrieval.index import IndexDir
    from retrieval.indexer import Indexer, IndexReport

    indexer = Indexer(IndexDir(settings.index_dir), get_embedder(settings.embedder),
                      Chunker(settings.chunk_chars, settings.chunk_overlap),
                      max_file_bytes=settings.max_file_bytes)
    with progress_bar("Indexing") as update:
        report = indexer.run(settings.seeds_dir, rebuild=rebuild, progress=update)

    def show(report: IndexReport) -> None:
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False))
            return
        for s in report.skipped:
            click.echo(f"skipped {s.path}: {s.reason}", err=True)
        click.echo(report.summary())

    show(report)
    if keep_watching:
        from retrieval.watch import watch

        click.echo(f"watching {settings.seeds_dir} for changes (Ctrl-C to stop)", err=True)
        watch(indexer, settings.seeds_dir, show)
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
    """Answer QUESTION; with '-' answer each stdin line, one JSON object per line."""
    from bot.render import answer_text
    from bot.service import QuestionError

    service = _service(settings, mode)
    if question != "-":
        try:
            answer = service.ask(question, k)
        except QuestionError as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
        else:
            click.echo(answer_text(answer, full=True))
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            payload = service.ask(line, k).to_json()
        except QuestionError as exc:
            payload = {"question": line.strip(), "error": str(exc)}
        click.echo(json.dumps(payload, ensure_ascii=False))


@main.command()
@_common
def chat(settings: Settings) -> None:
    """Chat in the terminal; with stdin not a TTY, answer each piped line."""
    from bot import chat as chat_mod

    service = _service(settings)
    service.generation()  # fail now, with the fix, if there is no usable index
    chat_mod.run(service, settings.index_dir.parent / "history", out=click.echo)


@main.command(name="eval")
@_common
@click.argument("set_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--questions", default=None, help="Question file (in SET_DIR or a path).")
@click.option("--variant", default="hybrid", show_default=True,
              help="Retrieval/answer variant: hybrid, dense, lexical, hybrid-1sent.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
def eval_(settings: Settings, set_dir: Path, questions: str | None, variant: str,
          as_json: bool) -> None:
    """Score retrieval and answers on the question set in SET_DIR."""
    from bot import evaluate
    from bot.progress import progress_bar
    from bot.service import AnswerService
    from embeddings.registry import get_embedder
    from retrieval.chunking import Chunker

    if variant not in evaluate.VARIANTS:
        raise click.ClickException(
            f"Invalid variant: {variant!r}. Choose from {', '.join(evaluate.VARIANTS)}."
        )
    search_options, answer_options = evaluate.VARIANTS[variant]
    embedder = get_embedder(settings.embedder)
    try:
        files = evaluate.question_files(set_dir, questions)
        with progress_bar("Indexing the eval corpus") as update:
            index_dir = evaluate.cached_index(
                set_dir, settings.index_dir.parent / "eval", embedder,
                Chunker(settings.chunk_chars, settings.chunk_overlap), update)
        qs = [q for f in files for q in evaluate.load_questions(f)]
    except evaluate.EvalSetError as exc:
        raise click.ClickException(str(exc)) from None
    service = AnswerService(index_dir, embedder, search_options=search_options,
                            answer_options=answer_options,
                            max_question_chars=settings.max_question_chars)
    rows = evaluate.evaluate(service, qs)
    if as_json:
        payload = {"set": set_dir.name, "questions": [f.name for f in files],
                   "variant": variant, "embedder": settings.embedder, "metrics": rows}
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(f"{set_dir.name} ({', '.join(f.name for f in files)}), variant {variant}, "
                   f"embedder {settings.embedder}")
        click.echo(evaluate.table(rows))


_TOKEN_SHAPE = r"^\d{5,}:[A-Za-z0-9_-]{30,}$"


@main.command()
@_common
def telegram(settings: Settings) -> None:
    """Run the Telegram bot (long polling) until SIGINT/SIGTERM."""
    import re

    token = settings.telegram_bot_token.strip()
    if not token:
        raise click.ClickException(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and put "
            "TELEGRAM_BOT_TOKEN=<token> in .env (see .env.example)"
        )
    if not re.match(_TOKEN_SHAPE, token):
        raise click.ClickException(
            "TELEGRAM_BOT_TOKEN is malformed: expected '<digits>:<35 letters>' as given by "
            "@BotFather"
        )
    from bot import logs
    from bot.telegram_bot import build_application, make_state
    from retrieval.chunking import Chunker
    from retrieval.index import IndexDir
    from retrieval.indexer import Indexer

    logs.setup("INFO" if settings.log_level == "WARNING" else settings.log_level, (token,))
    service = _service(settings)
    service.generation()
    indexer = Indexer(IndexDir(settings.index_dir), service.embedder,
                      Chunker(settings.chunk_chars, settings.chunk_overlap),
                      max_file_bytes=settings.max_file_bytes)
    state = make_state(service, indexer, settings.seeds_dir, settings.allowed_users,
                       settings.admins, settings.rate_limit)
    app = build_application(token, settings.telegram_api_base_url, state)
    app.run_polling(allowed_updates=["message", "callback_query"])


@main.command()
@_common
@click.option("--sizes", default="1000,10000,100000", show_default=True,
              help="Comma-separated corpus sizes, in passages.")
@click.option("--live-articles", type=click.IntRange(0), default=10_000, show_default=True,
              help="Article files in the live-corpus check (unchanged scan, add one); 0 skips.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def bench(settings: Settings, sizes: str, live_articles: int, as_json: bool) -> None:
    """Measure speed and scale as ratios to the bare embedder."""
    from bot import bench as bench_mod
    from embeddings.registry import get_embedder

    try:
        counts = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise click.ClickException(
            f"--sizes must be comma-separated integers, got {sizes!r}"
        ) from None
    if any(n < 10 for n in counts):
        raise click.ClickException("--sizes: every size must be at least 10 passages")
    extra = sorted(Path("../shared/eval").glob("*/corpus"))
    report = bench_mod.run(get_embedder(settings.embedder), settings.seeds_dir, extra, counts,
                           settings.index_dir.parent / "bench",
                           log=lambda m: click.echo(m, err=True), live_articles=live_articles)
    click.echo(bench_mod.dumps(report) if as_json else bench_mod.table(report))
