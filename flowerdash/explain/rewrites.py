"""A copy of a model rewritten so its input gradients cost less: the same function, fewer passes.

Integrated Gradients evaluates the network's gradient dozens of times per image, and on a CPU
the element-wise passes over large activations cost about as much as the convolutions. Each
rewrite below keeps the function (outputs and gradients agree to float rounding, tested) and
removes passes:

* ``batchnorm``: inference-mode BatchNormalization folded into the convolution before it
  (:mod:`flowerdash.explain.batchnorm_folding`);
* ``padding``: a ZeroPadding2D whose only reader is a ``"valid"`` convolution, when the padding
  is exactly what ``"same"`` would add, is dropped and the convolution made ``"same"``
  (MobileNetV2 and EfficientNetB0 pad this way before every stride-2 convolution): one pad
  forward and one slice backward fewer;
* ``swish``: a SiLU/swish activation keeps its fused forward kernel, and its gradient
  ``dy * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)`` is one fused pass (compiled by XLA)
  instead of TensorFlow's six element-wise ops. Without XLA it falls back to TensorFlow's ops.

The copy has its own weights; the original is never changed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from flowerdash.explain.batchnorm_folding import fold_batch_norms, layer_graph

__all__ = ["REWRITES", "foldable_paddings", "fused_silu", "rewrite_for_gradients"]

REWRITES = ("batchnorm", "padding", "swish")
_SWISH_NAMES = {"silu", "swish"}
_CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
log = logging.getLogger(__name__)


def _silu_grad_ops(x: tf.Tensor, dy: tf.Tensor) -> tf.Tensor:
    s = tf.sigmoid(x)
    return dy * (s * (1.0 + x * (1.0 - s)))


_silu_grad_xla = tf.function(_silu_grad_ops, jit_compile=True, autograph=False)
# One trace per activation shape is expected; TensorFlow would warn about "retracing".
_silu_grad_xla._omit_frequent_tracing_warning = True


@functools.cache
def _xla_available() -> bool:
    """Whether XLA compiles on this machine's default device (probed once per process)."""
    try:
        # Run now, even when first asked while a compiled function is being traced.
        with tf.init_scope():
            probe = tf.constant([[-1.0, 0.0, 2.0]])
            _silu_grad_xla(probe, tf.ones_like(probe))
    except (tf.errors.OpError, ValueError, RuntimeError) as err:
        log.warning("XLA is not available (%s); swish gradients use TensorFlow's ops.", err)
        return False
    return True


@tf.custom_gradient
def _fused_silu(x: tf.Tensor) -> tuple[tf.Tensor, Any]:
    def grad(dy: tf.Tensor) -> tf.Tensor:
        return (_silu_grad_xla if _xla_available() else _silu_grad_ops)(x, dy)

    return tf.nn.silu(x), grad


@keras.saving.register_keras_serializable(package="flowerdash")
def fused_silu(x: Any) -> Any:
    """SiLU (swish), ``x * sigmoid(x)``, whose gradient is one fused pass."""
    return _fused_silu(x)


def _is_swish(layer: keras.layers.Layer) -> bool:
    activation = layer.get_config().get("activation")
    return isinstance(activation, str) and activation in _SWISH_NAMES


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """The (before, after) padding TensorFlow's ``"same"`` adds on one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def foldable_paddings(model: keras.Model) -> dict[str, str]:
    """{ZeroPadding2D name: convolution name} for every padding that ``"same"`` can replace."""
    graph = layer_graph(model)
    if graph is None:
        return {}  # not a functional model: nothing is rewritten
    inputs, readers = graph
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.ZeroPadding2D) or len(inputs[layer.name]) != 1:
            continue
        if layer.data_format != "channels_last" or len(readers.get(layer.name, [])) != 1:
            continue
        conv = model.get_layer(readers[layer.name][0])
        if type(conv) not in _CONVOLUTIONS or len(inputs[conv.name]) != 1:
            continue
        config = conv.get_config()
        if config["padding"] != "valid" or tuple(config["dilation_rate"]) != (1, 1):
            continue
        height, width = layer.input.shape[1:3]
        if height is None or width is None:
            continue
        wanted = (
            _same_padding(height, conv.kernel_size[0], conv.strides[0]),
            _same_padding(width, conv.kernel_size[1], conv.strides[1]),
        )
        if tuple(tuple(p) for p in layer.padding) == wanted:
            pairs[layer.name] = conv.name
    return pairs


def rewrite_for_gradients(model: keras.Model, rewrites: Sequence[str] = REWRITES) -> keras.Model:
    """A copy of ``model`` with ``rewrites`` applied (the model itself when none applies)."""
    unknown = set(rewrites) - set(REWRITES)
    if unknown:
        raise ValueError(f"Unknown rewrites {sorted(unknown)}; choose from {REWRITES}.")
    if "batchnorm" in rewrites:
        model = fold_batch_norms(model)
    paddings = foldable_paddings(model) if "padding" in rewrites else {}
    padded_convs = set(paddings.values())
    swishes = (
        {layer.name for layer in model.layers if _is_swish(layer)} if "swish" in rewrites else set()
    )
    if not paddings and not swishes:
        return model

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if layer.name in paddings:
            return keras.layers.Identity(name=layer.name, dtype=layer.dtype_policy.name)
        if layer.name in padded_convs:
            config["padding"] = "same"
        if layer.name in swishes:
            config["activation"] = fused_silu
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy
