"""Integrated Gradients: exactness on linear models, completeness, chunking, baselines, step
limits, one set of defaults and no retracing (the research rules: test_ig_research.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from flowerdash.errors import ExplainError
from flowerdash.explain.baselines import make_baseline
from flowerdash.explain.defaults import MAX_STEPS
from flowerdash.explain.integrated_gradients import IntegratedGradients


def make_linear_model(size: int = 8, num_classes: int = 3, seed: int = 1) -> keras.Model:
    """Logits = Dense(flatten(x)), a model for which IG is exact: (x - x') * w."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Flatten(name="flat")(inputs)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    probs = keras.layers.Activation("softmax", name="probs")(logits)
    return keras.Model(inputs, probs)


@pytest.mark.parametrize("steps", [0, -1, MAX_STEPS + 1, 2.5, True])
def test_steps_outside_range_are_refused(steps) -> None:
    with pytest.raises(ExplainError, match="steps"):
        IntegratedGradients(make_linear_model(), steps=steps)


def test_unknown_baseline_is_refused() -> None:
    model = make_linear_model()
    with pytest.raises(ExplainError, match="black"):
        IntegratedGradients(model, baseline="white")
    with pytest.raises(ExplainError, match="same size"):
        IntegratedGradients(model, baseline=np.zeros((4, 4, 3))).explain(np.zeros((8, 8, 3)))


# -- the explainer -----------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [1, 2, 21])
def test_linear_model_attributions_are_exact(steps: int) -> None:
    model = make_linear_model()
    kernel, _ = model.get_layer("logits").get_weights()
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    baseline = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
    targets = [2, 0]
    result = IntegratedGradients(model, steps=steps, baseline=baseline).explain(images, targets)
    for i, t in enumerate(targets):
        expected = ((images[i] - baseline).reshape(-1) * kernel[:, t]).reshape(8, 8, 3)
        np.testing.assert_allclose(result.attributions[i], expected, rtol=1e-4, atol=1e-3)
    assert np.all(result.extras["completeness_gap"] < 1e-4)
    assert result.attributions.dtype == np.float32 and result.maps.shape == (2, 8, 8)
    assert result.extras_of(0)["steps"] == steps and result.extras["rule"] == "adaptive"


def test_completeness_gap_shrinks_below_one_percent(tiny_cnn, flower_images) -> None:
    gaps = {
        steps: IntegratedGradients(tiny_cnn, steps=steps)
        .explain(flower_images[:2], 0)
        .extras["completeness_gap"]
        for steps in (2, 256)
    }
    assert np.all(gaps[256] < 0.01)
    assert gaps[256].max() < gaps[2].max()


def test_adaptive_rule_converges(tiny_cnn, flower_images) -> None:
    images = flower_images[:2]
    reference = IntegratedGradients(tiny_cnn, steps=MAX_STEPS).explain(images, 0)
    errors, gaps = {}, {}
    for steps in (8, 64, 256):
        result = IntegratedGradients(tiny_cnn, steps=steps).explain(images, 0)
        diff = result.attributions - reference.attributions
        errors[steps] = np.linalg.norm(diff) / np.linalg.norm(reference.attributions)
        gaps[steps] = result.extras["completeness_gap"].max()
    assert errors[64] < errors[8] and errors[256] < 0.01
    assert gaps[256] < 0.01 and gaps[256] <= gaps[8]


def test_the_core_and_the_cli_take_their_defaults_from_one_module() -> None:
    from flowerdash.cli.main import build_parser
    from flowerdash.explain import defaults

    ig = IntegratedGradients(make_linear_model())
    assert (ig.rule, ig.steps, ig.baseline) == (defaults.RULE, defaults.STEPS, defaults.BASELINE)
    assert defaults.BASELINES[0] == defaults.BASELINE
    explain = build_parser().parse_args(["explain", "photo.jpg"])
    assert (explain.baseline, explain.steps) == (defaults.BASELINE, defaults.STEPS)


def test_what_pages_import_needs_no_tensorflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys, flowerdash.explain.defaults, flowerdash.explain.baselines, "
        "flowerdash.explain.faithfulness, flowerdash.ui.widgets; "
        "sys.exit('tensorflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_chunked_and_unchunked_agree(tiny_cnn, flower_images) -> None:
    images = flower_images[:2]
    small = IntegratedGradients(tiny_cnn, steps=20, chunk_size=3).explain(images)
    whole = IntegratedGradients(tiny_cnn, steps=20, chunk_size=64).explain(images)
    np.testing.assert_allclose(small.attributions, whole.attributions, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        small.extras["completeness_gap"], whole.extras["completeness_gap"], atol=1e-5
    )


@pytest.mark.parametrize("baseline", ["black", "blur", "noise", "image"])
def test_every_baseline_gives_finite_maps(tiny_cnn, flower_images, baseline) -> None:
    base = flower_images[4] if baseline == "image" else baseline
    result = IntegratedGradients(tiny_cnn, steps=8, baseline=base).explain(flower_images[:2])
    assert result.attributions.shape == (2, 64, 64, 3)
    assert result.maps.shape == (2, 64, 64)
    assert np.isfinite(result.attributions).all() and np.isfinite(result.maps).all()
    assert np.isfinite(result.extras["completeness_gap"]).all()
    assert result.maps.min() >= 0 and result.maps.max() == pytest.approx(1.0)


def test_baselines_are_in_pixel_space() -> None:
    images = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    assert not make_baseline(images, "black").any()
    blur = make_baseline(images, "blur")
    assert blur.std() < images.std() / 3
    noise_a, noise_b = (
        make_baseline(images, "noise", seed=1),
        make_baseline(images, "noise", seed=1),
    )
    np.testing.assert_array_equal(noise_a, noise_b)
    assert noise_a.min() >= 0 and noise_a.max() <= 255 and noise_a.std() > 50


def test_call_returns_maps_without_retracing(tiny_cnn, flower_images) -> None:
    ig = IntegratedGradients(tiny_cnn, steps=10, chunk_size=4)
    maps = ig(flower_images[:3])
    traces = ig.trace_count
    assert maps.shape == (3, 64, 64) and maps.dtype == np.float32
    np.testing.assert_allclose(maps, ig.explain(flower_images[:3]).maps, atol=1e-6)
    assert ig.chunk_sizes() == {4, 2}  # 10 steps: a grid of 8 (4 + 4), then 2 bisections
    ig(flower_images[0])
    ig(flower_images[:2], targets=[1, 2])
    assert ig.trace_count == traces
