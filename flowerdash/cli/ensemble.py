"""``python -m flowerdash ensemble``: several checkpoints saved as one that averages them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from flowerdash.models.ensemble import AVERAGES


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``ensemble`` sub-command."""
    n = subparsers.add_parser(
        "ensemble",
        help="combine checkpoints into one that averages their scores",
        description=(
            "Combine trained checkpoints into one checkpoint whose class scores are the mean of "
            "theirs (one flat model: it can be evaluated and explained like any other), then "
            "evaluate it on the test split."
        ),
    )
    n.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="two or more")
    n.add_argument(
        "--average",
        choices=AVERAGES,
        default="scores",
        help="scores: one model running every member (the default); weights: one model of a "
        "member's size with the mean of their weights, for runs fine-tuned from the same start "
        "(the same backbone and head)",
    )
    n.add_argument(
        "--backbone-size",
        type=int,
        default=None,
        metavar="PIXELS",
        help="weights only: enlarge every photo to this side before the backbone, for runs "
        "trained on random zooms (their flowers look larger than in a centre crop)",
    )
    n.add_argument(
        "--also-size",
        type=int,
        action="append",
        default=[],
        metavar="PIXELS",
        help="weights only, repeatable: also answer every photo enlarged to this side, and "
        "average the answers (explanations read the smallest size)",
    )
    n.add_argument(
        "--mirror",
        action="store_true",
        help="weights only: also answer every photo mirrored (left and right swapped), and "
        "average the answers",
    )
    n.add_argument("--name", default=None, help="name of the new checkpoint")
    n.add_argument("--checkpoint-dir", default=None)
    n.add_argument("--no-test", action="store_true", help="do not evaluate on the test split")
    n.add_argument("--limit", type=int, default=None, help="evaluate on only N test images")
    n.add_argument("--data-dir", default=None)
    n.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    n.set_defaults(func=run)
    return n


def run(args: argparse.Namespace) -> int:
    """Save the ensemble of checkpoints as a checkpoint and record its test accuracy."""
    from flowerdash.inference.evaluation import measure_test_accuracy
    from flowerdash.models import checkpoints
    from flowerdash.models.ensemble import ensemble_checkpoint

    members = [checkpoints.resolve(c, args.checkpoint_dir) for c in args.checkpoints]
    source = None
    if not args.no_test:  # a missing dataset is reported before anything is written
        from flowerdash.data.sources import get_source

        source = get_source(args.data_dir)
    folder = ensemble_checkpoint(
        members,
        name=args.name,
        root=args.checkpoint_dir,
        average=args.average,
        backbone_size=args.backbone_size,
        also_sizes=args.also_size,
        mirror=args.mirror,
    )
    result: dict[str, Any] = {"checkpoint": str(folder), "members": [str(m) for m in members]}
    if source is not None:
        result["test"] = measure_test_accuracy(folder, source, limit=args.limit)
    if args.json:
        print(json.dumps(result))
    else:
        kind = "Ensemble" if args.average == "scores" else "Weight average"
        print(f"{kind} of {len(members)} checkpoints: {folder}")
        if "test" in result:
            test = result["test"]
            print(f"test ({test['n']} images): top-1 {test['top1']:.2%}, top-5 {test['top5']:.2%}")
    return 0
