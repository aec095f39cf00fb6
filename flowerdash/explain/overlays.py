"""Pure numpy/OpenCV display helpers: channel aggregation, normalisation, colormaps, panels.

No TensorFlow here, so the dashboard can draw cached maps without loading a model.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from flowerdash.errors import ConfigError, ImageError
from flowerdash.i18n import _

__all__ = [
    "COLORMAPS",
    "aggregate_channels",
    "colorize",
    "make_panel",
    "normalize_map",
    "overlay",
    "to_png_bytes",
]

_CV2_MAPS = {
    "jet": cv2.COLORMAP_JET,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "magma": cv2.COLORMAP_MAGMA,
    "plasma": cv2.COLORMAP_PLASMA,
    "turbo": cv2.COLORMAP_TURBO,
    "hot": cv2.COLORMAP_HOT,
}
#: Colormap names accepted by :func:`colorize` and :func:`overlay`.
COLORMAPS: list[str] = list(_CV2_MAPS)

AGGREGATIONS = ("abs", "positive", "signed")


def aggregate_channels(attr: np.ndarray, mode: str = "abs") -> np.ndarray:
    """Per-pixel score from attributions [N,H,W,C] or [H,W,C]: abs = Σ|a|, positive = max(Σa,0), signed = Σa."""
    a = np.asarray(attr, dtype=np.float32)
    if a.ndim not in (3, 4):
        raise ConfigError(
            _("Attributions must be [H, W, C] or [N, H, W, C], got shape {shape}.").format(
                shape=a.shape
            )
        )
    if mode == "abs":
        return np.abs(a).sum(axis=-1)
    if mode == "positive":
        return np.maximum(a.sum(axis=-1), 0.0)
    if mode == "signed":
        return a.sum(axis=-1)
    raise ConfigError(
        _("Unknown aggregation {mode}; choose one of {choices}.").format(
            mode=repr(mode), choices=", ".join(AGGREGATIONS)
        )
    )


def normalize_map(m: np.ndarray, clip_percentile: float | None = 99.0) -> np.ndarray:
    """Scale a map [H,W] (or each of [N,H,W]) to [0,1], or to [-1,1] if it has negative values.

    Values above the ``clip_percentile`` of the map (of ``|m|`` for signed maps) are clipped, so
    a few extreme pixels do not wash out the rest. ``None`` or 100 means plain max scaling. An
    all-zero map stays zero.
    """
    arr = np.nan_to_num(np.asarray(m, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if arr.ndim == 3:
        return np.stack([normalize_map(x, clip_percentile) for x in arr]).astype(np.float32)
    if arr.ndim != 2:
        raise ConfigError(
            _("A map must be [H, W] or [N, H, W], got shape {shape}.").format(shape=arr.shape)
        )
    if clip_percentile is not None and not 0.0 < float(clip_percentile) <= 100.0:
        raise ConfigError(
            _("clip_percentile must be in (0, 100], got {value}.").format(value=clip_percentile)
        )
    signed = bool((arr < 0).any())
    mag = np.abs(arr)
    if clip_percentile is None or clip_percentile >= 100.0:
        hi = float(mag.max()) if mag.size else 0.0
    else:
        hi = float(np.percentile(mag, clip_percentile))
        if hi <= 0.0:  # mostly-zero map: fall back to its maximum
            hi = float(mag.max())
    if hi <= 0.0:
        return np.zeros_like(arr)
    lo = -1.0 if signed else 0.0
    return np.clip(arr / hi, lo, 1.0).astype(np.float32)


def _cmap_code(cmap: str) -> int:
    try:
        return _CV2_MAPS[cmap]
    except KeyError:
        raise ConfigError(
            _("Unknown colormap {name}; choose one of {choices}.").format(
                name=repr(cmap), choices=", ".join(COLORMAPS)
            )
        ) from None


def colorize(m: np.ndarray, cmap: str = "jet") -> np.ndarray:
    """RGB uint8 [H,W,3] for a map in [0,1] (a map with negative values is read as [-1,1])."""
    code = _cmap_code(cmap)
    arr = np.nan_to_num(np.asarray(m, dtype=np.float32))
    if arr.ndim != 2:
        raise ConfigError(
            _("colorize needs one map [H, W], got shape {shape}.").format(shape=arr.shape)
        )
    if (arr < 0).any():
        arr = (arr + 1.0) / 2.0
    u8 = np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(u8, code), cv2.COLOR_BGR2RGB)


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] not in (3, 4):
        raise ImageError(
            _("Expected an RGB image [H, W, 3], got shape {shape}.").format(shape=img.shape)
        )
    img = img[..., :3]
    if img.dtype != np.uint8:
        if np.issubdtype(img.dtype, np.floating) and img.size and float(np.nanmax(img)) <= 1.0:
            img = img * 255.0
        img = np.clip(np.nan_to_num(img.astype(np.float32)), 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(img)


def overlay(image: np.ndarray, m: np.ndarray, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend the colorised map (resized to the image) over an RGB uint8 image."""
    if not 0.0 <= float(alpha) <= 1.0:
        raise ConfigError(_("alpha must be between 0 and 1, got {value}.").format(value=alpha))
    img = _as_rgb_uint8(image)
    arr = np.nan_to_num(np.asarray(m, dtype=np.float32))
    if arr.ndim != 2:
        raise ConfigError(
            _("overlay needs one map [H, W], got shape {shape}.").format(shape=arr.shape)
        )
    h, w = img.shape[:2]
    if arr.shape != (h, w):
        arr = cv2.resize(arr, (w, h), interpolation=cv2.INTER_LINEAR)
    color = colorize(arr, cmap).astype(np.float32)
    out = (1.0 - alpha) * img.astype(np.float32) + alpha * color
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")


