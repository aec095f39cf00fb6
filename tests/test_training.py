"""The training engine: events in order, a loadable checkpoint, cancel, failure, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, corrupt_inside, replace_image, tiny_config
from miniature import SIZES

from flowerdash.errors import ConfigError, TrainingError
from flowerdash.models import checkpoints
from flowerdash.training import run_state
from flowerdash.training.config import TrainConfig
from flowerdash.training.job import JobRegistry, TrainingJob, train
from flowerdash.training.run_state import RUNS_DIR, interrupted_runs
from flowerdash.training.stages import fine_tune_optimizer


def test_short_run_emits_events_in_order_and_writes_a_loadable_checkpoint(data_dir, tmp_path):
    job = train(tiny_config(data_dir, tmp_path, name="run1"))
    assert job.status == "succeeded", job.error
    events = job.channel.snapshot()
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    stages = [e.stage for e in events if e.kind == "stage"]
    assert stages == ["head", "fine_tune", "evaluate"]
    epochs = [e.epoch for e in events if e.kind == "epoch"]
    assert epochs == [1, 2, 3]
    batches = [e for e in events if e.kind == "batch" and e.stage == "head"]
    assert batches and all(e.steps == 3 and 1 <= e.step <= 3 for e in batches)
    assert all(e.images_per_sec and e.images_per_sec > 0 for e in batches)
    assert [e.time for e in events] == sorted(e.time for e in events)
    assert events[-1].status == "succeeded" and events[-1].checkpoint == str(job.checkpoint)

    meta = checkpoints.read_meta(job.checkpoint)
    assert meta["status"] == "complete" and meta["seed"] == 3
    assert [h["epoch"] for h in meta["history"]] == [1, 2, 3]
    assert meta["history"][-1]["stage"] == "fine_tune"
    assert meta["dataset"]["split_sizes"] == SIZES
    assert meta["metrics"]["test"]["n"] == 8 and 0 <= meta["metrics"]["test"]["top1"] <= 1
    assert meta["config"]["augment"] == "basic"
    model = checkpoints.load_model(job.checkpoint)
    assert model.inputs[0].shape[1] == 32
    from flowerdash.inference.evaluation import load_cached_predictions

    cached = load_cached_predictions(job.checkpoint, "test")  # the audit page starts warm
    assert cached is not None and len(cached.labels) == 8
    assert not (tmp_path / RUNS_DIR / job.id).exists()  # resumable state cleaned up


def test_head_stage_without_augmentation_uses_cached_features(data_dir, tmp_path):
    job = train(
        tiny_config(data_dir, tmp_path, augment="none", fine_tune_epochs=0, evaluate_test=False)
    )
    assert job.status == "succeeded", job.error
    assert any(e.stage == "features" for e in job.channel.snapshot())


def test_augmented_head_stage_validates_on_cached_features_with_the_same_metrics(
    data_dir, tmp_path
):
    runs = {
        cached: train(
            tiny_config(
                data_dir,
                tmp_path / str(cached),
                fine_tune_epochs=0,
                evaluate_test=False,
                cache_features=cached,
            )
        )
        for cached in (True, False)
    }
    for job in runs.values():
        assert job.status == "succeeded", job.error
    features = [e for e in runs[True].channel.snapshot() if e.stage == "features"]
    assert features and all("(val)" in e.message for e in features)  # val only: train augments
    assert not any(e.stage == "features" for e in runs[False].channel.snapshot())
    # On the CPU the cached run's frozen backbone (train batches too) runs on LiteRT.
    messages = [e.message or "" for e in runs[True].channel.snapshot()]
    assert any("LiteRT" in m for m in messages)
    for key in ("loss", "val_loss", "val_accuracy"):
        cached, direct = ([h[key] for h in runs[c].history] for c in (True, False))
        assert None not in cached
        assert cached == pytest.approx(direct, rel=1e-4, abs=1e-6), key


def test_every_dataset_keras_iterates_has_the_autotuner_off(data_dir, tmp_path, monkeypatch):
    """Keras makes a new iterator each epoch; tearing down an autotuned one stalled late epochs."""
    import keras
    import tensorflow as tf

    seen = []
    fit = keras.Model.fit

    def spy(self, x=None, *args, **kwargs):
        given = (x, kwargs.get("validation_data"))
        seen.extend(d for d in given if isinstance(d, tf.data.Dataset))
        return fit(self, x, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    job = train(tiny_config(data_dir, tmp_path, head_augment=True, evaluate_test=False))
    assert job.status == "succeeded", job.error
    assert len(seen) >= 3  # head stage train + val, fine-tuning train + val
    assert all(d.options().autotune.enabled is False for d in seen)


def test_same_seed_same_run(data_dir, tmp_path):
    runs = [
        train(
            tiny_config(
                data_dir,
                tmp_path / str(i),
                fine_tune_epochs=0,
                evaluate_test=False,
                augment="none",
                cache_features=False,
            )
        )
        for i in range(2)
    ]
    losses = [[h["loss"] for h in r.history] for r in runs]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)


def test_cancel_stops_within_a_batch_and_keeps_the_last_epoch(data_dir, tmp_path):
    cfg = tiny_config(data_dir, tmp_path, epochs=50, fine_tune_epochs=0, name="c")
    job = TrainingJob(cfg).start()
    cursor, deadline = 0, time.time() + 120
    while time.time() < deadline:
        events, cursor = job.channel.read(cursor, timeout=1)
        if any(e.kind == "epoch" for e in events):
            break
    job.cancel()
    asked = time.time()
    assert job.wait(60)
    assert time.time() - asked < 10
    assert job.status == "cancelled"
    assert job.epoch_counter < 50
    meta = checkpoints.read_meta(job.checkpoint)
    assert meta["status"] == "cancelled" and "partial" in job.checkpoint.name
    assert "cancelled" in checkpoints.CheckpointInfo(job.checkpoint, meta).label.lower()
    assert job.channel.snapshot()[-1].status == "cancelled"


def test_failure_is_recorded_and_the_registry_recovers(data_dir, tmp_path):
    registry = JobRegistry()
    bad = registry.start(tiny_config(tmp_path / "no-dataset", tmp_path))
    assert bad.wait(60) and bad.status == "failed"
    assert "does not exist" in bad.error and "FLOWERDASH_DATA_DIR" in bad.error
    assert bad.channel.snapshot()[-1].status == "failed"
    ok = registry.start(
        tiny_config(data_dir, tmp_path, epochs=1, fine_tune_epochs=0, evaluate_test=False)
    )
    assert ok.wait(120) and ok.status == "succeeded"


def test_unexpected_exception_fails_the_run_not_the_process(data_dir, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("GPU fell off the bus")

    monkeypatch.setattr("flowerdash.models.backbones.build_model", boom)
    job = train(tiny_config(data_dir, tmp_path))
    assert job.status == "failed" and "GPU fell off the bus" in job.error
    assert job.checkpoint is None and not list(tmp_path.glob("*"))


def test_one_run_at_a_time(data_dir, tmp_path):
    registry = JobRegistry()
    first = registry.start(tiny_config(data_dir, tmp_path, epochs=30, fine_tune_epochs=0))
    try:
        with pytest.raises(TrainingError, match=f"already in progress: run {first.id}"):
            registry.start(tiny_config(data_dir, tmp_path))
    finally:
        first.cancel()
        first.wait(60)


def test_interrupted_run_resumes_from_last_completed_epoch(data_dir, tmp_path, monkeypatch):
    def killed(self, model, source):
        raise RuntimeError("process killed")

    monkeypatch.setattr(TrainingJob, "_finish", killed)
    crashed = train(tiny_config(data_dir, tmp_path, epochs=2, fine_tune_epochs=1))
    assert crashed.status == "failed"
    monkeypatch.undo()
    runs = interrupted_runs(tmp_path)
    assert [r.run_id for r in runs] == [crashed.id] and runs[0].epochs_done == 3
    state = json.loads((runs[0].path / "state.json").read_text())
    assert state["config"]["seed"] == 3
    job = TrainingJob(runs[0].config, resume_from=runs[0].path)
    job.run()
    assert job.status == "succeeded", job.error
    assert [h["epoch"] for h in job.history] == [1, 2, 3]
    assert interrupted_runs(tmp_path) == []


def test_bad_config_is_refused_in_plain_words():
    with pytest.raises(ConfigError, match="Epochs must be at least 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError):
        TrainConfig(augment="extreme").augment_config()
    with pytest.raises(ConfigError, match="letters, digits"):
        TrainConfig(name="../outside")  # a name is a folder, never a path


def test_final_run_on_train_plus_val_has_no_val_metrics(data_dir, tmp_path):
    job = train(
        tiny_config(
            data_dir,
            tmp_path,
            train_on="train+val",
            fine_tune_epochs=1,
            augment="none",
            evaluate_test=False,
        )
    )
    assert job.status == "succeeded", job.error
    assert all(h["val_accuracy"] is None for h in job.history)
    assert "val" not in checkpoints.read_meta(job.checkpoint)["metrics"]


def test_swapped_fold_trains_on_val_and_validates_on_train(data_dir, tmp_path):
    cfg = tiny_config(data_dir, tmp_path, train_on="val", augment="none", evaluate_test=False)
    assert cfg.validation_split == "train"
    job = train(cfg)
    assert job.status == "succeeded", job.error
    assert all(h["val_accuracy"] is not None for h in job.history)
    meta = checkpoints.read_meta(job.checkpoint)
    assert meta["dataset"]["trained_on"] == "val"
    assert meta["dataset"]["validated_on"] == "train"
    assert meta["metrics"]["val"]["top1"] == job.history[-1]["val_accuracy"]


def test_validation_split_is_the_other_official_split():
    assert TrainConfig(train_on="train").validation_split == "val"
    assert TrainConfig(train_on="train+val").validation_split is None
    with pytest.raises(ConfigError, match="swapped"):
        TrainConfig(train_on="test")


CLI = [sys.executable, "-m", "flowerdash", "train"]
CLI_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def start_cli_training(data_dir, ckpt, log, epochs, name, *extra) -> subprocess.Popen:
    """A real ``python -m flowerdash train`` of the tiny backbone in a child process."""
    args = ["--backbone", "tiny", "--weights", "none", "--image-size", "32", "--augment", "none",
            "--epochs", str(epochs), "--fine-tune-epochs", "1", "--fine-tune-layers", "2",
            "--batch-size", "8", "--train-limit", "16", "--val-limit", "8", "--test-limit", "8",
            "--seed", "5", "--data-dir", str(data_dir), "--checkpoint-dir", str(ckpt),
            "--name", name, *extra]  # fmt: skip
    with open(log, "w") as out:
        return subprocess.Popen([*CLI, *args], cwd=ROOT, env=CLI_ENV, stdout=out, stderr=out)


def wait_for_epochs(proc, ckpt, log, epochs_done) -> dict:
    """The state of the child's run once it has saved ``epochs_done`` epochs (child alive)."""
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        states = list((ckpt / RUNS_DIR).glob("*/state.json"))
        try:
            state = json.loads(states[0].read_text()) if states else None
            if state and state["epochs_done"] >= epochs_done:
                break
        except (OSError, ValueError):  # replaced while reading
            pass
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before it was killed:\n{log.read_text()}"
    assert time.time() < deadline, f"no epoch completed in 90 s:\n{log.read_text()}"
    return state


