"""Integrated Gradients (Sundararajan et al., 2017) with an adaptive trapezoid rule, chunked.

``IG_i(x) = (x_i - x'_i) * ∫_0^1 dF(x' + a (x - x'))/dx_i da`` with F the target *logit* and x'
a baseline in the model's pixel space (0..255). ``steps`` is the number of model evaluations
(gradients) per image.

The rule (:mod:`flowerdash.explain.quadrature`) adapts its grid to the image: every gradient
evaluation also gives the logit F on the path, so the trapezoid rule's exact error on each cell
is known, and part of the budget bisects the worst cells. Fixed rules integrate the logit of a
piecewise-linear network (ReLU6) poorly, because its slope jumps wherever a unit switches on;
the adaptive rule puts its points where the jumps are. The comparison rules and SmoothGrad are
in ``benchmarks/ig_research.py``.

Gradients are evaluated ``chunk_size`` points at a time by one compiled function whose
signature never changes, so memory stays bounded whatever the step count and repeated calls
never retrace.

Completeness: ``Σ_i IG_i = F(x) - F(x')`` for an exact integral; the extra
``completeness_gap`` is ``|Σ IG - (F(x) - F(x'))| / |F(x) - F(x')|`` per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from flowerdash.errors import ExplainError
from flowerdash.explain.base import BatchResult, Explainer
from flowerdash.explain.baselines import check_baseline, make_baseline
from flowerdash.explain.defaults import (
    BASELINE,
    BATCH_SIZE,
    CHUNK_SIZE,
    MAX_STEPS,
    MIN_STEPS,
    RULE,
    STEPS,
)
from flowerdash.explain.overlays import aggregate_channels
from flowerdash.explain.quadrature import AdaptiveTrapezoid
from flowerdash.explain.rewrites import REWRITES
from flowerdash.i18n import _

__all__ = ["IntegratedGradients", "check_steps"]


def check_steps(steps: Any) -> int:
    """``steps`` as an int in MIN_STEPS..MAX_STEPS, or ExplainError."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise ExplainError(
            _("The number of IG steps must be a whole number, got {steps}.").format(
                steps=repr(steps)
            )
        )
    if not MIN_STEPS <= int(steps) <= MAX_STEPS:
        raise ExplainError(
            _("The number of IG steps must be between 1 and {max}, got {steps}.").format(
                max=MAX_STEPS, steps=steps
            )
        )
    return int(steps)


class IntegratedGradients(Explainer):
    """Integrated Gradients on the target logit.

    ``rewrites``: how the logits model is rewritten for cheaper input gradients (the same
    function; :mod:`flowerdash.explain.rewrites`); ``()`` runs on the model as it is.
    """

    options = ("steps", "baseline")
    clip_percentile = 99.0  # a few extreme pixels must not wash out the rest of the map
    rule = RULE

    def __init__(
        self,
        model: keras.Model,
        steps: int = STEPS,
        baseline: str | np.ndarray = BASELINE,
        chunk_size: int = CHUNK_SIZE,
        seed: int = 0,
        batch_size: int = BATCH_SIZE,
        rewrites: Sequence[str] = REWRITES,
    ) -> None:
        self.steps = check_steps(steps)
        check_baseline(baseline)
        if int(chunk_size) < 1:
            raise ExplainError(
                _("chunk_size must be at least 1, got {value}.").format(value=chunk_size)
            )
        super().__init__(model, batch_size=batch_size, rewrites=rewrites)
        self.baseline = baseline
        self.chunk_size = int(chunk_size)
        self.seed = int(seed)
        one = self.image_spec(batched=False)
        self._points_fn = self.compile(
            self._points,
            [one, one, tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int32)],
        )

    @property
    def extras(self) -> dict[str, Any]:
        """The settings used (per image too: ``completeness_gap`` and ``logit_delta``)."""
        baseline = self.baseline if isinstance(self.baseline, str) else "image"
        return {"steps": self.steps, "rule": self.rule, "baseline": baseline}

    def _points(
        self, x: tf.Tensor, base: tf.Tensor, alphas: tf.Tensor, target: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Gradients [M, H, W, C] and target logits [M] at the path points ``alphas``."""
        path = base[None] + alphas[:, None, None, None] * (x - base)[None]
        with tf.GradientTape() as tape:
            tape.watch(path)
            scores = tf.cast(self.logits_model(path, training=False), tf.float32)[:, target]
        return tf.cast(tape.gradient(scores, path), tf.float32), scores

    def path_integral(self, x: np.ndarray, base: np.ndarray, target: int) -> np.ndarray:
        """∫ dF/dx along the path from base to x by the adaptive trapezoid rule, float64."""
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

    def explain_batch(self, images: np.ndarray, targets: np.ndarray) -> BatchResult:
        """Attributions, their per-pixel maps and each image's completeness gap."""
        baselines = make_baseline(images, self.baseline, self.seed)
        attrs = np.stack(
            [
                (x.astype(np.float64) - base) * self.path_integral(x, base, int(t))
                for x, base, t in zip(images, baselines, targets, strict=True)
            ]
        )
        n, rows = len(images), np.arange(len(images))
        scores = self.predict_logits(np.concatenate([images, baselines]))
        deltas = scores[rows, targets].astype(np.float64) - scores[n + rows, targets]
        gaps = np.abs(attrs.reshape(n, -1).sum(axis=1) - deltas) / np.maximum(np.abs(deltas), 1e-12)
        attrs = attrs.astype(np.float32)
        return BatchResult(
            aggregate_channels(attrs, "abs"),
            attrs,
            {"completeness_gap": gaps.astype(np.float32), "logit_delta": deltas.astype(np.float32)},
        )

    def chunk_sizes(self) -> set[int]:
        """How many path points the gradient batches of one image's call hold (each size once)."""
        if self.steps < 2:
            return {1}
        rule, sizes = AdaptiveTrapezoid(self.steps), set()
        # Which cells the rule splits depends on the image, how many it splits at a time does
        # not, so dummy results give the sizes.
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
        for n in sorted(self.chunk_sizes()):
            self._points_fn(xt, bt, tf.constant(np.linspace(0.0, 1.0, n), tf.float32), tt)
        self.predict_logits(np.concatenate([x, base]))
        self.warm = True
