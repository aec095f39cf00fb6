"""The course notebooks' way, for comparison: a new tf.function (so a new trace) every call."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def naive_gradcam(model: keras.Model, layer: str, image: np.ndarray, target: int) -> np.ndarray:
    """GradCAM with a new sub-model and a new tf.function per call (retraced every time)."""
    grad_model = keras.Model(model.inputs, [model.get_layer(layer).output, model.output])

    @tf.function
    def cam(x):
        with tf.GradientTape() as tape:
            conv, preds = grad_model(x)
            score = preds[:, target]
        grads = tape.gradient(score, conv)
        weights = tf.reduce_mean(grads, axis=(1, 2))
        heat = tf.nn.relu(tf.einsum("nhwk,nk->nhw", conv, weights))
        return tf.image.resize(heat[..., None], x.shape[1:3])[..., 0]

    heat = cam(tf.constant(image[None], tf.float32)).numpy()[0]
    return heat / max(float(heat.max()), 1e-12)


def naive_ig(model: keras.Model, image: np.ndarray, target: int, steps: int) -> np.ndarray:
    """IG with all steps + 1 trapezoid points in ONE batch and a new tf.function per call."""
    logits = keras.Model(model.inputs, model.get_layer("logits").output)

    @tf.function
    def grads_of(path):
        with tf.GradientTape() as tape:
            tape.watch(path)
            score = logits(path)[:, target]
        return tape.gradient(score, path)

    x = tf.constant(image, tf.float32)
    baseline = tf.zeros_like(x)
    alphas = tf.linspace(0.0, 1.0, steps + 1)[:, None, None, None]
    grads = grads_of(baseline[None] + alphas * (x - baseline)[None])
    avg = tf.reduce_mean((grads[:-1] + grads[1:]) / 2.0, axis=0)
    return ((x - baseline) * avg).numpy()
