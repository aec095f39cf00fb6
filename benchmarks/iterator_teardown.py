"""``python -m benchmarks.iterator_teardown``: fine-tuning epochs with tf.data's autotuner on/off.

Keras makes a new iterator of the training dataset every epoch and destroys the old one. The
fine-tuning run of the shipped model lost time in many epochs with idle cores; py-spy caught
the training thread destroying the previous epoch's iterator
(``~RootDataset::Iterator`` → ``~LogicalThreadWrapper``), i.e. waiting for tf.data's autotuning
thread. The engine now turns the autotuner off on the pipelines Keras iterates
(``flowerdash.data.pipelines.without_autotune``).

This script runs the training engine itself (MobileNetV2 with the offline ImageNet weights,
train + val, ``--limit`` images, one head epoch, ``--epochs`` fine-tuning epochs of every layer,
no test evaluation) twice in this process: first the straightforward way, with
``without_autotune`` replaced by the identity (tf.data's default autotuning), then as shipped,
and records each epoch's wall time. A plain ``model.fit`` outside the engine did not show the
stall, so the engine is what is measured. Writes ``benchmarks/results/iterator-teardown.json``
and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "results" / "iterator-teardown.json"


def _train(limit: int, epochs: int, folder: str) -> dict[str, Any]:
    """One engine run: fine-tuning epoch seconds and the run's total."""
    from flowerdash.training.config import TrainConfig
    from flowerdash.training.job import train

    config = TrainConfig(
        backbone="mobilenetv2",
        augment="basic",
        head_augment=False,
        epochs=1,
        fine_tune_epochs=epochs,
        fine_tune_layers=1000,
        fine_tune_learning_rate=3e-4,
        train_on="train+val",
        train_limit=limit,
        evaluate_test=False,
        checkpoint_dir=folder,
    )
    start = time.perf_counter()
    job = train(config)
    total = time.perf_counter() - start
    if job.status != "succeeded":
        raise SystemExit(f"training failed: {job.error}")
    seconds = [h["seconds"] for h in job.history if h["stage"] == "fine_tune"]
    return {"fine_tune_epoch_seconds": seconds, "total_seconds": total}


def run(limit: int, epochs: int) -> dict[str, Any]:
    """Both runs, the straightforward one first."""
    import tensorflow as tf

    from flowerdash.data import pipelines as datasets

    out: dict[str, Any] = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "tensorflow": tf.__version__,
        "limit": limit,
        "epochs": epochs,
        "results": {},
    }
    shipped = datasets.without_autotune
    runs = (("autotune on (tf.data default)", lambda ds: ds), ("autotune off", shipped))
    with tempfile.TemporaryDirectory() as folder:
        for name, wrap in runs:
            datasets.without_autotune = wrap
            try:
                res = _train(limit, epochs, folder)
            finally:
                datasets.without_autotune = shipped
            out["results"][name] = res
            print(name, [round(t, 1) for t in res["fine_tune_epoch_seconds"]], flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    """Run, write the JSON, print a markdown table."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=256, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=8, help="fine-tuning epochs")
    args = parser.parse_args(argv)
    import flowerdash  # noqa: F401 - sets TensorFlow's environment before it loads

    out = run(args.limit, args.epochs)
    out["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print("| tf.data autotuner | fine-tuning epochs (s) | whole run (s) |")
    print("|---|---|---|")
    for name, res in out["results"].items():
        epochs = ", ".join(f"{t:.1f}" for t in res["fine_tune_epoch_seconds"])
        print(f"| {name} | {epochs} | {res['total_seconds']:.1f} |")


if __name__ == "__main__":
    main()
