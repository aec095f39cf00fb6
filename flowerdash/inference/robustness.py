"""Accuracy of a checkpoint on clean test images and under each corruption at each severity.

Each test batch is decoded once and every corruption is applied to it in memory, so the data set
is read once however many variations are measured. One compiled inference function with a fixed
input signature serves every batch. Results are cached as JSON in the checkpoint folder
(``robustness/<key>.json``), keyed by the model file's content, the image subset, the corruptions,
the severities, the seed and the data source kind, so a changed checkpoint never reuses stale
results. The only random corruption (noise) is seeded per image (``seed * 1_000_003 + i`` for the
i-th image of the evaluated subset), so results do not depend on the batch size.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flowerdash.data.pipelines import scan_pipeline, select_indices
from flowerdash.data.sources import SPLITS, DatasetSource, get_source
from flowerdash.errors import ConfigError
from flowerdash.i18n import N_, _
from flowerdash.inference.corruptions import CORRUPTIONS, SEVERITIES, apply_corruption
from flowerdash.inference.evaluation import file_hash
from flowerdash.inference.litert import batch_predictor
from flowerdash.models.checkpoints import MODEL_FILE, load_model, read_meta
from flowerdash.settings import PROJECT_ROOT

if TYPE_CHECKING:
    import keras

ROBUSTNESS_DIR = "robustness"
SPLIT = "test"
CACHE_VERSION = 1
ProgressFn = Callable[[int, int], None]


def corruption_label(name: str) -> str:
    """The plain, translated name of a corruption (e.g. 'rotation', 'JPEG compression')."""
    labels = {
        "rotation": _("rotation"),
        "flip": _("flipping"),
        "zoom": _("zoom"),
        "translation": _("shifting"),
        "brightness": _("darkening"),
        "contrast": _("low contrast"),
        "blur": _("blur"),
        "noise": _("noise"),
        "jpeg": _("JPEG compression"),
        "occlusion": _("a hidden centre"),
        "grayscale": _("loss of colour"),
    }
    return labels.get(name, name)


@dataclass
class RobustnessResult:
    """Top-1 accuracy clean and per corruption and severity, on ``n`` test images."""

    clean: float
    accuracy: dict[str, dict[int, float]]
    n: int
    seconds: float = 0.0
    limit: int | None = None
    seed: int = 0
    checkpoint: str = ""
    model_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def corruptions(self) -> list[str]:
        """The measured corruptions, in evaluation order."""
        return list(self.accuracy)

    @property
    def severities(self) -> list[int]:
        """The measured severities, ascending."""
        found = {s for per in self.accuracy.values() for s in per}
        return sorted(found)

    def mean(self, name: str) -> float:
        """Accuracy under a corruption, averaged over its severities."""
        values = list(self.accuracy[name].values())
        return float(np.mean(values)) if values else float("nan")

    def mean_corrupted(self) -> float:
        """Accuracy averaged over every corruption and severity."""
        values = [v for per in self.accuracy.values() for v in per.values()]
        return float(np.mean(values)) if values else float("nan")

    def table(self) -> list[dict[str, Any]]:
        """Display rows: 'clean' (severities None), then per corruption: severities, mean, drop."""
        sev = self.severities
        rows: list[dict[str, Any]] = [
            {
                "corruption": "clean",
                **{f"severity_{s}": None for s in sev},
                "mean": self.clean,
                "drop": 0.0,
            }
        ]
        for name, per in self.accuracy.items():
            mean = self.mean(name)
            rows.append(
                {
                    "corruption": name,
                    **{f"severity_{s}": per.get(s, float("nan")) for s in sev},
                    "mean": mean,
                    "drop": self.clean - mean,
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (severities as string keys)."""
        return {
            "version": CACHE_VERSION,
            "clean": self.clean,
            "accuracy": {
                name: {str(s): float(v) for s, v in per.items()}
                for name, per in self.accuracy.items()
            },
            "n": self.n,
            "seconds": self.seconds,
            "limit": self.limit,
            "seed": self.seed,
            "checkpoint": self.checkpoint,
            "model_hash": self.model_hash,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RobustnessResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            clean=float(data["clean"]),
            accuracy={
                str(name): {int(s): float(v) for s, v in per.items()}
                for name, per in data["accuracy"].items()
            },
            n=int(data["n"]),
            seconds=float(data.get("seconds", 0.0)),
            limit=None if data.get("limit") is None else int(data["limit"]),
            seed=int(data.get("seed", 0)),
            checkpoint=str(data.get("checkpoint", "")),
            model_hash=str(data.get("model_hash", "")),
            extra=dict(data.get("extra") or {}),
        )


