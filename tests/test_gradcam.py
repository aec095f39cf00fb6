"""Grad-CAM / Grad-CAM++ against a hand computation, targets, layers, batching, saved models."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest

from flowerdash.errors import ExplainError
from flowerdash.explain.gradcam import GradCAM, gradcam

CONV_KERNEL = np.random.default_rng(7).integers(-2, 3, (2, 2, 3, 2)).astype(np.float32)
CONV_BIAS = np.array([-30.0, 10.0], np.float32)
DENSE_KERNEL = np.array([[1.0, -0.5], [-0.25, 2.0]], np.float32)  # [features, classes]
DENSE_BIAS = np.array([0.1, -0.1], np.float32)


def make_hand_model() -> keras.Model:
    """8x8x3 -> 2x2-stride-2 linear conv 'conv' (4x4x2) -> GAP -> Dense 'logits' -> softmax."""
    inputs = keras.Input((8, 8, 3), name="image")
    a = keras.layers.Conv2D(2, 2, strides=2, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(a)
    logits = keras.layers.Dense(2, name="logits")(x)
    probs = keras.layers.Activation("softmax", name="probs")(logits)
    model = keras.Model(inputs, probs)
    model.get_layer("conv").set_weights([CONV_KERNEL, CONV_BIAS])
    model.get_layer("logits").set_weights([DENSE_KERNEL, DENSE_BIAS])
    return model


def hand_features(image: np.ndarray) -> np.ndarray:
    """The conv layer's output [4, 4, 2] computed with numpy."""
    feats = np.zeros((4, 4, 2), np.float64)
    for i in range(4):
        for j in range(4):
            patch = image[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, :]
            feats[i, j] = np.tensordot(patch, CONV_KERNEL, axes=3) + CONV_BIAS
    return feats


def hand_gradcam(image: np.ndarray, target: int, plus_plus: bool = False) -> np.ndarray:
    """Grad-CAM by hand: d logit / dA_ijk = W[k, target] / 16 everywhere (GAP then Dense)."""
    feats = hand_features(image)
    grads = np.broadcast_to(DENSE_KERNEL[:, target] / 16.0, feats.shape)
    if plus_plus:
        g2, g3 = grads**2, grads**3
        denom = 2 * g2 + feats.sum(axis=(0, 1)) * g3
        alpha = g2 / np.where(denom != 0, denom, 1.0)
        weights = (alpha * np.maximum(grads, 0)).sum(axis=(0, 1))
    else:
        weights = grads.mean(axis=(0, 1))
    cam = np.maximum(feats @ weights, 0).astype(np.float32)
    cam = np.maximum(cv2.resize(cam, (8, 8), interpolation=cv2.INTER_LINEAR), 0)
    return cam / cam.max() if cam.max() > 0 else cam


@pytest.fixture(scope="module")
def hand_model() -> keras.Model:
    return make_hand_model()


@pytest.fixture(scope="module")
def hand_images() -> np.ndarray:
    return np.random.default_rng(11).uniform(0, 20, (3, 8, 8, 3)).astype(np.float32)


@pytest.mark.parametrize("plus_plus", [False, True])
@pytest.mark.parametrize("target", [0, 1])
def test_matches_hand_computation(hand_model, hand_images, target, plus_plus) -> None:
    maps = GradCAM(hand_model, layers="conv", plus_plus=plus_plus)(hand_images, target)
    for image, got in zip(hand_images, maps, strict=True):
        expected = hand_gradcam(image, target, plus_plus)
        assert expected.max() == pytest.approx(1.0)  # the ReLU leaves something to show
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_target_class_changes_the_map(hand_model, hand_images) -> None:
    explainer = GradCAM(hand_model)
    assert explainer.layers == ("conv",)
    m0, m1 = explainer(hand_images, 0), explainer(hand_images, 1)
    assert not np.allclose(m0, m1)


@pytest.mark.parametrize("plus_plus", [False, True])
def test_maps_are_non_negative_and_normalised(tiny_cnn, flower_images, plus_plus) -> None:
    maps = GradCAM(tiny_cnn, plus_plus=plus_plus)(flower_images)
    assert maps.shape == (5, 64, 64) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    for m in maps:
        assert m.max() == pytest.approx(1.0) or not m.any()


def test_all_zero_map_stays_zero_without_nan() -> None:
    """A feature map of zeros gives a zero CAM, not NaN from 0/0."""
    inputs = keras.Input((8, 8, 3), name="image")
    a = keras.layers.Conv2D(2, 1, kernel_initializer="zeros", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(a)
    out = keras.layers.Dense(2, activation="softmax", name="head")(x)
    model = keras.Model(inputs, out)
    for plus_plus in (False, True):
        maps = GradCAM(model, plus_plus=plus_plus)(np.ones((2, 8, 8, 3), np.float32))
        assert np.isfinite(maps).all() and not maps.any()


def test_batch_equals_single_images(tiny_cnn, flower_images) -> None:
    explainer = GradCAM(tiny_cnn, batch_size=2)  # 5 images -> batches of 2, 2, 1
    batch = explainer(flower_images, targets=[0, 1, 2, 3, 4])
    singles = np.stack([explainer(img, t)[0] for t, img in enumerate(flower_images)])
    np.testing.assert_allclose(batch, singles, atol=1e-5)


def test_saved_and_loaded_model(tiny_cnn, flower_images, tmp_path) -> None:
    path = tmp_path / "tiny.keras"
    tiny_cnn.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        GradCAM(loaded)(flower_images[:2], 1), GradCAM(tiny_cnn)(flower_images[:2], 1), atol=1e-5
    )


def test_unknown_layer_lists_candidates(tiny_cnn) -> None:
    with pytest.raises(ExplainError) as err:
        GradCAM(tiny_cnn, layers="conv9")
    message = str(err.value)
    assert "conv9" in message and "conv1" in message and "conv2" in message
    with pytest.raises(ExplainError, match="conv2"):
        GradCAM(tiny_cnn, layers="logits")  # exists but is not a feature map


def test_other_layer_and_convenience_function(tiny_cnn, flower_images) -> None:
    early = GradCAM(tiny_cnn, layers="conv1")(flower_images[:1], 0)
    assert GradCAM(tiny_cnn, layers=("conv1",)).layers == ("conv1",)
    late = gradcam(tiny_cnn, flower_images[:1], targets=0)
    assert early.shape == late.shape == (1, 64, 64)
    assert not np.allclose(early, late)


def test_no_retracing(tiny_cnn, flower_images) -> None:
    explainer = GradCAM(tiny_cnn, plus_plus=True)
    explainer(flower_images[:3])
    traces = explainer.trace_count
    assert traces >= 1
    explainer(flower_images[:3])
    explainer(flower_images[0], 2)
    explainer(flower_images.astype(np.float32), [0, 1, 2, 3, 4])
    assert explainer.trace_count == traces
