"""A trained run's record, small enough to commit: ``python -m benchmarks.run_record CHECKPOINT
[NAME]`` writes ``benchmarks/results/runs/NAME.json`` (NAME: the run's name).

The run's recipe, its validation accuracy after each epoch (the last one, and the mean of the
last six fine-tuning epochs that RESULTS compares recipes by), its training accuracy in the last
epoch, its test scores and how long it took, from the checkpoint's ``meta.json``.
``accuracy_runs.sh`` writes one after every run, so the numbers of docs/RESULTS.md outlive the
checkpoints, which are not committed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS

OUT = RESULTS / "runs"
LAST = 6  # fine-tuning epochs averaged when recipes are compared on val


def record(meta: dict[str, Any], name: str) -> dict[str, Any]:
    """The committed record of a run, from its checkpoint metadata."""
    history = meta.get("history") or []
    val = [h.get("val_accuracy") for h in history]
    tuned = [
        h["val_accuracy"]
        for h in history
        if h.get("stage") == "fine_tune" and h.get("val_accuracy") is not None
    ]
    metrics = meta.get("metrics") or {}
    val_top1 = (metrics.get("val") or {}).get(
        "top1", next((v for v in reversed(val) if v is not None), None)
    )
    out = {
        "name": name,
        "trained_as": meta.get("trained_as", meta.get("name")),
        "created": meta.get("created"),
        "seconds": meta.get("seconds"),
        "device": meta.get("device"),
        "config": meta.get("config"),
        "dataset": (meta.get("dataset") or {}).get("split_sizes"),
        "val": {
            "top1": val_top1,
            f"mean_last_{LAST}_fine_tune": sum(tuned[-LAST:]) / LAST
            if len(tuned) >= LAST
            else None,
            # none when the run validated on nothing (a final refit on train + val)
            "per_epoch": [round(v, 4) for v in val] if all(v is not None for v in val) else None,
        },
        "test": metrics.get("test"),
        "calibration": meta.get("calibration"),
    }
    if history and history[-1].get("accuracy") is not None:
        # On the augmented training photos: how far the run fits what it trains on.
        out["train"] = {"top1_last_epoch": round(history[-1]["accuracy"], 4)}
    if meta.get("members"):  # an ensemble or a weight average of trained runs
        out["averages"] = meta.get("averages", "scores")
        out["members"] = [m.get("name") for m in meta["members"]]
    if meta.get("backbone_size"):  # photos enlarged inside the model before the backbone
        out["backbone_size"] = meta["backbone_size"]
    if meta.get("views"):  # answers averaged over views of each photo (flowerdash.models.views)
        out["views"] = meta["views"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_record", description=__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("name", nargs="?", default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    meta = json.loads((args.checkpoint / "meta.json").read_text(encoding="utf-8"))
    name = args.name or meta.get("trained_as") or meta.get("name") or args.checkpoint.name
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{name}.json"
    path.write_text(json.dumps(record(meta, name), indent=1) + "\n", encoding="utf-8")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
