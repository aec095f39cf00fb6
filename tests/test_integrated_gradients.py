"""Integrated Gradients: quadrature helpers vs numpy, exactness on linear models, completeness,
chunking, baselines, SmoothGrad, step limits and no retracing."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from flowerdash.errors import ExplainError
from flowerdash.explain.integrated_gradients import (
    BASELINES,
    MAX_STEPS,
    IntegratedGradients,
    integrate,
    integration_points,
    interpolate,
    make_baseline,
)


def make_linear_model(size: int = 8, num_classes: int = 3, seed: int = 1) -> keras.Model:
    """Logits = Dense(flatten(x)), a model for which IG is exact: (x - x') * w."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Flatten(name="flat")(inputs)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    probs = keras.layers.Activation("softmax", name="probs")(logits)
    return keras.Model(inputs, probs)


# -- pure helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["trapezoid", "gauss_legendre", "midpoint"])
@pytest.mark.parametrize("steps", [1, 3, 10])
def test_integration_points_are_a_quadrature_on_0_1(rule: str, steps: int) -> None:
    alphas, weights = integration_points(steps, rule)
    assert alphas.shape == weights.shape
    assert np.all((alphas >= 0) & (alphas <= 1))
    assert weights.sum() == pytest.approx(1.0)
    assert np.dot(weights, alphas) == pytest.approx(0.5)  # ∫ a da


def test_integration_points_match_numpy_conventions() -> None:
    a, w = integration_points(4, "trapezoid")  # steps = intervals -> steps + 1 points
    np.testing.assert_allclose(a, np.linspace(0, 1, 5))
    np.testing.assert_allclose(w, [0.125, 0.25, 0.25, 0.25, 0.125])
    f = np.sin(3 * a)
    assert np.dot(w, f) == pytest.approx(np.trapezoid(f, a))

    a, w = integration_points(5, "gauss_legendre")
    nodes, weights = np.polynomial.legendre.leggauss(5)
    np.testing.assert_allclose(a, (nodes + 1) / 2)
    np.testing.assert_allclose(w, weights / 2)
    # Gauss-Legendre with n points is exact for polynomials of degree 2n - 1.
    assert np.dot(w, a**9) == pytest.approx(1 / 10, rel=1e-12)

    a, w = integration_points(4, "midpoint")
    np.testing.assert_allclose(a, [0.125, 0.375, 0.625, 0.875])


def test_midpoint_cubic_crowds_the_baseline_end_and_converges() -> None:
    a, w = integration_points(4, "midpoint_cubic")
    u = np.array([0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(a, u**3)
    np.testing.assert_allclose(w, u**2 / (u**2).sum())
    a, w = integration_points(64, "midpoint_cubic")
    assert w.sum() == pytest.approx(1.0, abs=1e-12) and np.all(np.diff(a) > 0)
    assert np.mean(a < 0.125) == 0.5  # half of the points in the first eighth of the path
    exact = (1 - np.cos(3)) / 3  # ∫_0^1 sin(3a) da
    errors = []
    for n in (8, 64):
        a, w = integration_points(n, "midpoint_cubic")
        errors.append(abs(np.dot(w, np.sin(3 * a)) - exact))
    assert errors[1] < errors[0] / 10 and errors[1] < 1e-3


def test_interpolate_and_integrate_against_numpy() -> None:
    rng = np.random.default_rng(0)
    x, base = rng.random((4, 5, 3)), rng.random((4, 5, 3))
    alphas = np.array([0.0, 0.25, 1.0])
    path = interpolate(x, base, alphas)
    assert path.shape == (3, 4, 5, 3)
    np.testing.assert_allclose(path[0], base)
    np.testing.assert_allclose(path[1], base + 0.25 * (x - base))
    np.testing.assert_allclose(path[2], x)
    grads, weights = rng.random((3, 4, 5, 3)), np.array([0.2, 0.5, 0.3])
    np.testing.assert_allclose(integrate(grads, weights), np.einsum("m,mhwc->hwc", weights, grads))


@pytest.mark.parametrize("steps", [0, -1, MAX_STEPS + 1, 2.5, True])
def test_steps_outside_range_are_refused(steps) -> None:
    with pytest.raises(ExplainError, match="steps"):
        integration_points(steps, "trapezoid")
    with pytest.raises(ExplainError, match="steps"):
        IntegratedGradients(make_linear_model(), steps=steps)


def test_unknown_rule_and_baseline_are_refused() -> None:
    model = make_linear_model()
    with pytest.raises(ExplainError, match="gauss_legendre"):
        IntegratedGradients(model, rule="simpson")
    with pytest.raises(ExplainError, match="black"):
        IntegratedGradients(model, baseline="white")
    with pytest.raises(ExplainError, match="same size"):
        IntegratedGradients(model, baseline=np.zeros((4, 4, 3))).explain(np.zeros((8, 8, 3)))


# -- the explainer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule,steps",
    [
        ("trapezoid", 1),
        ("gauss_legendre", 3),
        ("midpoint", 7),
        ("midpoint_cubic", 5),
        ("adaptive", 1),
        ("adaptive", 2),
        ("adaptive", 21),
    ],
)
def test_linear_model_attributions_are_exact(rule: str, steps: int) -> None:
    model = make_linear_model()
    kernel, _ = model.get_layer("logits").get_weights()
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    baseline = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
    targets = [2, 0]
    result = IntegratedGradients(model, steps=steps, rule=rule, baseline=baseline).explain(
        images, targets
    )
    for i, t in enumerate(targets):
        expected = ((images[i] - baseline).reshape(-1) * kernel[:, t]).reshape(8, 8, 3)
        np.testing.assert_allclose(result.attributions[i], expected, rtol=1e-4, atol=1e-3)
    assert np.all(result.completeness_gap < 1e-4)
    assert result.attributions.dtype == np.float32 and result.maps.shape == (2, 8, 8)


def test_completeness_gap_shrinks_below_one_percent(tiny_cnn, flower_images) -> None:
    gaps = {
        steps: IntegratedGradients(tiny_cnn, steps=steps, rule="gauss_legendre")
        .explain(flower_images[:2], 0)
        .completeness_gap
        for steps in (2, 256)
    }
    assert np.all(gaps[256] < 0.01)
    assert gaps[256].max() < gaps[2].max()


def test_adaptive_rule_converges_to_the_reference(tiny_cnn, flower_images) -> None:
    images = flower_images[:2]
    reference = IntegratedGradients(tiny_cnn, steps=512, rule="trapezoid").explain(images, 0)
    errors, gaps = {}, {}
    for steps in (8, 64, 256):
        result = IntegratedGradients(tiny_cnn, steps=steps, rule="adaptive").explain(images, 0)
        diff = result.attributions - reference.attributions
        errors[steps] = np.linalg.norm(diff) / np.linalg.norm(reference.attributions)
        gaps[steps] = result.completeness_gap.max()
    assert errors[64] < errors[8] and errors[256] < 0.01
    assert gaps[256] < 0.01 and gaps[256] <= gaps[8]


def test_adaptive_rule_has_no_fixed_points() -> None:
    with pytest.raises(ExplainError, match="adaptive"):
        integration_points(16, "adaptive")


def test_defaults_are_the_measured_ones_everywhere() -> None:
    from flowerdash.cli.main import build_parser
    from flowerdash.explain.integrated_gradients import (
        DEFAULT_BASELINE,
        DEFAULT_RULE,
        DEFAULT_STEPS,
    )
    from flowerdash.ui import state

    assert (DEFAULT_RULE, DEFAULT_STEPS, DEFAULT_BASELINE) == ("adaptive", 64, "blur")
    ig = IntegratedGradients(make_linear_model())
    assert (ig.rule, ig.steps, ig.baseline) == (DEFAULT_RULE, DEFAULT_STEPS, DEFAULT_BASELINE)
    assert (state.IG_STEPS, state.IG_BASELINE) == (DEFAULT_STEPS, DEFAULT_BASELINE)
    assert state.IG_BASELINES[0] == DEFAULT_BASELINE
    assert sorted(state.IG_BASELINES) == sorted(BASELINES)
    explain = build_parser().parse_args(["explain", "photo.jpg"])
    assert explain.baseline == DEFAULT_BASELINE


@pytest.mark.parametrize("rule", ["trapezoid", "adaptive"])
def test_chunked_and_unchunked_agree(tiny_cnn, flower_images, rule: str) -> None:
    images = flower_images[:2]
    small = IntegratedGradients(tiny_cnn, steps=20, rule=rule, chunk_size=3).explain(images)
    whole = IntegratedGradients(tiny_cnn, steps=20, rule=rule, chunk_size=64).explain(images)
    np.testing.assert_allclose(small.attributions, whole.attributions, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(small.completeness_gap, whole.completeness_gap, atol=1e-5)


@pytest.mark.parametrize("baseline", ["black", "blur", "noise", "image"])
def test_every_baseline_gives_finite_maps(tiny_cnn, flower_images, baseline) -> None:
    base = flower_images[4] if baseline == "image" else baseline
    result = IntegratedGradients(tiny_cnn, steps=8, baseline=base).explain(flower_images[:2])
    assert result.attributions.shape == (2, 64, 64, 3)
    assert result.maps.shape == (2, 64, 64)
    assert np.isfinite(result.attributions).all() and np.isfinite(result.maps).all()
    assert np.isfinite(result.completeness_gap).all()
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


def test_smoothgrad_averaging(tiny_cnn, flower_images) -> None:
    plain = IntegratedGradients(tiny_cnn, steps=8).explain(flower_images[:1])
    smooth = IntegratedGradients(tiny_cnn, steps=8, smooth_samples=3, seed=0).explain(
        flower_images[:1]
    )
    again = IntegratedGradients(tiny_cnn, steps=8, smooth_samples=3, seed=0).explain(
        flower_images[:1]
    )
    assert np.isfinite(smooth.attributions).all()
    assert not np.allclose(plain.attributions, smooth.attributions)
    np.testing.assert_allclose(smooth.attributions, again.attributions)


def test_call_returns_maps_without_retracing(tiny_cnn, flower_images) -> None:
    ig = IntegratedGradients(tiny_cnn, steps=10, chunk_size=4)  # 3 chunks, last one padded
    maps = ig(flower_images[:3])
    traces = ig.trace_count
    assert maps.shape == (3, 64, 64) and maps.dtype == np.float32
    np.testing.assert_allclose(maps, ig.explain(flower_images[:3]).maps, atol=1e-6)
    ig(flower_images[0])
    ig(flower_images[:2], targets=[1, 2])
    assert ig.trace_count == traces
