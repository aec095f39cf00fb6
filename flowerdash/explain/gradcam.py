"""Grad-CAM and Grad-CAM++: class-discriminative heat maps from feature-map layers.

Grad-CAM (Selvaraju et al., 2017): weights ``w_k = mean_ij dS/dA_ijk`` (S = target logit,
A = feature map), map ``ReLU(sum_k w_k A_k)``, bilinearly upsampled to the input size and scaled
to [0, 1]. Grad-CAM++ (Chattopadhay et al., 2018) replaces the plain average by
``w_k = sum_ij alpha_ijk ReLU(dS/dA_ijk)`` with
``alpha = g^2 / (2 g^2 + sum_ab A_abk g^3)`` (g = dS/dA), the usual closed form obtained with an
exponential of the score. Several layers' maps are summed: for an ensemble, whose score is the
mean of its members', every member's last layer is the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from flowerdash.explain.base import BatchResult, Explainer, check_layers
from flowerdash.explain.defaults import BATCH_SIZE

__all__ = ["GradCAM", "GradCAMPlusPlus", "gradcam"]


class GradCAM(Explainer):
    """Grad-CAM (Grad-CAM++ with ``plus_plus=True``) on one or several feature-map layers.

    ``layers``: a layer name, a tuple of names (maps summed), or None for the default.
    """

    options = ("layers",)

    def __init__(
        self,
        model: keras.Model,
        layers: str | Sequence[str] | None = None,
        plus_plus: bool = False,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        model = self.model  # the one explained (flowerdash.models.views.single_view)
        self.layers = check_layers(model, layers)
        self.plus_plus = bool(plus_plus)
        self._grad_model = keras.Model(
            model.inputs[0],
            [[model.get_layer(name).output for name in self.layers], self.logits_model.outputs[0]],
            name=f"{model.name}_gradcam",
        )
        self._cam_fn = self.compile(self._cam, [self.image_spec(), tf.TensorSpec([None], tf.int32)])

    @classmethod
    def cache_options(cls, model: keras.Model, options: dict[str, Any]) -> dict[str, Any]:
        """The default layers by name and by None are one explainer (one trace)."""
        return {**options, "layers": check_layers(model, options.get("layers"))}

    @property
    def extras(self) -> dict[str, Any]:
        """The layers whose maps were summed."""
        return {"layers": self.layers}

    def _cam(self, images: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            features, logits = self._grad_model(images, training=False)
            score = tf.gather(tf.cast(logits, tf.float32), targets, axis=1, batch_dims=1)
        grads = tape.gradient(score, features)
        size = tf.shape(images)[1:3]
        return tf.add_n([self._layer_cam(f, g, size) for f, g in zip(features, grads, strict=True)])

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

    def explain_batch(self, images: np.ndarray, targets: np.ndarray) -> BatchResult:
        """Grad-CAM maps of one batch."""
        return BatchResult(self._cam_fn(tf.constant(images), tf.constant(targets)).numpy())


class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++ (the registry's ``gradcam++``)."""

    def __init__(
        self,
        model: keras.Model,
        layers: str | Sequence[str] | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        super().__init__(model, layers=layers, plus_plus=True, batch_size=batch_size)


def gradcam(
    model: keras.Model, images: Any, targets: Any = None, layers: str | None = None
) -> np.ndarray:
    """Grad-CAM maps [N, H, W] in [0, 1] for ``images`` (one-off; reuse GradCAM for many calls)."""
    return GradCAM(model, layers=layers).explain(images, targets).maps
