"""Calibrate a checkpoint with a temperature fitted on photos it did not train on:
``python -m benchmarks.calibrate --fold FOLD [--target checkpoints/default]``.

The shipped model trained on the training and the validation photos, so its own validation
answers are no test of its confidence. ``FOLD`` is the same recipe trained on the training
photos only: its temperature is fitted on all validation photos, and put inside ``--target``
(``calibration.with_temperature``), on the assumption, stated in RESULTS, that the two runs of
one recipe are about equally modest. Records the validation NLL and ECE of the fold and the test
ECE of the target before and after in ``benchmarks/results/calibration.json``; rewrites the
target's model file, its metadata (``calibration``) and its saved test predictions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, ROOT

OUT = RESULTS / "calibration.json"


def split_probabilities(model: Any, source: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Every photo of ``split``: the model's full probability rows and the labels."""
    from flowerdash.data.pipelines import scan_pipeline
    from flowerdash.inference.litert import batch_predictor
    from flowerdash.models.backbones import input_size

    predict = batch_predictor(model)
    probs, labels = [], []
    for images, batch_labels in scan_pipeline(
        source, split, image_size=input_size(model), batch_size=64
    ):
        probs.append(predict(images.numpy()))
        labels.append(batch_labels.numpy())
    return np.concatenate(probs).astype(np.float64), np.concatenate(labels).astype(np.int64)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-30, 1.0))))


def summary(probs: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    from flowerdash.inference.calibration import reliability

    rel = reliability(probs.max(axis=1), probs.argmax(axis=1) == labels)
    return {
        "n": len(labels),
        "top1": float((probs.argmax(axis=1) == labels).mean()),
        "mean_confidence": rel.mean_confidence,
        "ece": rel.ece,
        "nll": nll(probs, labels),
        "bins": {
            "confidence": [None if np.isnan(v) else float(v) for v in rel.confidence],
            "accuracy": [None if np.isnan(v) else float(v) for v in rel.accuracy],
            "counts": rel.counts.tolist(),
        },
    }


def trained_on(meta: dict[str, Any]) -> set[str]:
    """The splits a checkpoint learnt from: its own, or its members' for an ensemble or average."""
    configs = [m.get("config") or {} for m in meta.get("members") or []] or [meta["config"]]
    return {str(c.get("train_on")) for c in configs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calibrate", description=__doc__)
    parser.add_argument("--fold", type=Path, required=True)
    parser.add_argument("--target", type=Path, default=ROOT / "checkpoints" / "default")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from benchmarks.machine import describe
    from flowerdash.data.sources import get_source
    from flowerdash.inference.calibration import (
        apply_temperature,
        fit_temperature,
        with_temperature,
    )
    from flowerdash.inference.evaluation import evaluate_checkpoint
    from flowerdash.models.backbones import without_temperature
    from flowerdash.models.checkpoints import MODEL_FILE, load_model, read_meta, update_meta

    source = get_source()
    fold_meta = read_meta(args.fold)
    if trained_on(fold_meta) != {"train"}:
        raise SystemExit("the fold must be trained on the training photos only")
    val_probs, val_labels = split_probabilities(load_model(args.fold), source, "val")
    temperature = fit_temperature(val_probs, val_labels)
    print(f"temperature {temperature:.4f}", flush=True)

    # A calibrated target (a second `accuracy_runs.sh studies` call) is fitted again from its
    # uncalibrated softmax: the temperature is not a weight, so nothing else changes.
    target_model = without_temperature(load_model(args.target))
    test_probs, test_labels = split_probabilities(target_model, source, "test")
    calibrated = with_temperature(target_model, temperature)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / MODEL_FILE
        calibrated.save(path)
        path.replace(args.target / MODEL_FILE)
    fitted = {
        "temperature": temperature,
        "fitted_on": f"all {len(val_labels)} validation photos, answered by {args.fold.name} "
        "(the same recipe trained on the training photos only)",
        "bins": 15,
    }
    update_meta(args.target, calibration=fitted)
    for stale in (args.target / "eval").glob("*.npz"):  # answers of the model before
        stale.unlink()
    _preds, metrics = evaluate_checkpoint(args.target, "test", source=source, use_cache=False)
    after = apply_temperature(test_probs, temperature)
    result = {
        "machine": describe(),
        "fold": {
            "name": args.fold.name,
            "config": fold_meta.get("config"),
            **({"members": fold_meta["members"]} if fold_meta.get("members") else {}),
        },
        "target": str(args.target.relative_to(ROOT))
        if args.target.is_relative_to(ROOT)
        else str(args.target),
        **fitted,
        "fold_val_before": summary(val_probs, val_labels),
        "fold_val_after": summary(apply_temperature(val_probs, temperature), val_labels),
        "target_test_before": summary(test_probs, test_labels),
        "target_test_after": summary(after.astype(np.float64), test_labels),
        "target_test_rescanned_top1": metrics["top1"],
        "target_test_rescanned_n": metrics["n"],
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("temperature", "target_test_rescanned_top1")}))
    for key in ("fold_val_before", "fold_val_after", "target_test_before", "target_test_after"):
        print(key, {k: round(v, 4) for k, v in result[key].items() if isinstance(v, float)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
