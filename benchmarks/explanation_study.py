"""``python -m benchmarks.explanation_study``: where does the shipped model look, and which map is faithful?

On test images of ``checkpoints/default`` (some it gets right, some it gets wrong, evenly spaced
through the split), for the predicted class:

* deletion/insertion AUC (blur baseline, 20 steps) of Grad-CAM, Integrated Gradients (the
  app's defaults) and two controls that know nothing about the model: a random map and a centred
  Gaussian "centre prior";
* the focus score (share of map mass in the central quarter) of both methods, split by correct
  and wrong predictions;
* IG's completeness gap at the default steps;
* the cascading-randomisation sanity check on a few images.

Writes ``benchmarks/results/explanation-study.json`` and prints a markdown summary
(docs/RESULTS.md quotes it). About 15 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, write_result

OUT = RESULTS / "explanation-study.json"


def centre_prior(size: int) -> np.ndarray:
    """A centred Gaussian blob: the map of a 'model' that always looks at the middle."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    return np.exp(-(x**2 + y**2) / (2 * 0.2**2)).astype(np.float32)


def pick(correct: np.ndarray, n_right: int, n_wrong: int) -> np.ndarray:
    """Evenly spaced indices among right and among wrong predictions."""
    right, wrong = np.flatnonzero(correct), np.flatnonzero(~correct)

    def spaced(idx: np.ndarray, n: int) -> np.ndarray:
        return idx[np.linspace(0, len(idx) - 1, min(n, len(idx))).astype(int)]

    return np.sort(np.concatenate([spaced(right, n_right), spaced(wrong, n_wrong)]))


