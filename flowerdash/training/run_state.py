"""A run's resumable state on disk, and which process (if any) is still training it.

Every completed epoch is saved to ``<checkpoint dir>/.runs/<run id>/``: its weights and
``state.json`` (config, epochs done, history, the weights file, the training process). A run
whose process died is offered for resume; one another live process is training is not. The
process is known by its pid and, on Linux, its start time from ``/proc/<pid>/stat``, so a pid
reused after a kill does not count as the run's process.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flowerdash.errors import ConfigError, TrainingError
from flowerdash.i18n import _
from flowerdash.models.checkpoints import checkpoint_root
from flowerdash.training.config import TrainConfig

if TYPE_CHECKING:
    import keras

RUNS_DIR = ".runs"
LEGACY_WEIGHTS = "last.weights.h5"  # the weights of a run folder whose state names none


class _Run(Protocol):
    id: str


_HERE: set[_Run] = set()  # runs this process is training; their ids may change as they start
_HERE_LOCK = threading.Lock()


def claim(run: _Run) -> None:
    """Mark ``run`` as trained by this process: it is not offered as interrupted meanwhile."""
    with _HERE_LOCK:
        _HERE.add(run)


def release(run: _Run) -> None:
    """``run`` ended in this process."""
    with _HERE_LOCK:
        _HERE.discard(run)


def running_here() -> set[str]:
    """The ids of the runs this process is training."""
    with _HERE_LOCK:
        return {run.id for run in _HERE}


def run_folder(run_id: str, checkpoint_dir: str | Path | None = None) -> Path:
    """Where the resumable state of run ``run_id`` is kept."""
    return checkpoint_root(checkpoint_dir) / RUNS_DIR / run_id


def read_state(run_dir: Path) -> dict[str, Any]:
    """A run folder's state (TrainingError in plain words when it cannot be read)."""
    try:
        return json.loads((run_dir / "state.json").read_text())
    except (OSError, ValueError) as exc:
        raise TrainingError(
            _("The interrupted run at {path} cannot be read: {error}").format(
                path=run_dir, error=exc
            )
        ) from exc


def save_run_state(run_dir: Path, model: keras.Model, state: dict[str, Any]) -> None:
    """Persist the weights and ``state`` (run_id, config, epochs_done, stage, history) of the
    last completed epoch, atomically as one.

    The weights go to a file of their own epoch, then ``state.json`` is replaced by one naming
    that file, then older weights are deleted: a kill at any point leaves a state whose epoch
    count matches the weights it names.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    weights = f"epoch{state['epochs_done']:04d}.weights.h5"
    weights_tmp = run_dir / "epoch.tmp.weights.h5"
    model.save_weights(weights_tmp)
    os.replace(weights_tmp, run_dir / weights)
    write_state(
        run_dir, {**state, "weights": weights, **process_identity(), "updated": time.time()}
    )
    for old in run_dir.glob("*.weights.h5"):
        if old.name != weights:
            old.unlink(missing_ok=True)


def claim_on_disk(run_dir: Path, state: dict[str, Any]) -> None:
    """Record this process in a resumed run's state, so other processes do not offer it."""
    write_state(run_dir, {**state, **process_identity(), "updated": time.time()})


def weights_file(run_dir: Path, state: dict[str, Any]) -> Path:
    """The weights file a run's state names (run folders of older versions: last.weights.h5)."""
    return run_dir / Path(str(state.get("weights") or LEGACY_WEIGHTS)).name


def write_state(run_dir: Path, state: dict[str, Any]) -> None:
    """Replace ``state.json`` atomically: readers see the old state or the new one."""
    tmp = run_dir / "state.tmp.json"
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, run_dir / "state.json")


def process_start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, /proc/<pid>/stat field 22).

    None where /proc is absent, or when the process does not exist or is a zombie.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Field 2 (the command name) is in parentheses and may hold spaces or ')' itself.
        rest = stat[stat.rindex(")") + 2 :].split()
        return None if rest[0] in ("Z", "X") else int(rest[19])  # rest[0] is field 3
    except (OSError, ValueError, IndexError):
        return None


def process_identity() -> dict[str, Any]:
    """What identifies this process in a run's state: its pid and, on Linux, its start time."""
    pid = os.getpid()
    return {"pid": pid, "pid_started": process_start_time(pid)}


def running_elsewhere(state: dict[str, Any]) -> int | None:
    """The pid of another live process that is still training the run of ``state``, else None.

    The pid must be alive and, where /proc tells (Linux), have the recorded start time. Runs of
    this process are not covered here (:func:`running_here` knows them).
    """
    pid = state.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    except OSError:
        return None
    if Path("/proc/self/stat").exists():
        started = process_start_time(pid)
        if started is None:  # gone, or a zombie: it trains nothing any more
            return None
        recorded = state.get("pid_started")
        if recorded is not None and recorded != started:
            return None  # the pid now belongs to another process
    return pid


def check_not_running_elsewhere(state: dict[str, Any]) -> None:
    """Refuse (TrainingError) when another live process is training the run of ``state``."""
    pid = running_elsewhere(state)
    if pid is not None:
        raise TrainingError(
            _("Run {id} is still training in process {pid}; it cannot be resumed.").format(
                id=state.get("run_id"), pid=pid
            )
        )


def check_not_running(run_id: str, checkpoint_dir: str | Path | None = None) -> None:
    """Refuse (TrainingError) when run ``run_id`` is still being trained by another process."""
    try:
        state = json.loads((run_folder(run_id, checkpoint_dir) / "state.json").read_text())
    except (OSError, ValueError):
        return
    if isinstance(state, dict):
        check_not_running_elsewhere(state)


@dataclass(frozen=True)
class InterruptedRun:
    """A run whose process died after completing some epochs; it can be resumed."""

    path: Path
    run_id: str
    config: TrainConfig
    epochs_done: int


def interrupted_runs(checkpoint_dir: str | Path | None = None) -> list[InterruptedRun]:
    """Runs left behind by a killed process (not the ones still running, here or elsewhere)."""
    root = checkpoint_root(checkpoint_dir) / RUNS_DIR
    live = running_here()
    found = []
    for state_file in sorted(root.glob("*/state.json")) if root.is_dir() else []:
        try:
            state = json.loads(state_file.read_text())
            if state["run_id"] in live or not weights_file(state_file.parent, state).is_file():
                continue
            if running_elsewhere(state) is not None:  # a live run of another process
                continue
            found.append(
                InterruptedRun(
                    state_file.parent,
                    state["run_id"],
                    TrainConfig.from_dict(state["config"]),
                    state["epochs_done"],
                )
            )
        except (OSError, ValueError, KeyError, ConfigError):
            continue
    return found
