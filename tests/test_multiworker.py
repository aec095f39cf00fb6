"""Multi-worker training: two worker processes on 127.0.0.1, a killed worker, a bad TF_CONFIG.

Every run trains the tiny backbone on one global batch per epoch (16 images; 8 per worker).
A distributed dataset iterates its seeded shuffle in another order than the same dataset read
directly, so with several steps per epoch a two-worker run and a one-device run would see other
batches (measured: 3e-2 apart on two steps per epoch); with one batch an epoch, both see the
same images, and a restarted run sees the same ones as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from flowerdash.cli.main import main
from flowerdash.training.launch import free_ports, launched_runs, tf_config

# |w_two_workers - w_one| / |w_one - w_initial|. Measured 3e-7 (launched) and 2.6e-7 (killed and
# restarted): the runs differ only in the order of float additions (gradients summed over two
# replicas). The same two runs on two batches an epoch, which then differ in what each step
# learns from (see above), are 3e-2 apart; 1e-4 is far above float noise and far below that.
WEIGHT_GAP = 1e-4
RUN = [
    "train",
    "--backbone",
    "tiny",
    "--weights",
    "none",
    "--image-size",
    "32",
    "--augment",
    "none",
    "--dropout",
    "0",
    "--epochs",
    "4",
    "--fine-tune-epochs",
    "2",
    "--fine-tune-layers",
    "3",
    "--batch-size",
    "16",
    "--train-limit",
    "16",
    "--val-limit",
    "8",
    "--test-limit",
    "8",
    "--seed",
    "5",
    "--name",
    "run",
]
STRATEGY = "multiworker (2 workers, 2 replicas)"
STRATEGY_PARTS = ("multiworker", 2, 2)  # strategy, workers, replicas


def _env(tmp: Path) -> dict[str, str]:
    """A worker's environment: this checkout, no GPU, temporary files where the test sees them."""
    tmp.mkdir(exist_ok=True)
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TMPDIR": str(tmp),
    }


def _args(data_dir: Path, checkpoints: Path) -> list[str]:
    return [*RUN, "--data-dir", str(data_dir), "--checkpoint-dir", str(checkpoints)]


