"""Grad-CAM and Grad-CAM++: class-discriminative heat maps from a feature-map layer.

Grad-CAM (Selvaraju et al., 2017): weights ``w_k = mean_ij dS/dA_ijk`` (S = target logit,
A = feature map), map ``ReLU(sum_k w_k A_k)``, bilinearly upsampled to the input size and scaled
to [0, 1]. Grad-CAM++ (Chattopadhay et al., 2018) replaces the plain average by
``w_k = sum_ij alpha_ijk ReLU(dS/dA_ijk)`` with
``alpha = g^2 / (2 g^2 + sum_ab A_abk g^3)`` (g = dS/dA), the usual closed form obtained with an
exponential of the score.

For an ensemble (flowerdash.models.ensemble) the default is every member's last feature-map layer: its
score is the mean of the members', so its map is the mean of the members' maps.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from flowerdash.explain.base import Explainer, check_layers
from flowerdash.models.ensemble import ALL_MEMBERS_SEPARATOR

__all__ = ["GradCAM", "gradcam"]


class GradCAM(Explainer):
    """Grad-CAM (or Grad-CAM++ with ``plus_plus=True``) on feature-map layers of a model.

    ``layer``: a layer name, several joined by " + " (their maps are summed), or None for the
    default (the last feature-map layer; for an ensemble, every member's).
    """

    def __init__(
        self,
        model: keras.Model,
        layer: str | None = None,
        plus_plus: bool = False,
        batch_size: int = 16,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        self.layers = check_layers(model, layer)
        self.layer = ALL_MEMBERS_SEPARATOR.join(self.layers)
        self.plus_plus = bool(plus_plus)
        self._grad_model = keras.Model(
            model.inputs[0],
            [[model.get_layer(name).output for name in self.layers], self.logits_model.outputs[0]],
            name=f"{model.name}_gradcam",
        )
        self._cam_fn = self.compile(self._cam, [self.image_spec(), tf.TensorSpec([None], tf.int32)])

    @property
    def name(self) -> str:
        """Display name of the method."""
        return "Grad-CAM++" if self.plus_plus else "Grad-CAM"

    def _cam(self, images: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            features, logits = self._grad_model(images, training=False)
            score = tf.gather(tf.cast(logits, tf.float32), targets, axis=1, batch_dims=1)
        grads = tape.gradient(score, features)
        size = tf.shape(images)[1:3]
        cams = [self._layer_cam(f, g, size) for f, g in zip(features, grads, strict=True)]
        return tf.add_n(cams)

    def _layer_cam(self, features: tf.Tensor, grads: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
        grads = tf.cast(grads, tf.float32)
        features = tf.cast(features, tf.float32)
        if self.plus_plus:
            g2 = tf.square(grads)
            g3 = g2 * grads
            denom = 2.0 * g2 + tf.reduce_sum(features, axis=(1, 2), keepdims=True) * g3
            alpha = g2 / tf.where(tf.not_equal(denom, 0.0), denom, tf.ones_like(denom))
            weights = tf.reduce_sum(alpha * tf.nn.relu(grads), axis=(1, 2))
        else:
            weights = tf.reduce_mean(grads, axis=(1, 2))
        cam = tf.nn.relu(tf.einsum("nhwk,nk->nhw", features, weights))
        cam = tf.image.resize(cam[..., None], size, method="bilinear")[..., 0]
        return tf.nn.relu(cam)

    def _explain_batch(self, images: tf.Tensor, targets: tf.Tensor) -> np.ndarray:
        return self._cam_fn(images, targets).numpy()


def gradcam(
    model: keras.Model, images: Any, targets: Any = None, layer: str | None = None
) -> np.ndarray:
    """Grad-CAM maps [N, H, W] in [0, 1] for ``images`` (one-off; reuse GradCAM for many calls)."""
    return GradCAM(model, layer=layer)(images, targets)
