"""What several commands share: the optional checkpoint before an image, loading it, and the
framing of the photo."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from flowerdash.data.images import WHOLE_PHOTO


def checkpoint_and_image(
    values: list[str], parser: argparse.ArgumentParser
) -> tuple[str | None, str]:
    """``[CHECKPOINT] IMAGE``: the checkpoint (None: the default one) and the image."""
    if len(values) == 1:
        return None, values[0]
    if len(values) == 2:
        return values[0], values[1]
    parser.error("expected [CHECKPOINT] IMAGE")


def load_checkpoint(checkpoint: str | None) -> tuple[Any, dict[str, Any], Path]:
    """The model, metadata and folder of a checkpoint (None: the default one)."""
    from flowerdash.models import checkpoints

    folder = checkpoints.resolve(checkpoint)
    meta = checkpoints.read_meta(folder)
    return checkpoints.load_model(folder), meta, folder


def add_framing_arguments(parser: argparse.ArgumentParser) -> None:
    """``--zoom``, ``--x``, ``--y``: the square the model sees, as the app's "Frame the flower"."""
    zoom, x, y = WHOLE_PHOTO
    group = parser.add_argument_group(
        "framing",
        "The model sees one square of the photo, the centre one by default. For a small or "
        "off-centre flower, zoom in and move the square onto it.",
    )
    group.add_argument(
        "--zoom",
        type=float,
        default=zoom,
        help="1 or more: the square's side is the photo's shorter side divided by this",
    )
    group.add_argument("--x", type=float, default=x, help="the square from left (0) to right (1)")
    group.add_argument("--y", type=float, default=y, help="the square from top (0) to bottom (1)")


def framed_image(path: str, args: argparse.Namespace) -> np.ndarray:
    """The photo at ``path``, decoded safely and framed as the framing arguments ask."""
    from flowerdash.data.images import frame, load_image

    return frame(load_image(Path(path)), args.zoom, args.x, args.y)


def framing_json(args: argparse.Namespace) -> dict[str, float]:
    """The framing arguments as the JSON output records them, so an answer can be reproduced."""
    return {"zoom": args.zoom, "x": args.x, "y": args.y}
