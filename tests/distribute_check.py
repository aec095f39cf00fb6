"""Helper for test_distribute.py, run in a fresh process: ``python distribute_check.py DATA OUT``.

Logical devices can only be configured before TensorFlow initialises, so this script splits the
CPU into two logical devices first, then trains the same short runs with the training engine
once on one device and once under MirroredStrategy across the two, and prints one JSON line:
per case, the replica counts, the losses, and how far the mirrored weights are from the
single-device ones relative to how far training moved them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""  # both runs on the (split) CPU, in float32

STARTED = time.perf_counter()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402

from flowerdash.models import checkpoints  # noqa: E402
from flowerdash.models.backbones import build_model  # noqa: E402
from flowerdash.training.config import TrainConfig  # noqa: E402
from flowerdash.training.job import train  # noqa: E402

SEED = 3
BASE = dict(
    backbone="tiny",
    weights=None,
    image_size=32,
    augment="none",
    dropout=0.0,
    batch_size=8,
    fine_tune_layers=3,
    seed=SEED,
)
CASES = {
    # Stage 1 on cached features (arrays): 2 epochs of 3 steps, with validation.
    "head_on_features": dict(
        epochs=2, fine_tune_epochs=0, train_limit=24, val_limit=8, evaluate_test=False
    ),
    # Both stages on the image pipeline, then the test evaluation. One batch per epoch: under a
    # strategy Keras reads the shuffled dataset once more to build the model, so the two runs
    # see different shuffles, which cannot matter when an epoch is a single batch.
    "full_model": dict(
        epochs=1,
        fine_tune_epochs=1,
        train_limit=8,
        train_on="train+val",
        cache_features=False,
        evaluate_test=True,
        test_limit=8,
    ),
}


def initial_weights() -> list[np.ndarray]:
    """The weights the engine starts from (it seeds, then builds)."""
    keras.utils.set_random_seed(SEED)
    return build_model("tiny", None, BASE["image_size"], dropout=BASE["dropout"]).get_weights()


def run(case: str, strategy: str, data_dir: str, out: Path) -> dict:
    devices = ["CPU:0", "CPU:1"] if strategy == "mirrored" else None
    config = TrainConfig(
        **BASE,
        **CASES[case],
        strategy=strategy,
        devices=devices,
        data_dir=data_dir,
        checkpoint_dir=str(out / f"{case}-{strategy}"),
    )
    start = time.perf_counter()
    job = train(config)
    if job.status != "succeeded":
        raise SystemExit(f"{case}/{strategy} run {job.status}: {job.error}\n{job.error_details}")
    model = job._model
    saved = checkpoints.load_model(job.checkpoint).get_weights()
    return {
        "strategy": job.strategy,
        "replicas": job.replicas,
        "model_replicas": model.distribute_strategy.num_replicas_in_sync,
        # Each trainable variable really lives on every replica's device.
        "variable_copies": sorted(
            {len(getattr(w.value, "values", [w.value])) for w in model.trainable_weights}
        ),
        "meta": {
            k: checkpoints.read_meta(job.checkpoint).get(k)
            for k in ("device", "strategy", "replicas", "metrics")
        },
        "losses": [h["loss"] for h in job.history],
        "val_losses": [h["val_loss"] for h in job.history],
        "weights": model.get_weights(),
        "saved_matches_trained": all(
            np.array_equal(a, b) for a, b in zip(saved, model.get_weights(), strict=True)
        ),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    data_dir, out = sys.argv[1], Path(sys.argv[2])
    w0 = initial_weights()
    report = {"logical_cpus": len(tf.config.list_logical_devices("CPU")), "cases": {}}
    for case in CASES:
        one, mirrored = (run(case, s, data_dir, out) for s in ("one", "mirrored"))
        moved = sum(float(np.sum((a - b) ** 2)) for a, b in zip(one["weights"], w0, strict=True))
        apart = sum(
            float(np.sum((a - b) ** 2))
            for a, b in zip(one["weights"], mirrored.pop("weights"), strict=True)
        )
        frozen = np.array_equal(one.pop("weights")[0], w0[0])  # conv1 never trains here
        report["cases"][case] = {
            "initial_weights_match": frozen,
            "one": one,
            "mirrored": mirrored,
            "moved": moved**0.5,
            # |w_mirrored - w_one| / |w_one - w_initial|: 0 when the runs agree, ~1 when unrelated.
            "weight_gap": (apart / moved) ** 0.5 if moved else float("inf"),
        }
    report["seconds"] = round(time.perf_counter() - STARTED, 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
