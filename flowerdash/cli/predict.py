"""``python -m flowerdash predict``: the top flower names for a photo."""

from __future__ import annotations

import argparse
import json
from typing import Any

from flowerdash.cli.common import (
    add_framing_arguments,
    checkpoint_and_image,
    load_checkpoint,
    read_photo,
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
    from flowerdash.inference.predict import predict_probabilities, top_k

    ckpt, image_path = checkpoint_and_image(args.paths, args._parser)
    photo = read_photo(image_path, args, args._parser)
    model, meta, folder = load_checkpoint(ckpt)
    photo = photo.for_model(model)
    probabilities = photo.probabilities(predict_probabilities(model, photo.image))
    top = top_k(probabilities, meta["class_names"], args.top)
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoint": str(folder),
                    "image": image_path,
                    "framing": photo.json(),
                    "top": [{"label": k, "name": n, "probability": p} for k, n, p in top],
                }
            )
        )
    else:
        if photo.describe():
            print(photo.describe())
        for k, name, p in top:
            print(f"{p:7.2%}  {name} (label {k})")
    return 0
