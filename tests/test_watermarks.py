"""benchmarks.watermarks: text written over a photo, the same for a given seed."""

from __future__ import annotations

import numpy as np

from benchmarks.watermarks import VERSIONS, across, corner, watermarked


def _photo() -> np.ndarray:
    """A photo of the size of the shared copy's (shorter side 256) and then some."""
    return np.random.default_rng(0).integers(0, 200, (300, 450, 3), dtype=np.uint8)


def test_a_corner_stamp_is_opaque_and_stays_near_an_edge():
    photo = _photo()
    out = corner(photo, np.random.default_rng(1))
    changed = np.any(out != photo, axis=2)
    rows, cols = np.nonzero(changed)
    assert changed.mean() < 0.1  # small letters
    assert rows.max() - rows.min() < photo.shape[0] // 4
    assert rows.min() < photo.shape[0] // 4 or rows.max() > 3 * photo.shape[0] // 4
    assert (out[changed] == 255).all(axis=1).any()  # white letters, not blended


def test_a_watermark_across_is_faint_and_in_the_middle():
    photo = _photo()
    out = across(photo, np.random.default_rng(1)).astype(int)
    changed = np.any(out != photo, axis=2)
    rows, _cols = np.nonzero(changed)
    assert abs(rows.mean() - photo.shape[0] / 2) < photo.shape[0] / 8
    # 40% white over the photo: no pixel is pushed all the way to white
    assert (out - photo).max() <= round(0.4 * 255) + 1


def test_every_version_is_cropped_for_the_model_and_the_same_for_a_seed():
    photo = _photo()
    first, again = watermarked(photo, 7, 32), watermarked(photo, 7, 32)
    assert list(first) == list(VERSIONS)
    for name in VERSIONS:
        assert first[name].shape == (32, 32, 3) and first[name].dtype == np.uint8
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["clean"], first["across"])
