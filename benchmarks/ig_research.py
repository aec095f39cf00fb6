"""Integrated Gradients variants the product does not ship: fixed quadrature rules, SmoothGrad.

The benchmarks that chose the product's adaptive rule compare it with these
(``benchmarks.ig_rules``, ``benchmarks.ig_adaptive_variants``, the suite's IG sections). The
fixed rules are a weighted sum over points ``alphas`` with ``weights`` from
:func:`integration_points`; ``steps`` is the number of model evaluations per image, except for
the trapezoid rule, where it is the number of intervals (``steps + 1`` points):

* ``"midpoint_cubic"``: the midpoint rule after substituting ``a = u**3``: points
  ``((k + 0.5)/steps)**3`` with weights ``3 u**2 / steps`` (normalised to sum to 1);
* ``"gauss_legendre"``: Gauss-Legendre nodes mapped from [-1, 1] to [0, 1];
* ``"trapezoid"``: 0, 1/steps, ..., 1, weights 1/(2 steps) at both ends and 1/steps inside;
* ``"midpoint"``: (k + 0.5)/steps with weight 1/steps.

SmoothGrad-IG averages the attributions of ``smooth_samples`` noisy copies of the image.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from flowerdash.errors import ExplainError
from flowerdash.explain.base import BatchResult
from flowerdash.explain.baselines import make_baseline
from flowerdash.explain.defaults import STEPS
from flowerdash.explain.integrated_gradients import IntegratedGradients, check_steps
from flowerdash.explain.overlays import aggregate_channels

__all__ = [
    "FIXED_RULES",
    "RULES",
    "ResearchIG",
    "integrate",
    "integration_points",
    "interpolate",
]

FIXED_RULES = ("midpoint_cubic", "gauss_legendre", "trapezoid", "midpoint")
RULES = ("adaptive", *FIXED_RULES)


def integration_points(steps: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Points ``alphas`` in [0, 1] and ``weights`` (summing to 1) of a fixed rule for ∫_0^1."""
    steps = check_steps(steps)
    if rule == "trapezoid":
        alphas = np.linspace(0.0, 1.0, steps + 1)
        weights = np.full(steps + 1, 1.0 / steps)
        weights[[0, -1]] = 0.5 / steps
    elif rule == "midpoint":
        alphas = (np.arange(steps) + 0.5) / steps
        weights = np.full(steps, 1.0 / steps)
    elif rule == "gauss_legendre":
        nodes, w = np.polynomial.legendre.leggauss(steps)
        alphas, weights = (nodes + 1.0) / 2.0, w / 2.0
    elif rule == "midpoint_cubic":
        u = (np.arange(steps) + 0.5) / steps
        alphas, weights = u**3, 3.0 * u**2 / steps
        weights /= weights.sum()  # sum exactly 1, so IG stays exact on linear models
    else:
        raise ExplainError(f"{rule!r} is not a fixed rule; choose one of {', '.join(FIXED_RULES)}.")
    return alphas.astype(np.float64), weights.astype(np.float64)


