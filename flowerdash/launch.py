"""``python -m flowerdash launch --workers N train ...``: a multi-worker run on this machine.

Starts N ``train --strategy multiworker`` processes on 127.0.0.1, each with free ports and its own
``TF_CONFIG`` (exactly what each machine of a real cluster would be given), and follows the
chief's events (written as JSON lines by ``train --events``) on the same kind of channel a
training job has. When a worker fails, the others are stopped and its message is the launch's
error.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from flowerdash.errors import ConfigError
from flowerdash.events import EVENT_KINDS, EventChannel, TrainingEvent
from flowerdash.i18n import _

STOP_GRACE = 10.0  # seconds a stopped worker gets to exit before it is killed


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 now (held together so none repeats)."""
    sockets = [socket.socket() for _i in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: Sequence[int], index: int) -> str:
    """TensorFlow's TF_CONFIG for worker ``index`` of a cluster on 127.0.0.1."""
    workers = [f"127.0.0.1:{p}" for p in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def train_command(args: Sequence[str]) -> list[str]:
    """The worker command: ``train ...`` with ``--strategy multiworker`` (added when absent)."""
    args = list(args)
    if not args or args[0] != "train":
        raise ConfigError(_("launch runs 'train': python -m flowerdash launch --workers 2 train …"))
    for i, arg in enumerate(args):
        value = (
            arg.split("=", 1)[1]
            if arg.startswith("--strategy=")
            else (args[i + 1] if arg == "--strategy" and i + 1 < len(args) else None)
        )
        if value is not None and value != "multiworker":
            raise ConfigError(
                _("launch trains with --strategy multiworker, not {name}.").format(name=value)
            )
        if arg == "--resume" or arg.startswith("--resume=") or arg.startswith("--events"):
            raise ConfigError(_("launch sets {option} itself.").format(option=arg.split("=")[0]))
    if not any(a == "--strategy" or a.startswith("--strategy=") for a in args):
        args += ["--strategy", "multiworker"]
    return args


def follow_events(path: Path, channel: EventChannel, stop: threading.Event) -> None:
    """Copy the JSON-lines events of ``path`` onto ``channel`` until ``stop`` (or finished)."""
    position = 0
    pending = ""
    while not channel.closed:
        if path.exists():
            with path.open(encoding="utf-8") as f:
                f.seek(position)
                pending += f.read()
                position = f.tell()
            *lines, pending = pending.split("\n")
            for line in lines:
                if line.strip():
                    channel.put(event_from_dict(json.loads(line)))
        if stop.is_set():
            return
        time.sleep(0.2)


def event_from_dict(data: dict[str, Any]) -> TrainingEvent:
    """An event read back from its JSON line."""
    if data.get("kind") not in EVENT_KINDS:
        raise ValueError(f"not a training event: {data!r}")
    return TrainingEvent(**data)


def write_events(channel: EventChannel, out: TextIO) -> threading.Thread:
    """A thread writing every event of ``channel`` to ``out`` as a JSON line, flushed."""

    def run() -> None:
        cursor = 0
        while True:
            events, cursor = channel.read(cursor, timeout=0.5)
            for ev in events:
                out.write(json.dumps(ev.to_dict()) + "\n")
                out.flush()
            if channel.closed and not events:
                return

    thread = threading.Thread(target=run, name="events-writer", daemon=True)
    thread.start()
    return thread


class Launch:
    """N local worker processes of one multi-worker run; ``channel`` has the chief's events."""

    def __init__(self, workers: int, train_args: Sequence[str]) -> None:
        if workers < 1:
            raise ConfigError(_("launch needs at least one worker."))
        self.workers = workers
        self.command = train_command(train_args)
        self.channel = EventChannel()
        self.status = "pending"
        self.error: str | None = None
        self.checkpoint: str | None = None
        self.processes: list[subprocess.Popen] = []
        self._logs: list[TextIO] = []
        self._folder = Path(tempfile.mkdtemp(prefix="flowerdash-launch-"))
        self._thread: threading.Thread | None = None

    @property
    def done(self) -> bool:
        """True once every worker has exited."""
        return self.status in ("succeeded", "failed")

    def start(self) -> Launch:
        """Start the workers and a thread that watches them; returns at once."""
        ports = free_ports(self.workers)
        for index in range(self.workers):
            extra = ["--events", str(self._folder / "events.jsonl")] if index == 0 else []
            env = {**os.environ, "TF_CONFIG": tf_config(ports, index)}
            log = (self._folder / f"worker{index}.log").open("w")
            self._logs.append(log)
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "flowerdash", *self.command, *extra],
                    env=env,
                    stdout=subprocess.PIPE if index == 0 else subprocess.DEVNULL,
                    stderr=log,
                    text=True,
                )
            )
        self.status = "running"
        self._thread = threading.Thread(target=self._watch, name="launch", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the workers; True when all have exited."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done

    def stop(self) -> None:
        """Stop every worker still running (SIGTERM, then SIGKILL after a grace period)."""
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for p in self.processes:
            try:
                p.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def _watch(self) -> None:
        stop = threading.Event()
        reader = threading.Thread(
            target=follow_events,
            args=(self._folder / "events.jsonl", self.channel, stop),
            daemon=True,
        )
        reader.start()
        chief_out: list[str] = []
        drain = threading.Thread(
            target=lambda: chief_out.extend(self.processes[0].stdout), daemon=True
        )
        drain.start()
        failed = None
        while failed is None and any(p.poll() is None for p in self.processes):
            failed = next(
                (i for i, p in enumerate(self.processes) if p.poll() not in (None, 0)), None
            )
            time.sleep(0.2)
        if failed is None:
            failed = next((i for i, p in enumerate(self.processes) if p.returncode != 0), None)
        self.stop()
        drain.join(5)
        stop.set()
        reader.join(5)
        if failed is None:
            self.status = "succeeded"
            self.checkpoint = chief_out[-1].strip() if chief_out else None
        else:
            self.status = "failed"
            self.error = _("worker {index} failed: {message}").format(
                index=failed, message=self._last_error(failed)
            )
        if not self.channel.closed:
            self.channel.put(
                TrainingEvent(
                    kind="finished",
                    status=self.status,
                    checkpoint=self.checkpoint,
                    message=self.error,
                )
            )
        self._cleanup()

    def _last_error(self, index: int) -> str:
        """The failing worker's own one-line message (its last 'error:' line), else its exit."""
        text = (self._folder / f"worker{index}.log").read_text(errors="replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        for line in reversed(lines):
            if line.startswith("error: "):
                return line.removeprefix("error: ")
        code = self.processes[index].returncode
        return _("exit code {code}").format(code=code) + (f" ({lines[-1]})" if lines else "")

    def _cleanup(self) -> None:
        for log in self._logs:
            log.close()
        for path in self._folder.iterdir():
            path.unlink()
        self._folder.rmdir()
