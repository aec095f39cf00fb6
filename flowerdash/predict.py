"""Predictions for single images (CLI, dashboard)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from flowerdash.images import prepare_for_model
from flowerdash.models import input_size

if TYPE_CHECKING:
    import keras


def predict_probabilities(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """Class probabilities for one uint8 RGB image of any size (resized and centre-cropped)."""
    x = prepare_for_model(image, input_size(model))[None].astype(np.float32)
    return np.asarray(model(x, training=False))[0].astype(np.float64)


def top_k(
    probs: np.ndarray, class_names: Sequence[str], k: int = 5
) -> list[tuple[int, str, float]]:
    """The k most probable classes as (label, name, probability), best first."""
    order = np.argsort(-probs)[:k]
    return [(int(i), str(class_names[i]), float(probs[i])) for i in order]


def predict_image(
    model: keras.Model, image: np.ndarray, class_names: Sequence[str], top: int = 5
) -> list[tuple[int, str, float]]:
    """Top-k (label, name, probability) for one image."""
    return top_k(predict_probabilities(model, image), class_names, top)
