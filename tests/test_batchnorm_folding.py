"""Folding BatchNormalization into convolutions: same function, original model untouched."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from flowerdash.explain.batchnorm_folding import FoldedBatchNorm, fold_batch_norms, foldable_pairs
from flowerdash.explain.integrated_gradients import IntegratedGradients
from flowerdash.models.backbones import build_model


def _random_statistics(model: keras.Model, seed: int = 0) -> keras.Model:
    """Give every BatchNormalization non-trivial moving statistics, scale and shift."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.5, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.2, 2.0, n).astype("float32"))
            if layer.scale:
                layer.gamma.assign(rng.uniform(0.5, 1.5, n).astype("float32"))
            if layer.center:
                layer.beta.assign(rng.normal(0, 0.5, n).astype("float32"))
    return model


def _random_backbone(backbone: str, seed: int) -> keras.Model:
    """A 64 px model of ``backbone`` with seeded random weights and BatchNorm statistics.

    Seeded, so every run tests the same model: with ReLU6 a unit sitting on a kink in one random
    draw makes two equal functions' gradients differ by more than rounding.
    """
    keras.utils.set_random_seed(seed)
    return _random_statistics(build_model(backbone, weights=None, image_size=64), seed=seed)


def _mixed_model() -> keras.Model:
    """Every case: foldable convs (with and without bias, depthwise with a multiplier), a BN
    without scale/centre, and pairs that must stay (activation inside the conv, shared output)."""
    L = keras.layers
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="c1")(x)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU()(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(x)
    x = L.BatchNormalization(center=False, scale=False, name="bn2")(x)
    x = L.Conv2D(8, 1, activation="relu", name="c_act")(x)
    x = L.BatchNormalization(name="bn_after_act")(x)
    y = L.Conv2D(8, 3, padding="same", strides=2, name="c_shared")(x)
    z = L.BatchNormalization(name="bn_shared")(y)
    x = L.Concatenate()([z, y])
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(4, name="logits")(x)
    return _random_statistics(keras.Model(inputs, out))


def test_only_the_exact_pairs_are_folded():
    assert foldable_pairs(_mixed_model()) == {"c1": "bn1", "dw": "bn2"}


def test_the_folded_copy_computes_the_same_function_and_gradients():
    model = _mixed_model()
    before = [w.copy() for w in model.get_weights()]
    folded = fold_batch_norms(model)
    assert folded is not model
    assert isinstance(folded.get_layer("bn1"), FoldedBatchNorm)
    assert isinstance(folded.get_layer("bn_shared"), keras.layers.BatchNormalization)
    x = tf.constant(np.random.default_rng(1).uniform(0, 1, (3, 16, 16, 3)).astype("float32"))
    np.testing.assert_allclose(folded(x).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-5)

    def grad(m):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = m(x, training=False)[:, 1]
        return tape.gradient(score, x).numpy()

    np.testing.assert_allclose(grad(folded), grad(model), rtol=1e-4, atol=1e-6)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the original is untouched


@pytest.mark.parametrize("backbone", ["mobilenetv2", "efficientnetb0"])
def test_every_batch_norm_of_the_backbones_folds_away(backbone):
    model = _random_backbone(backbone, seed=2)
    folded = fold_batch_norms(model)
    assert not any(isinstance(la, keras.layers.BatchNormalization) for la in folded.layers)
    x = np.random.default_rng(3).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    a, b = model.predict_on_batch(x), folded.predict_on_batch(x)
    np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)


def test_a_batch_norm_shared_by_two_branches_stays():
    L = keras.layers
    inputs = keras.Input((8, 8, 3))
    bn = L.BatchNormalization(name="shared_bn")
    a = bn(L.Conv2D(4, 3, padding="same", name="ca")(inputs))
    b = bn(L.Conv2D(4, 3, padding="same", name="cb")(inputs))
    model = _random_statistics(keras.Model(inputs, L.Add()([a, b])))
    assert foldable_pairs(model) == {}
    assert fold_batch_norms(model) is model


def test_a_model_without_batch_norm_is_returned_as_is():
    plain = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    assert fold_batch_norms(plain) is plain


def test_integrated_gradients_runs_on_the_folded_model_with_the_same_result():
    model = _random_backbone("mobilenetv2", seed=4)
    image = np.random.default_rng(5).uniform(0, 255, (64, 64, 3)).astype("float32")
    # 2 steps: the trapezoid on both ends, no bisection that float rounding could steer elsewhere
    fast = IntegratedGradients(model, steps=2, baseline="black")
    assert not any(
        isinstance(la, keras.layers.BatchNormalization) for la in fast.logits_model.layers
    )
    exact = IntegratedGradients(model, steps=2, baseline="black", rewrites=())
    assert any(isinstance(la, keras.layers.BatchNormalization) for la in exact.logits_model.layers)
    a = fast.explain(image[None], targets=[3])
    b = exact.explain(image[None], targets=[3])
    scale = np.abs(b.attributions).max()
    np.testing.assert_allclose(a.attributions, b.attributions, rtol=1e-3, atol=1e-3 * scale)
    np.testing.assert_allclose(
        a.extras["logit_delta"], b.extras["logit_delta"], rtol=1e-4, atol=1e-4
    )


def test_a_new_explainer_sees_weights_changed_in_place():
    model = _random_backbone("mobilenetv2", seed=6)
    image = np.random.default_rng(7).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    first = IntegratedGradients(model, steps=4, baseline="black")
    assert IntegratedGradients(model, steps=8).logits_model is first.logits_model  # built once
    bn = model.get_layer("Conv_1_bn")  # the last one, before the head
    bn.gamma.assign(bn.gamma.numpy() * 3.0)  # the sanity check changes weights like this
    second = IntegratedGradients(model, steps=4, baseline="black")
    assert second.logits_model is not first.logits_model
    logits = keras.Model(model.inputs, model.get_layer("logits").output).predict_on_batch(image)
    np.testing.assert_allclose(second.predict_logits(image), logits, rtol=1e-3, atol=1e-4)
    assert np.abs(first.predict_logits(image) - logits).max() > 1e-2  # the old copy is stale
