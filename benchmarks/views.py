"""Would answering several views of each photo reach the changed-versions target?
``python -m benchmarks.views [--recipe NAME]``.

The mean over the eight changed versions of the proxies (``benchmarks.proxies``) is the one
target of the issue the shipped recipe has not met over both folds (docs/RESULTS.md). This asks
what answering more than one view of each photo would give, with no training: the answers
(probabilities) of the views are averaged. Three candidates, each measured on both folds of a
recipe (``fold-RECIPE-up256`` on the validation photos, ``swap-RECIPE-up256`` on the training
photos; the ``-up288`` twins are the same members averaged with every photo enlarged to 288 px
before the backbone):

- ``mirror``: the photo and its mirror image (left and right swapped), answered at 256 px;
- ``sizes``: the photo answered at 256 px and at 288 px;
- ``both``: the four views.

The rule, set before any of their numbers: a candidate is worth building into the product only
if, averaged over both folds, its mean over the eight changed versions is at least 88.0% and
its clean photos at most 0.5 points behind the single view; of those that pass, the one with
the fewest views. Each view costs one more pass of the model for every answer, so a candidate
that passes is still weighed against that cost before it is built. Writes
``benchmarks/results/views-RECIPE.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, write_result
from benchmarks.proxies import PROXIES, proxy_images, version_probabilities

RECIPE = "soup9-grain-tiles"  # the shipped recipe
CANDIDATES = {
    "single": (("256", False),),
    "mirror": (("256", False), ("256", True)),
    "sizes": (("256", False), ("288", False)),
    "both": (("256", False), ("256", True), ("288", False), ("288", True)),
}
RULE = {"changed_at_least": 0.88, "clean_behind_at_most": 0.005}


def mirrored(photo: np.ndarray, index: int, size: int) -> dict[tuple[str, bool], np.ndarray]:
    """Every proxy version of a photo, cropped for the model, as it is and mirrored."""
    out = {}
    for name, x in proxy_images(photo, index, size).items():
        out[(name, False)] = x
        out[(name, True)] = np.ascontiguousarray(x[:, ::-1])
    return out


def scores(probs: dict[tuple[str, str, bool], np.ndarray], labels: np.ndarray) -> dict[str, Any]:
    """Top-1 per proxy version and their changed mean, for every candidate's averaged answers."""
    out = {}
    for candidate, views in CANDIDATES.items():
        row = {}
        for name in PROXIES:
            p = np.mean([probs[(size, name, flip)] for size, flip in views], axis=0)
            row[name] = float((p.argmax(axis=1) == labels).mean())
        row["mean_changed"] = float(np.mean([row[k] for k in PROXIES if k != "clean"]))
        out[candidate] = row
    return out


def choose(folds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The rule above, applied to the candidates' scores on both folds."""
    both = {
        c: {k: float(np.mean([f[c][k] for f in folds.values()])) for k in ("clean", "mean_changed")}
        for c in CANDIDATES
    }
    single = both["single"]
    passing = [
        c
        for c in CANDIDATES
        if c != "single"
        and both[c]["mean_changed"] >= RULE["changed_at_least"]
        and single["clean"] - both[c]["clean"] <= RULE["clean_behind_at_most"]
    ]
    chosen = min(passing, key=lambda c: len(CANDIDATES[c]), default=None)
    return {"both_folds": both, "passing": passing, "chosen": chosen}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.views", description=__doc__)
    parser.add_argument("--runs", type=Path, default=Path("/tmp/cand"), help="the folds' folder")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--recipe", default=RECIPE, help="the folds' name between fold-/swap- and -up256"
    )
    args = parser.parse_args(argv)

    from benchmarks.machine import describe
    from flowerdash.data.sources import get_source

    source = get_source()
    folds = {}
    for split, fold in {"val": f"fold-{args.recipe}", "train": f"swap-{args.recipe}"}.items():
        probs: dict[tuple[str, str, bool], np.ndarray] = {}
        for size in ("256", "288"):
            found, labels = version_probabilities(
                args.runs / f"{fold}-up{size}", source, split, args.limit, mirrored
            )
            probs |= {(size, name, flip): p for (name, flip), p in found.items()}
        folds[f"{fold}@{split}"] = scores(probs, labels)
        print(f"{fold} on {len(labels)} {split} photos:")
        for candidate, row in folds[f"{fold}@{split}"].items():
            print(f"  {candidate:7s} clean {row['clean']:.1%}  changed {row['mean_changed']:.1%}")
    result = {
        "machine": describe(),
        "recipe": args.recipe,
        "n": int(len(labels)),
        "rule": RULE,
        "candidates": {
            c: [f"{s} px{' mirrored' if m else ''}" for s, m in v] for c, v in CANDIDATES.items()
        },
        "folds": folds,
    } | choose(folds)
    print(f"chosen: {result['chosen']}")
    write_result(RESULTS / f"views-{args.recipe}.json", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
