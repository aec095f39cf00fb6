"""Overlays: aggregation, normalisation, colormaps, blending, panels, PNG bytes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from flowerdash.errors import ConfigError
from flowerdash.explain.overlays import (
    COLORMAPS,
    aggregate_channels,
    colorize,
    make_panel,
    normalize_map,
    overlay,
    to_png_bytes,
)


def test_aggregate_channels_modes() -> None:
    attr = np.array([[[[1.0, -2.0, 0.5]]]], dtype=np.float32)  # [1,1,1,3]
    assert aggregate_channels(attr, "abs")[0, 0, 0] == pytest.approx(3.5)
    assert aggregate_channels(attr, "signed")[0, 0, 0] == pytest.approx(-0.5)
    assert aggregate_channels(attr, "positive")[0, 0, 0] == 0.0
    assert aggregate_channels(attr[0], "abs").shape == (1, 1)
    with pytest.raises(ConfigError, match="abs"):
        aggregate_channels(attr, "max")


def test_normalize_map_percentile_clipping_keeps_one_hot_pixel_from_washing_out() -> None:
    m = np.full((20, 20), 1.0, dtype=np.float32)
    m[0, 0] = 1000.0
    plain = normalize_map(m, clip_percentile=None)
    clipped = normalize_map(m, clip_percentile=99.0)
    assert plain.max() == pytest.approx(1.0) and plain[5, 5] == pytest.approx(0.001)
    assert clipped[5, 5] == pytest.approx(1.0) and clipped[0, 0] == pytest.approx(1.0)
    assert clipped.dtype == np.float32 and clipped.min() >= 0.0


def test_normalize_map_signed_zero_and_batched() -> None:
    m = np.array([[-2.0, 1.0], [0.0, 2.0]], dtype=np.float32)
    out = normalize_map(m, clip_percentile=100)
    np.testing.assert_allclose(out, [[-1.0, 0.5], [0.0, 1.0]])
    assert not normalize_map(np.zeros((4, 4))).any()
    batch = normalize_map(np.stack([np.eye(3), 5 * np.eye(3)]), clip_percentile=None)
    np.testing.assert_allclose(batch[0], batch[1])


@pytest.mark.parametrize("cmap", COLORMAPS)
def test_colorize_every_colormap(cmap: str) -> None:
    m = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    rgb = colorize(m, cmap)
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8
    assert not np.array_equal(rgb[0, 0], rgb[-1, -1])


def test_colorize_is_rgb_not_bgr() -> None:
    hot = colorize(np.ones((2, 2), np.float32), "jet")[0, 0]
    assert hot[0] > hot[2]  # jet's top end is red


def test_overlay_alpha_extremes_and_resize() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    m = rng.random((8, 12)).astype(np.float32)
    assert np.array_equal(overlay(image, m, alpha=0.0), image)
    full = overlay(image, m, alpha=1.0, cmap="viridis")
    resized = cv2.resize(m, (48, 32), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(full, colorize(resized, "viridis"))
    half = overlay(image, m, alpha=0.5)
    assert half.shape == (32, 48, 3) and half.dtype == np.uint8
    with pytest.raises(ConfigError):
        overlay(image, m, alpha=1.5)
    with pytest.raises(ConfigError, match="jet"):
        overlay(image, m, cmap="rainbow-unicorn")


def test_make_panel_and_png() -> None:
    image = np.full((64, 64, 3), 120, np.uint8)
    m = np.zeros((64, 64), np.float32)
    m[20:40, 20:40] = 1.0
    tiles = {"Grad-CAM": overlay(image, m), "IG": overlay(image, m, cmap="inferno")}
    panel = make_panel(
        image, tiles, lines=["Prediction: pink primrose (93%)", "True: pink primrose"]
    )
    assert panel.dtype == np.uint8 and panel.ndim == 3 and panel.shape[2] == 3
    assert panel.shape[1] > 3 * 256  # three tiles side by side
    assert (panel < 50).any()  # some text was drawn
    png = to_png_bytes(panel)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    assert np.array_equal(decoded, panel)
