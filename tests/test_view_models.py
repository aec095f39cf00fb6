"""flowerdash.models.views: one model answering the mean over a photo's views, explained
through one of them."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import save_tiny_checkpoint

from flowerdash.cli.main import main
from flowerdash.errors import ConfigError
from flowerdash.explain.base import gradcam_layer_choices
from flowerdash.explain.gradcam import GradCAM
from flowerdash.explain.integrated_gradients import IntegratedGradients
from flowerdash.inference.calibration import with_temperature
from flowerdash.inference.litert import LiteRTPredictor, to_litert
from flowerdash.models.backbones import build_model, with_backbone_size
from flowerdash.models.checkpoints import load_model, read_meta
from flowerdash.models.ensemble import ensemble_checkpoint
from flowerdash.models.logits import logits_model
from flowerdash.models.views import single_view, view_sizes, with_views


def _model() -> keras.Model:
    return build_model("tiny", weights=None, image_size=32, backbone_size=40, num_classes=5)


def _images(n: int = 3, size: int = 32) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype("float32")


def _by_hand(model: keras.Model, x: np.ndarray, sizes, mirror: bool) -> np.ndarray:
    """The mean of the logits of each view, computed one view at a time, then the softmax."""
    scores = []
    for side in sizes:
        logits = logits_model(with_backbone_size(model, side))
        scores.append(np.asarray(logits(x)))
        if mirror:
            scores.append(np.asarray(logits(np.ascontiguousarray(x[:, :, ::-1]))))
    return np.asarray(keras.ops.softmax(np.mean(scores, axis=0)))


def test_the_answer_is_the_mean_of_the_views_logits_and_one_copy_of_the_weights():
    model, x = _model(), _images()
    views = with_views(model, (48, 40), mirror=True)  # any order: smallest first
    assert view_sizes(views) == [40, 48] and view_sizes(model) == []
    assert views.count_params() == model.count_params()
    np.testing.assert_allclose(views(x), _by_hand(model, x, (40, 48), True), atol=1e-6)
    # each view moves the answer: the mean is not any one of them
    assert not np.allclose(views(x), _by_hand(model, x, (40,), False), atol=1e-4)


def test_one_view_is_the_model_at_that_size_and_the_original_is_untouched():
    model, x = _model(), _images()
    before = np.asarray(model(x))
    np.testing.assert_allclose(with_views(model, (40,))(x), before, atol=1e-6)
    at_input = with_views(model, (32,), mirror=False)  # no resizing at the input's own size
    np.testing.assert_allclose(at_input(x), with_backbone_size(model, 32)(x), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(model(x)), before)


def test_the_single_view_is_the_flat_model_at_the_smallest_size_uncalibrated():
    model, x = _model(), _images()
    views = with_views(with_temperature(model, 0.5), (40, 48), mirror=True)
    flat = single_view(views)
    assert single_view(views) is flat  # built once per model
    assert single_view(model) is model
    assert [layer.name for layer in flat.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(flat(x), model(x), atol=1e-6)


def test_a_views_model_saves_converts_and_calibrates_with_keras_alone(tmp_path):
    model, x = _model(), _images()
    views = with_temperature(with_views(model, (40, 48), mirror=True), 0.5)
    views.save(tmp_path / "views.keras")
    loaded = keras.saving.load_model(tmp_path / "views.keras")
    np.testing.assert_allclose(loaded(x), views(x), atol=1e-6)
    expected = np.asarray(keras.ops.softmax(logits_model(views)(x) / 0.5))
    np.testing.assert_allclose(loaded(x), expected, atol=1e-6)
    np.testing.assert_allclose(LiteRTPredictor(to_litert(loaded))(x), expected, atol=1e-5)


def test_explanations_of_a_views_model_are_those_of_its_single_view():
    model, x = _model(), _images()
    views = with_views(model, (40, 48), mirror=True)
    targets = [0, 3, 4]
    assert gradcam_layer_choices(views) == gradcam_layer_choices(model)
    for method in (GradCAM, IntegratedGradients):
        ours, flat = method(views).explain(x, targets), method(model).explain(x, targets)
        np.testing.assert_allclose(ours.maps, flat.maps, atol=1e-5)


def test_views_are_refused_for_models_flowerdash_did_not_build_or_twice():
    inputs = keras.Input((32, 32, 3))
    other = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ConfigError, match="single-view classifiers"):
        with_views(other, (40,))
    with pytest.raises(ConfigError, match="single-view classifiers"):
        with_views(with_views(_model(), (40,)), (48,))
    with pytest.raises(ConfigError, match="once"):
        with_views(_model(), (40, 40))
    with pytest.raises(ConfigError, match="cannot be smaller"):
        with_views(_model(), (24,))


def test_a_weight_average_answers_views_and_averages_again_as_its_runs(tmp_path):
    a = save_tiny_checkpoint(tmp_path, "a", seed=1)
    b = save_tiny_checkpoint(tmp_path, "b", seed=2)
    plain = ensemble_checkpoint([a, b], name="ab", root=tmp_path, average="weights")
    args = ["ensemble", "a", "b", "--average", "weights", "--backbone-size", "80"]
    args += ["--also-size", "96", "--mirror", "--name", "ab-views"]
    assert main([*args, "--checkpoint-dir", str(tmp_path), "--no-test"]) == 0
    folder = tmp_path / "ab-views"
    assert read_meta(folder)["views"] == {"sizes": [80, 96], "mirror": True}
    x = _images(size=64)
    expected = _by_hand(load_model(plain), x, (80, 96), True)
    np.testing.assert_allclose(load_model(folder)(x), expected, atol=1e-6)
    # averaged again, a views model counts as its runs, without its views
    again = ensemble_checkpoint([folder, a], name="again", root=tmp_path, average="weights")
    assert "views" not in read_meta(again) and view_sizes(load_model(again)) == []
    with pytest.raises(ConfigError, match="Only a weight average"):
        ensemble_checkpoint([a, b], name="scores", root=tmp_path, mirror=True)
    # an ensemble of scores would answer right, but Grad-CAM cannot reach a nested view's maps
    with pytest.raises(ConfigError, match="^ab-views: a model answering several views"):
        ensemble_checkpoint([a, folder], name="mixed", root=tmp_path)
    assert not (tmp_path / "mixed").exists()


def test_explainers_explain_the_views_answer_by_default_not_the_one_view_s():
    model = _model()
    views = with_views(model, (40, 48), mirror=True)
    x = np.random.default_rng(1).uniform(0, 255, (40, 32, 32, 3)).astype("float32")
    answers = np.asarray(views(x)).argmax(axis=1)
    one_view = np.asarray(single_view(views)(x)).argmax(axis=1)
    assert (answers != one_view).any()  # photos where the view explained answers otherwise
    for explainer in (GradCAM(views), IntegratedGradients(views, steps=4)):
        np.testing.assert_array_equal(explainer.explain(x).targets, answers)
    np.testing.assert_array_equal(GradCAM(model).explain(x).targets, np.asarray(model(x)).argmax(1))