def _fit_text(text: str, width: int, scale: float, thickness: int) -> str:
    text = _ascii(text)
    font = cv2.FONT_HERSHEY_SIMPLEX
    while text and cv2.getTextSize(text, font, scale, thickness)[0][0] > width:
        text = text[:-2] + "~" if len(text) > 2 else ""
    return text


def make_panel(
    image: np.ndarray,
    overlays: Mapping[str, np.ndarray],
    lines: Sequence[str] | str = (),
    tile_size: int = 256,
) -> np.ndarray:
    """One RGB uint8 picture: original | each overlay, captioned, with text lines underneath."""
    if isinstance(lines, str):
        lines = [lines]
    tiles = [("Original", _as_rgb_uint8(image))] + [
        (str(k), _as_rgb_uint8(v)) for k, v in overlays.items()
    ]
    size, pad, cap_h, line_h = int(tile_size), 8, 28, 24
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1
    width = len(tiles) * size + (len(tiles) + 1) * pad
    height = pad + cap_h + size + pad + len(lines) * line_h + (pad if lines else 0)
    panel = np.full((height, width, 3), 255, dtype=np.uint8)
    for i, (caption, tile) in enumerate(tiles):
        x0 = pad + i * (size + pad)
        resized = cv2.resize(tile, (size, size), interpolation=cv2.INTER_AREA)
        panel[pad + cap_h : pad + cap_h + size, x0 : x0 + size] = resized
        text = _fit_text(caption, size, scale, thick)
        cv2.putText(panel, text, (x0, pad + cap_h - 9), font, scale, (0, 0, 0), thick, cv2.LINE_AA)
    y = pad + cap_h + size + pad
    for line in lines:
        text = _fit_text(line, width - 2 * pad, scale, thick)
        cv2.putText(panel, text, (pad, y + line_h - 8), font, scale, (0, 0, 0), thick, cv2.LINE_AA)
        y += line_h
    return panel


def to_png_bytes(img: np.ndarray) -> bytes:
    """PNG-encoded bytes of an RGB uint8 image."""
    rgb = _as_rgb_uint8(img)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageError(_("Could not encode the picture as PNG."))
    return buf.tobytes()
