"""Faithfulness: deletion/insertion ranks the right map first, sanity checks, focus score."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from flowerdash.errors import ExplainError
from flowerdash.explain.faithfulness import deletion_insertion, focus_score, sanity_check
from flowerdash.explain.gradcam import GradCAM

SIZE = 16
REGION = (slice(2, 7), slice(9, 14))  # the only pixels the model looks at


def make_region_model() -> keras.Model:
    """Class 0's logit = 0.05 * mean brightness of REGION - 5; class 1's logit = 0."""
    mask = np.zeros((SIZE, SIZE, 3), np.float32)
    mask[REGION] = 1.0
    kernel = np.zeros((SIZE * SIZE * 3, 2), np.float32)
    kernel[:, 0] = mask.ravel() * 0.05 / mask.sum()
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    logits = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Activation("softmax", name="probs")(logits))
    model.get_layer("logits").set_weights([kernel, np.array([-5.0, 0.0], np.float32)])
    return model


@pytest.mark.parametrize("baseline", ["black", "blur"])
def test_deletion_insertion_ranks_correct_map_above_wrong_map(baseline: str) -> None:
    model = make_region_model()
    rng = np.random.default_rng(0)
    image = np.full((SIZE, SIZE, 3), 230.0, np.float32)
    if baseline == "blur":  # a dark background so the blurred region is darker too
        image[:] = 10.0
        image[REGION] = 250.0
    right = rng.random((SIZE, SIZE)).astype(np.float32) * 0.1
    right[REGION] += 1.0
    wrong = 1.1 - right
    good = deletion_insertion(model, image, right, target=0, steps=16, baseline=baseline)
    bad = deletion_insertion(model, image, wrong, target=0, steps=16, baseline=baseline)
    assert (
        good.fractions.shape == good.deletion_scores.shape == good.insertion_scores.shape == (17,)
    )
    assert good.deletion_scores[0] == pytest.approx(good.insertion_scores[-1], abs=1e-6)
    margin = 0.5 if baseline == "black" else 0.1  # a blurred region keeps some brightness
    assert good.deletion_auc < bad.deletion_auc - margin
    assert good.insertion_auc > bad.insertion_auc + margin


def test_deletion_insertion_resizes_the_map_and_checks_inputs() -> None:
    model = make_region_model()
    image = np.full((SIZE, SIZE, 3), 200.0, np.float32)
    result = deletion_insertion(model, image, np.ones((4, 4)), target=1, steps=4)
    assert result.deletion_scores.shape == (5,)
    with pytest.raises(ExplainError, match="out of range"):
        deletion_insertion(model, image, np.ones((4, 4)), target=7)
    with pytest.raises(ExplainError, match="blur"):
        deletion_insertion(model, image, np.ones((4, 4)), target=0, baseline="grey")


def test_sanity_check_maps_change_and_original_is_untouched(tiny_cnn, flower_images) -> None:
    before = [w.copy() for w in tiny_cnn.get_weights()]
    stages = sanity_check(tiny_cnn, flower_images[:2], lambda m: GradCAM(m), seed=0)
    assert [name for name, _ in stages] == ["logits", "conv2", "conv1"]
    correlations = np.array([rho for _, rho in stages])
    assert np.isfinite(correlations).all()
    assert correlations.max() < 1.0 and correlations[-1] < 0.9
    for a, b in zip(before, tiny_cnn.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_sanity_check_with_explicit_layers(tiny_cnn, flower_images) -> None:
    stages = sanity_check(tiny_cnn, flower_images[0], lambda m: GradCAM(m), ["logits"])
    assert [name for name, _ in stages] == ["logits"]
    with pytest.raises(ExplainError, match="nope"):
        sanity_check(tiny_cnn, flower_images[0], lambda m: GradCAM(m), ["nope"])


def test_focus_score() -> None:
    centre = np.zeros((20, 20))
    centre[8:12, 8:12] = 1.0
    border = np.zeros((20, 20))
    border[0, :] = 1.0
    assert focus_score(centre) == pytest.approx(1.0)
    assert focus_score(border) == 0.0
    assert focus_score(np.ones((20, 20))) == pytest.approx(0.25)
    assert focus_score(np.zeros((20, 20))) == 0.0
    assert focus_score(np.ones((20, 20)), center_fraction=1.0) == pytest.approx(1.0)
    with pytest.raises(ExplainError):
        focus_score(np.ones((20, 20)), center_fraction=0.0)


def test_sanity_check_sees_the_randomisation_through_the_folded_ig_model(flower_images) -> None:
    from flowerdash.explain.integrated_gradients import IntegratedGradients
    from flowerdash.models.backbones import build_model

    model = build_model("mobilenetv2", weights=None, image_size=64, num_classes=5)
    result = sanity_check(
        model,
        flower_images[:2],
        lambda m: IntegratedGradients(m, steps=4, baseline="black"),
        layers_to_randomize=["logits", "Conv_1"],
    )
    assert [stage for stage, _rho in result] == ["logits", "Conv_1"]
    assert result[-1][1] < 0.9, result  # randomising the last convolution changes the maps
