"""MixUp and CutMix: mixing a batch (training) or one pair of images (the dashboard's preview).

Both use Keras' own layers, sampling (`get_random_transformation`) and application
(`transform_images`) called separately. Where Keras' behaviour did not fit, the fix and its reason:
- `CutMix` weights the labels by the continuous box area `(x1-x0)*(y1-y0)/(W*H)`, but pastes the
  pixels whose integer coordinates fall in `[x0, x1) x [y0, y1)`; the two differ by up to one row
  and one column. We recompute the label weight from the mask that is actually pasted.
- `CutMix(factor=f)` samples Beta's alpha uniformly in `[0, f]`; to get the paper's fixed
  `Beta(alpha, alpha)` we pass `factor=(alpha, alpha)` (Keras caps it at 1).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from flowerdash.data.seeds import SeedStream
from flowerdash.errors import ConfigError, ImageError
from flowerdash.i18n import _

MIX_METHODS = ("mixup", "cutmix")


def to_images(images: Any) -> tf.Tensor:
    """A batch of RGB images [B, H, W, 3] as float32 (ImageError for any other shape)."""
    x = tf.convert_to_tensor(images)
    if x.shape.rank != 4 or (x.shape[-1] is not None and x.shape[-1] != 3):
        raise ImageError(
            _("Expected a batch of RGB images [B, H, W, 3]; got shape {shape}.").format(
                shape=x.shape
            )
        )
    return tf.cast(x, tf.float32)


def mix_layer(method: str, alpha: float, seed: int | None = None) -> keras.layers.Layer:
    """The Keras MixUp or CutMix layer for `method`, sampling from Beta(alpha, alpha)."""
    if method not in MIX_METHODS:
        raise ConfigError(
            _("Mixing method must be 'mixup' or 'cutmix'; got {method}.").format(
                method=repr(method)
            )
        )
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 1:
        raise ConfigError(
            _("The {method} alpha must be a number in (0, 1]; got {value}.").format(
                method=method, value=repr(alpha)
            )
        )
    if method == "mixup":
        return keras.layers.MixUp(alpha=float(alpha), seed=seed)
    return keras.layers.CutMix(factor=(float(alpha), float(alpha)), seed=seed)


def mix_with_layer(
    layer: keras.layers.Layer, images: tf.Tensor, labels: tf.Tensor, seed: SeedStream | None
) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
    """Sample and apply one MixUp/CutMix layer; returns images, labels and {lam, permutation}."""
    t = layer.get_random_transformation(images, training=True, seed=seed)
    if isinstance(layer, keras.layers.CutMix):
        # Label weight from the pixels actually pasted (see the module docstring).
        pasted = tf.reduce_mean(tf.cast(t["batch_masks"][..., 0], tf.float32), axis=[1, 2])
        t = {**t, "mix_weight": 1.0 - pasted}
    out_images = layer.transform_images(images, t, training=True)
    out_labels = layer.transform_labels(labels, t, training=True)
    info = {
        "lam": tf.reshape(tf.cast(t["mix_weight"], tf.float32), [-1]),
        "permutation": tf.cast(t["permutation_order"], tf.int64),
    }
    return out_images, tf.cast(out_labels, tf.float32), info


def mix_batch(
    images: Any, labels_onehot: Any, method: str, alpha: float, seed: int | None = None
) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
    """MixUp or CutMix a batch; info has `lam` (weight of each original) and `permutation`."""
    layer = mix_layer(method, alpha)
    x = to_images(images)
    y = tf.cast(tf.convert_to_tensor(labels_onehot), tf.float32)
    if y.shape.rank != 2:
        raise ConfigError(
            _("Labels must be one-hot rows [B, classes]; got shape {shape}.").format(shape=y.shape)
        )
    return mix_with_layer(layer, x, y, None if seed is None else SeedStream(seed))


def mix_pair(
    image_a: Any,
    image_b: Any,
    label_a: Any,
    label_b: Any,
    method: str,
    lam: float,
    box: tuple[int, int, int, int] | None = None,
) -> tuple[np.ndarray, dict[Any, float]]:
    """Mix two images deterministically: `lam` is image_a's weight; `box` = (top, left, bottom, right).

    For CutMix the box is pasted from image_b (lam is then ignored); without a box, a centred
    box of area about (1 - lam) is used. Returns the mixed image (dtype of image_a) and the
    label shares, which for CutMix equal the pasted pixel area.
    """
    if method not in MIX_METHODS:
        raise ConfigError(
            _("Mixing method must be 'mixup' or 'cutmix'; got {method}.").format(
                method=repr(method)
            )
        )
    a, b = np.asarray(image_a), np.asarray(image_b)
    if a.ndim != 3 or a.shape[-1] != 3 or a.shape != b.shape:
        raise ImageError(
            _(
                "Both images must be RGB [H, W, 3] of the same size; got {first} and {second}."
            ).format(first=a.shape, second=b.shape)
        )
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 <= lam <= 1:
        raise ConfigError(
            _("lam must be a number between 0 and 1; got {value}.").format(value=repr(lam))
        )
    h, w = a.shape[:2]
    pair = tf.convert_to_tensor(np.stack([a, b]).astype(np.float32))
    swap = tf.constant([1, 0], tf.int64)
    if method == "mixup":
        layer = keras.layers.MixUp(alpha=0.2, seed=0)
        t = {"mix_weight": tf.constant([lam, 1 - lam], tf.float32), "permutation_order": swap}
        share_b = 1.0 - float(lam)
    else:
        if box is None:
            side = math.sqrt(1.0 - float(lam))
            bh, bw = round(side * h), round(side * w)
            top, left = (h - bh) // 2, (w - bw) // 2
            box = (top, left, top + bh, left + bw)
        top, left, bottom, right = (int(v) for v in box)
        if not (0 <= top <= bottom <= h and 0 <= left <= right <= w):
            raise ConfigError(
                _(
                    "The box (top, left, bottom, right) must lie inside the {height}x{width} "
                    "image; got {box}."
                ).format(height=h, width=w, box=box)
            )
        mask = np.zeros((2, h, w, 3), bool)
        mask[:, top:bottom, left:right, :] = True
        share_b = float(mask[0, ..., 0].mean())
        layer = keras.layers.CutMix(seed=0)
        t = {"batch_masks": tf.constant(mask), "permutation_order": tf.cast(swap, tf.int32)}
    mixed = np.asarray(layer.transform_images(pair, t, training=True))[0]
    if a.dtype == np.uint8:
        mixed = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    shares: dict[Any, float] = {label_a: 1.0 - share_b}
    shares[label_b] = shares.get(label_b, 0.0) + share_b  # same label twice: shares add up
    return mixed, shares
