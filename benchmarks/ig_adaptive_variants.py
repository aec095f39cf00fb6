"""``python -m benchmarks.ig_adaptive_variants``: how the adaptive IG rule's split was chosen.

At 64 model evaluations, blurred baseline, the shipped model, on 24 test photos that
``benchmarks.ig_rules`` does not report on (offset 7): the completeness gap of the fixed
``midpoint_cubic`` rule and of the adaptive rule with several first-grid warps and bisection
budgets, and on 6 of the photos the per-pixel error against a 512-step ``midpoint_cubic``
reference. A smaller gap alone is not enough: the bisections are steered by the same slope error
the gap adds up, so a variant is only better if its attributions also stay as close to the
reference. About 4 minutes on 2 cores; prints a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
from unittest import mock

import numpy as np

VARIANTS = (  # (bisections, first-grid warp) out of 64 evaluations; None = midpoint_cubic
    None,
    (0, 3.0),
    (8, 3.0),
    (16, 3.0),
    (32, 3.0),
    (0, 2.0),
    (16, 2.0),
    (16, 2.5),
)


def main(argv: list[str] | None = None) -> int:
    """Measure every variant and print the table."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ig_adaptive_variants")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--offset", type=int, default=7)
    parser.add_argument("--reference-images", type=int, default=6)
    args = parser.parse_args(argv)

    from benchmarks.ig_research import ResearchIG
    from benchmarks.ig_rules import relative_errors
    from flowerdash.data.images import load_image, prepare_for_model
    from flowerdash.data.sources import get_source
    from flowerdash.explain import integrated_gradients as igm
    from flowerdash.explain.quadrature import AdaptiveTrapezoid
    from flowerdash.inference.evaluation import load_cached_predictions
    from flowerdash.models.checkpoints import SHIPPED_DEFAULT, load_model

    model = load_model(SHIPPED_DEFAULT)
    source = get_source()
    files = load_cached_predictions(SHIPPED_DEFAULT, "test").files
    picks = (np.linspace(0, len(files) - 1, args.images).astype(int) + args.offset) % len(files)
    x = np.stack([prepare_for_model(load_image(source.image_path(f)), 224) for f in files[picks]])
    few = x[: args.reference_images]
    ref = ResearchIG(model, steps=512, rule="midpoint_cubic").explain(few)

    print("| rule | bisections | first grid | median gap | 90th pct | within 5% | error vs ref |")
    print("|---|---|---|---|---|---|---|")
    for variant in VARIANTS:
        if variant is None:
            rule, label = "midpoint_cubic", "| midpoint_cubic | – | u³ midpoints"
            patch = contextlib.nullcontext()
        else:
            bisections, warp = variant
            rule, label = "adaptive", f"| adaptive | {bisections} | u^{warp:g} trapezoid"
            patch = mock.patch.object(
                igm,
                "AdaptiveTrapezoid",
                functools.partial(
                    AdaptiveTrapezoid, max_refinements=bisections, warp=warp, share=0.5
                ),
            )
        with patch:
            ig = ResearchIG(model, steps=64, rule=rule)
            gaps = ig.explain(x).extras["completeness_gap"]
            attrs = ig.explain(few).attributions
        err = relative_errors(attrs, ref.attributions)
        print(
            f"{label} | {np.median(gaps):.1%} | {np.quantile(gaps, 0.9):.1%} "
            f"| {np.mean(gaps <= 0.05):.0%} | {np.median(err):.2%} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
