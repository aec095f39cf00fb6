"""Training progress on stderr: a live bar on a terminal, a line per epoch in a log."""

from __future__ import annotations

import sys
from typing import Any


def _progress_line(ev: Any, width: int = 24) -> str:
    frac = (ev.step or 0) / ev.steps if ev.steps else 0.0
    bar = "█" * int(frac * width) + "░" * (width - int(frac * width))
    parts = [f"[{ev.stage}]"]
    if ev.epoch:
        parts.append(f"epoch {ev.epoch}/{ev.epochs}")
    parts.append(f"{bar} {ev.step}/{ev.steps}")
    if ev.loss is not None:
        parts.append(f"loss {ev.loss:.3f} acc {ev.accuracy:.3f}")
    if ev.images_per_sec:
        parts.append(f"{ev.images_per_sec:.0f} img/s")
    if ev.eta_seconds is not None:
        parts.append(f"ETA {_duration(ev.eta_seconds)}")
    return " ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def follow(job: Any) -> None:
    """Print a job's events to stderr until it finishes (a live bar on a terminal)."""
    tty = sys.stderr.isatty()
    cursor = 0
    while True:
        events, cursor = job.channel.read(cursor, timeout=0.5)
        for ev in events:
            if ev.kind == "batch":
                if tty:
                    print(
                        "\r" + _progress_line(ev)[:160].ljust(160),
                        end="",
                        file=sys.stderr,
                        flush=True,
                    )
            elif ev.kind == "epoch":
                val = f" val_acc {ev.val_accuracy:.3f}" if ev.val_accuracy is not None else ""
                print(
                    ("\r" if tty else "")
                    + f"[{ev.stage}] epoch {ev.epoch}/{ev.epochs} "
                    f"loss {ev.loss:.3f} acc {ev.accuracy:.3f}{val}".ljust(160 if tty else 0),
                    file=sys.stderr,
                    flush=True,
                )
            elif ev.message:
                print(
                    ("\r" if tty else "") + ev.message.ljust(160 if tty else 0),
                    file=sys.stderr,
                    flush=True,
                )
        if job.done and job.channel.closed and not events:
            return
