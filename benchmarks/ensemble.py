"""Accuracy of an ensemble of trained runs: their softmax outputs averaged (docs/RESULTS.md).

``python -m benchmarks.ensemble [--split S] RUN RUN ...``: each run's top-1 and top-5 on the
split, then those of the ensembles of its first 2, 3, ... runs in the order given (probabilities
averaged, and top-1 with logits averaged, as the product's ensembles do). Each run's
probabilities are kept in its ``eval/`` folder, keyed by a hash of the model file.
Example: ``python -m benchmarks.ensemble --split val runs/fullft-lr3-long runs/fullft-lr3-long-ema``
(choose on val, or on train for runs trained on val; report on test).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from flowerdash.checkpoints import MODEL_FILE, load_model
from flowerdash.data import get_source, scan_pipeline
from flowerdash.evaluation import EVAL_DIR, file_hash
from flowerdash.fast_inference import batch_predictor
from flowerdash.models import input_size


def ensemble_scores(
    probs: list[np.ndarray], labels: np.ndarray, average: str = "probabilities"
) -> dict[str, float]:
    """Top-1 and top-5 accuracy of several [N, C] probability arrays averaged.

    ``average="logits"`` averages log-probabilities, which ranks classes exactly as the mean of
    the logits does (what ``python -m flowerdash ensemble`` builds): per image and model, a
    log-probability is the logit minus one constant.
    """
    stacked = np.stack(probs)
    if average == "logits":
        stacked = np.log(np.maximum(stacked, np.finfo(np.float32).tiny))
    top5 = np.argsort(-np.mean(stacked, axis=0), axis=1)[:, :5]
    return {
        "top1": float(np.mean(top5[:, 0] == labels)),
        "top5": float(np.mean((top5 == labels[:, None]).any(axis=1))),
    }


def split_probabilities(
    run: str | Path, split: str, limit: int | None = None, data_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The run's softmax outputs [N, C] on a split and the labels [N], cached in its folder."""
    run = Path(run)
    part = split if limit is None else f"{split}{limit}"
    cache = run / EVAL_DIR / f"probs-{part}-{file_hash(run / MODEL_FILE)[:16]}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return z["probs"], z["labels"]
    model = load_model(run)
    predict = batch_predictor(model)
    ds = scan_pipeline(
        get_source(data_dir), split, image_size=input_size(model), batch_size=64, limit=limit
    )
    probs, labels = [], []
    for images, batch_labels in ds:
        probs.append(predict(images.numpy()).astype(np.float32))
        labels.append(batch_labels.numpy())
    out = np.concatenate(probs), np.concatenate(labels).astype(np.int64)
    cache.parent.mkdir(exist_ok=True)
    np.savez(cache, probs=out[0], labels=out[1])
    return out


def main(argv: list[str] | None = None) -> None:
    """Print one table row per run, then one per ensemble of the first k runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args(argv)
    probs, labels = [], None
    print(f"| {args.split} | top-1 | top-5 | top-1, logits averaged |")
    print("|---|---|---|---|")
    for run in args.runs:
        p, y = split_probabilities(run, args.split)
        if labels is not None and not np.array_equal(y, labels):
            raise SystemExit(f"{run}: its {args.split} labels differ from the first run's")
        labels = y
        probs.append(p)
        s = ensemble_scores([p], y)
        print(f"| `{Path(run).name}` | {s['top1']:.1%} | {s['top5']:.1%} | |")
    for k in range(2, len(probs) + 1):
        s = ensemble_scores(probs[:k], labels)
        by_logits = ensemble_scores(probs[:k], labels, average="logits")["top1"]
        print(
            f"| **ensemble of the first {k}** | {s['top1']:.1%} | {s['top5']:.1%} "
            f"| {by_logits:.1%} |"
        )


if __name__ == "__main__":
    main()
