"""How a run reads on the Train page: how far it is, how long it took, its strategy and result.

Works on a ``TrainingJob`` of this process and on a ``LaunchedRun`` read back from disk alike
(both have ``epoch_counter``, ``total_epochs`` and their events). Streamlit-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowerdash.errors import FlowerdashError
from flowerdash.i18n import N_, _, ngettext

STAGES = {
    "head": N_("Stage 1: training the new head"),
    "features": N_("Computing backbone features once"),
    "fine_tune": N_("Stage 2: fine-tuning the backbone"),
    "evaluate": N_("Measuring test accuracy"),
}


def progress_of(run: Any, events: list[Any]) -> tuple[float, str]:
    """Overall fraction done and a one-line description, from the newest progress event."""
    last = next((e for e in reversed(events) if e.kind in ("batch", "epoch", "stage")), None)
    if last is None:
        return 0.0, _("Preparing (loading the dataset and the backbone)…")
    stage = _(STAGES.get(last.stage or "", last.stage or ""))
    done_epochs = run.epoch_counter / max(run.total_epochs, 1)
    if last.kind == "batch" and last.stage in ("features", "evaluate") and last.steps:
        frac = min(last.step / last.steps, 1.0)
        return frac, f"{stage} · {last.step}/{last.steps}"
    if last.kind == "batch" and last.steps:
        epochs = last.epochs or 1
        frac = ((last.epoch or 1) - 1 + (last.step or 0) / last.steps) / epochs
        text = _("epoch {e} of {n} · batch {s}/{t}").format(
            e=last.epoch, n=epochs, s=last.step, t=last.steps
        )
        if last.eta_seconds is not None:
            text += " · " + _("about {t} left in this stage").format(t=clock(last.eta_seconds))
        return min(max(frac, 0.0), 1.0), f"{stage} · {text}"
    text = _("{e} of {n} epochs done").format(e=run.epoch_counter, n=run.total_epochs)
    return min(done_epochs, 1.0), f"{stage} · {text}"


def clock(seconds: float) -> str:
    """Seconds as m:ss or h:mm:ss."""
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def speed(events: list[Any]) -> float | None:
    """The newest images-per-second figure of a run's events."""
    return next((e.images_per_sec for e in reversed(events) if e.images_per_sec), None)


def elapsed(run: Any, now: float) -> float:
    """Seconds a run has trained (until it finished)."""
    return (run.finished_at or now) - run.started_at if run.started_at else 0.0


def strategy_label(run: Any) -> str:
    """'multiworker (2 workers, 2 replicas)'; the replicas once the chief has named them."""
    parts = [ngettext("{n} worker", "{n} workers", run.workers).format(n=run.workers)]
    if run.replicas is not None:
        parts.append(ngettext("{n} replica", "{n} replicas", run.replicas).format(n=run.replicas))
    return f"{run.strategy} ({', '.join(parts)})"


def recorded_test_metrics(checkpoint: Path | None) -> dict[str, Any] | None:
    """Test top-1/top-5/n recorded in a finished run's checkpoint, if any."""
    from flowerdash.models.checkpoints import read_meta

    if checkpoint is None:
        return None
    try:
        test = (read_meta(checkpoint).get("metrics") or {}).get("test")
    except FlowerdashError:
        return None
    return test if test and {"top1", "top5", "n"} <= set(test) else None
