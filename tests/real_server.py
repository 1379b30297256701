"""``khabar serve`` started for real, as a user would, on 127.0.0.1 and a free port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    seeds: Path
    index: Path

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, trust_env=False)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def serve(seeds: Path, index: Path, workdir: Path, env: dict[str, str] | None = None,
          args: tuple[str, ...] = (), ready: bool = True) -> Iterator[Server]:
    """Run ``khabar serve`` until the block ends. It runs in ``workdir`` so that no ``.env``
    of the developer's is read; the block starts once /readyz answers 200 (or, with
    ``ready=False``, once /healthz does), polled with a bound."""
    port = free_port()
    log = workdir / f"serve-{port}.log"
    environ = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", **(env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "khabar.bot", "serve", "--seeds", str(seeds), "--index",
             str(index), "--port", str(port), *args],
            cwd=workdir, env=environ, stdout=out, stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log, seeds, index)
    try:
        _wait(server, "/readyz" if ready else "/healthz")
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(server: Server, path: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.url, timeout=5, trust_env=False) as client:
        while True:
            assert server.process.poll() is None, "khabar serve exited:\n" + server.log_text()
            try:
                if client.get(path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{path} not ready:\n" + server.log_text()
            time.sleep(0.1)
