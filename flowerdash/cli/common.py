"""What several commands share: the optional checkpoint before an image, loading it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


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
