"""``python -m flowerdash predict``: the top flower names for a photo."""

from __future__ import annotations

import argparse
import json
from typing import Any

from flowerdash.cli.common import (
    add_framing_arguments,
    checkpoint_and_image,
    framed_image,
    framing_json,
    load_checkpoint,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``predict`` sub-command."""
    p = subparsers.add_parser(
        "predict",
        help="top-5 flower names for an image",
        description="Predict the flower in an image: predict [CHECKPOINT] IMAGE",
    )
    p.add_argument("paths", nargs="+", metavar="[CHECKPOINT] IMAGE")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    add_framing_arguments(p)

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the top-k flower names for an image."""
    from flowerdash.inference.predict import predict_image

    ckpt, image_path = checkpoint_and_image(args.paths, args._parser)
    image = framed_image(image_path, args)
    model, meta, folder = load_checkpoint(ckpt)
    top = predict_image(model, image, meta["class_names"], top=args.top)
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoint": str(folder),
                    "image": image_path,
                    "framing": framing_json(args),
                    "top": [{"label": k, "name": n, "probability": p} for k, n, p in top],
                }
            )
        )
    else:
        for k, name, p in top:
            print(f"{p:7.2%}  {name} (label {k})")
    return 0
