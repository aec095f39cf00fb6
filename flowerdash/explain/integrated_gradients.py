"""Integrated Gradients (Sundararajan et al., 2017), chunked, with several quadrature rules.

``IG_i(x) = (x_i - x'_i) * ∫_0^1 dF(x' + a (x - x'))/dx_i da`` with F the target *logit* and x'
a baseline in the model's pixel space (0..255). ``steps`` is the number of model evaluations
(gradients) per image, except for the trapezoid rule, where it is the number of intervals:

* ``"adaptive"`` (default): the trapezoid rule on a grid that adapts to the image
  (:mod:`flowerdash.explain.quadrature`). Every gradient evaluation also gives the logit F on
  the path, so the exact integral of the path slope over each cell is known, ``F(b) - F(a)``,
  and so is the trapezoid rule's error on it. A quarter of the steps (at most 16) bisect the
  cells with the largest error, 8 at a time; the rest form the first grid, crowded towards the
  baseline (``a = u**2``).
* ``"midpoint_cubic"``: the midpoint rule after substituting ``a = u**3``: ``steps`` points
  ``((k + 0.5)/steps)**3`` with weights ``3 u**2 / steps`` (normalised to sum to 1).
* ``"gauss_legendre"``: ``steps`` Gauss-Legendre nodes of ``numpy.polynomial.legendre.leggauss``
  mapped from [-1, 1] to [0, 1] (nodes ``(t + 1)/2``, weights ``w/2``).
* ``"trapezoid"``: ``steps + 1`` equally spaced points 0, 1/steps, ..., 1 with weights
  1/(2 steps) at both ends and 1/steps inside (the model sees ``steps + 1`` points).
* ``"midpoint"``: ``steps`` points (k + 0.5)/steps with weight 1/steps (Riemann midpoint).

The fixed rules are a weighted sum over points ``alphas`` with ``weights`` from
:func:`integration_points`. Gradients are evaluated ``chunk_size`` points at a time by one
compiled function whose signature never changes, so memory stays bounded whatever the step count
and repeated calls never retrace; the adaptive rule keeps at most 16 cells' endpoint gradients
besides (about 20 MB at 224 px), whatever the step count.

Completeness: ``Σ_i IG_i = F(x) - F(x')`` for an exact integral; ``completeness_gap`` reports
``|Σ IG - (F(x) - F(x'))| / |F(x) - F(x')|``.

The default rule, step count and baseline were measured, not guessed (``python -m
benchmarks.ig_rules``; numbers in ``docs/RESULTS.md`` and ``benchmarks/results/ig-rules.json``).
MobileNetV2 is piecewise linear (ReLU6): along the path the logit is piecewise linear and its
slope jumps wherever a unit switches on, so any fixed rule needs many points to integrate it;
the adaptive rule puts its points where the jumps are. The default baseline is a blurred copy of
the image (``DEFAULT_BASELINE = "blur"``): a black baseline gives every dark pixel (a night-dark
background, a black flower centre) zero attribution whatever the model made of it, and its gap
stays larger at the same cost (72% of 100 test photos within 5% at 64 steps, against 94%).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import keras
import numpy as np
import tensorflow as tf

from flowerdash.errors import ExplainError
from flowerdash.explain.base import Explainer
from flowerdash.explain.overlays import aggregate_channels, normalize_map
from flowerdash.explain.quadrature import AdaptiveTrapezoid
from flowerdash.explain.rewrites import REWRITES
from flowerdash.i18n import _

__all__ = [
    "BASELINES",
    "DEFAULT_BASELINE",
    "DEFAULT_RULE",
    "DEFAULT_STEPS",
    "MAX_STEPS",
    "RULES",
    "IGResult",
    "IntegratedGradients",
    "integrate",
    "integration_points",
    "interpolate",
    "make_baseline",
]

RULES = ("adaptive", "midpoint_cubic", "gauss_legendre", "trapezoid", "midpoint")
BASELINES = ("black", "blur", "noise")
MAX_STEPS = 512
DEFAULT_RULE = "adaptive"
DEFAULT_STEPS = 64
DEFAULT_BASELINE = "blur"


def _unknown_rule(rule: Any) -> str:
    return _("Unknown IG rule {rule}; choose one of {choices}.").format(
        rule=repr(rule), choices=", ".join(RULES)
    )


def _unknown_baseline(baseline: Any) -> str:
    return _("Unknown IG baseline {baseline}; choose one of {choices} or give an image.").format(
        baseline=repr(baseline), choices=", ".join(BASELINES)
    )


def check_steps(steps: Any) -> int:
    """``steps`` as an int in 1..MAX_STEPS, or ExplainError."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise ExplainError(
            _("The number of IG steps must be a whole number, got {steps}.").format(
                steps=repr(steps)
            )
        )
    if not 1 <= int(steps) <= MAX_STEPS:
        raise ExplainError(
            _("The number of IG steps must be between 1 and {max}, got {steps}.").format(
                max=MAX_STEPS, steps=steps
            )
        )
    return int(steps)


