"""Stand-ins for people's own photos, built from validation photos:
``python -m benchmarks.proxies CHECKPOINT [CHECKPOINT ...] [--split val] [--limit N]``.

The team measures shipped models on photos it keeps to itself (web and phone photos of
Flowers102 species). To work on the causes without those photos, each validation photo is
changed the way such photos differ from the benchmark's, and the model answers every version.
Each change is a pure function of the photo and a seed (numpy/OpenCV), so every model gets the
same versions:

- ``low_res``: the photo shrunk so its shorter side is 96–160 px, and back (a web thumbnail);
- ``wide``: zoomed out to 55–75% inside a blurred, mirrored surround, off-centre;
- ``several``: four crops of the photo in a 2×2 grid (a bed or a bouquet);
- ``colour_cast``: each channel scaled by 0.75–1.25 (white balance, evening light);
- ``desaturated``: saturation halved; ``grayscale``: no colour at all;
- ``jpeg``: JPEG at quality 15–30;
- ``occluded``: a grey rectangle half the photo's height and width, anywhere.

Writes ``benchmarks/results/proxies.json`` (top-1 and top-5 per proxy and model).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.common import RESULTS

OUT = RESULTS / "proxies.json"
GREY = 128


def _low_res(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    scale = rng.uniform(96, 160) / min(h, w)
    small = cv2.resize(
        x, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _wide(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    zoom = rng.uniform(0.55, 0.75)
    small = cv2.resize(x, (round(w * zoom), round(h * zoom)), interpolation=cv2.INTER_AREA)
    surround = cv2.GaussianBlur(cv2.flip(x, -1), (0, 0), 6)
    top = int(rng.integers(0, h - small.shape[0] + 1))
    left = int(rng.integers(0, w - small.shape[1] + 1))
    out = surround.copy()
    out[top : top + small.shape[0], left : left + small.shape[1]] = small
    return out


def _several(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    tiles = []
    for _ in range(4):
        side = int(min(h, w) * rng.uniform(0.6, 0.9))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        tile = x[top : top + side, left : left + side]
        tiles.append(cv2.resize(tile, (w // 2, h // 2), interpolation=cv2.INTER_AREA))
    return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])


def _colour_cast(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gains = rng.uniform(0.75, 1.25, size=3)
    return np.clip(x.astype(np.float32) * gains, 0, 255).astype(np.uint8)


def _saturation(x: np.ndarray, factor: float) -> np.ndarray:
    grey = cv2.cvtColor(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    return np.clip(grey + factor * (x.astype(np.float32) - grey), 0, 255).astype(np.uint8)


def _jpeg(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    quality = int(rng.integers(15, 31))
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(x, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _occluded(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    rows, cols = h // 2, w // 2  # half the photo's height and width
    top, left = int(rng.integers(0, h - rows + 1)), int(rng.integers(0, w - cols + 1))
    out = x.copy()
    out[top : top + rows, left : left + cols] = GREY
    return out


PROXIES: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "clean": lambda x, rng: x,
    "low_res": _low_res,
    "wide": _wide,
    "several": _several,
    "colour_cast": _colour_cast,
    "desaturated": lambda x, rng: _saturation(x, 0.5),
    "grayscale": lambda x, rng: _saturation(x, 0.0),
    "jpeg": _jpeg,
    "occluded": _occluded,
}


def proxy_versions(
    image: np.ndarray, index: int, seed: int = 0, names: tuple[str, ...] = tuple(PROXIES)
) -> dict[str, np.ndarray]:
    """The named proxy versions of one photo, changed but not yet cropped (each its own seed)."""
    return {
        name: change(image, np.random.default_rng([seed, index, k]))
        for k, (name, change) in enumerate(PROXIES.items())
        if name in names
    }


def proxy_images(image: np.ndarray, index: int, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Every proxy version of one photo, cropped for the model."""
    from flowerdash.data.images import prepare_for_model

    return {
        name: prepare_for_model(x, size).round().astype(np.uint8)
        for name, x in proxy_versions(image, index, seed).items()
    }


def version_probabilities(
    checkpoint: Path,
    source: Any,
    split: str,
    limit: int | None,
    versions: Callable[[np.ndarray, int, int], dict[Any, np.ndarray]],
) -> tuple[dict[Any, np.ndarray], np.ndarray]:
    """One checkpoint's probabilities for versions of the split's photos, and their labels.

    ``versions(photo, index, size)`` gives each photo's named versions, cropped to the model's
    ``size`` (pixel values 0..255); every photo must give the same names.
    """
    from flowerdash.data.pipelines import select_indices
    from flowerdash.inference.litert import batch_predictor
    from flowerdash.models.backbones import input_size
    from flowerdash.models.checkpoints import load_model

    model = load_model(checkpoint)
    predict = batch_predictor(model)
    size = input_size(model)
    index = source.split(split)
    chosen = select_indices(len(index), limit, seed=0)
    probs: dict[Any, list[np.ndarray]] = {}
    for start in range(0, len(chosen), 32):
        batches: dict[Any, list[np.ndarray]] = {}
        for i in chosen[start : start + 32]:
            for name, x in versions(source.read_image(split, int(i)), int(i), size).items():
                batches.setdefault(name, []).append(x)
        for name, batch in batches.items():
            probs.setdefault(name, []).append(predict(np.stack(batch).astype(np.float32)))
    return {name: np.concatenate(p) for name, p in probs.items()}, index.labels[chosen]


def proxy_probabilities(
    checkpoint: Path, source: Any, split: str, limit: int | None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One checkpoint's probabilities for every proxy of the split's photos, and their labels."""
    return version_probabilities(checkpoint, source, split, limit, proxy_images)


def measure(checkpoint: Path, source: Any, split: str, limit: int | None) -> dict[str, Any]:
    """Top-1/top-5 of one checkpoint on every proxy of the split's photos."""
    probs, labels = proxy_probabilities(checkpoint, source, split, limit)
    result = {}
    for name in PROXIES:
        ranks = np.argsort(-probs[name], axis=1)[:, :5]
        result[name] = {
            "top1": float((ranks[:, 0] == labels).mean()),
            "top5": float((ranks == labels[:, None]).any(axis=1).mean()),
        }
    changed = [k for k in PROXIES if k != "clean"]
    result["mean_changed"] = {
        m: float(np.mean([result[k][m] for k in changed])) for m in ("top1", "top5")
    }
    return {"n": int(len(labels)), "proxies": result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proxies", description=__doc__)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--split", default="val", choices=("val", "train"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from benchmarks.machine import describe
    from flowerdash.data.sources import get_source

    source = get_source()
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    models = previous.get("models", {})
    for checkpoint in args.checkpoints:
        result = measure(checkpoint, source, args.split, args.limit)
        models[f"{checkpoint.name}@{args.split}"] = result
        row = result["proxies"]
        print(
            f"{checkpoint.name} on {result['n']} {args.split} photos: "
            + ", ".join(f"{k} {v['top1']:.1%}" for k, v in row.items())
        )
    out = {"machine": describe(), "proxies": list(PROXIES), "models": models}
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
