"""Serve the dashboard for a browser benchmark or test: a headless Streamlit on a free port."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from benchmarks.common import ROOT, Skip


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def streamlit_args(port: int, script: str = "streamlit_app.py") -> list[str]:
    """``streamlit`` arguments serving ``script`` headless on ``port``, loopback only."""
    return [
        "run", script, "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def stop_server(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """Stop a server process: politely, then for good after ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_until_healthy(
    url: str, proc: subprocess.Popen, timeout: float = 120.0, poll: float = 0.1
) -> bool:
    """Wait for the server's health endpoint; False if the process ended or time ran out."""
    deadline = time.perf_counter() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        if proc.poll() is not None or time.perf_counter() > deadline:
            return False
        time.sleep(poll)


@contextmanager
def streamlit_server(env: Mapping[str, str], script: str = "streamlit_app.py") -> Iterator[str]:
    """Serve ``script`` from the repository root; yields its URL once healthy, stops it after.

    Raises :class:`Skip` with the end of the server's log if it does not become healthy.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", *streamlit_args(port, script)],
            cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            if not wait_until_healthy(url, proc):
                log.seek(0)
                raise Skip(f"streamlit did not start: {log.read()[-500:]}")
            yield url
        finally:
            stop_server(proc)
