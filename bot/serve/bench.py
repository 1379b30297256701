"""What HTTP costs: ``/v1/ask`` on a real ``khabar serve`` against in-process ``ask``.

    python -m khabar.bot.serve.bench --index .khabar/index --seeds seeds

For each ``--workers`` value a server is started on 127.0.0.1 (a free port; no keys, no rate
limit); for each ``--clients`` count, that many threads ask over keep-alive connections, and
the same questions are asked of an in-process engine by as many threads. The two sides take
turns in short rounds (the first round of a side pays for cold threads, so the order
alternates), and every question is new to the process answering it, so neither side answers
from its query cache. The load is bounded: a fixed number of questions, loopback only.

Two overheads are reported at each point: the difference of the two sides' medians, and the
median of what each HTTP request took beyond the engine's own time for it (``timings_ms.total``
in the response), which cancels the embedder's drift on noisy machines.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import numpy as np

from khabar.bot.settings import Settings
from khabar.retrieval.engine import Khabar
from khabar.retrieval.measure.bench import sentence_pool

_ROUNDS = 12


def questions(seeds: Path, count: int, seed: int = 7) -> list[str]:
    """``count`` distinct question-like strings: 6-12 consecutive words of real sentences."""
    sentences = [s.split() for s in sentence_pool([seeds])]
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < count:
        words = rng.choice(sentences)
        n = rng.randint(6, 12)
        start = rng.randint(0, max(0, len(words) - n))
        out[" ".join(words[start:start + n])] = None
    return list(out)


def _pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)), 1)


def _threads(clients: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _over_http(port: int, batches: list[list[str]]) -> tuple[list[float], list[float]]:
    """Latencies (ms) of every request, and each one's time beyond the engine's own."""
    latencies: list[float] = []
    beyond: list[float] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for q in batches[i]:
            body = json.dumps({"question": q}).encode()
            started = time.perf_counter()
            conn.request("POST", "/v1/ask", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            ms = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise RuntimeError(f"/v1/ask answered {response.status}: {payload[:200]!r}")
            with lock:
                latencies.append(ms)
                beyond.append(ms - json.loads(payload)["timings_ms"]["total"])
        conn.close()

    _threads(len(batches), client)
    return latencies, beyond


def _in_process(engine: Khabar, batches: list[list[str]]) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        for q in batches[i]:
            started = time.perf_counter()
            engine.ask(q)
            ms = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(ms)

    _threads(len(batches), client)
    return latencies


def _start(settings: Settings, workers: int, log: Path) -> tuple[subprocess.Popen, int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KHABAR_API_KEYS": "", "KHABAR_SERVE_RATE_LIMIT": "0",
           "KHABAR_LOG_LEVEL": "ERROR"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "khabar.bot", "serve", "--seeds", str(settings.seeds_dir),
             "--index", str(settings.index_dir), "--embedder", settings.embedder, "--port",
             str(port), "--workers", str(workers)], env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise click.ClickException("khabar serve exited:\n" + log.read_text())
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise click.ClickException("khabar serve not ready after 120 s:\n" + log.read_text())
        time.sleep(0.2)


def _point(engine: Khabar, port: int, clients: int, per_round: int,
           pool: Iterator[str]) -> dict:
    """One load level: both sides in alternating rounds over the same fresh questions."""
    http_ms: list[float] = []
    beyond: list[float] = []
    local_ms: list[float] = []

    def over_http(batches: list[list[str]]) -> None:
        latencies, extra = _over_http(port, batches)
        http_ms.extend(latencies)
        beyond.extend(extra)

    def in_process(batches: list[list[str]]) -> None:
        local_ms.extend(_in_process(engine, batches))

    for r in range(_ROUNDS):
        batches = [[next(pool) for _ in range(per_round)] for _ in range(clients)]
        for side in (over_http, in_process) if r % 2 == 0 else (in_process, over_http):
            side(batches)
    return {"clients": clients, "requests": len(http_ms),
            "http_p50_ms": _pct(http_ms, 50), "http_p99_ms": _pct(http_ms, 99),
            "inproc_p50_ms": _pct(local_ms, 50), "inproc_p99_ms": _pct(local_ms, 99),
            "p50_diff_ms": round(_pct(http_ms, 50) - _pct(local_ms, 50), 1),
            "beyond_engine_p50_ms": _pct(beyond, 50)}


def run(settings: Settings, workers: list[int], clients: list[int], per_point: int,
        log: Callable[[str], None]) -> list[dict]:
    engine = Khabar.from_settings(settings)
    engine.ask("warm up")
    pool = iter(questions(settings.seeds_dir, len(workers) * len(clients) * (per_point + 64)))
    rows = []
    with tempfile.TemporaryDirectory(prefix="khabar-serve-bench-") as tmp:
        for w in workers:
            proc, port = _start(settings, w, Path(tmp) / f"serve-{w}.log")
            try:
                _over_http(port, [["warm up the workers"]] * (2 * w))
                for c in clients:
                    per_round = -(-per_point // (c * _ROUNDS))  # each client, each round
                    row = {"workers": w, **_point(engine, port, c, per_round, pool)}
                    log(json.dumps(row))
                    rows.append(row)
            finally:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)
    return rows


def table(rows: list[dict]) -> str:
    head = ("workers", "clients", "requests", "http_p50_ms", "http_p99_ms", "inproc_p50_ms",
            "inproc_p99_ms", "p50_diff_ms", "beyond_engine_p50_ms")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


@click.command()
@click.option("--seeds", type=click.Path(path_type=Path), default=None,
              help="Articles the questions are drawn from [KHABAR_SEEDS_DIR]")
@click.option("--index", type=click.Path(path_type=Path), default=None,
              help="A built index [KHABAR_INDEX_DIR]")
@click.option("--workers", default="1,2", show_default=True, help="Server processes to try.")
@click.option("--clients", default="1,4,16", show_default=True, help="Concurrent clients.")
@click.option("--questions", "per_point", type=click.IntRange(16), default=160,
              show_default=True, help="Questions per side at each point.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def main(seeds: Path | None, index: Path | None, workers: str, clients: str, per_point: int,
         as_json: bool) -> None:
    """Compare /v1/ask over loopback HTTP with in-process ask."""
    settings = Settings.load(seeds_dir=seeds, index_dir=index)
    rows = run(settings, [int(w) for w in workers.split(",")],
               [int(c) for c in clients.split(",")], per_point,
               lambda m: click.echo(m, err=True))
    click.echo(json.dumps(rows) if as_json else table(rows))


if __name__ == "__main__":
    main()
