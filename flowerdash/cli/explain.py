"""``python -m flowerdash explain``: a Grad-CAM / Integrated Gradients panel for a photo."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from flowerdash.cli.common import (
    add_framing_arguments,
    checkpoint_and_image,
    load_checkpoint,
    read_photo,
)
from flowerdash.explain import defaults


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``explain`` sub-command."""
    x = subparsers.add_parser(
        "explain",
        help="GradCAM / Integrated Gradients panel for an image",
        description="Explain a prediction: explain [CHECKPOINT] IMAGE",
    )
    x.add_argument("paths", nargs="+", metavar="[CHECKPOINT] IMAGE")
    x.add_argument("--method", default="both", choices=("gradcam", "ig", "both"))
    x.add_argument(
        "--steps",
        type=int,
        default=defaults.STEPS,
        help=f"Integrated Gradients steps ({defaults.MIN_STEPS}..{defaults.MAX_STEPS})",
    )
    x.add_argument(
        "--baseline",
        default=defaults.BASELINE,
        choices=defaults.BASELINES,
        help="Integrated Gradients starting image (default: a blurred copy of the photo)",
    )
    x.add_argument("--target", type=int, default=None, help="class to explain (default: predicted)")
    x.add_argument("--alpha", type=float, default=0.5, help="overlay opacity 0..1")
    x.add_argument("--colormap", default="jet")
    x.add_argument("--out", default="panel.png", help="where to write the PNG panel")
    x.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    add_framing_arguments(x)

    x.set_defaults(func=run)
    return x


def run(args: argparse.Namespace) -> int:
    """Write a GradCAM / IG panel for an image."""
    from flowerdash.data.images import prepare_for_model
    from flowerdash.explain.explanations import explain_image, result_to_json
    from flowerdash.explain.overlays import make_panel, overlay, to_png_bytes
    from flowerdash.i18n import _
    from flowerdash.models.backbones import input_size

    ckpt, image_path = checkpoint_and_image(args.paths, args._parser)
    photo = read_photo(image_path, args, args._parser)
    model, meta, folder = load_checkpoint(ckpt)
    photo = photo.for_model(model)
    x = prepare_for_model(photo.image, input_size(model)).astype("uint8")
    methods = ("gradcam", "ig") if args.method == "both" else (args.method,)
    result = explain_image(
        model, x, methods, target=args.target, steps=args.steps, baseline=args.baseline
    )
    result = replace(result, probabilities=photo.probabilities(result.probabilities))
    names = meta["class_names"]
    overlays = {
        _(defaults.METHOD_LABELS[m]): overlay(
            x, result.maps[m], alpha=args.alpha, cmap=args.colormap
        )
        for m in methods
    }
    pred = int(result.probabilities.argmax())
    panel = make_panel(
        x,
        overlays,
        [
            f"Predicted: {names[pred]} ({result.probabilities[pred]:.1%})",
            f"Explained class: {names[result.target]}",
        ],
    )
    Path(args.out).write_bytes(to_png_bytes(panel))
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoint": str(folder),
                    "image": image_path,
                    "framing": photo.json(),
                    "out": args.out,
                    "predicted": pred,
                    "predicted_name": names[pred],
                    **result_to_json(result),
                }
            )
        )
    else:
        if photo.describe():
            print(photo.describe())
        print(
            f"Predicted {names[pred]} ({result.probabilities[pred]:.1%}); panel written to {args.out}"
        )
    return 0
