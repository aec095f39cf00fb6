"""Tests for flowerdash.inference.corruptions on real flower photos (64x64) and small synthetic arrays."""

from __future__ import annotations

import numpy as np
import pytest

from flowerdash.errors import ConfigError, ImageError
from flowerdash.inference.corruptions import (
    CORRUPTIONS,
    PARAMETERS,
    SEVERITIES,
    apply_corruption,
    describe,
)

NAMES = sorted(CORRUPTIONS)
# Flip severities are different kinds of flip, not stronger ones.
MONOTONE = [n for n in NAMES if n != "flip"]


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_registry_is_complete():
    assert SEVERITIES == (1, 2, 3)
    expected = {
        "rotation",
        "flip",
        "zoom",
        "translation",
        "brightness",
        "contrast",
        "blur",
        "noise",
        "jpeg",
        "occlusion",
        "grayscale",
    }
    assert set(CORRUPTIONS) == expected == set(PARAMETERS)
    assert all(callable(f) for f in CORRUPTIONS.values())


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_range_determinism_and_change(name, flower_images):
    before = flower_images.copy()
    diffs = []
    for severity in SEVERITIES:
        out = apply_corruption(flower_images, name, severity, seed=3)
        assert out.shape == flower_images.shape and out.dtype == np.float32
        assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 255.0
        again = apply_corruption(flower_images, name, severity, seed=3)
        np.testing.assert_array_equal(out, again)
        diff = _mad(out, flower_images)
        assert diff > 1.0, f"{name} severity {severity} barely changed the image ({diff:.3f})"
        # Every image of the batch is changed, not just some of them.
        per_image = np.abs(out - flower_images.astype(np.float32)).mean(axis=(1, 2, 3))
        assert (per_image > 0.1).all()
        diffs.append(diff)
    np.testing.assert_array_equal(flower_images, before)  # never modified in place
    if name in MONOTONE:
        assert diffs[0] < diffs[1] < diffs[2], f"{name}: {diffs}"


@pytest.mark.parametrize("name", NAMES)
def test_float_input_is_not_modified_and_matches_uint8(name, flower_images):
    x = flower_images.astype(np.float32)
    before = x.copy()
    out = apply_corruption(x, name, 2)
    np.testing.assert_array_equal(x, before)
    assert out is not x and not np.shares_memory(out, x)
    np.testing.assert_allclose(out, apply_corruption(flower_images, name, 2), atol=1e-3)
    # The registry functions themselves do not write into what they are given either.
    CORRUPTIONS[name](x, 3, 0)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("name", NAMES)
def test_single_image_and_non_square(name, flower_images):
    img = flower_images[0, :, :48]  # [64, 48, 3], a non-contiguous view
    out = apply_corruption(img, name, 2)
    assert out.shape == (64, 48, 3) and out.dtype == np.float32
    np.testing.assert_allclose(
        out, apply_corruption(np.ascontiguousarray(img)[None], name, 2)[0], atol=1e-4
    )


def test_noise_depends_on_seed_and_scales_with_severity(flower_images):
    grey = np.full((2, 32, 32, 3), 128, np.uint8)  # away from the clip limits
    a = apply_corruption(grey, "noise", 1, seed=0)
    b = apply_corruption(grey, "noise", 1, seed=1)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, apply_corruption(grey, "noise", 1, seed=0))
    assert abs((a - 128).std() - 10) < 1.0
    assert abs((apply_corruption(grey, "noise", 2) - 128).std() - 25) < 2.0


def test_flips_are_exact(flower_images):
    x = flower_images.astype(np.float32)
    np.testing.assert_array_equal(apply_corruption(x, "flip", 1), x[:, :, ::-1])
    np.testing.assert_array_equal(apply_corruption(x, "flip", 2), x[:, ::-1])
    np.testing.assert_array_equal(apply_corruption(x, "flip", 3), x[:, ::-1, ::-1])


def test_rotation_by_45_degrees_is_anticlockwise():
    img = np.zeros((1, 41, 41, 3), np.float32)
    img[0, 20, 30:] = 255  # a bright bar pointing right from the centre
    out = apply_corruption(img, "rotation", 3)[0, :, :, 0]
    # Anticlockwise by 45 degrees the bar points up and to the right.
    assert out[20 - 7, 20 + 7] > 100 and out[20 + 7, 20 + 7] < 20


def test_zoom_magnifies_the_centre():
    img = np.zeros((1, 40, 40, 3), np.float32)
    img[0, 15:25, 15:25] = 255  # 10x10 centre square
    out = apply_corruption(img, "zoom", 3)[0, :, :, 0]  # 2x
    assert 18 * 18 <= (out > 127).sum() <= 22 * 22


