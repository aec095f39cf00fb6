"""The adaptive trapezoid rule against numpy and against exact integrals of kinked functions."""

from __future__ import annotations

import numpy as np
import pytest

from flowerdash.explain.quadrature import AdaptiveTrapezoid, refinement_count


def kinked(kinks: np.ndarray, sizes: np.ndarray):
    """F(a) = Σ c_j max(0, a - t_j): v(a) has one slope step per kink, d = ones, s = d·v."""

    def evaluate(alphas: np.ndarray):
        on = (alphas[:, None] > kinks[None]).astype(float)
        vectors = on * sizes[None]
        values = (np.maximum(0.0, alphas[:, None] - kinks[None]) * sizes[None]).sum(axis=1)
        return vectors, vectors.sum(axis=1), values

    exact = sizes * (1.0 - kinks)
    return evaluate, exact


def run(rule: AdaptiveTrapezoid, evaluate, chunk: int = 5) -> np.ndarray:
    kept = []
    while (alphas := rule.request()) is not None:
        assert np.all(np.diff(alphas) > 0) and np.all((alphas >= 0) & (alphas <= 1))
        for start in range(0, len(alphas), chunk):
            rule.add(*evaluate(alphas[start : start + chunk]))
            kept.append(rule.kept)
    rule.max_kept = max(kept)
    return rule.integral()


def test_refinement_count_is_half_capped() -> None:
    assert [refinement_count(n) for n in (2, 3, 4, 16, 64, 65, 512)] == [0, 0, 1, 4, 16, 16, 16]
    assert refinement_count(100, max_refinements=10) == 10
    assert refinement_count(64, max_refinements=64, share=0.5) == 32
    assert refinement_count(3, share=0.9) == 1  # the first grid keeps both ends of the path


@pytest.mark.parametrize("evaluations", [2, 3, 16, 64, 200])
def test_result_is_the_trapezoid_rule_on_the_points_it_chose(evaluations: int) -> None:
    def evaluate(alphas):
        vectors = np.stack([np.sin(5 * alphas), np.exp(alphas)], axis=1)
        slopes = vectors.sum(axis=1)
        values = (1 - np.cos(5 * alphas)) / 5 + np.exp(alphas)
        return vectors, slopes, values

    rule = AdaptiveTrapezoid(evaluations)
    integral = run(rule, evaluate)
    alphas = np.sort(np.asarray(rule.alphas))
    assert len(rule.alphas) == evaluations and alphas[0] == 0.0 and alphas[-1] == 1.0
    expected = np.trapezoid(evaluate(alphas)[0], alphas, axis=0)
    np.testing.assert_allclose(integral, expected, rtol=1e-12)
    assert integral.sum() == pytest.approx(expected.sum(), rel=1e-12)  # the slopes' integral


def test_constant_integrand_is_exact() -> None:
    v = np.arange(6.0).reshape(2, 3)
    rule = AdaptiveTrapezoid(10)
    result = run(
        rule, lambda a: (np.repeat(v[None], len(a), 0), np.full(len(a), v.sum()), a * v.sum())
    )
    np.testing.assert_allclose(result, v, rtol=1e-12)


def test_bisection_finds_the_kinks_a_fixed_grid_misses() -> None:
    rng = np.random.default_rng(0)
    kinks, sizes = rng.uniform(0, 1, 12), rng.uniform(-3, 3, 12)
    evaluate, exact = kinked(kinks, sizes)
    rule = AdaptiveTrapezoid(64)
    adaptive = run(rule, evaluate)
    grid = np.linspace(0, 1, 64)
    fixed = np.trapezoid(evaluate(grid)[0], grid, axis=0)
    err_adaptive = np.abs(adaptive - exact).sum()
    err_fixed = np.abs(fixed - exact).sum()
    assert err_adaptive < err_fixed / 3
    # The scalar check the rule steers by agrees with the exact change F(1) - F(0).
    change = evaluate(np.array([1.0]))[2][0] - evaluate(np.array([0.0]))[2][0]
    # (here the slope is the sum of the vector, so the integral's sum is the slopes' integral)
    assert abs(adaptive.sum() - change) < abs(np.trapezoid(evaluate(grid)[1], grid) - change)


def test_memory_is_bounded_by_the_refinement_budget() -> None:
    evaluate, _ = kinked(np.linspace(0.05, 0.95, 40), np.ones(40))
    for evaluations in (16, 64, 512):
        rule = AdaptiveTrapezoid(evaluations, round_size=8, max_refinements=16)
        run(rule, evaluate, chunk=16)
        assert rule.max_kept <= rule.refinements + 8


def test_misuse_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        AdaptiveTrapezoid(1)
    rule = AdaptiveTrapezoid(8)
    alphas = rule.request()
    with pytest.raises(ValueError, match="one entry per alpha"):
        rule.add(np.zeros((2, 3)), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="not every requested point"):
        rule.integral()
    with pytest.raises(ValueError, match="more results"):
        rule.add(
            np.zeros((len(alphas) + 1, 3)), np.zeros(len(alphas) + 1), np.zeros(len(alphas) + 1)
        )