def test_sigkilled_training_process_resumes_from_its_last_completed_epoch(data_dir, tmp_path):
    """A real ``python -m flowerdash train`` killed with SIGKILL, then ``--resume RUN_ID``."""
    epochs, ckpt, log = 25, tmp_path / "checkpoints", tmp_path / "killed.log"
    proc = start_cli_training(data_dir, ckpt, log, epochs, "killed")
    try:
        wait_for_epochs(proc, ckpt, log, 2)
        proc.send_signal(signal.SIGKILL)  # mid-epoch: no handler, no cleanup
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # Nothing half-written is offered as a checkpoint; the run is reported as interrupted.
    listing = checkpoints.list_checkpoints(ckpt, include_default=False)
    assert listing.checkpoints == [] and listing.broken == []
    runs = interrupted_runs(ckpt)
    assert len(runs) == 1
    run = runs[0]
    state = json.loads((run.path / "state.json").read_text())
    done = state["epochs_done"]
    assert run.epochs_done == done and 2 <= done < epochs
    assert [h["epoch"] for h in state["history"]] == list(range(1, done + 1))
    assert (run.config.epochs, run.config.seed, run.config.name) == (epochs, 5, "killed")

    resumed = subprocess.run(
        [*CLI, "--resume", run.run_id, "--checkpoint-dir", str(ckpt)],
        cwd=ROOT,
        env=CLI_ENV,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resumed from epoch {done}." in resumed.stderr
    path = Path(resumed.stdout.strip().splitlines()[-1])
    assert path == ckpt / "killed"
    meta = checkpoints.read_meta(path)
    assert meta["status"] == "complete" and meta["run_id"] == run.run_id
    assert meta["config"] == state["config"]  # the same config, not the CLI defaults
    history = meta["history"]
    assert history[:done] == state["history"]  # the killed run's epochs are kept as they were
    assert [h["epoch"] for h in history] == list(range(1, epochs + 2))
    assert [h["stage"] for h in history] == ["head"] * epochs + ["fine_tune"]
    assert meta["metrics"]["test"]["n"] == 8

    model = checkpoints.load_model(path)
    probs = np.asarray(model(np.full((1, 32, 32, 3), 128.0, np.float32)))
    assert probs.shape == (1, 102) and np.isclose(probs.sum(), 1.0, atol=1e-4)
    assert interrupted_runs(ckpt) == []
    assert [
        c.path for c in checkpoints.list_checkpoints(ckpt, include_default=False).checkpoints
    ] == [path]


def test_a_run_still_training_in_another_process_is_not_offered_for_resume(data_dir, tmp_path):
    """While a CLI run is alive, other processes neither list it as interrupted nor resume it."""
    ckpt, log = tmp_path / "checkpoints", tmp_path / "live.log"
    # Augmented (no feature cache), many epochs: it keeps training until it is killed.
    proc = start_cli_training(
        data_dir, ckpt, log, 100_000, "live", "--augment", "basic", "--no-test"
    )
    try:
        state = wait_for_epochs(proc, ckpt, log, 1)
        run_id, run_dir = state["run_id"], ckpt / RUNS_DIR / state["run_id"]
        assert state["pid"] == proc.pid
        if Path("/proc/self/stat").exists():
            assert isinstance(state["pid_started"], int)
        assert interrupted_runs(ckpt) == []
        with pytest.raises(
            TrainingError, match=f"Run {run_id} is still training in process {proc.pid}"
        ):
            TrainingJob(TrainConfig.from_dict(state["config"]), resume_from=run_dir)
        resumed = subprocess.run(
            [*CLI, "--resume", run_id, "--checkpoint-dir", str(ckpt)],
            cwd=ROOT,
            env=CLI_ENV,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert resumed.returncode == 1
        assert f"Run {run_id} is still training in process {proc.pid}" in resumed.stderr
        if Path("/proc/self/stat").exists():
            # The same pid with another start time is another process (a pid reused after a
            # kill): that run is interrupted.
            reused = tmp_path / "reused"
            (reused / RUNS_DIR / "r1").mkdir(parents=True)
            (reused / RUNS_DIR / "r1" / state["weights"]).write_bytes(b"")
            fake = {**state, "run_id": "r1", "pid_started": state["pid_started"] + 1}
            (reused / RUNS_DIR / "r1" / "state.json").write_text(json.dumps(fake))
            assert [r.run_id for r in interrupted_runs(reused)] == ["r1"]
        assert proc.poll() is None, log.read_text()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    runs = interrupted_runs(ckpt)
    assert [r.run_id for r in runs] == [run_id] and runs[0].epochs_done >= 1


def test_a_kill_between_weights_and_state_resumes_from_the_epoch_of_the_weights(
    data_dir, tmp_path, monkeypatch
):
    """Weights and epoch count never disagree: the state names the weights file of its epoch."""
    snapshots, weight_files = {}, {}
    real_completed = TrainingJob.epoch_completed

    def completed(self, stage):
        snapshots[self.epoch_counter] = [w.copy() for w in self._model.get_weights()]
        real_completed(self, stage)
        weight_files[self.epoch_counter] = sorted(p.name for p in self._run_dir.iterdir())

    real_write = run_state.write_state

    def write_state(run_dir, state):
        if state["epochs_done"] == 3:  # epoch 3's weights are on disk, its state is not
            raise RuntimeError("killed between the weights and the state")
        real_write(run_dir, state)

    monkeypatch.setattr(TrainingJob, "epoch_completed", completed)
    monkeypatch.setattr(run_state, "write_state", write_state)
    cfg = tiny_config(
        data_dir, tmp_path, epochs=4, fine_tune_epochs=0, augment="none", evaluate_test=False
    )
    crashed = train(cfg)
    monkeypatch.undo()
    assert crashed.status == "failed" and "killed between" in crashed.error
    # After a normal epoch only that epoch's weights remain.
    assert weight_files[1] == ["epoch0001.weights.h5", "state.json"]
    assert weight_files[2] == ["epoch0002.weights.h5", "state.json"]
    run_dir = tmp_path / RUNS_DIR / crashed.id
    assert sorted(p.name for p in run_dir.glob("*.weights.h5")) == [
        "epoch0002.weights.h5",
        "epoch0003.weights.h5",
    ]
    state = json.loads((run_dir / "state.json").read_text())
    assert (state["epochs_done"], state["weights"]) == (2, "epoch0002.weights.h5")

    # A run folder of an older version (weights in last.weights.h5, not named) resumes too.
    legacy = tmp_path / RUNS_DIR / "legacy"
    legacy.mkdir()
    (legacy / "last.weights.h5").write_bytes((run_dir / "epoch0002.weights.h5").read_bytes())
    old_state = {k: v for k, v in state.items() if k not in ("weights", "pid", "pid_started")}
    (legacy / "state.json").write_text(json.dumps({**old_state, "run_id": "legacy"}))

    runs = {r.run_id: r for r in interrupted_runs(tmp_path)}
    assert sorted(runs) == sorted([crashed.id, "legacy"])
    assert runs[crashed.id].epochs_done == runs["legacy"].epochs_done == 2
    for run in runs.values():
        restored = {}
        real_restore = TrainingJob._restore

        def restore(self, model, restored=restored, real_restore=real_restore):
            start = real_restore(self, model)
            restored[start] = [w.copy() for w in model.get_weights()]
            return start

        monkeypatch.setattr(TrainingJob, "_restore", restore)
        job = TrainingJob(run.config, resume_from=run.path)
        job.run()
        monkeypatch.undo()
        assert job.status == "succeeded", job.error
        assert list(restored) == [2]  # resumed after epoch 2, with epoch 2's weights
        for got, want in zip(restored[2], snapshots[2], strict=True):
            np.testing.assert_array_equal(got, want)
        assert any(e.message == "Resumed from epoch 2." for e in job.channel.snapshot())
        assert [h["epoch"] for h in job.history] == [1, 2, 3, 4]
    assert interrupted_runs(tmp_path) == []


@pytest.mark.parametrize("augment", ["basic", "none"])  # model.fit, or the feature cache
def test_an_image_that_fails_to_decode_in_training_is_named(
    dataset_copy, data_dir, tmp_path, augment
):
    from flowerdash.data import pipelines as datasets

    cfg = tiny_config(
        dataset_copy, tmp_path / "ckpt", augment=augment, fine_tune_epochs=0, evaluate_test=False
    )
    src = datasets.FolderSource(dataset_copy)
    bad = datasets.pipeline_files(src, "train", cfg.train_limit, cfg.seed)[5]  # one the run reads
    replace_image(dataset_copy, bad, corrupt_inside(data_dir, bad))  # header and end marker intact
    job = train(cfg)
    assert job.status == "failed"
    assert bad in job.error and "could not be decoded" in job.error
    assert "train split" in job.error and "InvalidArgumentError" not in job.error
    assert "InvalidArgumentError" in job.error_details  # the raw error is kept for details
    assert job.channel.snapshot()[-1].message == f"Training failed: {job.error}"


def test_weight_averaging_is_validated_and_kept_as_the_final_weights(data_dir, tmp_path):
    import keras

    from flowerdash.data.pipelines import make_pipeline
    from flowerdash.data.sources import get_source

    optimizer = fine_tune_optimizer(TrainConfig(fine_tune_ema=0.9), 1e-3)
    assert optimizer.use_ema and optimizer.ema_momentum == 0.9
    assert not fine_tune_optimizer(TrainConfig(), 1e-3).use_ema
    cfg = tiny_config(
        data_dir, tmp_path, augment="none", fine_tune_epochs=2, fine_tune_ema=0.5,
        fine_tune_learning_rate=1e-2, evaluate_test=False,
    )  # fmt: skip
    job = train(cfg)
    assert job.status == "succeeded", job.error
    model = checkpoints.load_model(job.checkpoint)
    val = make_pipeline(
        get_source(cfg.data_dir),
        cfg.validation_split,
        image_size=cfg.image_size,
        batch_size=cfg.batch_size,
        limit=cfg.val_limit,
        seed=cfg.seed,
    )
    loss = keras.losses.CategoricalCrossentropy()
    y = np.concatenate([labels for _, labels in val])
    p = np.concatenate([model.predict_on_batch(images) for images, _ in val])
    # The last validation scored the averaged weights, which are the ones saved.
    assert float(loss(y, p)) == pytest.approx(job.history[-1]["val_loss"], rel=1e-4)
    with pytest.raises(ConfigError, match="weight-averaging momentum"):
        TrainConfig(fine_tune_ema=1.0)


def test_weight_decay_fine_tunes_with_adamw_and_leaves_biases_alone():
    import keras

    assert isinstance(fine_tune_optimizer(TrainConfig(), 1e-3), keras.optimizers.Adam)
    cfg = TrainConfig(fine_tune_weight_decay=0.5)
    optimizer = fine_tune_optimizer(cfg, 0.1)
    assert isinstance(optimizer, keras.optimizers.AdamW) and optimizer.weight_decay == 0.5
    kernel = keras.Variable(np.ones((2, 2), "float32"), name="kernel")
    bias = keras.Variable(np.ones(2, "float32"), name="bias")
    optimizer.apply([np.zeros((2, 2), "float32"), np.zeros(2, "float32")], [kernel, bias])
    # A zero gradient leaves only the decay: kernel *= 1 - lr * wd; the bias is exempt.
    np.testing.assert_allclose(kernel.numpy(), 0.95, rtol=1e-6)
    np.testing.assert_allclose(bias.numpy(), 1.0)
    with pytest.raises(ConfigError, match="Weight decay cannot be negative"):
        TrainConfig(fine_tune_weight_decay=-0.1)
