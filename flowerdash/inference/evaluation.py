"""Test-split evaluation: top-1/top-5, per-class accuracy, confusion matrix, per-image predictions.

Results are cached on disk in the checkpoint folder (``eval/``), keyed by a hash of the model
file, the split, the image limit and the dataset source, so a changed checkpoint never reuses
stale results.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flowerdash.data.pipelines import (
    pipeline_files,
    scan_pipeline,
    select_indices,
    undecodable_error,
    undecodable_images,
)
from flowerdash.data.sources import DatasetSource, get_source
from flowerdash.inference.litert import batch_predictor
from flowerdash.models.checkpoints import MODEL_FILE, load_model, read_meta, update_meta

if TYPE_CHECKING:
    import keras

EVAL_DIR = "eval"
TOP_K = 5
ProgressFn = Callable[[int, int], None]


@dataclass
class Predictions:
    """Per-image predictions of one split (arrays aligned by row)."""

    split: str
    files: np.ndarray  # str
    labels: np.ndarray  # int64 true labels
    top_k: np.ndarray  # int64 [N, 5] predicted labels, best first
    top_k_probs: np.ndarray  # float32 [N, 5]
    seconds: float = 0.0

    @property
    def predicted(self) -> np.ndarray:
        """Top-1 predicted labels."""
        return self.top_k[:, 0]

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the top-1 prediction."""
        return self.top_k_probs[:, 0]

    @property
    def correct(self) -> np.ndarray:
        """Whether each top-1 prediction is right."""
        return self.predicted == self.labels

    def metrics(self, num_classes: int) -> dict[str, Any]:
        """Top-1/top-5 accuracy, per-class accuracy and the confusion matrix."""
        return compute_metrics(self.labels, self.top_k, num_classes)

    def mistakes(self, involving: int | None = None) -> np.ndarray:
        """Rows whose top-1 answer is wrong, most confident first (ties in row order).

        ``involving``: only the mistakes where that class is the true one or the answer.
        """
        wrong = np.flatnonzero(~self.correct)
        if involving is not None:
            wrong = wrong[(self.labels[wrong] == involving) | (self.predicted[wrong] == involving)]
        return wrong[np.argsort(-self.confidence[wrong], kind="stable")]


