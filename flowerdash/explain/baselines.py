"""Baseline images in pixel space: where Integrated Gradients' path starts and what deletion and
insertion put in place of a pixel. Pure numpy/OpenCV."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from flowerdash.errors import ExplainError
from flowerdash.explain.defaults import BASELINE, BASELINES
from flowerdash.i18n import _

__all__ = ["check_baseline", "make_baseline"]


def check_baseline(baseline: Any) -> None:
    """ExplainError unless ``baseline`` is a known name or an array."""
    if isinstance(baseline, str) and baseline not in BASELINES:
        raise ExplainError(
            _("Unknown IG baseline {baseline}; choose one of {choices} or give an image.").format(
                baseline=repr(baseline), choices=", ".join(BASELINES)
            )
        )


def _blur(image: np.ndarray) -> np.ndarray:
    # A wide blur keeps the colours and removes the shapes the model could recognise.
    sigma = max(image.shape[:2]) / 8.0
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    return blurred.reshape(image.shape).astype(np.float32)


def make_baseline(
    images: np.ndarray, baseline: str | np.ndarray = BASELINE, seed: int = 0
) -> np.ndarray:
    """Baselines [N, H, W, C] in pixel space 0..255 for float32 images [N, H, W, C]."""
    images = np.asarray(images, dtype=np.float32)
    check_baseline(baseline)
    if isinstance(baseline, str):
        if baseline == "black":
            return np.zeros_like(images)
        if baseline == "blur":
            return np.stack([_blur(img) for img in images])
        rng = np.random.default_rng(seed)
        return rng.uniform(0.0, 255.0, size=images.shape).astype(np.float32)
    arr = np.asarray(baseline)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ExplainError(
            _("A baseline image must be a numeric array, got dtype {dtype}.").format(
                dtype=arr.dtype
            )
        )
    arr = arr.astype(np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != images.shape[1:] or arr.shape[0] not in (1, len(images)):
        raise ExplainError(
            _(
                "The baseline image has shape {shape} but the images are "
                "{height}x{width}x{channels}; resize it to the same size."
            ).format(
                shape=tuple(np.asarray(baseline).shape),
                height=images.shape[1],
                width=images.shape[2],
                channels=images.shape[3],
            )
        )
    if not np.isfinite(arr).all():
        raise ExplainError(_("The baseline image contains NaN or infinite values."))
    return np.broadcast_to(arr, images.shape).copy()
