"""Fold inference-mode BatchNormalization into the convolution before it, for faster gradients.

In inference mode a BatchNormalization layer is a fixed per-channel affine map,
``y = (x - mean) * gamma / sqrt(var + eps) + beta``; when its only input is a linear Conv2D or
DepthwiseConv2D whose output goes nowhere else, the map can be moved into that layer's kernel and
bias. The folded copy computes the same function (to float rounding) with one pass over every
large activation fewer, forward and backward: Integrated Gradients, which evaluates the network
dozens of times per image, uses it. The copy is a new model with its own weights; the original is
never changed. Grad-CAM keeps the original graph, because folding changes what a convolution
layer outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

_FOLDABLE = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


class FoldedBatchNorm(keras.layers.Layer):
    """Stands where a folded BatchNormalization was: passes its input through unchanged."""

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        """Return the input (the normalisation now lives in the convolution before)."""
        return inputs


def _sources(node_data: Any) -> Iterator[str]:
    """The names of the layers whose outputs a serialised inbound node reads."""
    if isinstance(node_data, dict):
        if "keras_history" in node_data:
            yield node_data["keras_history"][0]
        for value in node_data.values():
            yield from _sources(value)
    elif isinstance(node_data, (list, tuple)):
        for value in node_data:
            yield from _sources(value)


def layer_graph(model: keras.Model) -> tuple[dict[str, list[str]], dict[str, list[str]]] | None:
    """({layer: layers it reads}, {layer: layers reading it}) of a functional model, else None.

    A layer appears in a list once per read, so a layer called twice reads two inputs.
    """
    try:
        layer_configs = model.get_config()["layers"]
    except (KeyError, TypeError, NotImplementedError):
        return None  # not a functional model
    inputs = {
        entry["config"]["name"]: list(_sources(entry.get("inbound_nodes", [])))
        for entry in layer_configs
    }
    readers: dict[str, list[str]] = {}
    for name, sources in inputs.items():
        for source in sources:
            readers.setdefault(source, []).append(name)
    return inputs, readers


def foldable_pairs(model: keras.Model) -> dict[str, str]:
    """{convolution name: BatchNormalization name} for every pair that can be folded exactly."""
    graph = layer_graph(model)
    if graph is None:
        return {}  # nothing is folded
    inputs, readers = graph
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        # A layer called more than once has several inputs (and no single `layer.input`).
        if len(inputs[layer.name]) != 1 or layer.axis not in (-1, len(layer.input.shape) - 1):
            continue
        conv = model.get_layer(inputs[layer.name][0])
        if (
            type(conv) in _FOLDABLE
            and conv.data_format == "channels_last"
            and conv.get_config()["activation"] == "linear"
            and len(readers.get(conv.name, [])) == 1
        ):
            pairs[conv.name] = layer.name
    return pairs


def _folded_weights(
    conv: keras.layers.Layer, bn: keras.layers.BatchNormalization
) -> list[np.ndarray]:
    """The kernel and bias of ``conv`` followed by ``bn`` as one layer (float64 arithmetic)."""
    mean = bn.moving_mean.numpy().astype(np.float64)
    var = bn.moving_variance.numpy().astype(np.float64)
    gamma = bn.gamma.numpy().astype(np.float64) if bn.scale else np.ones_like(mean)
    beta = bn.beta.numpy().astype(np.float64) if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + bn.epsilon)
    kernel = conv.kernel.numpy().astype(np.float64)
    if isinstance(conv, keras.layers.DepthwiseConv2D):  # [kh, kw, in, multiplier]
        kernel = kernel * scale.reshape(kernel.shape[2], kernel.shape[3])
    else:  # [kh, kw, in / groups, out]
        kernel = kernel * scale
    bias = conv.bias.numpy().astype(np.float64) if conv.use_bias else np.zeros_like(mean)
    dtype = conv.kernel.dtype
    return [kernel.astype(dtype), ((bias - mean) * scale + beta).astype(dtype)]


def fold_batch_norms(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with every foldable BatchNormalization folded (same function)."""
    pairs = foldable_pairs(model)
    if not pairs:
        return model
    folded_bns = set(pairs.values())

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if layer.name in folded_bns:
            return FoldedBatchNorm(name=layer.name, dtype=layer.dtype_policy.name)
        config = layer.get_config()
        if layer.name in pairs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.name in folded_bns or not layer.weights:
            continue
        if layer.name in pairs:
            weights = _folded_weights(layer, model.get_layer(pairs[layer.name]))
        else:
            weights = layer.get_weights()
        copy.get_layer(layer.name).set_weights(weights)
    return copy
