"""``python -m benchmarks.ig_rules``: IG completeness gap of each integration rule at equal cost.

The shipped model (``checkpoints/default``), evenly spaced test photos, predicted class, black
baseline, 64 model evaluations per image for every rule (trapezoid: 63 intervals). Writes
``benchmarks/results/ig-rules.json`` and prints a markdown table; about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "ig-rules.json"


def run(images: int, points: int) -> dict[str, Any]:
    """Gap statistics per rule."""
    from flowerdash.checkpoints import SHIPPED_DEFAULT, load_model
    from flowerdash.data import get_source
    from flowerdash.evaluation import load_cached_predictions
    from flowerdash.images import load_image, prepare_for_model
    from flowerdash.integrated_gradients import RULES, IntegratedGradients

    model = load_model(SHIPPED_DEFAULT)
    source = get_source()
    preds = load_cached_predictions(SHIPPED_DEFAULT, "test")
    files = preds.files[np.linspace(0, len(preds.files) - 1, images).astype(int)]
    batch = np.stack([prepare_for_model(load_image(source.image_path(f)), 224) for f in files])
    out: dict[str, Any] = {"images": [str(f) for f in files], "points": points, "rules": {}}
    for rule in RULES:
        steps = points - 1 if rule == "trapezoid" else points
        ig = IntegratedGradients(model, steps=steps, rule=rule)
        ig.explain(batch[:1])  # trace
        start = time.perf_counter()
        gaps = np.asarray(ig.explain(batch).completeness_gap, dtype=np.float64)
        out["rules"][rule] = {
            "steps": steps,
            "seconds_per_image": (time.perf_counter() - start) / len(batch),
            "median": float(np.median(gaps)),
            "p90": float(np.quantile(gaps, 0.9)),
            "share_at_most_5pct": float(np.mean(gaps <= 0.05)),
            "gaps": gaps.tolist(),
        }
        print(f"{rule}: median {np.median(gaps):.3f}", flush=True)
    return out


def markdown(r: dict[str, Any]) -> str:
    """The table quoted in the docs."""
    lines = [
        f"{len(r['images'])} test photos, {r['points']} model evaluations per image:",
        "",
        "| rule | median gap | 90th percentile | images within 5% | s/image |",
        "|---|---|---|---|---|",
    ]
    for rule, v in r["rules"].items():
        lines.append(
            f"| {rule} | {v['median']:.1%} | {v['p90']:.1%} | {v['share_at_most_5pct']:.0%} "
            f"| {v['seconds_per_image']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run, save, print."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ig_rules")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = run(args.images, args.points)
    args.out.write_text(json.dumps(result, indent=1))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