def _check_choice(
    corruptions: Iterable[str] | None, severities: Iterable[int]
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    names = tuple(CORRUPTIONS) if corruptions is None else tuple(dict.fromkeys(corruptions))
    if not names:
        raise ConfigError(_("Choose at least one corruption to test."))
    unknown = [n for n in names if n not in CORRUPTIONS]
    if unknown:
        raise ConfigError(
            _("Unknown corruption {names}. Choose from: {choices}.").format(
                names=", ".join(map(repr, unknown)), choices=", ".join(CORRUPTIONS)
            )
        )
    sev = tuple(sorted(dict.fromkeys(severities)))
    bad = [s for s in sev if isinstance(s, bool) or s not in SEVERITIES]
    if not sev or bad:
        message = (
            _("Severities must be chosen from {choices} (got {given}).")
            if sev
            else _("Severities must be chosen from {choices} (got none).")
        )
        raise ConfigError(
            message.format(choices=", ".join(map(str, SEVERITIES)), given=", ".join(map(str, sev)))
        )
    return names, tuple(int(s) for s in sev)


def cache_key(
    model_hash: str,
    limit: int | None,
    corruptions: Sequence[str],
    severities: Sequence[int],
    seed: int,
    source_kind: str,
    split: str = SPLIT,
) -> str:
    """Key of a cached result: model content, split, subset, corruptions, severities, seed, source."""
    text = (
        f"v{CACHE_VERSION}|{model_hash}|{split}|{limit}|{','.join(corruptions)}|"
        f"{','.join(map(str, severities))}|{seed}|{source_kind}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(checkpoint: str | Path, key: str) -> Path:
    """Where a result with this key is stored."""
    return Path(checkpoint) / ROBUSTNESS_DIR / f"{key}.json"


def _read_cache(path: Path, model_hash: str) -> RobustnessResult | None:
    try:
        result = RobustnessResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        path.unlink(missing_ok=True)
        return None
    return result if result.model_hash == model_hash else None


def _write_cache(path: Path, result: RobustnessResult) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only checkpoint folder only costs recomputation next time


def _predictor(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """Top-1 labels, on the fastest inference engine here."""
    predict = batch_predictor(model)
    return lambda images: np.argmax(predict(np.asarray(images, np.float32)), axis=-1)


def _corrupt(images: np.ndarray, name: str, severity: int, seed: int, offset: int) -> np.ndarray:
    """Corrupt a batch image by image, each seeded by its position in the evaluated subset."""
    return np.stack(
        [
            apply_corruption(img, name, severity, seed=seed * 1_000_003 + offset + i)
            for i, img in enumerate(images)
        ]
    )


# The team's committed measurement of the course notebooks' recipe without and with augmentation
# (same test photos, see docs/RESULTS.md): what the page shows until a dataset is on the machine.
PUBLISHED_DIR = PROJECT_ROOT / "benchmarks" / "results" / "robustness"
PUBLISHED_PAIR = (
    ("notebook-noaug.json", N_("Trained without augmentation")),
    ("notebook-aug.json", N_("Trained with augmentation")),
)


def published_comparison() -> list[tuple[str, RobustnessResult]]:
    """(label, result) of the committed comparison, in the current language; [] if not shipped."""
    out = []
    for file_name, label in PUBLISHED_PAIR:
        path = PUBLISHED_DIR / file_name
        if not path.is_file():
            return []
        out.append((_(label), RobustnessResult.from_dict(json.loads(path.read_text("utf-8")))))
    return out


def cached_result(
    checkpoint_path: str | Path,
    *,
    source: DatasetSource,
    limit: int | None = None,
    corruptions: Iterable[str] | None = None,
    severities: Iterable[int] = SEVERITIES,
    seed: int = 0,
) -> RobustnessResult | None:
    """The stored result for these settings if the model file is unchanged, else None (cheap)."""
    folder = Path(checkpoint_path)
    names, sev = _check_choice(corruptions, severities)
    model_file = folder / MODEL_FILE
    if not model_file.is_file():
        return None
    model_hash = file_hash(model_file)
    path = cache_path(folder, cache_key(model_hash, limit, names, sev, seed, source.kind))
    return _read_cache(path, model_hash) if path.is_file() else None


def evaluate_robustness(
    checkpoint_path: str | Path,
    *,
    source: DatasetSource | None = None,
    model: keras.Model | None = None,
    limit: int | None = None,
    corruptions: Iterable[str] | None = None,
    severities: Iterable[int] = SEVERITIES,
    batch_size: int = 64,
    seed: int = 0,
    progress: ProgressFn | None = None,
    use_cache: bool = True,
    split: str = SPLIT,
) -> RobustnessResult:
    """Top-1 accuracy on the test split (or a seeded subset), clean and under each corruption.

    ``split="val"`` (or "train", for a model trained on val) measures photos a model may be
    chosen on; the test split only reports.
    """
    folder = Path(checkpoint_path)
    read_meta(folder)
    names, sev = _check_choice(corruptions, severities)
    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise ConfigError(_("The number of test images must be at least 1."))
    if batch_size < 1:
        raise ConfigError(_("Batch size must be at least 1."))
    source = source or get_source()
    model_hash = file_hash(folder / MODEL_FILE)
    if split not in SPLITS:
        raise ConfigError(
            _("Robustness is measured on train, val or test; got {split!r}.").format(split=split)
        )
    path = cache_path(folder, cache_key(model_hash, limit, names, sev, seed, source.kind, split))
    if use_cache and path.is_file():
        cached = _read_cache(path, model_hash)
        if cached is not None:
            return cached

    from flowerdash.models.backbones import input_size

    start = time.perf_counter()
    model = model if model is not None else load_model(folder)
    predict = _predictor(model)
    n = len(select_indices(len(source.split(split)), limit, seed))
    variants = [(name, s) for name in names for s in sev]
    total = n * (1 + len(variants))
    ds = scan_pipeline(
        source, split, image_size=input_size(model), batch_size=batch_size, limit=limit, seed=seed
    )
    clean_correct = 0
    correct = {v: 0 for v in variants}
    seen = done = 0
    for images, labels in ds:
        x = images.numpy().astype(np.float32, copy=False)
        y = labels.numpy()
        clean_correct += int(np.sum(predict(x) == y))
        done += len(y)
        if progress is not None:
            progress(done, total)
        for name, s in variants:
            corrupted = _corrupt(x, name, s, seed, seen)
            correct[(name, s)] += int(np.sum(predict(corrupted) == y))
            done += len(y)
            if progress is not None:
                progress(done, total)
        seen += len(y)
    if seen == 0:
        raise ConfigError(_("The {split} split has no images to evaluate.").format(split=split))
    accuracy: dict[str, dict[int, float]] = {name: {} for name in names}
    for (name, s), c in correct.items():
        accuracy[name][s] = c / seen
    result = RobustnessResult(
        clean=clean_correct / seen,
        accuracy=accuracy,
        n=seen,
        seconds=time.perf_counter() - start,
        limit=limit,
        seed=seed,
        checkpoint=str(folder),
        model_hash=model_hash,
        extra={"source": source.kind, "split": split},
    )
    _write_cache(path, result)
    return result
