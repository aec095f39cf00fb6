"""Training progress as structured events on a thread-safe, multi-reader channel."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

EVENT_KINDS = ("started", "stage", "batch", "epoch", "message", "finished")


@dataclass(frozen=True)
class TrainingEvent:
    """One progress event; fields that do not apply to an event kind are None."""

    kind: str
    time: float = field(default_factory=time.time)
    stage: str | None = None
    epoch: int | None = None
    epochs: int | None = None
    step: int | None = None
    steps: int | None = None
    loss: float | None = None
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    images_per_sec: float | None = None
    eta_seconds: float | None = None
    message: str | None = None
    status: str | None = None
    checkpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The event as a plain dict without empty fields."""
        return {k: v for k, v in asdict(self).items() if v is not None}


class EventChannel:
    """An append-only event log that any number of threads can read at their own pace.

    Readers keep a cursor (``read(cursor)`` returns new events and the next cursor), so the CLI
    and several dashboard sessions can all follow one run, and a page reload loses nothing.
    """

    def __init__(self) -> None:
        self._events: list[TrainingEvent] = []
        self._cond = threading.Condition()
        self._closed = False

    def put(self, event: TrainingEvent) -> None:
        """Append an event and wake waiting readers."""
        with self._cond:
            self._events.append(event)
            if event.kind == "finished":
                self._closed = True
            self._cond.notify_all()

    def read(
        self, cursor: int = 0, timeout: float | None = None
    ) -> tuple[list[TrainingEvent], int]:
        """Events from ``cursor`` on; waits up to ``timeout`` seconds when there are none yet."""
        with self._cond:
            if timeout and cursor >= len(self._events) and not self._closed:
                self._cond.wait(timeout)
            new = self._events[cursor:]
            return new, cursor + len(new)

    @property
    def closed(self) -> bool:
        """True once the ``finished`` event was put."""
        with self._cond:
            return self._closed

    def snapshot(self) -> list[TrainingEvent]:
        """A copy of all events so far."""
        with self._cond:
            return list(self._events)