def test_translation_shifts_right_and_down():
    img = np.zeros((1, 50, 50, 3), np.float32)
    img[0, 20:30, 20:30] = 255
    out = apply_corruption(img, "translation", 1)[0, :, :, 0]  # 10% = 5 pixels
    ys, xs = np.nonzero(out > 127)
    assert ys.min() == 25 and xs.min() == 25 and ys.max() == 34 and xs.max() == 34


def test_photometric_formulas():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(apply_corruption(x, "brightness", 2), x * 0.4, rtol=1e-6)
    m = x.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(apply_corruption(x, "contrast", 3), m + 0.2 * (x - m), atol=1e-3)
    full = apply_corruption(x, "grayscale", 3)
    np.testing.assert_allclose(full[..., 0], full[..., 1], atol=1e-3)
    np.testing.assert_allclose(full[..., 0], full[..., 2], atol=1e-3)
    np.testing.assert_allclose(
        full[..., 0], x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114, atol=1e-3
    )
    half = apply_corruption(x, "grayscale", 1)
    np.testing.assert_allclose(half, (x + full) / 2, atol=1e-3)


def test_blur_smooths_and_keeps_flat_areas():
    flat = np.full((1, 20, 20, 3), 90, np.uint8)
    np.testing.assert_allclose(apply_corruption(flat, "blur", 3), 90, atol=1e-3)
    edge = np.zeros((1, 20, 20, 3), np.float32)
    edge[:, :, 10:] = 255
    out = apply_corruption(edge, "blur", 2)
    assert 0 < out[0, 10, 9, 0] < 255 and 0 < out[0, 10, 10, 0] < 255


@pytest.mark.parametrize("severity", SEVERITIES)
def test_occlusion_covers_the_stated_share_at_the_centre(severity):
    img = np.zeros((1, 60, 80, 3), np.uint8)
    out = apply_corruption(img, "occlusion", severity)[0, :, :, 0]
    patch = out == 128
    share = PARAMETERS["occlusion"][severity - 1]
    assert abs(patch.mean() - share) < 0.02
    ys, xs = np.nonzero(patch)
    assert abs((ys.min() + ys.max()) / 2 - 29.5) <= 1 and abs((xs.min() + xs.max()) / 2 - 39.5) <= 1
    assert (out[~patch] == 0).all()


def test_jpeg_keeps_colours_in_the_right_channels():
    img = np.zeros((1, 32, 32, 3), np.uint8)
    img[..., 0] = 220  # pure red picture
    out = apply_corruption(img, "jpeg", 1)[0]
    assert out[..., 0].mean() > 180 and out[..., 2].mean() < 40


def test_unknown_name_or_severity_lists_valid_values(flower_images):
    with pytest.raises(ConfigError, match="rotation.*grayscale"):
        apply_corruption(flower_images, "fog", 1)
    for bad in (0, 4, 1.5, "2", True):
        with pytest.raises(ConfigError, match="1, 2, 3"):
            apply_corruption(flower_images, "blur", bad)
    with pytest.raises(ConfigError):
        describe("fog", 1)
    with pytest.raises(ConfigError):
        describe("blur", 9)
    assert apply_corruption(flower_images[:1], "blur", np.int64(2)).shape == (1, 64, 64, 3)


def test_bad_arrays_are_refused():
    with pytest.raises(ImageError):
        apply_corruption(np.zeros((2, 8, 8)), "blur", 1)
    with pytest.raises(ImageError):
        apply_corruption(np.zeros((2, 8, 8, 4)), "blur", 1)
    with pytest.raises(ImageError):
        apply_corruption(np.zeros((2, 0, 8, 3)), "blur", 1)
    bad = np.zeros((1, 8, 8, 3), np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ImageError):
        apply_corruption(bad, "blur", 1)
    with pytest.raises(ImageError):
        apply_corruption(np.array([[["a", "b", "c"]]]), "blur", 1)


def test_describe_is_plain_words():
    assert describe("rotation", 2) == "rotated by 30°"
    assert describe("flip", 1) == "mirrored left to right"
    assert describe("grayscale", 3) == "turned black and white"
    assert describe("grayscale", 1) == "colour reduced by 50%"
    assert describe("occlusion", 2) == "centre hidden by a grey patch covering 25% of the image"
    for name in NAMES:
        texts = [describe(name, s) for s in SEVERITIES]
        assert len(set(texts)) == 3 and all(t and "_" not in t for t in texts)
