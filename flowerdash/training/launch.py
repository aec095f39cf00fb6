"""``python -m flowerdash launch --workers N train ...``: a multi-worker run on this machine.

Starts N ``train --strategy multiworker`` processes on 127.0.0.1, each with free ports and its own
``TF_CONFIG`` (exactly what each machine of a real cluster would be given), and follows the
chief's events (written as JSON lines by ``train --events``) on the same kind of channel a
training job has. When a worker fails, the others are stopped and its message is the launch's
error.

Each launch is recorded where the Train page finds it: a folder under
``<checkpoint dir>/.launches/`` with the chief's events file and ``launch.json`` (strategy,
workers, pids, times, status, error, checkpoint). :func:`launched_runs` reads them back.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from flowerdash.errors import ConfigError, FlowerdashError
from flowerdash.i18n import _
from flowerdash.models.checkpoints import checkpoint_root
from flowerdash.training.config import TrainConfig
from flowerdash.training.events import EVENT_KINDS, EventChannel, TrainingEvent
from flowerdash.training.run_state import process_identity, running_elsewhere

STOP_GRACE = 10.0  # seconds a stopped worker gets to exit before it is killed
RUNS_DIR = ".launches"  # under the checkpoint folder: one folder per launch
RECORD = "launch.json"
EVENTS = "events.jsonl"
KEEP = 10  # launch folders kept: the newest ones, and any still running
# How ``multiworker.describe`` names the strategy in the chief's "started" message.
STRATEGY_PATTERN = re.compile(r"\bmultiworker \((\d+) workers?, (\d+) replicas?\)")


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
    """N local worker processes of one multi-worker run; ``channel`` has the chief's events.

    ``config``: the run's config as the workers will read ``train_args`` (the CLI parses them);
    it names the checkpoint folder and what the Train page shows. None: unknown (the workers
    then report the bad option themselves), recorded without those details.
    """

    def __init__(
        self, workers: int, train_args: Sequence[str], config: TrainConfig | None = None
    ) -> None:
        if workers < 1:
            raise ConfigError(_("launch needs at least one worker."))
        self.workers = workers
        self.command = train_command(train_args)
        self.channel = EventChannel()
        self.status = "pending"
        self.error: str | None = None
        self.checkpoint: str | None = None
        self.processes: list[subprocess.Popen] = []
        self.id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.record: Path | None = None  # the folder the Train page reads (None: not writable)
        self.config = config
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
        self.started_at = time.time()
        self.record = self._make_record()
        events = (self.record or self._folder) / EVENTS
        for index in range(self.workers):
            extra = ["--events", str(events)] if index == 0 else []
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
        self._save_record()
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
            args=((self.record or self._folder) / EVENTS, self.channel, stop),
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
        self.finished_at = time.time()
        self._save_record()
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

    def _make_record(self) -> Path | None:
        """This launch's folder under the checkpoint folder, older launches pruned.

        None when it cannot be made: the run goes on unrecorded, and the chief reports an
        unusable checkpoint folder itself.
        """
        try:
            checkpoint_dir = self.config.checkpoint_dir if self.config else None
            root = checkpoint_root(checkpoint_dir).absolute() / RUNS_DIR
            prune(root, KEEP - 1)
            folder = root / self.id
            folder.mkdir(parents=True)
        except (OSError, FlowerdashError):
            return None
        return folder

    def _save_record(self) -> None:
        """Write ``launch.json`` (atomically: a reader sees the old record or the new one)."""
        if self.record is None:
            return
        config = self.config
        data = {
            "id": self.id,
            "strategy": "multiworker",
            "workers": self.workers,
            "command": self.command,
            "backbone": config.backbone if config else None,
            "augment": config.augment if config else None,
            "epochs": config.total_epochs if config else None,
            "status": self.status,
            "started": self.started_at,
            "finished": self.finished_at,
            "error": self.error,
            "checkpoint": str(Path(self.checkpoint).absolute()) if self.checkpoint else None,
            **process_identity(),
            "worker_pids": [p.pid for p in self.processes],
        }
        with contextlib.suppress(OSError):  # the folder was removed meanwhile: nothing to tell
            tmp = self.record / "launch.tmp.json"
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, self.record / RECORD)

    def _cleanup(self) -> None:
        for log in self._logs:
            log.close()
        for path in self._folder.iterdir():
            path.unlink()
        self._folder.rmdir()


@dataclass
class LaunchedRun:
    """A run started by ``launch`` as the Train page follows it: its record and chief's events."""

    id: str
    path: Path
    strategy: str
    workers: int
    status: str  # running, succeeded or failed
    events: list[TrainingEvent] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    backbone: str | None = None
    augment: str | None = None
    epochs: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    checkpoint: Path | None = None
    error: str | None = None
    error_details: str | None = None  # as a TrainingJob's; a launch keeps the workers' logs aside

    @property
    def done(self) -> bool:
        """True once the launch ended."""
        return self.status != "running"

    @property
    def replicas(self) -> int | None:
        """Replicas over all workers, once the chief named them in its first event."""
        for event in self.events:
            if event.kind == "started" and (match := STRATEGY_PATTERN.search(event.message or "")):
                return int(match.group(2))
        return None

    @property
    def epoch_counter(self) -> int:
        """Epochs completed so far."""
        return max((e.epoch or 0 for e in self.events if e.kind == "epoch"), default=0)

    @property
    def total_epochs(self) -> int:
        """Epochs of the whole run (both stages)."""
        if self.epochs:
            return self.epochs
        seen = [e.epochs or 0 for e in self.events if e.kind in ("batch", "epoch")]
        return max(seen, default=0)

    @property
    def history(self) -> list[dict[str, Any]]:
        """Loss and accuracy per completed epoch, as a TrainingJob's history."""
        keys = ("epoch", "stage", "loss", "accuracy", "val_loss", "val_accuracy")
        return [{k: getattr(e, k) for k in keys} for e in self.events if e.kind == "epoch"]