def most_confused_with(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per true class, its most frequent wrong answer and how often it was given (0: never)."""
    off = np.array(confusion, copy=True)
    np.fill_diagonal(off, 0)
    worst = off.argmax(axis=1)
    return worst, off[np.arange(len(off)), worst]


def compute_metrics(labels: np.ndarray, top_k: np.ndarray, num_classes: int) -> dict[str, Any]:
    """Accuracy metrics from true labels and top-k predictions."""
    labels = np.asarray(labels, np.int64)
    top_k = np.asarray(top_k, np.int64)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (labels, top_k[:, 0]), 1)
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)
    return {
        "n": int(len(labels)),
        "top1": float(np.mean(top_k[:, 0] == labels)) if len(labels) else float("nan"),
        "top5": float(np.mean((top_k == labels[:, None]).any(axis=1)))
        if len(labels)
        else float("nan"),
        "per_class_accuracy": per_class,
        "support": support,
        "confusion": confusion,
    }


def predict_split(
    model: keras.Model,
    source: DatasetSource,
    split: str = "test",
    *,
    batch_size: int = 64,
    limit: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    engine: str | None = None,
    predict: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Predictions:
    """Run the model over a split (no augmentation) and keep the top-5 per image.

    ``engine`` picks the inference engine (:func:`~flowerdash.inference.litert.batch_predictor`);
    ``predict`` is a predictor of this model made earlier, reused (no conversion).

    A damaged image file ends the run with a DatasetError that names it (never skipped).
    """
    import tensorflow as tf

    from flowerdash.models.backbones import input_size

    start = time.perf_counter()
    n = len(select_indices(len(source.split(split)), limit, seed))
    ds = scan_pipeline(
        source,
        split,
        image_size=input_size(model),
        batch_size=batch_size,
        limit=limit,
        seed=seed,
        with_names=True,
    )
    predict = predict or batch_predictor(model, engine)
    files, labels, tops, top_probs = [], [], [], []
    done = 0
    try:
        for images, batch_labels, names in ds:
            probs = predict(images.numpy())
            top = np.argsort(-probs, axis=1)[:, :TOP_K]
            tops.append(top)
            top_probs.append(np.take_along_axis(probs, top, axis=1).astype(np.float32))
            labels.append(batch_labels.numpy())
            files.extend(n.decode() for n in names.numpy())
            done += len(top)
            if progress is not None:
                progress(done, n)
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError):
        _name_bad_image(source, split, limit, seed, done, batch_size)
        raise
    return Predictions(
        split=split,
        files=np.asarray(files),
        labels=np.concatenate(labels).astype(np.int64),
        top_k=np.concatenate(tops).astype(np.int64),
        top_k_probs=np.concatenate(top_probs),
        seconds=time.perf_counter() - start,
    )


def _name_bad_image(
    source: DatasetSource, split: str, limit: int | None, seed: int, done: int, batch_size: int
) -> None:
    """After a decoding error: raise a DatasetError naming the damaged file(s), if one is found.

    The evaluation pipeline keeps file order, so the culprit is in the batch that failed; look
    there (and in the next one) first, then, should prefetching have reordered errors, in the rest.
    """
    rest = pipeline_files(source, split, limit, seed)[done:]
    near = 2 * batch_size
    bad = undecodable_images(source, rest[:near]) or undecodable_images(
        source, rest[near:], first_only=True
    )
    if bad:
        raise undecodable_error(source, split, bad)


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's content (first 16 hex digits)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def cache_key(checkpoint: Path, split: str, limit: int | None, source: DatasetSource) -> str:
    """Key of cached predictions: model content, split, limit and data source kind."""
    text = f"{file_hash(checkpoint / MODEL_FILE)}|{split}|{limit}|{source.kind}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cache_path(checkpoint: Path, split: str, key: str) -> Path:
    return checkpoint / EVAL_DIR / f"{split}-{key}.npz"


def load_cached_predictions(checkpoint: str | Path, split: str = "test") -> Predictions | None:
    """The newest cached predictions of a split that match the current model file, if any."""
    folder = Path(checkpoint)
    model_hash = file_hash(folder / MODEL_FILE)
    best = None
    for path in sorted((folder / EVAL_DIR).glob(f"{split}-*.npz")):
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["model_hash"]) != model_hash:
                    continue
                preds = _from_npz(z, split)
        except (OSError, ValueError, KeyError):
            continue
        if best is None or len(preds.labels) > len(best.labels):
            best = preds
    return best


def _from_npz(z: Any, split: str) -> Predictions:
    return Predictions(
        split=split,
        files=z["files"].astype(str),
        labels=z["labels"],
        top_k=z["top_k"],
        top_k_probs=z["top_k_probs"],
        seconds=float(z["seconds"]),
    )


def evaluate_checkpoint(
    checkpoint: str | Path,
    split: str = "test",
    *,
    source: DatasetSource | None = None,
    model: keras.Model | None = None,
    batch_size: int = 64,
    limit: int | None = None,
    use_cache: bool = True,
    progress: ProgressFn | None = None,
) -> tuple[Predictions, dict[str, Any]]:
    """Predictions and metrics of a checkpoint on a split, from the disk cache when valid."""
    folder = Path(checkpoint)
    meta = read_meta(folder)
    source = source or get_source()
    key = cache_key(folder, split, limit, source)
    path = _cache_path(folder, split, key)
    if use_cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                preds = _from_npz(z, split)
            return preds, preds.metrics(len(meta["class_names"]))
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
    model = model or load_model(folder)
    preds = predict_split(
        model, source, split, batch_size=batch_size, limit=limit, progress=progress
    )
    _write_cache(path, preds, file_hash(folder / MODEL_FILE))
    return preds, preds.metrics(len(meta["class_names"]))


def store_predictions(
    checkpoint: str | Path, preds: Predictions, source: DatasetSource, limit: int | None
) -> Path:
    """Cache predictions computed elsewhere (e.g. at the end of training) for a checkpoint."""
    folder = Path(checkpoint)
    path = _cache_path(folder, preds.split, cache_key(folder, preds.split, limit, source))
    _write_cache(path, preds, file_hash(folder / MODEL_FILE))
    return path


def _write_cache(path: Path, preds: Predictions, model_hash: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        files=preds.files.astype("U32"),
        labels=preds.labels,
        top_k=preds.top_k,
        top_k_probs=preds.top_k_probs,
        seconds=np.float64(preds.seconds),
        model_hash=np.str_(model_hash),
    )
    os.replace(tmp, path)


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The JSON-friendly part of a metrics dict (no matrices)."""
    return {"n": metrics["n"], "top1": metrics["top1"], "top5": metrics["top5"]}


def predictions_to_json(preds: Predictions, class_names: list[str] | tuple[str, ...]) -> str:
    """Per-image predictions as JSON lines (file, true, predicted, confidence, top-5)."""
    rows = []
    for i in range(len(preds.labels)):
        rows.append(
            json.dumps(
                {
                    "file": str(preds.files[i]),
                    "true": int(preds.labels[i]),
                    "true_name": class_names[int(preds.labels[i])],
                    "predicted": int(preds.predicted[i]),
                    "predicted_name": class_names[int(preds.predicted[i])],
                    "confidence": round(float(preds.confidence[i]), 5),
                    "top5": [int(k) for k in preds.top_k[i]],
                    "top5_probs": [round(float(p), 5) for p in preds.top_k_probs[i]],
                }
            )
        )
    return "\n".join(rows) + "\n"


def measure_test_accuracy(
    folder: str | Path,
    source: DatasetSource | None = None,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate a checkpoint on the test split and record top-1/top-5 in its metadata."""
    _preds, metrics = evaluate_checkpoint(
        folder, "test", source=source, limit=limit, progress=progress
    )
    test = summary(metrics)
    update_meta(folder, metrics={"test": test})
    return test
