"""``python -m benchmarks.flowerless CHECKPOINT ...``: how sure each model is of images with no flower.

Try it names one of its 102 flowers for any photo, and says it is not sure below
``UNSURE_BELOW``. A model knows nothing else, so what it says about an image with no flower at
all is a question of its confidence alone. Four kinds of synthetic images, 64 of each (seed 0,
the same for every model): pixel noise around a random colour, the same noise blurred (σ 3 px,
blotches rather than grain), one flat colour, and a gradient between two colours. Per checkpoint
and kind: the mean top probability, and the share answered at ``UNSURE_BELOW`` or more, which
Try it would give as a plain answer. Writes ``benchmarks/results/flowerless.json``.

Beside them, the top raw logit (before the temperature and the softmax): a candidate "no flower
here" signal (MaxLogit, Hendrycks et al. 2022), since the softmax hides how weak every class's
score is. ``--flowers SPLIT`` adds its percentiles on that split's photos of the configured
dataset, to set a threshold against (use a train-only fold on ``val``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, write_result

OUT = RESULTS / "flowerless.json"
KINDS = ("noise", "blurred_noise", "flat", "gradient")
PER_KIND = 64
SIDE = 224


def images(kind: str, n: int = PER_KIND, seed: int = 0) -> np.ndarray:
    """``n`` uint8 images [n, SIDE, SIDE, 3] of one kind, the same for a given seed."""
    import cv2

    rng = np.random.default_rng([seed, KINDS.index(kind)])
    out = []
    for _ in range(n):
        colour, other = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
        if kind in ("noise", "blurred_noise"):
            image = rng.normal(colour, rng.uniform(10, 40), (SIDE, SIDE, 3))
            if kind == "blurred_noise":
                image = cv2.GaussianBlur(image, (0, 0), 3)
        elif kind == "flat":
            image = np.broadcast_to(colour, (SIDE, SIDE, 3))
        else:
            t = np.linspace(0, 1, SIDE)[None, :, None]
            image = np.broadcast_to((1 - t) * colour + t * other, (SIDE, SIDE, 3))
        out.append(np.clip(image, 0, 255).astype(np.uint8))
    return np.stack(out)


def _top_logits(scores, x: np.ndarray) -> np.ndarray:
    """The highest raw class score of each image of a prepared batch."""
    return np.asarray(scores.predict(x, batch_size=32, verbose=0)).max(axis=1)


def run(
    checkpoints: list[str],
    per_kind: int = PER_KIND,
    flowers: str | None = None,
    flowers_limit: int | None = None,
) -> dict[str, Any]:
    """The figures of every checkpoint on every kind (and on ``flowers``, a split, if given)."""
    from flowerdash.data.images import prepare_for_model
    from flowerdash.explain.reading import UNSURE_BELOW
    from flowerdash.inference.evaluation import file_hash
    from flowerdash.inference.litert import batch_predictor
    from flowerdash.models.backbones import input_size
    from flowerdash.models.checkpoints import MODEL_FILE, load_model
    from flowerdash.models.logits import logits_model

    batches = {kind: images(kind, per_kind) for kind in KINDS}
    if flowers:
        from flowerdash.data.sources import get_source

        source = get_source()
        n = len(source.split(flowers).files[:flowers_limit])
        photos = [source.read_image(flowers, i) for i in range(n)]
    models = {}
    for checkpoint in checkpoints:
        model = load_model(checkpoint)
        size, predict, scores = input_size(model), batch_predictor(model), logits_model(model)
        kinds, logits = {}, {}
        for kind, batch in batches.items():
            x = np.stack([prepare_for_model(image, size) for image in batch])
            top = np.asarray(predict(x)).max(axis=1)
            logit = logits[kind] = _top_logits(scores, x)
            kinds[kind] = {
                "mean_top": float(top.mean()),
                "sure": float(np.mean(top >= UNSURE_BELOW)),
                "top_logit": {"median": float(np.median(logit)), "max": float(logit.max())},
            }
        models[checkpoint] = {
            "model_hash": file_hash(Path(checkpoint) / MODEL_FILE),
            "kinds": kinds,
            "sure": float(np.mean([k["sure"] for k in kinds.values()])),
        }
        if flowers:
            logit = _top_logits(scores, np.stack([prepare_for_model(p, size) for p in photos]))
            percentiles = {f"p{q}": float(np.percentile(logit, q)) for q in (1, 5, 50)}
            models[checkpoint]["flowers"] = {"split": flowers, "n": n, "top_logit": percentiles}
            for kind, figures in kinds.items():  # what a threshold there would catch
                figures["below_flowers"] = {
                    q: float(np.mean(logits[kind] < percentiles[q])) for q in ("p1", "p5")
                }
    return {"per_kind": per_kind, "unsure_below": UNSURE_BELOW, "models": models}


def main(argv: list[str] | None = None) -> int:
    """Run it, save the JSON, print one table row per checkpoint."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flowerless")
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--per-kind", type=int, default=PER_KIND)
    parser.add_argument("--flowers", choices=("train", "val", "test"), help="a split's photos too")
    parser.add_argument("--flowers-limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = run(args.checkpoints, args.per_kind, args.flowers, args.flowers_limit)
    write_result(args.out, result)
    print("| checkpoint | " + " | ".join(KINDS) + " | all |")
    print("|---|" + "---|" * (len(KINDS) + 1))
    for checkpoint, m in result["models"].items():
        cells = [f"{k['sure']:.0%} ({k['mean_top']:.0%})" for k in m["kinds"].values()]
        print(f"| `{checkpoint}` | " + " | ".join(cells) + f" | {m['sure']:.0%} |")
    for checkpoint, m in result["models"].items():
        logits = ", ".join(f"{k} {v['top_logit']['max']:.2f}" for k, v in m["kinds"].items())
        line = f"{checkpoint}: highest top logit per kind: {logits}"
        if "flowers" in m:
            p = m["flowers"]["top_logit"]
            line += f"; {m['flowers']['split']} photos: p1 {p['p1']:.2f}, p5 {p['p5']:.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
