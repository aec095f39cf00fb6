"""``python -m benchmarks.explanation_paired BEFORE AFTER``: two models' explanations, same photos.

``benchmarks.explanation_study`` takes 40 right and 20 wrong answers of its own model, so two of
its runs look at different photos, and a share out of 40 moves by several photos between them.
This compares two checkpoints on one fixed set of test photos, many more of them:

* the Grad-CAM focus score (share of the map in the central quarter) for the predicted class on
  every ``--every``-th test photo, on the photos both models get right (paired) and on each
  model's own right and wrong answers;
* IG's completeness gap at the app's defaults on every ``--ig-every``-th test photo.

Writes ``benchmarks/results/explanation-paired.json`` and prints a markdown summary
(docs/RESULTS.md quotes it).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, write_result

OUT = RESULTS / "explanation-paired.json"
#: Below this focus score a map is said to look away from the centre (as in the Audit page).
AWAY = 0.3


def share_away(scores: np.ndarray) -> float:
    """Share of maps whose focus score is below :data:`AWAY` (0 for no maps)."""
    return float(np.mean(scores < AWAY)) if len(scores) else 0.0


def focus_stats(scores: np.ndarray) -> dict[str, Any]:
    """Mean focus (None for no photos), share below :data:`AWAY` and count."""
    mean = float(scores.mean()) if len(scores) else None
    return {"mean": mean, "away": share_away(scores), "n": len(scores)}


def paired(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """Mean and standard error of ``after - before`` on the same photos."""
    d = np.asarray(after, np.float64) - np.asarray(before, np.float64)
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    return {"mean": float(d.mean()) if len(d) else 0.0, "se": se, "n": len(d)}


def explain_model(
    checkpoint: str, indices: np.ndarray, ig_indices: np.ndarray, split: str, batch: int = 32
) -> dict[str, np.ndarray]:
    """Predicted class, Grad-CAM focus (on ``indices``) and IG gap (on ``ig_indices``)."""
    from flowerdash.data.images import prepare_for_model
    from flowerdash.data.sources import get_source
    from flowerdash.explain.defaults import STEPS
    from flowerdash.explain.faithfulness import focus_score
    from flowerdash.explain.gradcam import GradCAM
    from flowerdash.explain.integrated_gradients import IntegratedGradients
    from flowerdash.models.backbones import input_size
    from flowerdash.models.checkpoints import load_model

    model = load_model(checkpoint)
    size = input_size(model)
    source = get_source()

    def images(idx: np.ndarray) -> np.ndarray:
        return np.stack([prepare_for_model(source.read_image(split, int(i)), size) for i in idx])

    gradcam = GradCAM(model)
    predicted, focus = [], []
    for s in range(0, len(indices), batch):
        result = gradcam.explain(images(indices[s : s + batch]))  # targets: predicted class
        predicted.append(result.targets)
        focus.append([focus_score(m) for m in result.maps])
        print(f"\r{checkpoint}: Grad-CAM {min(s + batch, len(indices))}/{len(indices)}", end="")
    ig = IntegratedGradients(model, steps=STEPS)
    gaps = []
    for s in range(0, len(ig_indices), batch):
        gaps.append(ig.explain(images(ig_indices[s : s + batch])).extras["completeness_gap"])
        print(f"\r{checkpoint}: IG {min(s + batch, len(ig_indices))}/{len(ig_indices)}   ", end="")
    print()
    return {
        "predicted": np.concatenate(predicted).astype(np.int64),
        "focus": np.concatenate(focus).astype(np.float64),
        "ig_gap": np.concatenate(gaps).astype(np.float64) if gaps else np.zeros(0),
    }


def run(before: str, after: str, every: int, ig_every: int, split: str = "test") -> dict[str, Any]:
    """The comparison; returns the JSON-ready result."""
    from flowerdash.data.sources import get_source
    from flowerdash.explain.defaults import BASELINE, RULE, STEPS
    from flowerdash.inference.evaluation import file_hash
    from flowerdash.models.checkpoints import MODEL_FILE

    start = time.perf_counter()
    labels = get_source().split(split).labels
    indices = np.arange(0, len(labels), every)
    ig_indices = np.arange(0, len(labels), ig_every)
    out = {name: explain_model(path, indices, ig_indices, split) for name, path in
           (("before", before), ("after", after))}  # fmt: skip
    right = {k: v["predicted"] == labels[indices] for k, v in out.items()}
    both = right["before"] & right["after"]
    models: dict[str, Any] = {}
    for name, path in (("before", before), ("after", after)):
        f, ok = out[name]["focus"], right[name]
        gap = out[name]["ig_gap"]
        models[name] = {
            "checkpoint": path,
            "model_hash": file_hash(Path(path) / MODEL_FILE),
            "accuracy": float(ok.mean()),
            "focus_right": focus_stats(f[ok]),
            "focus_wrong": focus_stats(f[~ok]),
            "focus_both_right": focus_stats(f[both]),
            "ig_gap": {
                "median": float(np.median(gap)),
                "share_at_most_5pct": float(np.mean(gap <= 0.05)),
                "n": len(gap),
            },
        }
    return {
        "split": split,
        "every": every,
        "ig_every": ig_every,
        "photos": len(indices),
        "ig_photos": len(ig_indices),
        "both_right": int(both.sum()),
        "ig": {"rule": RULE, "steps": STEPS, "baseline": BASELINE},
        "models": models,
        "focus_both_right_change": paired(
            out["before"]["focus"][both], out["after"]["focus"][both]
        ),
        "ig_gap_change": paired(out["before"]["ig_gap"], out["after"]["ig_gap"]),
        "seconds": time.perf_counter() - start,
    }


def markdown(r: dict[str, Any]) -> str:
    """The summary table quoted in docs/RESULTS.md."""
    b, a = r["models"]["before"], r["models"]["after"]
    c = r["focus_both_right_change"]
    rows = [
        ("right answers: mean focus", "focus_right", "mean", "{:.2f}"),
        ("right answers: below 0.3", "focus_right", "away", "{:.1%}"),
        ("wrong answers: mean focus", "focus_wrong", "mean", "{:.2f}"),
        ("wrong answers: below 0.3", "focus_wrong", "away", "{:.1%}"),
        ("photos both get right: below 0.3", "focus_both_right", "away", "{:.1%}"),
        ("IG gap at most 5%", "ig_gap", "share_at_most_5pct", "{:.1%}"),
    ]
    lines = [
        f"{r['photos']} {r['split']} photos (every {r['every']}th), {r['both_right']} right for "
        f"both; IG on {r['ig_photos']} (every {r['ig_every']}th), {r['ig']['rule']} "
        f"{r['ig']['steps']} steps, {r['ig']['baseline']} baseline.",
        "",
        f"| | before (`{Path(b['checkpoint']).name}`) | after (`{Path(a['checkpoint']).name}`) |",
        "|---|---|---|",
    ]

    def cell(value: float | None, fmt: str) -> str:
        return "–" if value is None else fmt.format(value)

    for label, key, field, fmt in rows:
        lines.append(f"| {label} | {cell(b[key][field], fmt)} | {cell(a[key][field], fmt)} |")
    lines += [
        "",
        f"Focus on the photos both get right, after − before: {c['mean']:+.3f} ± {c['se']:.3f} "
        f"(paired, {c['n']} photos).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, save the JSON, print the markdown."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explanation_paired")
    parser.add_argument("before", help="checkpoint folder of the model shipped before")
    parser.add_argument("after", help="checkpoint folder of the model shipped now")
    parser.add_argument("--every", type=int, default=5, help="Grad-CAM on every n-th photo")
    parser.add_argument("--ig-every", type=int, default=50, help="IG on every n-th photo")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = run(args.before, args.after, args.every, args.ig_every, args.split)
    write_result(args.out, result)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