def mean_se(values: list[float] | np.ndarray) -> dict[str, float]:
    """Mean and standard error."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "se": float(v.std(ddof=1) / np.sqrt(len(v))), "n": len(v)}


def run(n_right: int, n_wrong: int, sanity_images: int, ig_steps: int | None) -> dict[str, Any]:
    """The whole study; returns the JSON-ready result."""
    from flowerdash.data.images import load_image, prepare_for_model
    from flowerdash.data.sources import get_source
    from flowerdash.explain.defaults import BASELINE as DEFAULT_BASELINE
    from flowerdash.explain.defaults import RULE as DEFAULT_RULE
    from flowerdash.explain.defaults import STEPS as DEFAULT_STEPS
    from flowerdash.explain.faithfulness import deletion_insertion, focus_score, sanity_check
    from flowerdash.explain.gradcam import GradCAM
    from flowerdash.explain.integrated_gradients import IntegratedGradients
    from flowerdash.inference.evaluation import load_cached_predictions
    from flowerdash.models.backbones import input_size
    from flowerdash.models.checkpoints import SHIPPED_DEFAULT, load_model

    start = time.perf_counter()
    model = load_model(SHIPPED_DEFAULT)
    size = input_size(model)
    source = get_source()
    preds = load_cached_predictions(SHIPPED_DEFAULT, "test")
    if preds is None:
        raise SystemExit("checkpoints/default has no cached test predictions; run evaluate first.")
    correct = preds.top_k[:, 0] == preds.labels
    chosen = pick(correct, n_right, n_wrong)
    images = np.stack(
        [prepare_for_model(load_image(source.image_path(preds.files[i])), size) for i in chosen]
    )
    targets = preds.top_k[chosen, 0].astype(np.int32)
    steps = ig_steps or DEFAULT_STEPS

    gradcam = GradCAM(model)
    ig = IntegratedGradients(model, steps=steps)
    t = time.perf_counter()
    cam_maps = gradcam(images, targets)
    cam_seconds = time.perf_counter() - t
    t = time.perf_counter()
    ig_result = ig.explain(images, targets)
    ig_seconds = time.perf_counter() - t
    # The same rule from a black image, the baseline the app used before the blurred one.
    ig_black = IntegratedGradients(model, steps=steps, baseline="black")
    black_result = ig_black.explain(images, targets)
    rng = np.random.default_rng(0)
    maps = {
        "gradcam": cam_maps,
        "ig": ig_result.maps,
        "ig_black": black_result.maps,
        "random": rng.random((len(images), size, size)).astype(np.float32),
        "centre": np.repeat(centre_prior(size)[None], len(images), axis=0),
    }
    curves: dict[str, dict[str, list[float]]] = {m: {"deletion": [], "insertion": []} for m in maps}
    for i in range(len(images)):
        for name, m in maps.items():
            r = deletion_insertion(model, images[i], m[i], int(targets[i]))
            curves[name]["deletion"].append(r.deletion_auc)
            curves[name]["insertion"].append(r.insertion_auc)
        print(f"\rdeletion/insertion {i + 1}/{len(images)}", end="", flush=True)
    print()
    auc = {
        name: {k: mean_se(v) for k, v in c.items()} | {"per_image": c} for name, c in curves.items()
    }
    ins = {k: np.asarray(curves[k]["insertion"]) for k in maps}
    dele = {k: np.asarray(curves[k]["deletion"]) for k in maps}
    wins = {
        "gradcam_higher_insertion": float(np.mean(ins["gradcam"] > ins["ig"])),
        "gradcam_lower_deletion": float(np.mean(dele["gradcam"] < dele["ig"])),
        "gradcam_better_both": float(
            np.mean((ins["gradcam"] > ins["ig"]) & (dele["gradcam"] < dele["ig"]))
        ),
        "ig_better_both": float(
            np.mean((ins["ig"] > ins["gradcam"]) & (dele["ig"] < dele["gradcam"]))
        ),
    }
    ok = correct[chosen]
    focus = {}
    for name in maps:
        scores = np.array([focus_score(m) for m in maps[name]])
        focus[name] = {
            "right": mean_se(scores[ok]),
            "wrong": mean_se(scores[~ok]),
            "share_below_0.3_right": float(np.mean(scores[ok] < 0.3)),
            "share_below_0.3_wrong": float(np.mean(scores[~ok] < 0.3)),
        }
    gaps = np.asarray(ig_result.extras["completeness_gap"])

    few = images[:: max(1, len(images) // sanity_images)][:sanity_images]
    sanity = {
        "gradcam": sanity_check(model, few, lambda m: GradCAM(m)),
        "ig (16 steps)": sanity_check(model, few, lambda m: IntegratedGradients(m, steps=16)),
    }
    return {
        "checkpoint": "checkpoints/default",
        "images": [str(preds.files[i]) for i in chosen],
        "correct": ok.tolist(),
        "targets": targets.tolist(),
        "ig": {"rule": DEFAULT_RULE, "steps": steps, "baseline": DEFAULT_BASELINE},
        "seconds": {
            "gradcam_per_image": cam_seconds / len(images),
            "ig_per_image": ig_seconds / len(images),
            "total": time.perf_counter() - start,
        },
        "deletion_insertion": auc,
        "wins": wins,
        "focus": focus,
        "ig_completeness_gap": {
            "median": float(np.median(gaps)),
            "p90": float(np.quantile(gaps, 0.9)),
            "share_at_most_5pct": float(np.mean(gaps <= 0.05)),
            "black_baseline_median": float(np.median(black_result.extras["completeness_gap"])),
            "black_baseline_share_at_most_5pct": float(
                np.mean(black_result.extras["completeness_gap"] <= 0.05)
            ),
        },
        "sanity": {k: [[stage, rho] for stage, rho in v] for k, v in sanity.items()},
    }


def markdown(r: dict[str, Any]) -> str:
    """The summary tables quoted in docs/RESULTS.md."""
    n = len(r["images"])
    right = sum(r["correct"])
    lines = [
        f"{n} test images ({right} predicted right, {n - right} wrong), predicted class, "
        f"IG {r['ig']['rule']} {r['ig']['steps']} steps, {r['ig'].get('baseline', 'black')} "
        "baseline.",
        "",
        "| map | deletion AUC (lower is better) | insertion AUC (higher is better) |",
        "|---|---|---|",
    ]
    names = {"gradcam": "Grad-CAM", "ig": "Integrated Gradients", "ig_black":
             "Integrated Gradients, black baseline", "random": "random map",
             "centre": "centre prior (no model)"}  # fmt: skip
    names = {k: v for k, v in names.items() if k in r["deletion_insertion"]}
    for key, label in names.items():
        d, i = r["deletion_insertion"][key]["deletion"], r["deletion_insertion"][key]["insertion"]
        lines.append(
            f"| {label} | {d['mean']:.3f} ± {d['se']:.3f} | {i['mean']:.3f} ± {i['se']:.3f} |"
        )
    w = r["wins"]
    lines += [
        "",
        f"Per image: Grad-CAM has the higher insertion AUC on {w['gradcam_higher_insertion']:.0%} "
        f"and the lower deletion AUC on {w['gradcam_lower_deletion']:.0%} of the images; "
        f"it wins both on {w['gradcam_better_both']:.0%}, IG wins both on {w['ig_better_both']:.0%}.",
        "",
        "| focus score (share of the map in the central quarter; uniform = 0.25) "
        "| predicted right | predicted wrong |",
        "|---|---|---|",
    ]
    for key, label in names.items():
        f = r["focus"][key]
        lines.append(
            f"| {label} | {f['right']['mean']:.2f} ± {f['right']['se']:.2f} "
            f"({f['share_below_0.3_right']:.0%} below 0.3) | {f['wrong']['mean']:.2f} ± "
            f"{f['wrong']['se']:.2f} ({f['share_below_0.3_wrong']:.0%} below 0.3) |"
        )
    g = r["ig_completeness_gap"]
    lines += [
        "",
        f"IG completeness gap: median {g['median']:.1%}, 90th percentile {g['p90']:.1%}, "
        f"{g['share_at_most_5pct']:.0%} of images at most 5%"
        + (
            f" (black baseline: median {g['black_baseline_median']:.1%}, "
            f"{g['black_baseline_share_at_most_5pct']:.0%} at most 5%)."
            if "black_baseline_median" in g
            else "."
        ),
        "",
        "Sanity check (mean Spearman ρ between the maps of the trained model and of a copy "
        "randomised from the head down; near 1 = the map ignores the weights):",
        "",
    ]
    for method, stages in r["sanity"].items():
        lines.append(f"- {method}: " + ", ".join(f"{stage} → ρ {rho:.2f}" for stage, rho in stages))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the study, save the JSON, print the markdown."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explanation_study")
    parser.add_argument("--right", type=int, default=40, help="images the model gets right")
    parser.add_argument("--wrong", type=int, default=20, help="images the model gets wrong")
    parser.add_argument("--sanity-images", type=int, default=6)
    parser.add_argument("--ig-steps", type=int, default=None, help="default: the app's default")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = run(args.right, args.wrong, args.sanity_images, args.ig_steps)
    write_result(args.out, result)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
