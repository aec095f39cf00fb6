"""``python -m benchmarks.ig_rules``: IG completeness gap of each rule and baseline at equal cost.

The shipped model (``checkpoints/default``), evenly spaced test photos (``--offset`` shifts them,
so the photos a default was chosen on and the photos it is reported on differ), predicted class,
64 model evaluations per image for every rule (trapezoid: 63 intervals), black and blurred
baselines. On the first ``--reference-images`` photos it also measures how far each rule's
attributions are from a reference computed with 512 steps of the midpoint_cubic rule (relative
L2 error), so a rule cannot look good on the gap alone. Writes
``benchmarks/results/ig-rules.json`` and prints a markdown table; about 10 minutes on 2 cores.
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
CONFIGS = (
    ("blur", "adaptive"),
    ("blur", "midpoint_cubic"),
    ("blur", "gauss_legendre"),
    ("blur", "trapezoid"),
    ("black", "adaptive"),
    ("black", "midpoint_cubic"),
)
REFERENCE = ("midpoint_cubic", 512)


def relative_errors(attrs: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-image relative L2 distance of attributions [N, H, W, C] from a reference."""
    n = len(reference)
    return np.linalg.norm((attrs - reference).reshape(n, -1), axis=1) / np.linalg.norm(
        reference.reshape(n, -1), axis=1
    )


def run(images: int, points: int, offset: int, reference_images: int) -> dict[str, Any]:
    """Gap statistics and reference errors per (baseline, rule)."""
    from benchmarks.ig_research import ResearchIG as IntegratedGradients
    from benchmarks.machine import describe
    from flowerdash.data.images import load_image, prepare_for_model
    from flowerdash.data.sources import get_source
    from flowerdash.inference.evaluation import load_cached_predictions
    from flowerdash.models.checkpoints import SHIPPED_DEFAULT, load_model

    model = load_model(SHIPPED_DEFAULT)
    source = get_source()
    preds = load_cached_predictions(SHIPPED_DEFAULT, "test")
    picks = (np.linspace(0, len(preds.files) - 1, images).astype(int) + offset) % len(preds.files)
    files = preds.files[picks]
    batch = np.stack([prepare_for_model(load_image(source.image_path(f)), 224) for f in files])
    ref_batch = batch[:reference_images]
    out: dict[str, Any] = {
        "ran_on": describe(),  # not "machine": that key marks the suite's own result files
        "images": [str(f) for f in files],
        "offset": offset,
        "points": points,
        "reference": {"rule": REFERENCE[0], "steps": REFERENCE[1], "images": len(ref_batch)},
        "configs": {},
    }
    references = {}
    for baseline in sorted({b for b, _ in CONFIGS}):
        ref = IntegratedGradients(model, steps=REFERENCE[1], rule=REFERENCE[0], baseline=baseline)
        result = ref.explain(ref_batch)
        references[baseline] = result.attributions
        out["reference"][f"{baseline}_gaps"] = result.extras["completeness_gap"].tolist()
    for baseline, rule in CONFIGS:
        steps = points - 1 if rule == "trapezoid" else points
        ig = IntegratedGradients(model, steps=steps, rule=rule, baseline=baseline)
        ig.explain(batch[:1])  # trace
        start = time.perf_counter()
        gaps = np.asarray(ig.explain(batch).extras["completeness_gap"], dtype=np.float64)
        seconds = (time.perf_counter() - start) / len(batch)
        attrs = ig.explain(ref_batch).attributions
        errors = relative_errors(attrs, references[baseline])
        out["configs"][f"{baseline}/{rule}"] = {
            "baseline": baseline,
            "rule": rule,
            "steps": steps,
            "seconds_per_image": seconds,
            "median": float(np.median(gaps)),
            "p90": float(np.quantile(gaps, 0.9)),
            "share_at_most_5pct": float(np.mean(gaps <= 0.05)),
            "gaps": gaps.tolist(),
            "reference_error_median": float(np.median(errors)),
            "reference_errors": errors.tolist(),
        }
        print(f"{baseline}/{rule}: median {np.median(gaps):.3f}", flush=True)
    return out


def markdown(r: dict[str, Any]) -> str:
    """The table quoted in the docs."""
    ref = r["reference"]
    lines = [
        f"{len(r['images'])} test photos (offset {r['offset']}), {r['points']} model evaluations "
        f"per image; error against {ref['rule']} with {ref['steps']} steps on {ref['images']} "
        "of them:",
        "",
        "| baseline | rule | median gap | 90th percentile | images within 5% | "
        "error vs reference (median) | s/image |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in r["configs"].values():
        lines.append(
            f"| {v['baseline']} | {v['rule']} | {v['median']:.1%} | {v['p90']:.1%} "
            f"| {v['share_at_most_5pct']:.0%} | {v['reference_error_median']:.1%} "
            f"| {v['seconds_per_image']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run, save, print."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ig_rules")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--offset", type=int, default=0, help="shift the evenly spaced photos")
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--reference-images", type=int, default=8)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = run(args.images, args.points, args.offset, args.reference_images)
    args.out.write_text(json.dumps(result, indent=1))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
