"""Rewrites for cheaper gradients: the same function, only the exact cases rewritten."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_batchnorm_folding import _random_backbone

from flowerdash.explain import rewrites
from flowerdash.explain.base import gradient_logits_model, logits_model
from flowerdash.explain.integrated_gradients import IntegratedGradients
from flowerdash.explain.rewrites import (
    REWRITES,
    foldable_paddings,
    fused_silu,
    rewrite_for_gradients,
)


def _value_and_input_gradient(model: keras.Model, x: np.ndarray, target: int = 1):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = model(x, training=False)[:, target]
    return score.numpy(), tape.gradient(score, x).numpy()


def _assert_same_function(a: keras.Model, b: keras.Model, x: np.ndarray, rtol: float = 1e-4):
    va, ga = _value_and_input_gradient(a, x)
    vb, gb = _value_and_input_gradient(b, x)
    np.testing.assert_allclose(vb, va, rtol=rtol, atol=rtol * np.abs(va).max())
    np.testing.assert_allclose(gb, ga, rtol=rtol, atol=rtol * np.abs(ga).max())


def test_the_fused_swish_gradient_is_the_exact_derivative():
    x = tf.constant(np.linspace(-8, 8, 33, dtype="float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        fused, plain = fused_silu(x), x * tf.sigmoid(x)
    np.testing.assert_allclose(fused.numpy(), plain.numpy(), rtol=1e-6, atol=1e-7)
    s = 1 / (1 + np.exp(-x.numpy().astype("float64")))
    exact = s * (1 + x.numpy() * (1 - s))
    np.testing.assert_allclose(tape.gradient(fused, x).numpy(), exact, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tape.gradient(plain, x).numpy(), exact, rtol=1e-5, atol=1e-6)


@pytest.fixture
def no_xla(monkeypatch):
    """XLA fails to compile; yields whether each attempt ran eagerly; the probe is re-run."""
    attempts = []

    def broken(*args):
        attempts.append(tf.executing_eagerly())
        raise tf.errors.UnimplementedError(None, None, "no XLA here")

    monkeypatch.setattr(rewrites, "_silu_grad_xla", broken)
    rewrites._xla_available.cache_clear()
    yield attempts
    rewrites._xla_available.cache_clear()


def _swish_derivative(x: tf.Tensor) -> np.ndarray:
    s = 1 / (1 + np.exp(-x.numpy()))
    return s * (1 + x.numpy() * (1 - s))


def test_without_xla_the_swish_gradient_falls_back_to_tensorflow_ops(no_xla):
    x = tf.constant([-2.0, 0.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fused_silu(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), _swish_derivative(x), rtol=1e-5)
    assert rewrites._xla_available() is False


def test_xla_is_probed_eagerly_even_from_inside_a_traced_function(no_xla):
    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fused_silu(x)
        return tape.gradient(y, x)

    x = tf.constant([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(gradient(x).numpy(), _swish_derivative(x), rtol=1e-5)
    assert no_xla == [True]  # the probe ran (and failed) at once, so the fallback was used


def _padded_model() -> keras.Model:
    """Paddings that 'same' can replace and paddings that must stay."""
    L = keras.layers
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((16, 16, 3))
    x = L.ZeroPadding2D(((0, 1), (0, 1)), name="pad_same3")(x)  # 'same' for k3 s2 on 16
    x = L.Conv2D(4, 3, strides=2, name="c_s2", activation="silu")(x)
    x = L.ZeroPadding2D(((1, 2), (1, 2)), name="pad_same5")(x)  # 'same' for k5 s2 on 8
    x = L.DepthwiseConv2D(5, strides=2, name="dw_s2")(x)
    x = L.Activation("swish", name="act")(x)
    y = L.ZeroPadding2D(((1, 1), (1, 1)), name="pad_symmetric")(x)  # not 'same' for s2 on 4
    y = L.Conv2D(4, 3, strides=2, name="c_sym")(y)
    z = L.ZeroPadding2D(((1, 1), (1, 1)), name="pad_shared")(x)  # read twice
    z = L.Add()([L.Conv2D(4, 3, name="c_a")(z), L.Conv2D(4, 3, name="c_b")(z)])
    w = L.ZeroPadding2D(((1, 1), (1, 1)), name="pad_into_same")(x)  # conv already 'same'
    w = L.Conv2D(4, 3, padding="same", name="c_same")(w)
    out = L.Concatenate()(
        [L.GlobalAveragePooling2D()(t) for t in (y, z, w)] + [L.GlobalAveragePooling2D()(x)]
    )
    return keras.Model(inputs, L.Dense(5, name="logits")(out))


def test_only_the_paddings_same_reproduces_are_folded():
    assert foldable_paddings(_padded_model()) == {"pad_same3": "c_s2", "pad_same5": "dw_s2"}


def test_the_rewritten_copy_computes_the_same_function_and_leaves_the_original_alone():
    model = _padded_model()
    before = [w.copy() for w in model.get_weights()]
    copy = rewrite_for_gradients(model)
    assert copy is not model
    assert isinstance(copy.get_layer("pad_same3"), keras.layers.Identity)
    assert copy.get_layer("c_s2").padding == "same"
    assert isinstance(copy.get_layer("pad_symmetric"), keras.layers.ZeroPadding2D)
    assert copy.get_layer("act").activation is fused_silu
    assert copy.get_layer("c_s2").activation is fused_silu
    x = np.random.default_rng(0).normal(0, 1, (3, 16, 16, 3)).astype("float32")
    _assert_same_function(model, copy, x, rtol=1e-5)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.get_layer("act").get_config()["activation"] == "silu"


@pytest.mark.parametrize("backbone", ["mobilenetv2", "efficientnetb0"])
def test_the_backbones_lose_their_paddings_and_keep_their_function(backbone):
    model = logits_model(_random_backbone(backbone, seed=3))
    copy = rewrite_for_gradients(model)
    assert not any(isinstance(la, keras.layers.ZeroPadding2D) for la in copy.layers)
    assert not any(isinstance(la, keras.layers.BatchNormalization) for la in copy.layers)
    x = np.random.default_rng(4).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    _assert_same_function(model, copy, x, rtol=2e-3)


def test_a_rewritten_copy_can_be_cloned_again():
    copy = rewrite_for_gradients(_padded_model())
    again = keras.models.clone_model(copy)  # the fused swish is a registered Keras function
    assert again.get_layer("act").activation is fused_silu
    x = np.random.default_rng(1).normal(0, 1, (2, 16, 16, 3)).astype("float32")
    again.set_weights(copy.get_weights())
    np.testing.assert_allclose(again(x).numpy(), copy(x).numpy(), rtol=1e-6, atol=1e-6)


def test_each_rewrite_can_be_chosen_alone_and_unknown_ones_are_refused():
    model = _padded_model()
    assert rewrite_for_gradients(model, ()) is model
    only_padding = rewrite_for_gradients(model, ("padding",))
    assert only_padding.get_layer("act").get_config()["activation"] == "silu"
    assert isinstance(only_padding.get_layer("pad_same3"), keras.layers.Identity)
    with pytest.raises(ValueError, match="Unknown rewrites"):
        rewrite_for_gradients(model, ("fast",))


def test_integrated_gradients_uses_every_rewrite_once_per_model():
    model = _random_backbone("efficientnetb0", seed=5)
    fast = IntegratedGradients(model, steps=8, baseline="black")
    assert fast.logits_model is gradient_logits_model(model, REWRITES)  # built once, cached
    assert IntegratedGradients(model, steps=4).logits_model is fast.logits_model
    exact = IntegratedGradients(model, steps=8, baseline="black", rewrites=())
    assert exact.logits_model is logits_model(model)
    image = np.random.default_rng(6).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    a, b = fast.explain(image, targets=[2]), exact.explain(image, targets=[2])
    scale = np.abs(b.attributions).max()
    np.testing.assert_allclose(a.attributions, b.attributions, rtol=2e-3, atol=2e-3 * scale)
    np.testing.assert_allclose(
        a.extras["logit_delta"], b.extras["logit_delta"], rtol=1e-3, atol=1e-4
    )
