"""Val accuracy of training runs on both folds, for choosing between recipes (docs/RESULTS.md).

``python -m benchmarks.fold_summary RECIPE=RUN[,RUN] ...``: for each recipe, its runs (one per
fold: trained on train and validated on val, or the splits swapped) with the final val accuracy
and the mean over the last six fine-tuning epochs, then the mean of both over the folds.
Example: ``python -m benchmarks.fold_summary base=runs/fullft-lr3-long,runs/swap-lr3-long``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flowerdash.models.checkpoints import read_meta

LAST = 6  # fine-tuning epochs averaged: the val curves are flat over the last third


def fold_scores(run: str | Path) -> dict[str, float | str]:
    """Trained-on split, final val accuracy and its mean over the last fine-tuning epochs."""
    meta = read_meta(Path(run))
    fine = [h["val_accuracy"] for h in meta["history"] if h.get("stage") == "fine_tune"]
    if not fine or fine[-1] is None:
        raise SystemExit(f"{run}: no validated fine-tuning epochs")
    return {
        "trained_on": meta["config"].get("train_on", "train"),
        "final": float(fine[-1]),
        "last": sum(fine[-LAST:]) / len(fine[-LAST:]),
    }


def main(argv: list[str]) -> None:
    """Print one table row per run and one per recipe (mean over its folds)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fold_summary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("recipes", nargs="+", metavar="RECIPE=RUN[,RUN]")
    argv = parser.parse_args(argv).recipes
    print(f"| recipe | run | trained on | final val | val, last {LAST} epochs |")
    print("|---|---|---|---|---|")
    for spec in argv:
        recipe, _, runs = spec.partition("=")
        scores = [(run, fold_scores(run)) for run in runs.split(",")]
        for run, s in scores:
            print(
                f"| {recipe} | `{Path(run).name}` | {s['trained_on']} | {s['final']:.1%} "
                f"| {s['last']:.2%} |"
            )
        if len(scores) > 1:
            final = sum(s["final"] for _, s in scores) / len(scores)
            last = sum(s["last"] for _, s in scores) / len(scores)
            print(f"| **{recipe}** | mean of {len(scores)} folds | | {final:.2%} | {last:.2%} |")


if __name__ == "__main__":
    main(sys.argv[1:])
