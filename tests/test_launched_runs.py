"""Runs started with ``launch`` as the Train page reads them back: record, events, liveness.

The records here are written as ``Launch`` writes them (``launch.json`` and the chief's events
file in ``<checkpoint dir>/.launches/<id>/``); ``tests/test_multiworker.py`` checks what a real
two-worker launch leaves there, succeeded and failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from flowerdash.training import launch
from flowerdash.training.events import TrainingEvent

STARTED = "Training tiny on CPU (2 cores), multiworker (2 workers, 2 replicas)."


def chief_events(epochs_done: int, total: int = 6, finished: str | None = None) -> list:
    """The chief's events of a run ``epochs_done`` epochs in (the head stage is 4 epochs)."""
    events = [
        TrainingEvent("started", time=100.0, message=STARTED),
        TrainingEvent("stage", time=101.0, stage="head", epochs=4, message="Stage 1: the head."),
    ]
    for epoch in range(1, epochs_done + 1):
        stage = "head" if epoch <= 4 else "fine_tune"
        events += [
            TrainingEvent(
                "batch",
                time=101.0 + epoch,
                stage=stage,
                epoch=epoch,
                epochs=total,
                step=1,
                steps=1,
                images_per_sec=40.0,
                eta_seconds=3.0,
            ),
            TrainingEvent(
                "epoch",
                time=101.5 + epoch,
                stage=stage,
                epoch=epoch,
                epochs=total,
                loss=2.0 / epoch,
                accuracy=0.1 * epoch,
                val_loss=2.5 / epoch,
                val_accuracy=0.05 * epoch,
            ),
        ]
    if finished:
        events.append(
            TrainingEvent("finished", time=120.0, status="succeeded", checkpoint=finished)
        )
    return events


def write_launch(
    checkpoints: Path,
    run_id: str,
    events: list[TrainingEvent],
    status: str = "running",
    pid: int | None = None,
    **record,
) -> Path:
    """A launch's folder as ``Launch`` leaves it (pid: the launch process, by default this one)."""
    folder = checkpoints / launch.RUNS_DIR / run_id
    folder.mkdir(parents=True)
    lines = "".join(json.dumps(e.to_dict()) + "\n" for e in events)
    (folder / launch.EVENTS).write_text(lines, encoding="utf-8")
    data = {
        "id": run_id,
        "strategy": "multiworker",
        "workers": 2,
        "command": ["train", "--backbone", "tiny", "--strategy", "multiworker"],
        "backbone": "tiny",
        "augment": "none",
        "epochs": 6,
        "status": status,
        "started": time.time() - 30,
        "finished": None if status == "running" else time.time(),
        "error": None,
        "checkpoint": None,
        "pid": os.getpid() if pid is None else pid,
        "pid_started": None,
        "worker_pids": [],
        **record,
    }
    (folder / launch.RECORD).write_text(json.dumps(data), encoding="utf-8")
    return folder


def test_a_running_launch_reads_back_with_its_strategy_and_progress(tmp_path):
    folder = write_launch(tmp_path, "20261203-170000-aaaaaa", chief_events(2))
    with (folder / launch.EVENTS).open("a") as f:
        f.write('{"kind": "epoch", "epo')  # the chief is writing its next line
    [run] = launch.launched_runs(tmp_path)
    assert (run.id, run.status, run.done, run.path) == (folder.name, "running", False, folder)
    assert (run.strategy, run.workers, run.replicas) == ("multiworker", 2, 2)
    assert (run.epoch_counter, run.total_epochs, run.backbone) == (2, 6, "tiny")
    assert [h["epoch"] for h in run.history] == [1, 2]
    assert run.history[1]["val_accuracy"] == 0.1
    assert run.events[-1].kind == "epoch" and len(run.events) == 6  # not the half line
    with (folder / launch.EVENTS).open("a") as f:
        f.write('ch": 3, "epochs": 6, "stage": "head"}\n')
    [run] = launch.launched_runs(tmp_path)  # read on from where it stopped
    assert run.epoch_counter == 3 and len(run.events) == 7


def test_replicas_come_from_the_chiefs_description_of_its_strategy():
    from flowerdash.training.multiworker import describe

    for workers, replicas in ((2, 2), (1, 1), (3, 6)):
        strategy = SimpleNamespace(
            cluster_resolver=SimpleNamespace(
                cluster_spec=lambda w=workers: SimpleNamespace(num_tasks=lambda job: w)
            ),
            num_replicas_in_sync=replicas,
        )
        match = launch.STRATEGY_PATTERN.search(f"Training on CPU, {describe(strategy)}.")
        assert match and (int(match[1]), int(match[2])) == (workers, replicas)


def test_a_launch_whose_process_died_reads_as_failed(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_launch(tmp_path, "20261203-170000-bbbbbb", chief_events(1), pid=gone.pid)
    [run] = launch.launched_runs(tmp_path)
    assert run.status == "failed" and run.done
    assert run.error.startswith(f"The launch process (pid {gone.pid}) stopped before the run")


def test_newest_first_and_only_ended_launches_are_pruned(tmp_path):
    root = tmp_path / launch.RUNS_DIR
    write_launch(tmp_path, "20261203-170000-old", chief_events(1))  # still running
    for minute in range(1, 5):
        write_launch(tmp_path, f"20261203-17{minute:02d}00-done", [], status="succeeded")
    (root / "20261203-165900-empty").mkdir()  # a launch that died before its first record
    ids = [r.id for r in launch.launched_runs(tmp_path, limit=10)]
    assert ids == [f"20261203-17{m:02d}00-done" for m in (4, 3, 2, 1)] + ["20261203-170000-old"]
    assert [r.id for r in launch.launched_runs(tmp_path, limit=2)] == ids[:2]
    launch.prune(root, keep=2)
    left = sorted(p.name for p in root.iterdir())
    assert left == ["20261203-170000-old", "20261203-170300-done", "20261203-170400-done"]
    assert launch.launched_runs(tmp_path / "nowhere") == []


def test_a_launch_records_what_the_cli_read_of_its_train_command(tmp_path):
    from flowerdash.cli.train import config_of

    argv = ["train", "--backbone", "tiny", "--epochs", "3", "--fine-tune-epochs", "2"]
    argv += [f"--checkpoint-dir={tmp_path}", "--strategy", "multiworker"]
    config = config_of(argv)
    assert (config.backbone, config.total_epochs, config.checkpoint_dir) == (
        "tiny",
        5,
        str(tmp_path),
    )
    assert config_of(["train", "--preset", "quick"]).backbone == "mobilenetv2"
    assert config_of(["train", "--epochs", "many"]) is None  # the workers say why
    assert config_of(["train", "--epochs", "0"]) is None
    started = launch.Launch(2, argv, config)
    started.record = started._make_record()
    started._save_record()
    started._cleanup()
    [run] = launch.launched_runs(tmp_path)
    assert (run.backbone, run.augment, run.total_epochs) == ("tiny", "basic", 5)
    # A record without them (an older version's, or a command the CLI could not read).
    record = json.loads((run.path / launch.RECORD).read_text())
    for key in ("backbone", "augment", "epochs"):
        del record[key]
    (run.path / launch.RECORD).write_text(json.dumps(record))
    [old] = launch.launched_runs(tmp_path)
    assert (old.backbone, old.augment, old.epochs, old.total_epochs) == (None, None, None, 0)
