"""Choose, on validation photos, below which confidence Try it says the model is not sure:
``python -m benchmarks.unsure --fold FOLD``.

Below the threshold, Try it shows the top three guesses with a training photo each instead of one
answer. ``FOLD`` is the shipped recipe trained on the training photos only (as for
``benchmarks.calibrate``), calibrated with the shipped temperature, so its validation answers are
answers to photos it never saw. The rule, fixed before the table was computed: **the smallest
threshold on a 0.05 grid at which the answers at or above it are right at least 95% of the time
on validation.** The shipped model's test answers are only reported (from its saved test
predictions). Writes ``benchmarks/results/unsure.json``; ``reading.UNSURE_BELOW`` must equal
the choice (a test checks it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, ROOT

OUT = RESULTS / "unsure.json"
CALIBRATION = RESULTS / "calibration.json"
GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))
SURE_ACCURACY = 0.95  # the rule's bar for the answers shown alone


def table(top_probs: np.ndarray, top_idx: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    """Per threshold: how many answers fall below it, how often the answers above it are right,
    and how often the right flower is among the top 3 shown below it."""
    top1 = top_probs[:, 0]
    right = top_idx[:, 0] == labels
    in_top3 = (top_idx[:, :3] == labels[:, None]).any(axis=1)
    rows = []
    for t in GRID:
        unsure = top1 < t
        rows.append(
            {
                "threshold": t,
                "unsure_share": float(unsure.mean()),
                "sure_accuracy": float(right[~unsure].mean()) if (~unsure).any() else None,
                "unsure_top1": float(right[unsure].mean()) if unsure.any() else None,
                "unsure_top3": float(in_top3[unsure].mean()) if unsure.any() else None,
            }
        )
    return rows


def choose(rows: list[dict[str, Any]]) -> float:
    """The rule: the smallest threshold whose sure answers reach ``SURE_ACCURACY``."""
    for row in rows:
        if row["sure_accuracy"] is not None and row["sure_accuracy"] >= SURE_ACCURACY:
            return row["threshold"]
    return rows[-1]["threshold"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.unsure", description=__doc__)
    parser.add_argument("--fold", type=Path, required=True)
    parser.add_argument("--target", type=Path, default=ROOT / "checkpoints" / "default")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from benchmarks.calibrate import split_probabilities
    from benchmarks.machine import describe
    from flowerdash.data.sources import get_source
    from flowerdash.inference.calibration import apply_temperature
    from flowerdash.inference.evaluation import load_cached_predictions
    from flowerdash.models.checkpoints import load_model

    temperature = json.loads(CALIBRATION.read_text())["temperature"]
    probs, labels = split_probabilities(load_model(args.fold), get_source(), "val")
    probs = apply_temperature(probs, temperature)
    order = np.argsort(-probs, axis=1)[:, :5]
    val_rows = table(np.take_along_axis(probs, order, axis=1), order, labels)
    chosen = choose(val_rows)

    test = load_cached_predictions(args.target, "test")
    if test is None:
        raise SystemExit(f"{args.target} has no saved test predictions: run evaluate first")
    test_rows = table(test.top_k_probs, test.top_k, test.labels)
    result = {
        "machine": describe(),
        "rule": f"smallest threshold on {GRID[0]}..{GRID[-1]} (step 0.05) whose answers at or "
        f"above it are right at least {SURE_ACCURACY:.0%} of the time on validation",
        "fold": str(args.fold.name),
        "temperature": temperature,
        "val_n": int(len(labels)),
        "val": val_rows,
        "unsure_below": chosen,
        "test_n": int(len(test.labels)),
        "test_model": str(
            args.target.relative_to(ROOT) if args.target.is_absolute() else args.target
        ),
        "test": test_rows,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    at = next(r for r in test_rows if r["threshold"] == chosen)
    print(
        f"unsure below {chosen:.0%} (val); on test: {at['unsure_share']:.1%} unsure, sure answers "
        f"{at['sure_accuracy']:.1%} right, right flower in the top 3 of unsure ones "
        f"{at['unsure_top3']:.1%}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