def launched_runs(checkpoint_dir: str | Path | None = None, limit: int = 3) -> list[LaunchedRun]:
    """The newest runs ``launch`` started with this checkpoint folder, newest first."""
    root = checkpoint_root(checkpoint_dir) / RUNS_DIR
    runs = []
    for folder in _folders(root):
        record = _read_record(folder)
        if record is not None:
            runs.append(_run(folder, record))
        if len(runs) == limit:
            break
    return runs


def prune(root: Path, keep: int = KEEP) -> None:
    """Remove the folders of ended launches, all but the newest ``keep`` folders."""
    for folder in _folders(root)[keep:]:
        record = _read_record(folder)
        if record is None or record["status"] != "running":
            shutil.rmtree(folder, ignore_errors=True)


def _folders(root: Path) -> list[Path]:
    """Launch folders, newest first (their names start with the launch's date and time)."""
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir()), reverse=True)


def _read_record(folder: Path) -> dict[str, Any] | None:
    """A launch's record; a launch process that died without an outcome reads as failed."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        if not isinstance(record, dict) or not isinstance(record.get("status"), str):
            return None
    except (OSError, ValueError):
        return None
    if record["status"] == "running" and not _alive(record):
        record["status"] = "failed"
        record["error"] = _(
            "The launch process (pid {pid}) stopped before the run ended; its workers may still "
            "be running."
        ).format(pid=record.get("pid"))
    return record


def _alive(record: dict[str, Any]) -> bool:
    return record.get("pid") == os.getpid() or running_elsewhere(record) is not None


def _run(folder: Path, record: dict[str, Any]) -> LaunchedRun:
    def number(key: str) -> Any:
        value = record.get(key)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    return LaunchedRun(
        id=str(record.get("id") or folder.name),
        path=folder,
        strategy=str(record.get("strategy") or "multiworker"),
        workers=int(number("workers") or 0),
        status=record["status"],
        events=read_events(folder / EVENTS),
        command=[str(a) for a in record.get("command") or []],
        backbone=record.get("backbone"),
        augment=record.get("augment"),
        epochs=number("epochs"),
        started_at=number("started"),
        finished_at=number("finished"),
        checkpoint=Path(record["checkpoint"]) if record.get("checkpoint") else None,
        error=record.get("error"),
    )


_READ: dict[Path, tuple[int, list[TrainingEvent]]] = {}  # events file -> (bytes read, events)
_READ_LOCK = threading.Lock()


def read_events(path: Path) -> list[TrainingEvent]:
    """The events of a JSON-lines file so far; a line still being written waits for its end.

    Only what was added since the last call is read (a long run's file grows to megabytes).
    """
    with _READ_LOCK:
        position, events = _READ.get(path, (0, []))
        try:
            with path.open("rb") as f:
                if f.seek(0, os.SEEK_END) < position:  # a new file in its place
                    position, events = 0, []
                f.seek(position)
                data = f.read()
        except OSError:
            return list(events)
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            try:
                events.append(event_from_dict(json.loads(line)))
            except (ValueError, TypeError):  # a blank or foreign line
                continue
        _READ[path] = (position + end, events)
        return list(events)
