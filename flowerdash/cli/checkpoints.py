"""``python -m flowerdash checkpoints``: the usable and broken checkpoints."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``checkpoints`` sub-command."""
    c = subparsers.add_parser(
        "checkpoints", help="list checkpoints", description="List checkpoints."
    )
    c.add_argument("--checkpoint-dir", default=None)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=run)
    return c


def run(args: argparse.Namespace) -> int:
    """List usable and broken checkpoints."""
    from flowerdash.models.checkpoints import list_checkpoints

    listing = list_checkpoints(args.checkpoint_dir)
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoints": [
                        {"path": str(c.path), "label": c.label} for c in listing.checkpoints
                    ],
                    "broken": [{"path": str(b.path), "reason": b.reason} for b in listing.broken],
                }
            )
        )
        return 0
    for c in listing.checkpoints:
        print(f"{c.label}  ({c.path})")
    for b in listing.broken:
        print(f"unusable: {b.path.name}: {b.reason}")
    return 0
