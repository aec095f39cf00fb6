"""Does "Find the flower" help when the model is unsure? ``python -m benchmarks.find_flower
--fold FOLD``.

``flowerdash.inference.framing.find_flower`` frames the square of a photo where the model is
surest. Here the fold (the shipped recipe trained on the training photos only) answers three
versions of every validation photo (``benchmarks.proxies``: clean, zoomed out off-centre, four
crops in a grid), its probabilities calibrated with a temperature fitted on its clean answers, as
the shipped one is. Where the whole photo's answer is below the unsure threshold
(``reading.UNSURE_BELOW``), the square it finds is scored against the whole photo.

The rule, fixed before anything was measured: Try it offers "Find the flower" only if, over
those unsure photos pooled across the three versions, the square's top answer is right at least
5 points more often than the whole photo's. Also recorded: how often the square's answer is at
or above the threshold and wrong, a confident mistake the page would then show.

Writes ``benchmarks/results/find-flower.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from flowerdash.data.images import WHOLE_PHOTO

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "find-flower.json"
VERSIONS = ("clean", "wide", "several")
GAIN = 0.05  # the rule's bar, in top-1 on the unsure photos


def summary(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Top-1 of the whole photo and of the square found, and their confident mistakes."""
    n = len(rows)

    def share(test) -> float:
        return float(np.mean([test(r) for r in rows])) if n else float("nan")

    return {
        "n": n,
        "whole_top1": share(lambda r: r["whole"] == r["label"]),
        "found_top1": share(lambda r: r["found"] == r["label"]),
        "found_is_whole": share(lambda r: tuple(r["framing"]) == WHOLE_PHOTO),
        "found_sure_and_wrong": share(
            lambda r: r["found_p"] >= threshold and r["found"] != r["label"]
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.find_flower", description=__doc__)
    parser.add_argument("--fold", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from benchmarks.machine import describe
    from benchmarks.proxies import proxy_versions
    from flowerdash.data.images import prepare_for_model
    from flowerdash.data.pipelines import select_indices
    from flowerdash.data.sources import get_source
    from flowerdash.explain.reading import UNSURE_BELOW
    from flowerdash.inference.calibration import apply_temperature, fit_temperature
    from flowerdash.inference.framing import find_flower
    from flowerdash.inference.litert import batch_predictor
    from flowerdash.models.backbones import input_size
    from flowerdash.models.checkpoints import load_model

    source = get_source()
    model = load_model(args.fold)
    predict = batch_predictor(model)
    size = input_size(model)
    index = source.split("val")
    chosen = [int(i) for i in select_indices(len(index), args.limit, seed=0)]
    labels = index.labels[chosen]

    def photo(i: int) -> dict[str, np.ndarray]:
        return proxy_versions(source.read_image("val", i), i, names=VERSIONS)

    whole: dict[str, list[np.ndarray]] = {v: [] for v in VERSIONS}
    for start in range(0, len(chosen), 32):
        batch = [photo(i) for i in chosen[start : start + 32]]
        for v in VERSIONS:
            x = np.stack([prepare_for_model(b[v], size) for b in batch]).astype(np.float32)
            whole[v].append(predict(x))
    raw = {v: np.concatenate(p) for v, p in whole.items()}
    temperature = fit_temperature(raw["clean"], labels)
    calibrated = {v: apply_temperature(p, temperature) for v, p in raw.items()}

    def predict_calibrated(x: np.ndarray) -> np.ndarray:
        return apply_temperature(predict(x), temperature)

    rows: dict[str, list[dict[str, Any]]] = {v: [] for v in VERSIONS}
    for j, i in enumerate(chosen):
        unsure = [v for v in VERSIONS if calibrated[v][j].max() < UNSURE_BELOW]
        if not unsure:
            continue
        changed = photo(i)
        for v in unsure:
            found = find_flower(predict_calibrated, changed[v], size)
            rows[v].append(
                {
                    "index": i,
                    "label": int(labels[j]),
                    "whole": int(calibrated[v][j].argmax()),
                    "found": int(found.probabilities.argmax()),
                    "found_p": float(found.probabilities.max()),
                    "framing": list(found.framing),
                }
            )
    pooled = [r for v in VERSIONS for r in rows[v]]
    result: dict[str, Any] = {
        "machine": describe(),
        "fold": args.fold.name,
        "n": len(chosen),
        "temperature": temperature,
        "unsure_below": UNSURE_BELOW,
        "rule_gain": GAIN,
        "versions": {
            v: {
                "unsure_share": float(np.mean(calibrated[v].max(axis=1) < UNSURE_BELOW)),
                **summary(rows[v], UNSURE_BELOW),
            }
            for v in VERSIONS
        },
        "pooled": summary(pooled, UNSURE_BELOW),
        "rows": rows,
    }
    gain = result["pooled"]["found_top1"] - result["pooled"]["whole_top1"]
    result["offer"] = bool(gain >= GAIN)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for key, s in (*result["versions"].items(), ("pooled", result["pooled"])):
        print(key, {k: round(v, 3) if isinstance(v, float) else v for k, v in s.items()})
    print("offer:", result["offer"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