def interpolate(x: np.ndarray, baseline: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Points on the straight path: ``baseline + a (x - baseline)`` for each a, [M, *x.shape]."""
    x = np.asarray(x)
    baseline = np.asarray(baseline)
    a = np.asarray(alphas).reshape((-1,) + (1,) * x.ndim)
    return baseline[None] + a * (x - baseline)[None]


def integrate(grads: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted sum of path gradients [M, ...] over the first axis (the path integral)."""
    return np.tensordot(np.asarray(weights), np.asarray(grads), axes=(0, 0))


class ResearchIG(IntegratedGradients):
    """The product's Integrated Gradients with any rule of ``RULES`` and optional SmoothGrad."""

    def __init__(
        self,
        model: keras.Model,
        steps: int = STEPS,
        *,
        rule: str = "adaptive",
        smooth_samples: int = 0,
        smooth_sigma: float = 0.15,
        **options: Any,
    ) -> None:
        if rule not in RULES:
            raise ExplainError(f"Unknown IG rule {rule!r}; choose one of {', '.join(RULES)}.")
        if int(smooth_samples) < 0 or float(smooth_sigma) < 0:
            raise ExplainError("smooth_samples and smooth_sigma must not be negative.")
        super().__init__(model, steps, **options)
        self.rule = rule
        self.smooth_samples = int(smooth_samples)
        self.smooth_sigma = float(smooth_sigma)
        #: The points and weights of a fixed rule (empty for the adaptive rule).
        self.alphas, self.weights = np.zeros(0), np.zeros(0)
        if rule != "adaptive":
            self.alphas, self.weights = integration_points(self.steps, rule)
            one, points = self.image_spec(batched=False), tf.TensorSpec([None], tf.float32)
            self._chunk_fn = self.compile(
                self._chunk, [one, one, points, points, tf.TensorSpec([], tf.int32)]
            )

    @property
    def name(self) -> str:
        """Display name of the method."""
        return "SmoothGrad-IG" if self.smooth_samples else "Integrated Gradients"

    def _chunk(self, x, base, alphas, weights, target) -> tf.Tensor:
        grads, _scores = self._points(x, base, alphas, target)
        return tf.tensordot(weights, grads, axes=1)

    def path_integral(self, x: np.ndarray, base: np.ndarray, target: int) -> np.ndarray:
        """∫ dF/dx along the path by this explainer's rule, float64 [H, W, C]."""
        if self.rule == "adaptive":
            return super().path_integral(x, base, target)
        total = np.zeros(x.shape, dtype=np.float64)
        n, c = len(self.alphas), self.chunk_size
        xt, bt, tt = tf.constant(x), tf.constant(base), tf.constant(target, tf.int32)
        for start in range(0, n, c):
            a, w = np.zeros(c, np.float32), np.zeros(c, np.float32)
            part = slice(start, min(start + c, n))
            k = part.stop - part.start
            a[:k], w[:k] = self.alphas[part], self.weights[part]
            # Padding points get weight 0: same shape every call, so no retrace.
            total += self._chunk_fn(xt, bt, tf.constant(a), tf.constant(w), tt).numpy()
        return total

    def chunk_sizes(self) -> set[int]:
        """How many path points each gradient batch holds."""
        return super().chunk_sizes() if self.rule == "adaptive" else {self.chunk_size}

    def explain_batch(self, images: np.ndarray, targets: np.ndarray) -> BatchResult:
        """Without SmoothGrad the product's; with it, the mean over noisy copies."""
        if not self.smooth_samples:
            return super().explain_batch(images, targets)
        baselines = make_baseline(images, self.baseline, self.seed)
        rng = np.random.default_rng(self.seed)
        attrs, gaps, deltas = [], [], []
        for x, base, t in zip(images, baselines, targets, strict=True):
            noise = rng.normal(0.0, self.smooth_sigma * 255.0, (self.smooth_samples, *x.shape))
            inputs = np.clip(x[None] + noise, 0.0, 255.0).astype(np.float32)
            attr = np.mean(
                [
                    (xi.astype(np.float64) - base) * self.path_integral(xi, base, int(t))
                    for xi in inputs
                ],
                axis=0,
            )
            scores = self.predict_logits(np.concatenate([inputs, base[None]]))[:, int(t)]
            delta = float(np.mean(scores[:-1]) - scores[-1])
            gaps.append(abs(float(attr.sum()) - delta) / max(abs(delta), 1e-12))
            deltas.append(delta)
            attrs.append(attr.astype(np.float32))
        attrs = np.stack(attrs)
        return BatchResult(
            aggregate_channels(attrs, "abs"),
            attrs,
            {
                "completeness_gap": np.asarray(gaps, np.float32),
                "logit_delta": np.asarray(deltas, np.float32),
            },
        )
