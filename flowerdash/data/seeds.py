"""Stateless seeds for Keras random layers, so sampling can be a pure function of a seed.

Keras random ops accept an int or a SeedGenerator; a SeedGenerator holds a variable, which cannot
be created per batch inside tf.data. :class:`SeedStream` stands in for one without a variable.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from flowerdash.errors import ConfigError
from flowerdash.i18n import _


class SeedStream(keras.random.SeedGenerator):
    """A stateless stand-in for a SeedGenerator: each draw folds a counter into one seed tensor.

    It creates no variable (so it skips the parent constructor) and derives every draw from a
    [2] seed tensor, which makes the sampling a pure function of the batch's seed.
    """

    def __init__(self, seed: Any) -> None:
        self.name = "seed_stream"
        self.backend = keras.backend
        self._initial_seed = None
        self._seed = seed_tensor(seed)
        self._count = 0

    def next(self, ordered: bool = True) -> tf.Tensor:
        out = tf.random.experimental.stateless_fold_in(self._seed, self._count)
        self._count += 1
        return out


def seed_tensor(seed: Any) -> tf.Tensor:
    """An int or a scalar / [2] integer tensor as a [2] int32 stateless seed."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return tf.constant([int(seed) % (2**31 - 1), 0], tf.int32)
    t = tf.convert_to_tensor(seed)
    if not t.dtype.is_integer:
        raise ConfigError(
            _("A seed must be an integer; got dtype {dtype}.").format(dtype=t.dtype.name)
        )
    t = tf.cast(tf.math.floormod(tf.cast(t, tf.int64), 2**31 - 1), tf.int32)
    if t.shape.rank == 0:
        return tf.stack([t, tf.zeros_like(t)])
    return tf.reshape(t, [2])


def fold_seed(seed: Any, index: int) -> tf.Tensor:
    """An independent [2] seed derived from `seed` for sub-task `index`."""
    return tf.random.experimental.stateless_fold_in(seed_tensor(seed), index)


def child_seed(seed: Any, index: int) -> SeedStream:
    """A seed stream for sub-task `index`, independent of the other sub-tasks' streams."""
    return SeedStream(fold_seed(seed, index))
