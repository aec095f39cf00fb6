"""Two local workers against one device: ``python -m benchmarks.multiworker``.

Trains the same short fine-tuning run (MobileNetV2 at 224 px, every layer trainable, global
batch 32, no validation) twice through the CLI: ``train --strategy one`` and ``launch --workers
2 train``; epoch times come from the checkpoint's history, the first fine-tuning epoch (tracing)
left out. Then measures the communication alone: two processes under MultiWorkerMirroredStrategy
all-reduce tensors of the model's trainable shapes (one step's gradients), as the optimizer
does. Writes ``benchmarks/results/multiworker.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, ROOT

OUT = RESULTS / "multiworker.json"
BATCH, IMAGES, SIZE, FT_EPOCHS = 32, 128, 224, 4
RUN = [
    "train",
    "--backbone",
    "mobilenetv2",
    "--weights",
    "none",  # random weights: the same compute, no download
    "--image-size",
    str(SIZE),
    "--augment",
    "none",
    "--epochs",
    "1",
    "--fine-tune-epochs",
    str(FT_EPOCHS),
    "--fine-tune-layers",
    "1000",
    "--batch-size",
    str(BATCH),
    "--train-on",
    "train+val",
    "--train-limit",
    str(IMAGES),
    "--no-test",
    "--no-feature-cache",
    "--name",
    "bench",
]
REPEATS = 20


def _data_dir() -> Path:
    from flowerdash.settings import load_settings

    data = load_settings().data_dir or ROOT.parent / "shared" / "datasets" / "oxford_flowers102"
    if not Path(data, "setid.mat").is_file():
        raise SystemExit("no offline Oxford Flowers102 folder (set FLOWERDASH_DATA_DIR)")
    return Path(data)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}


def timed_run(command: list[str], data_dir: Path) -> dict:
    """Run ``python -m flowerdash COMMAND``; the fine-tuning epochs' seconds from its history."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "flowerdash", *command]
            + ["--data-dir", str(data_dir), "--checkpoint-dir", out],
            check=True,
            env=_env(),
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        meta = json.loads(Path(out, "bench", "meta.json").read_text())
    epochs = [h["seconds"] for h in meta["history"] if h["stage"] == "fine_tune"][1:]
    median = statistics.median(epochs)
    return {
        "strategy": meta["strategy"],
        "epoch_seconds": epochs,
        "median_epoch_seconds": median,
        "images_per_sec": IMAGES / median,
        "step_ms": 1000 * median / (IMAGES // BATCH),
        "wall_seconds": round(wall, 1),
    }


def allreduce_worker() -> None:
    """One of two processes: all-reduce one step's gradients REPEATS times; print ms (chief)."""
    import tensorflow as tf

    from flowerdash.models.backbones import build_model, set_trainable
    from flowerdash.training.multiworker import make_strategy

    strategy = make_strategy()
    model = build_model("mobilenetv2", None, SIZE)
    set_trainable(model, 1000)
    shapes = [tuple(v.shape) for v in model.trainable_variables]

    @tf.function
    def reduce_all():
        def step():
            # Made on the replica's device, as gradients are.
            grads = [tf.ones(s) for s in shapes]
            return tf.distribute.get_replica_context().all_reduce("SUM", grads)

        return strategy.run(step)

    times = []
    for i in range(REPEATS + 3):
        start = time.perf_counter()
        out = reduce_all()
        float(tf.reduce_sum(strategy.experimental_local_results(out[-1])[0]))
        if i >= 3:  # tracing and the first collectives left out
            times.append(1000 * (time.perf_counter() - start))
    if strategy.cluster_resolver.task_id == 0:
        mb = sum(4 * int(tf.reduce_prod(s)) for s in shapes) / 1e6
        print(json.dumps({"tensors": len(shapes), "megabytes": round(mb, 2), "ms": times}))


def allreduce() -> dict:
    """Two local processes all-reducing the model's gradients; median milliseconds."""
    from flowerdash.training.launch import free_ports, tf_config

    ports = free_ports(2)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.multiworker", "--allreduce-worker"],
            cwd=ROOT,
            env={**_env(), "TF_CONFIG": tf_config(ports, i)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("the all-reduce probe failed")
    data = json.loads(outs[0].strip().splitlines()[-1])
    return {
        "tensors": data["tensors"],
        "megabytes": data["megabytes"],
        "median_ms": statistics.median(data["ms"]),
        "min_ms": min(data["ms"]),
        "max_ms": max(data["ms"]),
        "repeats": len(data["ms"]),
    }


def main() -> None:
    """Run both configurations and the probe; write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allreduce-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.allreduce_worker:
        allreduce_worker()
        return
    from benchmarks.machine import describe

    data_dir = _data_dir()
    result = {
        "machine": describe(),
        "config": {"backbone": "mobilenetv2", "image_size": SIZE, "global_batch": BATCH}
        | {"images_per_epoch": IMAGES, "trainable": "every layer", "epochs_timed": FT_EPOCHS - 1},
        "one_device": timed_run([*RUN, "--strategy", "one"], data_dir),
        "two_workers": timed_run(["launch", "--workers", "2", *RUN], data_dir),
        "allreduce": allreduce(),
    }
    one, two = result["one_device"], result["two_workers"]
    result["two_workers_slowdown"] = two["median_epoch_seconds"] / one["median_epoch_seconds"]
    result["allreduce_share_of_step"] = result["allreduce"]["median_ms"] / two["step_ms"]
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