def integration_points(steps: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Points ``alphas`` in [0, 1] and ``weights`` (summing to 1) of a fixed rule for ∫_0^1."""
    steps = check_steps(steps)
    if rule == "adaptive":
        raise ExplainError(_("The adaptive rule chooses its points while it integrates."))
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
        raise ExplainError(_unknown_rule(rule))
    return alphas.astype(np.float64), weights.astype(np.float64)


def interpolate(x: np.ndarray, baseline: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Points on the straight path: ``baseline + a (x - baseline)`` for each a, shape [M, *x.shape]."""
    x = np.asarray(x)
    baseline = np.asarray(baseline)
    a = np.asarray(alphas).reshape((-1,) + (1,) * x.ndim)
    return baseline[None] + a * (x - baseline)[None]


def integrate(grads: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted sum of path gradients [M, ...] over the first axis (the path integral)."""
    return np.tensordot(np.asarray(weights), np.asarray(grads), axes=(0, 0))


def make_baseline(
    images: np.ndarray, baseline: str | np.ndarray = DEFAULT_BASELINE, seed: int = 0
) -> np.ndarray:
    """Baselines [N, H, W, C] in pixel space 0..255 for prepared float32 images [N, H, W, C]."""
    images = np.asarray(images, dtype=np.float32)
    if isinstance(baseline, str):
        if baseline == "black":
            return np.zeros_like(images)
        if baseline == "blur":
            sigma = max(images.shape[1:3]) / 8.0
            return np.stack(
                [
                    cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
                    .reshape(img.shape)
                    .astype(np.float32)
                    for img in images
                ]
            )
        if baseline == "noise":
            rng = np.random.default_rng(seed)
            return rng.uniform(0.0, 255.0, size=images.shape).astype(np.float32)
        raise ExplainError(_unknown_baseline(baseline))
    arr = np.asarray(baseline)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ExplainError(
            _("A baseline image must be a numeric array, got dtype {dtype}.").format(
                dtype=arr.dtype
            )
        )
    arr = arr.astype(np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != images.shape[1:] or arr.shape[0] not in (1, len(images)):
        raise ExplainError(
            _(
                "The baseline image has shape {shape} but the images are "
                "{height}x{width}x{channels}; resize it to the same size."
            ).format(
                shape=tuple(np.asarray(baseline).shape),
                height=images.shape[1],
                width=images.shape[2],
                channels=images.shape[3],
            )
        )
    if not np.isfinite(arr).all():
        raise ExplainError(_("The baseline image contains NaN or infinite values."))
    return np.broadcast_to(arr, images.shape).copy()


@dataclass
class IGResult:
    """Integrated Gradients output for a batch of images."""

    attributions: np.ndarray  # [N, H, W, C] float32, in logit units
    maps: np.ndarray  # [N, H, W] float32 in [0, 1] (|attr| summed over channels, 99th pct clipped)
    completeness_gap: np.ndarray  # [N] float32, relative
    steps: int
    rule: str
    targets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # [N] int32
    logit_delta: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # F(x)-F(x')


class IntegratedGradients(Explainer):
    """Integrated Gradients on the target logit, chunked, with optional SmoothGrad averaging."""

    gradient_rewrites = REWRITES

    def __init__(
        self,
        model: keras.Model,
        steps: int = DEFAULT_STEPS,
        baseline: str | np.ndarray = DEFAULT_BASELINE,
        rule: str = DEFAULT_RULE,
        chunk_size: int = 16,
        smooth_samples: int = 0,
        smooth_sigma: float = 0.15,
        seed: int = 0,
        batch_size: int = 16,
    ) -> None:
        self.steps = check_steps(steps)
        if rule not in RULES:
            raise ExplainError(_unknown_rule(rule))
        if isinstance(baseline, str) and baseline not in BASELINES:
            raise ExplainError(_unknown_baseline(baseline))
        if int(chunk_size) < 1:
            raise ExplainError(
                _("chunk_size must be at least 1, got {value}.").format(value=chunk_size)
            )
        if int(smooth_samples) < 0 or float(smooth_sigma) < 0:
            raise ExplainError(_("smooth_samples and smooth_sigma must not be negative."))
        super().__init__(model, batch_size=batch_size)
        self.rule = rule
        self.baseline = baseline
        self.chunk_size = int(chunk_size)
        self.smooth_samples = int(smooth_samples)
        self.smooth_sigma = float(smooth_sigma)
        self.seed = int(seed)
        one = self.image_spec(batched=False)
        points = tf.TensorSpec([None], tf.float32)
        target = tf.TensorSpec([], tf.int32)
        #: The points and weights of a fixed rule (empty for the adaptive rule, whose points
        #: depend on the image; an explainer is shared between threads, so they are not kept).
        self.alphas, self.weights = np.zeros(0), np.zeros(0)
        if rule == "adaptive":
            self._points_fn = self.compile(self._points, [one, one, points, target])
        else:
            self.alphas, self.weights = integration_points(self.steps, rule)
            self._chunk_fn = self.compile(self._chunk, [one, one, points, points, target])

    @property
    def name(self) -> str:
        """Display name of the method."""
        return "SmoothGrad-IG" if self.smooth_samples else "Integrated Gradients"

    def _chunk(
        self,
        x: tf.Tensor,
        base: tf.Tensor,
        alphas: tf.Tensor,
        weights: tf.Tensor,
        target: tf.Tensor,
    ) -> tf.Tensor:
        grads, _scores = self._points(x, base, alphas, target)
        return tf.tensordot(weights, grads, axes=1)

    def _points(
        self, x: tf.Tensor, base: tf.Tensor, alphas: tf.Tensor, target: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Gradients [M, H, W, C] and target logits [M] at the path points ``alphas``."""
        path = base[None] + alphas[:, None, None, None] * (x - base)[None]
        with tf.GradientTape() as tape:
            tape.watch(path)
            scores = tf.cast(self.logits_model(path, training=False), tf.float32)[:, target]
        return tf.cast(tape.gradient(scores, path), tf.float32), scores

    def _adaptive_integral(self, x: np.ndarray, base: np.ndarray, target: int) -> np.ndarray:
        """∫ dF/dx along the path by the adaptive trapezoid rule, float64 [H, W, C]."""
        xt, bt, tt = tf.constant(x), tf.constant(base), tf.constant(target, tf.int32)
        if self.steps < 2:  # one evaluation: the midpoint rule
            grads, _scores = self._points_fn(xt, bt, tf.constant([0.5], tf.float32), tt)
            return grads.numpy()[0].astype(np.float64)
        rule = AdaptiveTrapezoid(self.steps)
        direction = (x - base).astype(np.float32)
        while (alphas := rule.request()) is not None:
            for start in range(0, len(alphas), self.chunk_size):
                part = tf.constant(alphas[start : start + self.chunk_size], tf.float32)
                grads, scores = self._points_fn(xt, bt, part, tt)
                grads = grads.numpy()
                slopes = np.einsum("mhwc,hwc->m", grads, direction)
                rule.add(grads, slopes, scores.numpy())
        return rule.integral()

    def _path_integral(self, x: np.ndarray, base: np.ndarray, target: int) -> np.ndarray:
        """∫ dF/dx along the path from base to x, as float64 [H, W, C]."""
        if self.rule == "adaptive":
            return self._adaptive_integral(x, base, target)
        total = np.zeros(x.shape, dtype=np.float64)
        n, c = len(self.alphas), self.chunk_size
        xt, bt, tt = tf.constant(x), tf.constant(base), tf.constant(target, tf.int32)
        for start in range(0, n, c):
            a = np.zeros(c, np.float32)
            w = np.zeros(c, np.float32)
            part = slice(start, min(start + c, n))
            k = part.stop - part.start
            a[:k], w[:k] = self.alphas[part], self.weights[part]
            # Padding points get weight 0: same shape every call, so no retrace.
            total += self._chunk_fn(xt, bt, tf.constant(a), tf.constant(w), tt).numpy()
        return total

    def _attribute(
        self, images: np.ndarray, targets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Attributions [N,H,W,C], relative completeness gaps [N] and F(x)-F(x') [N]."""
        baselines = make_baseline(images, self.baseline, self.seed)
        rng = np.random.default_rng(self.seed)
        attrs, gaps, deltas = [], [], []
        for x, base, t in zip(images, baselines, targets, strict=True):
            if self.smooth_samples:
                noise = rng.normal(0.0, self.smooth_sigma * 255.0, (self.smooth_samples, *x.shape))
                inputs = np.clip(x[None] + noise, 0.0, 255.0).astype(np.float32)
            else:
                inputs = x[None]
            attr = np.zeros(x.shape, np.float64)
            for xi in inputs:
                attr += (xi.astype(np.float64) - base) * self._path_integral(xi, base, int(t))
            attr /= len(inputs)
            scores = self.predict_logits(np.concatenate([inputs, base[None]]))[:, int(t)]
            delta = float(np.mean(scores[:-1]) - scores[-1])
            gap = abs(float(attr.sum()) - delta) / max(abs(delta), 1e-12)
            attrs.append(attr.astype(np.float32))
            gaps.append(gap)
            deltas.append(delta)
        return np.stack(attrs), np.asarray(gaps, np.float32), np.asarray(deltas, np.float32)

    def explain(self, images: Any, targets: Any = None) -> IGResult:
        """Attributions, display maps and completeness gaps for ``images`` and ``targets``."""
        x = self.prepare_images(images)
        t = self.resolve_targets(x, targets)
        attrs, gaps, deltas = self._attribute(x, t)
        self.warm = True
        maps = normalize_map(aggregate_channels(attrs, "abs"), clip_percentile=99.0)
        return IGResult(
            attributions=attrs,
            maps=maps.astype(np.float32),
            completeness_gap=gaps,
            steps=self.steps,
            rule=self.rule,
            targets=t,
            logit_delta=deltas,
        )

    def _chunk_sizes(self) -> set[int]:
        """How many path points the gradient batches of one image's call hold (each size once)."""
        if self.rule != "adaptive":
            return {self.chunk_size}  # padded: every chunk has the same size
        if self.steps < 2:
            return {1}
        rule, sizes = AdaptiveTrapezoid(self.steps), set()
        # The rule asks for a grid and then rounds of bisections; which cells it splits depends on
        # the image, how many it splits at a time does not, so dummy results give the sizes.
        while (alphas := rule.request()) is not None:
            n = len(alphas)
            sizes.update(min(self.chunk_size, n - s) for s in range(0, n, self.chunk_size))
            rule.add(np.zeros((n, 1)), np.zeros(n), np.arange(n, dtype=np.float64))
        return sizes

    def prepare(self, image: Any) -> None:
        """Trace and run every compiled function once at the shapes a call uses, for a fraction
        of a call's compute (XLA compiles the swish gradients per shape)."""
        x = self.prepare_images(image)[:1]
        base = make_baseline(x, self.baseline, self.seed)
        xt, bt, tt = tf.constant(x[0]), tf.constant(base[0]), tf.constant(0, tf.int32)
        for n in sorted(self._chunk_sizes()):
            alphas = tf.constant(np.linspace(0.0, 1.0, n), tf.float32)
            if self.rule == "adaptive":
                self._points_fn(xt, bt, alphas, tt)
            else:
                self._chunk_fn(xt, bt, alphas, tf.fill([n], 1.0 / n), tt)
        self.predict_logits(np.concatenate([x, base]))
        self.warm = True

    def _explain_batch(self, images: tf.Tensor, targets: tf.Tensor) -> np.ndarray:
        attrs, _, _ = self._attribute(images.numpy(), targets.numpy())
        return aggregate_channels(attrs, "abs")

    def postprocess(self, maps: np.ndarray) -> np.ndarray:
        """Scale each map to [0, 1] with 99th-percentile clipping (as in ``explain().maps``)."""
        return normalize_map(maps, clip_percentile=99.0).astype(np.float32)
