"""Explainer base: logits model, feature-map layers, input and target clean-up, normalisation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from flowerdash.errors import ExplainError
from flowerdash.explain.base import (
    BatchResult,
    Explainer,
    Explanation,
    conv_layer_names,
    default_conv_layer,
    logits_model,
)
from flowerdash.explain.overlays import normalize_map


def _head_model(kind: str) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if kind == "dense_softmax":
        out = keras.layers.Dense(3, activation="softmax", name="head")(x)
    elif kind == "activation":
        out = keras.layers.Activation("softmax", name="sm")(keras.layers.Dense(3, name="fc")(x))
    else:  # no softmax anywhere
        out = keras.layers.Dense(3, activation="sigmoid", name="head")(x)
    return keras.Model(inputs, out)


class _Identity(Explainer):
    """A minimal explainer: each map is its target everywhere, to test the base class alone."""

    def explain_batch(self, images, targets):
        maps = images.mean(axis=-1) * 0 + targets[:, None, None].astype(np.float32)
        return BatchResult(maps, extras={"target_again": targets.copy()})


@pytest.mark.parametrize("kind", ["dense_softmax", "activation"])
def test_logits_model_recovers_pre_softmax_scores(kind: str) -> None:
    model = _head_model(kind)
    layers_before = [layer.name for layer in model.layers]
    weights_before = [w.copy() for w in model.get_weights()]
    x = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    logits = np.asarray(logits_model(model)(x), dtype=np.float64)
    probs = np.asarray(model(x))
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, probs, rtol=1e-5, atol=1e-6)
    assert logits_model(model) is logits_model(model)  # built once
    assert [layer.name for layer in model.layers] == layers_before  # not mutated
    for a, b in zip(weights_before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_logits_model_uses_logits_layer(tiny_cnn, flower_images) -> None:
    out = np.asarray(logits_model(tiny_cnn)(flower_images.astype(np.float32)))
    direct = keras.Model(tiny_cnn.inputs[0], tiny_cnn.get_layer("logits").output)
    np.testing.assert_allclose(out, np.asarray(direct(flower_images.astype(np.float32))), rtol=1e-6)


def test_logits_model_refuses_models_without_softmax() -> None:
    with pytest.raises(ExplainError, match="logits"):
        logits_model(_head_model("sigmoid"))


def test_conv_layer_names_and_default(tiny_cnn) -> None:
    assert conv_layer_names(tiny_cnn) == ["preprocess", "conv1", "conv2"]
    assert default_conv_layer(tiny_cnn) == "conv2"


def test_default_layer_of_real_backbones() -> None:
    mobilenet = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(96, 96, 3)
    )
    assert default_conv_layer(mobilenet) == "out_relu"
    assert "Conv_1" in conv_layer_names(mobilenet)
    effnet = keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=(64, 64, 3)
    )
    assert default_conv_layer(effnet) == "top_activation"


def test_maps_are_scaled_by_their_maximum() -> None:
    maps = np.stack([np.arange(4.0).reshape(2, 2), np.zeros((2, 2)), np.full((2, 2), np.nan)])
    out = normalize_map(maps, clip_percentile=None)
    np.testing.assert_allclose(out[0], [[0, 1 / 3], [2 / 3, 1]])
    assert not out[1].any() and not out[2].any() and out.dtype == np.float32


def test_input_cleanup_and_targets(tiny_cnn, flower_images) -> None:
    explainer = _Identity(tiny_cnn, batch_size=2)
    one = explainer(flower_images[0], targets=3)  # single uint8 image
    assert one.shape == (1, 64, 64) and one.dtype == np.float32
    batch = explainer(flower_images, targets=np.array([0, 1, 2, 3, 4]))
    assert batch.shape == (5, 64, 64)
    predicted = explainer.resolve_targets(explainer.prepare_images(flower_images), None)
    probs = np.asarray(tiny_cnn(flower_images.astype(np.float32)))
    np.testing.assert_array_equal(predicted, probs.argmax(axis=1))


def test_explain_batches_once_and_joins_the_extras(tiny_cnn, flower_images) -> None:
    explainer = _Identity(tiny_cnn, batch_size=2)  # 5 images -> batches of 2, 2, 1
    result = explainer.explain(flower_images, targets=[4, 3, 2, 1, 0])
    assert isinstance(result, Explanation) and result.attributions is None
    np.testing.assert_array_equal(result.targets, [4, 3, 2, 1, 0])
    np.testing.assert_array_equal(result.extras["target_again"], [4, 3, 2, 1, 0])
    assert result.extras_of(1) == {"target_again": 3}
    assert result.maps[4].max() == 0 and result.maps[0].max() == 1  # each map scaled to [0, 1]
    with pytest.raises(TypeError):
        result.extras["x"] = 1  # read-only


@pytest.mark.parametrize(
    "images,message",
    [
        (np.zeros((32, 32, 3), np.uint8), "64"),
        (np.zeros((64, 64, 4), np.uint8), "channels"),
        (np.zeros((64, 64), np.uint8), "shape"),
        (np.zeros((0, 64, 64, 3), np.uint8), "No images"),
        (np.full((64, 64, 3), np.nan, np.float32), "NaN"),
        (np.array([["a"]]), "numeric"),
    ],
)
def test_bad_images_are_refused_in_plain_words(tiny_cnn, images, message) -> None:
    with pytest.raises(ExplainError, match=message):
        _Identity(tiny_cnn)(images)


@pytest.mark.parametrize(
    "targets,message", [(5, "out of range"), ([0, 1], "2 targets"), (1.5, "integers")]
)
def test_bad_targets_are_refused(tiny_cnn, flower_images, targets, message) -> None:
    with pytest.raises(ExplainError, match=message):
        _Identity(tiny_cnn)(flower_images[:3], targets)


def test_not_a_model_is_refused() -> None:
    with pytest.raises(ExplainError, match="Keras model"):
        _Identity("model.keras")
