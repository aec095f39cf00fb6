"""The Train page's quick preset, timed from the click: ``python -m benchmarks.presets``.

Starts ``preset_config("quick")`` as the Train page does (a background ``TrainingJob`` in a
process that has TensorFlow imported already) on the configured dataset and offline weights, and
times it from the start to the saved checkpoint, the test measurement included. Records the
test top-1/top-5 and how many photos they were measured on, the validation accuracy after each
epoch (what the recipe was chosen on) and where the time went. ``--runs N`` repeats it.
Writes ``benchmarks/results/presets.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS

OUT = RESULTS / "presets.json"


def quick_run(checkpoint_dir: str, name: str) -> dict[str, Any]:
    """One quick-preset run, timed from the start to the saved checkpoint."""
    from flowerdash.models.checkpoints import read_meta
    from flowerdash.training.job import TrainingJob
    from flowerdash.training.presets import preset_config

    config = preset_config("quick", checkpoint_dir=checkpoint_dir, name=name)
    start = time.perf_counter()
    job = TrainingJob(config).start()
    job.wait()
    seconds = time.perf_counter() - start
    if job.status != "succeeded":
        raise SystemExit(f"the quick preset did not finish: {job.describe()}")
    meta = read_meta(job.checkpoint)
    history = meta["history"]
    return {
        "seconds_from_click": round(seconds, 2),
        "training_seconds": round(sum(e["seconds"] or 0.0 for e in history), 2),
        "test": meta["metrics"]["test"],
        "val_accuracy_by_epoch": [e["val_accuracy"] for e in history],
        "val_photos": config.val_limit,
        "train_photos": meta["dataset"]["split_sizes"]["train"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.presets", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    import tensorflow  # noqa: F401 - the dashboard has it imported before anyone clicks

    from benchmarks.machine import describe
    from flowerdash.training.presets import preset_fields

    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-presets-") as folder:
        for i in range(args.runs):
            runs.append(quick_run(folder, f"quick-{i}"))
            print(json.dumps(runs[-1]), flush=True)
    seconds = [r["seconds_from_click"] for r in runs]
    top1 = [r["test"]["top1"] for r in runs]
    result = {
        "machine": describe(),
        "preset": "quick",
        "fields": preset_fields("quick"),
        "runs": runs,
        "seconds_from_click_median": statistics.median(seconds),
        "seconds_from_click_max": max(seconds),
        "test_top1_median": statistics.median(top1),
        "test_top1_min": min(top1),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
