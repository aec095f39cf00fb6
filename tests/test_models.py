"""Backbone registry, flat model building, preprocessing inside the model, freezing."""

from __future__ import annotations

import numpy as np
import pytest

from flowerdash.errors import ConfigError, WeightsError
from flowerdash.models import backbones


def test_mobilenetv2_with_offline_weights_is_flat_and_preprocesses_inside(weights_dir):
    import keras

    path = weights_dir / "mobilenet_v2_1.0_224_imagenet_notop.weights.h5"
    model = backbones.build_model("mobilenetv2", weights=str(path), image_size=96)
    names = [layer.name for layer in model.layers]
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)  # flat
    assert names[:2] == ["image", "preprocess"] and names[-4:] == list(backbones.HEAD_LAYERS)
    assert model.get_layer("out_relu").output.shape[-1] == 1280
    # the model takes raw 0..255 pixels: its preprocess layer equals mobilenet_v2.preprocess_input
    x = np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype("float32")
    inner = keras.Model(model.inputs, model.get_layer("preprocess").output)
    expected = keras.applications.mobilenet_v2.preprocess_input(x.copy())
    np.testing.assert_allclose(inner(x).numpy(), expected, atol=1e-5)
    # pretrained weights were really loaded (not random): compare one kernel with the file's
    ref = keras.applications.MobileNetV2(
        include_top=False, weights=str(path), input_shape=(96, 96, 3)
    )
    np.testing.assert_array_equal(
        model.get_layer("Conv1").get_weights()[0], ref.get_layer("Conv1").get_weights()[0]
    )


def test_efficientnet_expects_raw_pixels_and_has_its_own_normalisation():
    model = backbones.build_model("efficientnetb0", weights=None, image_size=64)
    assert model.get_layer("preprocess").__class__.__name__ == "Identity"
    assert any(layer.name.startswith("normalization") for layer in model.layers)
    assert model.get_layer("top_activation").output.shape[-1] == 1280


def test_imagenet_weights_offline_give_a_clear_message(monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(WeightsError, match="Options: go online"):
        backbones.build_model("mobilenetv2", weights="imagenet", image_size=64)


def test_weights_resolution(monkeypatch, weights_dir, tmp_path):
    monkeypatch.setenv("FLOWERDASH_WEIGHTS_DIR", str(weights_dir))
    assert backbones.resolve_weights("mobilenetv2", "auto").endswith("notop.weights.h5")
    assert backbones.resolve_weights("efficientnetb0", "auto") == "imagenet"
    assert backbones.resolve_weights("mobilenetv2", "none") is None
    with pytest.raises(WeightsError, match="does not exist"):
        backbones.resolve_weights("mobilenetv2", str(tmp_path / "missing.h5"))
    with pytest.raises(ConfigError, match="efficientnetb0, mobilenetv2"):
        backbones.get_backbone("resnet")


def test_set_trainable_freezes_backbone_and_batchnorm():
    import keras

    model = backbones.build_model("tiny", weights=None)
    backbones.set_trainable(model, 0)
    assert all(not layer.trainable for layer in backbones.backbone_layers(model))
    assert model.get_layer("logits").trainable
    n = backbones.set_trainable(model, 4)
    trainable = [layer.name for layer in backbones.backbone_layers(model) if layer.trainable]
    assert trainable == ["relu2", "conv3", "relu3"] and n == 1  # bn3 stays frozen (inference mode)
    assert all(
        not layer.trainable
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )


def test_outputs_are_probabilities_and_input_size():
    model = backbones.build_model("tiny", weights=None, num_classes=7)
    x = np.zeros((3, 64, 64, 3), "float32")
    probs = model(x).numpy()
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert backbones.input_size(model) == 64


def test_feature_and_head_models_compose_to_the_model_and_share_its_weights():
    model = backbones.build_model("tiny", weights=None, image_size=32)
    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    head = backbones.head_model(model)
    np.testing.assert_allclose(
        head(backbones.feature_model(model)(x)).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6
    )
    assert head.get_layer("logits") is model.get_layer("logits")


def test_backbone_size_upsamples_inside_the_model_and_keeps_the_input_size():
    import keras

    build_model, input_size = backbones.build_model, backbones.input_size
    model = build_model("tiny", weights=None, image_size=32, backbone_size=48, num_classes=4)
    assert input_size(model) == 32
    assert model.get_layer("upsample").output.shape[1:3] == (48, 48)
    assert model.get_layer("conv3").output.shape[1:3] == (12, 12)  # two stride-2 convs on 48
    assert "upsample" not in [layer.name for layer in backbones.backbone_layers(model)]
    # A constant image stays constant through the bilinear upsampling.
    grey = np.full((1, 32, 32, 3), 90.0, "float32")
    up = keras.Model(model.inputs, model.get_layer("upsample").output)(grey)
    np.testing.assert_allclose(np.asarray(up), 90.0, atol=1e-3)
    same = build_model("tiny", weights=None, image_size=32, backbone_size=32)
    assert "upsample" not in [layer.name for layer in same.layers]
    with pytest.raises(ConfigError, match="cannot be smaller"):
        build_model("tiny", weights=None, image_size=32, backbone_size=24)


def test_a_bare_call_of_an_upsampling_model_answers_in_inference_mode():
    # Resizing defaults to training=True; a bare model(x) must still leave dropout off.
    model = backbones.build_model(
        "tiny", weights=None, image_size=32, backbone_size=48, dropout=0.5, num_classes=4
    )
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    before = [w.copy() for w in model.get_weights()]
    inference = np.asarray(model(x, training=False))
    np.testing.assert_array_equal(np.asarray(model(x)), inference)
    for weight, was in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(weight, was)  # no BatchNorm statistic moved
    assert not np.allclose(np.asarray(model(x, training=True)), inference)  # training still trains


def test_with_backbone_size_copies_the_model_and_enlarges_what_the_backbone_sees():
    build_model, with_size = backbones.build_model, backbones.with_backbone_size
    model = build_model("tiny", weights=None, image_size=32, num_classes=4)
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    answers = np.asarray(model(x, training=False))
    enlarged = with_size(model, 48)
    assert enlarged is not model and "upsample" not in [layer.name for layer in model.layers]
    assert backbones.input_size(enlarged) == 32
    assert enlarged.get_layer("conv3").output.shape[1:3] == (12, 12)
    # The same function as a model built at that backbone size with these weights.
    reference = build_model("tiny", weights=None, image_size=32, backbone_size=48, num_classes=4)
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(enlarged(x), reference(x, training=False), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), answers)  # untouched
    # At the model's own size the copy answers as the original; sizes replace each other.
    np.testing.assert_array_equal(np.asarray(with_size(model, 32)(x)), answers)
    assert with_size(enlarged, 64).get_layer("upsample").output.shape[1:3] == (64, 64)
    back = with_size(enlarged, 32)
    assert "upsample" not in [layer.name for layer in back.layers]
    np.testing.assert_array_equal(np.asarray(back(x)), answers)
    with pytest.raises(ConfigError, match="cannot be smaller"):
        with_size(model, 24)


def test_with_backbone_size_refuses_a_model_it_did_not_build():
    import keras

    inputs = keras.Input((32, 32, 3))
    other = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ConfigError, match="flowerdash's own classifiers"):
        backbones.with_backbone_size(other, 48)
