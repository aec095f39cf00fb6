"""``python -m flowerdash evaluate``: top-1/top-5 and per-image predictions on a split."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``evaluate`` sub-command."""
    e = subparsers.add_parser(
        "evaluate",
        help="test top-1/top-5 and per-image predictions",
        description="Evaluate a checkpoint (default: the shipped one) on a split.",
    )
    e.add_argument("checkpoint", nargs="?", default=None)
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument("--limit", type=int, default=None, help="evaluate on only N images")
    e.add_argument("--batch-size", type=int, default=64)
    e.add_argument("--out", default=None, help="per-image predictions file (JSON lines)")
    e.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    e.add_argument("--data-dir", default=None)
    e.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    e.set_defaults(func=run)
    return e


def run(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint and print metrics."""
    from flowerdash.data.sources import get_source
    from flowerdash.inference.evaluation import evaluate_checkpoint, predictions_to_json
    from flowerdash.models import checkpoints

    folder = checkpoints.resolve(args.checkpoint)
    meta = checkpoints.read_meta(folder)
    source = get_source(args.data_dir)
    tty = sys.stderr.isatty() and not args.json

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\rEvaluating {done}/{total}", end="", file=sys.stderr, flush=True)

    start = time.perf_counter()
    preds, metrics = evaluate_checkpoint(
        folder,
        args.split,
        source=source,
        limit=args.limit,
        batch_size=args.batch_size,
        use_cache=not args.no_cache,
        progress=progress,
    )
    if tty:
        print(file=sys.stderr)
    out = Path(args.out) if args.out else folder / "eval" / f"{args.split}-predictions.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(predictions_to_json(preds, meta["class_names"]), encoding="utf-8")
    result = {
        "checkpoint": str(folder),
        "split": args.split,
        "n": metrics["n"],
        "top1": metrics["top1"],
        "top5": metrics["top5"],
        "seconds": round(time.perf_counter() - start, 2),
        "predictions": str(out),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{folder.name} on {args.split} ({metrics['n']} images): "
            f"top-1 {metrics['top1']:.2%}, top-5 {metrics['top5']:.2%}"
        )
        print(f"Per-image predictions: {out}")
    return 0
