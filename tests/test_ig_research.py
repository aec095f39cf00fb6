"""The IG research kept out of the product (benchmarks/ig_research.py): fixed quadrature rules
against numpy, their exactness on linear models, and SmoothGrad."""

from __future__ import annotations

import numpy as np
import pytest
from test_integrated_gradients import make_linear_model

from benchmarks.ig_research import (
    ResearchIG,
    integrate,
    integration_points,
    interpolate,
)
from flowerdash.errors import ExplainError


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


def test_the_adaptive_rule_has_no_fixed_points_and_unknown_rules_are_refused() -> None:
    with pytest.raises(ExplainError, match="adaptive"):
        integration_points(16, "adaptive")
    with pytest.raises(ExplainError, match="gauss_legendre"):
        ResearchIG(make_linear_model(), rule="simpson")


@pytest.mark.parametrize(
    "rule,steps", [("trapezoid", 1), ("gauss_legendre", 3), ("midpoint", 7), ("midpoint_cubic", 5)]
)
def test_fixed_rules_are_exact_on_a_linear_model(rule: str, steps: int) -> None:
    model = make_linear_model()
    kernel, _ = model.get_layer("logits").get_weights()
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    baseline = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
    result = ResearchIG(model, steps=steps, rule=rule, baseline=baseline).explain(images, [2, 0])
    for i, t in enumerate([2, 0]):
        expected = ((images[i] - baseline).reshape(-1) * kernel[:, t]).reshape(8, 8, 3)
        np.testing.assert_allclose(result.attributions[i], expected, rtol=1e-4, atol=1e-3)
    assert result.extras["rule"] == rule


def test_the_adaptive_rule_is_close_to_a_fine_fixed_rule(tiny_cnn, flower_images) -> None:
    images = flower_images[:2]
    reference = ResearchIG(tiny_cnn, steps=512, rule="trapezoid").explain(images, 0)
    adaptive = ResearchIG(tiny_cnn, steps=256).explain(images, 0)
    diff = adaptive.attributions - reference.attributions
    assert np.linalg.norm(diff) / np.linalg.norm(reference.attributions) < 0.01


def test_chunked_fixed_rule_agrees_with_unchunked(tiny_cnn, flower_images) -> None:
    small = ResearchIG(tiny_cnn, steps=20, rule="trapezoid", chunk_size=3)
    whole = ResearchIG(tiny_cnn, steps=20, rule="trapezoid", chunk_size=64)
    a, b = small.explain(flower_images[:2]), whole.explain(flower_images[:2])
    np.testing.assert_allclose(a.attributions, b.attributions, rtol=1e-4, atol=1e-6)
    assert small.chunk_sizes() == {3}


def test_smoothgrad_averaging(tiny_cnn, flower_images) -> None:
    plain = ResearchIG(tiny_cnn, steps=8).explain(flower_images[:1])
    smooth = ResearchIG(tiny_cnn, steps=8, smooth_samples=3, seed=0).explain(flower_images[:1])
    again = ResearchIG(tiny_cnn, steps=8, smooth_samples=3, seed=0).explain(flower_images[:1])
    assert np.isfinite(smooth.attributions).all()
    assert not np.allclose(plain.attributions, smooth.attributions)
    np.testing.assert_allclose(smooth.attributions, again.attributions)
