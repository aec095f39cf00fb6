"""What several commands share: the optional checkpoint before an image, loading it, and the
framing of the photo."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from flowerdash.data.images import WHOLE_PHOTO, Framing


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
    group.add_argument(
        "--find",
        action="store_true",
        help="let the model try about twenty squares and keep the one it is surest of; its "
        "percentage is lowered for the best of many tries",
    )


@dataclass(frozen=True)
class FramedPhoto:
    """A decoded photo and the square of it the model sees (``images.frame``)."""

    photo: np.ndarray
    framing: Framing
    find: bool = False  # --find: ``for_model`` lets the model pick the square
    found: Framing | None = None  # the square it picked

    @cached_property  # a framed square is a copy; the answer, note and JSON all read it
    def image(self) -> np.ndarray:
        from flowerdash.data.images import frame

        return frame(self.photo, *self.framing)

    def for_model(self, model: Any) -> FramedPhoto:
        """With ``--find``, framed where ``model`` is surest (``framing.find_flower``)."""
        if not self.find:
            return self
        from flowerdash.inference.framing import find_flower
        from flowerdash.inference.predict import predict_batch
        from flowerdash.models.backbones import input_size

        found = find_flower(lambda x: predict_batch(model, x), self.photo, input_size(model))
        return replace(self, framing=found.framing, found=found.framing)

    @property
    def shorter_side(self) -> int:
        """How many pixels across the square the model sees is, in the photo."""
        return min(self.image.shape[:2])

    def probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        """The probabilities to report for this framing (``framing.shown_probabilities``)."""
        from flowerdash.inference.framing import shown_probabilities

        return shown_probabilities(probabilities, self.framing, self.found, self.shorter_side)

    def describe(self) -> str | None:
        """Lines for the plain-text output when ``--find`` moved the square or the square is
        small (``reading.is_small_photo``), else None."""
        from flowerdash.explain.reading import is_small_photo, small_photo_note

        lines = []
        if self.found is not None:
            zoom, x, y = self.found
            lines.append(
                f"Framed where the model is surest: zoom {zoom:g}, x {x:g}, y {y:g} (the best of "
                "about twenty squares; its percentages are lowered to allow for that)"
            )
        if is_small_photo(self.shorter_side):
            lines.append(small_photo_note(self.shorter_side))
        return "\n".join(lines) or None

    def json(self) -> dict[str, Any]:
        """The framing as the JSON output records it, so an answer can be reproduced."""
        zoom, x, y = self.framing
        return {
            "zoom": zoom,
            "x": x,
            "y": y,
            "found": self.found is not None,
            "shorter_side": self.shorter_side,
        }


def read_photo(path: str, args: argparse.Namespace, parser: argparse.ArgumentParser) -> FramedPhoto:
    """The photo at ``path``, decoded safely and framed as the framing arguments ask; checked
    before any model loads, so a bad photo or framing fails in a second, in one line."""
    from flowerdash.data.images import frame, load_image

    asked = (args.zoom, args.x, args.y)
    if args.find and asked != WHOLE_PHOTO:
        parser.error("--find chooses the square itself: give it or --zoom/--x/--y, not both")
    photo = load_image(Path(path))
    frame(photo, *asked)  # raises for a framing outside the photo
    return FramedPhoto(photo, asked, find=args.find)
