"""Controlled image corruptions at three severities for the robustness evaluation (numpy/OpenCV).

All corruptions work in the model's pixel space (RGB, 0..255) and return float32 in 0..255.
Severity 1 is mild, 3 is strong; the parameters per severity are in :data:`PARAMETERS`:

===========  ====================  ===========================================================
name         severity 1 / 2 / 3    what happens
===========  ====================  ===========================================================
rotation     15 / 30 / 45 degrees  anticlockwise about the centre, borders filled by mirroring
flip         1 / 2 / 3             1 mirrored left-right, 2 upside down, 3 both (= turned 180°)
zoom         1.2 / 1.5 / 2.0       zoom into the centre (centre crop resized back, bilinear)
translation  10 / 20 / 30 %        shifted right and down by that share of width and height,
                                   the uncovered strips filled by mirroring the picture
brightness   0.6 / 0.4 / 0.2       darkened: every pixel multiplied by the factor (darkening
                                   only, so nothing clips and each severity is strictly darker)
contrast     0.6 / 0.4 / 0.2       pulled towards the picture's mean grey level by the factor
blur         1 / 2 / 4 pixels      Gaussian blur with that sigma
noise        10 / 25 / 50          Gaussian noise with that standard deviation (seeded)
jpeg         30 / 15 / 5           JPEG compression at that quality (OpenCV)
occlusion    10 / 25 / 40 %        a grey (128) rectangle at the centre, same shape as the
                                   picture, covering that share of its area; the centre is where
                                   the flower usually is, so this is the hardest placement
grayscale    50 / 80 / 100 %       colour removed by that share (100 % = black and white),
                                   grey = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601)
===========  ====================  ===========================================================

Only ``noise`` is random; it is drawn from ``numpy.random.default_rng(seed)`` for the whole batch,
and the same pattern is scaled by each severity, so results are deterministic given the seed.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from flowerdash.errors import ConfigError, ImageError
from flowerdash.i18n import _

SEVERITIES = (1, 2, 3)

PARAMETERS: dict[str, tuple[float, float, float]] = {
    "rotation": (15.0, 30.0, 45.0),
    "flip": (1, 2, 3),
    "zoom": (1.2, 1.5, 2.0),
    "translation": (0.10, 0.20, 0.30),
    "brightness": (0.6, 0.4, 0.2),
    "contrast": (0.6, 0.4, 0.2),
    "blur": (1.0, 2.0, 4.0),
    "noise": (10.0, 25.0, 50.0),
    "jpeg": (30, 15, 5),
    "occlusion": (0.10, 0.25, 0.40),
    "grayscale": (0.5, 0.8, 1.0),
}

_GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

Corruption = Callable[[np.ndarray, int, int], np.ndarray]


def _warp(x: np.ndarray, matrix_for: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """Apply a per-image affine warp (bilinear, mirrored borders) to a batch."""
    out = np.empty_like(x)
    for i, img in enumerate(x):
        h, w = img.shape[:2]
        out[i] = cv2.warpAffine(
            img,
            matrix_for(h, w),
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
    return out


def _rotation(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    angle = PARAMETERS["rotation"][severity - 1]
    return _warp(x, lambda h, w: cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0))


def _flip(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    if severity == 1:
        return x[:, :, ::-1].copy()
    if severity == 2:
        return x[:, ::-1, :].copy()
    return x[:, ::-1, ::-1].copy()


def _zoom(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    factor = PARAMETERS["zoom"][severity - 1]
    return _warp(x, lambda h, w: cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.0, factor))


def _translation(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    share = PARAMETERS["translation"][severity - 1]
    return _warp(x, lambda h, w: np.array([[1, 0, share * w], [0, 1, share * h]], np.float64))


def _brightness(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    return x * np.float32(PARAMETERS["brightness"][severity - 1])


def _contrast(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    factor = np.float32(PARAMETERS["contrast"][severity - 1])
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return mean + factor * (x - mean)


def _blur(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    sigma = PARAMETERS["blur"][severity - 1]
    out = np.empty_like(x)
    for i, img in enumerate(x):
        out[i] = cv2.GaussianBlur(
            img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
        )
    return out


def _noise(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    std = np.float32(PARAMETERS["noise"][severity - 1])
    rng = np.random.default_rng(seed)
    return x + std * rng.standard_normal(x.shape, dtype=np.float32)


def _jpeg(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    quality = int(PARAMETERS["jpeg"][severity - 1])
    out = np.empty_like(x)
    for i, img in enumerate(x):
        bgr = np.clip(np.rint(img[:, :, ::-1]), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ImageError(_("The image could not be compressed as JPEG."))
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return out


def _occlusion(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    share = PARAMETERS["occlusion"][severity - 1]
    h, w = x.shape[1:3]
    ph, pw = max(1, round(h * share**0.5)), max(1, round(w * share**0.5))
    top, left = (h - ph) // 2, (w - pw) // 2
    out = x.copy()
    out[:, top : top + ph, left : left + pw, :] = 128.0
    return out


def _grayscale(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    amount = np.float32(PARAMETERS["grayscale"][severity - 1])
    grey = (x @ _GREY_WEIGHTS)[..., None]
    return x + amount * (grey - x)


CORRUPTIONS: dict[str, Corruption] = {
    "rotation": _rotation,
    "flip": _flip,
    "zoom": _zoom,
    "translation": _translation,
    "brightness": _brightness,
    "contrast": _contrast,
    "blur": _blur,
    "noise": _noise,
    "jpeg": _jpeg,
    "occlusion": _occlusion,
    "grayscale": _grayscale,
}


def _check(name: str, severity: int) -> None:
    if name not in CORRUPTIONS:
        raise ConfigError(
            _("Unknown corruption {name}. Choose one of: {choices}.").format(
                name=repr(name), choices=", ".join(CORRUPTIONS)
            )
        )
    if (
        isinstance(severity, bool)
        or not isinstance(severity, int | np.integer)
        or (int(severity) not in SEVERITIES)
    ):
        raise ConfigError(
            _("Unknown severity {severity}. Choose one of: {choices}.").format(
                severity=repr(severity), choices=", ".join(map(str, SEVERITIES))
            )
        )


def apply_corruption(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """Corrupt a batch [N, H, W, 3] (or one image [H, W, 3]) in 0..255; returns float32 0..255."""
    _check(name, severity)
    arr = np.asarray(images)
    if arr.ndim not in (3, 4) or arr.shape[-1] != 3 or 0 in arr.shape[-3:-1]:
        raise ImageError(
            _(
                "Expected RGB images shaped [N, height, width, 3] or [height, width, 3], "
                "got shape {shape}."
            ).format(shape=arr.shape)
        )
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ImageError(
            _("Expected images as numbers (uint8 or float), got {dtype}.").format(dtype=arr.dtype)
        )
    single = arr.ndim == 3
    # A private float32 copy: no corruption can ever touch the caller's array.
    x = np.array(arr[None] if single else arr, dtype=np.float32, copy=True)
    if not np.isfinite(x).all():
        raise ImageError(_("The images contain missing or infinite pixel values."))
    out = CORRUPTIONS[name](x, int(severity), int(seed))
    out = np.clip(out, 0.0, 255.0).astype(np.float32, copy=False)
    return out[0] if single else out


def describe(name: str, severity: int) -> str:
    """A short plain-words description, e.g. 'rotated by 30°'."""
    _check(name, severity)
    p = PARAMETERS[name][int(severity) - 1]
    if name == "flip":
        return {
            1: "mirrored left to right",
            2: "flipped upside down",
            3: "mirrored and flipped upside down",
        }[int(p)]
    if name == "grayscale":
        return "turned black and white" if p >= 1.0 else f"colour reduced by {p:.0%}"
    return {
        "rotation": f"rotated by {p:g}°",
        "zoom": f"zoomed into the centre {p:g}×",
        "translation": f"shifted right and down by {p:.0%}",
        "brightness": f"darkened to {p:.0%} brightness",
        "contrast": f"contrast reduced to {p:.0%}",
        "blur": f"blurred (Gaussian, {p:g} pixel{'s' if p != 1 else ''})",
        "noise": f"grainy (random noise of strength {p:g} out of 255)",
        "jpeg": f"saved as a JPEG at quality {p:g} of 100",
        "occlusion": f"centre hidden by a grey patch covering {p:.0%} of the image",
    }[name]
