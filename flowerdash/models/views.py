"""Answering a photo as several views: the mean of one network's class scores over the photo
as given and mirrored, at one or more backbone sizes, saved in one ``.keras`` file.

A views model is an ordinary flowerdash model to every consumer of the file: raw RGB pixels
in, a ``logits`` layer (the mean of the views' pre-softmax scores; calibration goes after it)
and a softmax out, built from Keras' own layers and ops, so ``keras.saving.load_model`` needs
nothing from flowerdash. Inside, one flat network named ``single_view`` (the model's weights,
once) takes each view; every view enlarges the photo to its backbone size (``view_<side>``).

Explanations read one view, not the average: Grad-CAM needs a feature map, and each view has
its own. :func:`single_view` rebuilds the flat model at the smallest size, the one a model
without views would answer with, and the explainers take that.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowerdash.errors import ConfigError
from flowerdash.i18n import _
from flowerdash.models.backbones import (
    check_backbone_size,
    input_size,
    with_backbone_size,
    without_temperature,
)
from flowerdash.models.cache import per_model

if TYPE_CHECKING:
    import keras

#: The name of the network every view runs through.
NETWORK = "single_view"
VIEW_PATTERN = re.compile(r"^view_(\d+)$")


def with_views(model: keras.Model, sizes: Sequence[int], mirror: bool = False) -> keras.Model:
    """A copy of a :func:`~flowerdash.models.backbones.build_model` model answering the mean of
    its logits over the photo enlarged to each of ``sizes`` and, with ``mirror``, each of those
    mirrored (left and right swapped). Uncalibrated: a temperature goes after it.

    Invariant: one size and no mirror computes what ``with_backbone_size(model, size)`` does,
    and :func:`single_view` of the copy computes that for the smallest size.
    """
    import keras

    size = input_size(model)
    sides = sorted({int(s) for s in sizes})
    if not sides or len(sides) != len(sizes):
        raise ConfigError(_("Name each view's size once."))
    for side in sides:
        check_backbone_size(side, size)
    model = without_temperature(model)
    names = [layer.name for layer in model.layers]
    if "preprocess" not in names or "logits" not in names or NETWORK in names:
        raise ConfigError(_("Only flowerdash's own single-view classifiers can answer views."))

    # The network at any side (its layers are all convolutions and a global pool), with no
    # enlarging of its own: each view enlarges the photo first.
    own_size = with_backbone_size(model, size)
    clone = keras.models.clone_model(
        own_size, input_tensors=keras.Input((None, None, 3), name="view")
    )
    clone.set_weights(own_size.get_weights())
    network = keras.Model(clone.inputs[0], clone.get_layer("logits").output, name=NETWORK)

    image = keras.Input((size, size, 3), name="image")
    scores = []
    for side in sides:
        name = f"view_{side}"
        # Resizing's training default would reach every later layer (see backbones._upsample)
        x = (
            keras.layers.Identity(name=name)(image)
            if side == size
            else keras.layers.Resizing(side, side, name=name)(image, training=False)
        )
        scores.append(network(x, training=False))
        if mirror:
            scores.append(network(keras.ops.flip(x, axis=2), training=False))
    logits = (
        keras.layers.Average(name="logits")(scores)
        if len(scores) > 1
        else keras.layers.Identity(name="logits")(scores[0])
    )
    probs = keras.layers.Activation("softmax", name="probs", dtype="float32")(logits)
    return keras.Model(image, probs, name=model.name)


def view_sizes(model: keras.Model) -> list[int]:
    """The backbone sizes a views model answers at, smallest first ([] for any other model)."""
    found = (VIEW_PATTERN.match(layer.name) for layer in model.layers)
    return sorted(int(m.group(1)) for m in found if m)


def single_view(model: keras.Model) -> keras.Model:
    """The flat model a views model runs at its smallest size, uncalibrated, as
    :func:`~flowerdash.models.backbones.build_model` would have built it (a copy, made once per
    model); any other model as it is. What the explainers explain."""
    if NETWORK not in [layer.name for layer in model.layers]:
        return model
    return per_model(model, NETWORK, lambda: _flat(model))


def _flat(model: keras.Model) -> keras.Model:
    import keras

    network = model.get_layer(NETWORK)
    flat = keras.models.clone_model(
        network, input_tensors=keras.Input((input_size(model),) * 2 + (3,), name="image")
    )
    flat.set_weights(network.get_weights())
    probs = keras.layers.Activation("softmax", name="probs", dtype="float32")(flat.outputs[0])
    return with_backbone_size(
        keras.Model(flat.inputs[0], probs, name=model.name), view_sizes(model)[0]
    )
