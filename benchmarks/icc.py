"""Photos stored as phones store them, for tests and benchmarks: Display P3 numbers tagged with
a Display P3 profile (built by ``flowerdash.data.icc``)."""

from __future__ import annotations

import functools
import io

import numpy as np

from flowerdash.data.icc import P3_PRIMARIES, rgb_profile

__all__ = ["P3_PRIMARIES", "as_display_p3", "rgb_profile"]


@functools.cache
def _srgb_to_p3():
    from PIL import ImageCms

    p3 = ImageCms.ImageCmsProfile(io.BytesIO(rgb_profile()))
    return ImageCms.buildTransform(ImageCms.createProfile("sRGB"), p3, "RGB", "RGB")


def as_display_p3(image: np.ndarray):
    """An sRGB photo [H, W, 3] uint8 stored as a phone stores it: its Display P3 numbers (a PIL
    image) and the profile bytes to embed with them."""
    from PIL import Image, ImageCms

    return ImageCms.applyTransform(Image.fromarray(image), _srgb_to_p3()), rgb_profile()
