"""A model's pre-softmax class scores (its logits), found by layer name or under its softmax.

Here rather than in ``flowerdash.explain`` because ensembles average their members' logits and
the models package must not import the explain package.
"""

from __future__ import annotations

from typing import Any

import keras

from flowerdash.errors import ExplainError
from flowerdash.i18n import _
from flowerdash.models.cache import per_model

__all__ = ["logits_model", "model_input_shape"]


def _is_softmax(fn: Any) -> bool:
    name = getattr(fn, "__name__", "")
    if not name and fn is not None:
        try:
            name = keras.activations.serialize(fn)
        except Exception:  # noqa: BLE001 - any unserialisable activation is simply "not softmax"
            name = ""
        if isinstance(name, dict):
            name = name.get("config", name.get("class_name", ""))
    return str(name) == "softmax"


def model_input_shape(model: keras.Model) -> tuple[int | None, int | None, int | None]:
    """The (H, W, C) an image model expects; ExplainError for models that are not single-image."""
    if len(model.inputs) != 1:
        raise ExplainError(
            _(
                "The model has {count} inputs; explanations need a model with one image input."
            ).format(count=len(model.inputs))
        )
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4:
        raise ExplainError(
            _(
                "The model's input has shape {shape}; explanations need an image input "
                "[N, H, W, C]."
            ).format(shape=shape)
        )
    return shape[1], shape[2], shape[3]


def logits_model(model: keras.Model) -> keras.Model:
    """A model from the same inputs to the pre-softmax class scores (built once per model)."""
    return per_model(model, "logits", lambda: _build_logits_model(model))


def _build_logits_model(model: keras.Model) -> keras.Model:
    model_input_shape(model)
    names = [layer.name for layer in model.layers]
    last = model.layers[-1]
    if "logits" in names:
        out = model.get_layer("logits").output
    elif (
        isinstance(last, keras.layers.Activation)
        and _is_softmax(last.activation)
        or isinstance(last, keras.layers.Softmax)
    ):
        out = last.input
    elif isinstance(last, keras.layers.Dense) and _is_softmax(last.activation):
        # Rebuild the last Dense without its softmax; the original layer is left untouched.
        linear = keras.layers.Dense(
            last.units,
            use_bias=last.use_bias,
            dtype=last.dtype_policy,
            name=f"{last.name}_linear_for_explanations",
        )
        out = linear(last.input)
        linear.set_weights(last.get_weights())
    else:
        raise ExplainError(
            _(
                "Cannot find the model's class scores: it has no layer named 'logits' and its last "
                "layer ({name}, {layer_type}) is not a softmax."
            ).format(name=repr(last.name), layer_type=type(last).__name__)
        )
    return keras.Model(model.inputs[0], out, name=f"{model.name}_logits")
