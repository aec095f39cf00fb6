"""Predictions for single images (CLI, dashboard)."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from flowerdash.data.images import prepare_for_model
from flowerdash.models.backbones import input_size
from flowerdash.models.cache import per_model

if TYPE_CHECKING:
    import keras


def compiled_predict(model: keras.Model) -> Callable:
    """One compiled inference function per model (fixed signature: no retracing per batch).

    Calling a Keras model directly runs it eagerly, op by op, without TensorFlow's graph
    optimisations: several times slower on CPU (see docs/PERFORMANCE.md). Every inference path
    goes through this.
    """
    import tensorflow as tf

    def build() -> Callable:
        size = int(model.inputs[0].shape[1])
        ref = weakref.ref(model)  # the cache must not keep a model alive
        return tf.function(
            lambda x: ref()(x, training=False),
            input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
            reduce_retracing=True,
            autograph=False,  # a plain call; autograph would only parse it (see Explainer.compile)
        )

    return per_model(model, "predict", build)


def predict_batch(model: keras.Model, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The model's outputs for images [N, H, W, 3] float32 0..255, in batches, compiled."""
    fn = compiled_predict(model)
    out = [
        np.asarray(fn(np.asarray(images[i : i + batch_size], dtype=np.float32)))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out, axis=0)


def predict_probabilities(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """Class probabilities for one uint8 RGB image of any size (resized and centre-cropped)."""
    x = prepare_for_model(image, input_size(model))[None].astype(np.float32)
    return predict_batch(model, x)[0].astype(np.float64)


def top_k(
    probs: np.ndarray, class_names: Sequence[str], k: int = 5
) -> list[tuple[int, str, float]]:
    """The k most probable classes as (label, name, probability), best first."""
    order = np.argsort(-probs)[:k]
    return [(int(i), str(class_names[i]), float(probs[i])) for i in order]