def _weights(checkpoint: Path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(checkpoint / "model.keras", compile=False).get_weights()


def _gap(weights: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """How far ``weights`` are from ``reference``, relative to how far training moved those."""
    import keras

    from flowerdash.models.backbones import build_model

    keras.utils.set_random_seed(5)  # the engine seeds, then builds: the same initial weights
    initial = build_model("tiny", None, 32, dropout=0.0).get_weights()
    moved = sum(float(np.sum((r - i) ** 2)) for r, i in zip(reference, initial, strict=True))
    apart = sum(float(np.sum((w - r) ** 2)) for w, r in zip(weights, reference, strict=True))
    assert moved > 1e-4, "training did not move the weights"
    return (apart / moved) ** 0.5


@pytest.fixture(scope="module")
def one_device(data_dir, tmp_path_factory) -> list[np.ndarray]:
    """The weights of the same run on one device (the image pipeline, as multi-worker runs)."""
    out = tmp_path_factory.mktemp("one-device")
    result = subprocess.run(
        [sys.executable, "-m", "flowerdash", *_args(data_dir, out)]
        + ["--strategy", "one", "--no-feature-cache"],
        cwd=ROOT,
        env=_env(out / "tmp"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return _weights(out / "run")


def _only_the_checkpoint(checkpoints: Path, tmp: Path, killed: int = 0, launched=False) -> None:
    """The chief's checkpoint is all that is left: no backups, no other worker's files.

    A worker killed with SIGKILL cannot remove its temporary backup folder (the chief's backup
    is the one a restart uses), nor TensorFlow its own temporary files. ``launch`` also leaves
    its record for the Train page (``.launches``).
    """
    expected = [".launches", ".runs", "run"] if launched else [".runs", "run"]
    assert sorted(p.name for p in checkpoints.iterdir()) == expected
    assert list((checkpoints / ".runs").iterdir()) == []  # the chief removed its backups
    left = sorted(p.name for p in tmp.iterdir() if p.name.startswith("flowerdash-"))
    assert len(left) == killed and all(n.startswith("flowerdash-backup-") for n in left), left
    if not killed:
        assert list(tmp.iterdir()) == []  # worker 1's checkpoint and backups were temporary


def test_two_launched_workers_match_one_device(data_dir, tmp_path, one_device):
    checkpoints, tmp = tmp_path / "checkpoints", tmp_path / "tmp"
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "flowerdash", "launch", "--workers", "2"]
        + _args(data_dir, checkpoints),
        cwd=ROOT,
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=240,
    )
    print(f"launch: {time.perf_counter() - start:.1f}s\n{result.stderr[-2000:]}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == str(checkpoints / "run")
    err = result.stderr.splitlines()
    # The chief's events, streamed by the launcher: the run names its strategy and workers.
    assert err[0] == f"Training tiny on CPU ({os.cpu_count()} cores), {STRATEGY}."
    assert "[fine_tune] epoch 6/6" in result.stderr
    assert err[-1] == "Saved checkpoint run."
    meta = json.loads((checkpoints / "run" / "meta.json").read_text())
    assert (meta["strategy"], meta["workers"], meta["replicas"]) == (STRATEGY, 2, 2)
    assert meta["metrics"]["test"]["n"] == 8  # the chief evaluated
    # What the Train page shows of it: strategy, workers, the chief's events, the checkpoint.
    [run] = launched_runs(checkpoints)
    assert (run.status, run.strategy, run.workers, run.replicas) == ("succeeded", *STRATEGY_PARTS)
    assert run.checkpoint == checkpoints / "run" and run.finished_at > run.started_at
    assert run.epoch_counter == run.total_epochs == 6 and len(run.history) == 6
    assert run.events[-1].kind == "finished" and run.events[-1].checkpoint == str(run.checkpoint)
    _only_the_checkpoint(checkpoints, tmp, launched=True)
    gap = _gap(_weights(checkpoints / "run"), one_device)
    print(f"two workers vs one device: {gap:.1e}")
    assert gap < WEIGHT_GAP


def _start(index: int, ports: list[int], args: list[str], events: Path, tmp: Path):
    env = {**_env(tmp), "TF_CONFIG": tf_config(ports, index)}
    return subprocess.Popen(
        [sys.executable, "-m", "flowerdash", *args, "--strategy", "multiworker"]
        + ["--events", str(events)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def test_a_killed_worker_restarts_from_the_last_epoch(data_dir, tmp_path, one_device):
    checkpoints, tmp = tmp_path / "checkpoints", tmp_path / "tmp"
    args, ports = _args(data_dir, checkpoints), free_ports(2)
    chief_events = tmp_path / "chief-1.jsonl"
    chief = _start(0, ports, args, chief_events, tmp)
    worker = _start(1, ports, args, tmp_path / "worker-1.jsonl", tmp)
    deadline = time.monotonic() + 120
    while not any(e["kind"] == "epoch" for e in _events(chief_events)):
        assert chief.poll() is None and worker.poll() is None, "a worker ended early"
        assert time.monotonic() < deadline, "no epoch in time"
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    # The chief finds its peer gone (TensorFlow's heartbeats) and stops with one line.
    _out, err = chief.communicate(timeout=120)
    assert chief.returncode == 1
    assert err.strip().splitlines()[-1] == (
        "error: Lost contact with worker 1; start every worker again with the same command: "
        "the run resumes from the last completed epoch."
    )
    done = max(e["epoch"] for e in _events(chief_events) if e["kind"] == "epoch")
    assert 1 <= done < 6
    backups = checkpoints / ".runs"
    assert [p.name for p in backups.iterdir()][0].startswith("mw-")  # the chief's backup
    assert not (checkpoints / "run").exists()

    # The same commands again (the same cluster: the run id comes from the config and cluster).
    restarted_events = tmp_path / "chief-2.jsonl"
    chief = _start(0, ports, args, restarted_events, tmp)
    worker = _start(1, ports, args, tmp_path / "worker-2.jsonl", tmp)
    out, err = chief.communicate(timeout=180)
    worker.communicate(timeout=60)
    assert chief.returncode == 0 and worker.returncode == 0, err[-3000:]
    messages = [e.get("message") for e in _events(restarted_events)]
    assert f"Resumed from epoch {done}." in messages
    epochs = [e["epoch"] for e in _events(restarted_events) if e["kind"] == "epoch"]
    assert epochs == list(range(done + 1, 7))  # nothing redone, nothing skipped
    _only_the_checkpoint(checkpoints, tmp, killed=1)
    gap = _gap(_weights(checkpoints / "run"), one_device)
    print(f"killed after epoch {done}, restarted: {gap:.1e} from one device")
    assert gap < WEIGHT_GAP


@pytest.fixture
def busy_port():
    """A port some other program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("malformed", "error: TF_CONFIG is not valid JSON: Expecting ',' delimiter"),
        ("no task", 'error: TF_CONFIG needs "task": {{"type": "worker", "index": i}}.'),
        ("port in use", "error: Port {port} of worker 0 (127.0.0.1:{port}) is in use"),
        ("unset", "error: Strategy 'multiworker' needs the TF_CONFIG environment variable"),
    ],
)
def test_a_bad_tf_config_is_one_line_and_writes_nothing(
    case, message, data_dir, tmp_path, busy_port, monkeypatch, capsys
):
    workers = [f"127.0.0.1:{busy_port}", f"127.0.0.1:{free_ports(1)[0]}"]
    value = {
        "malformed": '{"cluster": {"worker": ["127.0.0.1:1"] "task": {}}',
        "no task": json.dumps({"cluster": {"worker": workers}}),
        "port in use": json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": 0}}
        ),
        "unset": None,
    }[case]
    if value is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", value)
    checkpoints = tmp_path / "checkpoints"
    code = main([*_args(data_dir, checkpoints), "--strategy", "multiworker"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith(message.format(port=busy_port)), err
    assert not checkpoints.exists()


def test_launch_stops_and_names_the_failing_worker(tmp_path):
    tmp = tmp_path / "tmp"
    missing = tmp_path / "no-such-dataset"
    result = subprocess.run(
        [sys.executable, "-m", "flowerdash", "launch", "--workers", "2"]
        + _args(missing, tmp_path / "checkpoints"),
        cwd=ROOT,
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: worker ") and " failed: " in last and str(missing) in last
    # No checkpoint; the launch's record, for the Train page, says why.
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == [".launches"]
    [run] = launched_runs(tmp_path / "checkpoints")
    assert (run.status, run.error, run.checkpoint) == ("failed", last.removeprefix("error: "), None)
    assert list(tmp.iterdir()) == []  # the launcher's own folder is gone


@pytest.mark.parametrize("preset", [None, "mixed_bfloat16"])
def test_mixed_precision_is_set_for_a_run_and_restored(preset, data_dir, tmp_path, monkeypatch):
    import keras
    from conftest import tiny_config

    from flowerdash.training import distribute
    from flowerdash.training.job import train

    # As on a GPU: the run trains in mixed_float16 (which also runs, slowly, on a CPU).
    monkeypatch.setattr(distribute, "describe_device", lambda: "GPU (test)")
    monkeypatch.setattr(distribute, "runs_on_gpu", lambda strategy: True)
    before = keras.mixed_precision.global_policy().name
    if preset:
        keras.mixed_precision.set_global_policy(preset)
    try:
        expected = keras.mixed_precision.global_policy().name
        job = train(
            tiny_config(
                data_dir,
                tmp_path,
                epochs=1,
                fine_tune_epochs=0,
                augment="none",
                cache_features=False,
                evaluate_test=False,
            )
        )
        assert job.status == "succeeded", job.error
        policies = {layer.dtype_policy.name for layer in job._model.layers}
        assert "mixed_float16" in policies  # the backbone's layers trained in float16
        assert keras.mixed_precision.global_policy().name == expected
    finally:
        keras.mixed_precision.set_global_policy(before)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', '"cluster"'),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', "index 1"),
        (
            '{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}',
            "twice",
        ),
        ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}', '"cluster"'),
        ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {}}', "not ps"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', '"task"'),
        ("[1, 2]", '"cluster"'),
    ],
)
def test_tf_config_checks(value, message):
    from flowerdash.errors import ConfigError
    from flowerdash.training.multiworker import cluster_from_env

    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        cluster_from_env({"TF_CONFIG": value})
    good = cluster_from_env({"TF_CONFIG": tf_config([5001, 5002], 1)})
    assert (good.workers, good.index, good.is_chief) == (
        ("127.0.0.1:5001", "127.0.0.1:5002"),
        1,
        False,
    )


@pytest.mark.parametrize(
    ("args", "result"),
    [
        (["train", "--epochs", "2"], ["train", "--epochs", "2", "--strategy", "multiworker"]),
        (["train", "--strategy=multiworker"], ["train", "--strategy=multiworker"]),
        (["train", "--strategy", "one"], "not one"),
        (["evaluate"], "launch runs 'train'"),
        (["train", "--resume", "abc"], "sets --resume"),
    ],
)
def test_launch_runs_train_under_multiworker(args, result):
    from flowerdash.errors import ConfigError
    from flowerdash.training.launch import train_command

    if isinstance(result, list):
        assert train_command(args) == result
    else:
        with pytest.raises(ConfigError, match=result):
            train_command(args)
