"""Can a model's percentage be read as "how sure"? Reliability bins and calibration error.

People read the top answer's probability as the chance that it is right. Over many photos that
holds when, among answers given with about 70%, about 70% are right. ``reliability`` sorts the
top-1 answers into equal-width confidence bins and compares, per bin, the mean confidence with the
share of right answers; the expected calibration error (ECE) is the gap averaged over answers.
``fit_temperature`` finds the temperature that makes a model's probabilities honest on photos it
did not train on, and ``with_temperature`` puts it inside the model. That fit is made on photos
of the benchmark's size; ``size_temperature`` lowers the percentages of smaller photos, which the
model enlarges and is right about less often. NumPy only, but for
``with_temperature`` (Keras), so the Audit page reads saved predictions without TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowerdash.errors import ConfigError
from flowerdash.i18n import _

__all__ = [
    "BINS",
    "Reliability",
    "apply_temperature",
    "fit_temperature",
    "reliability",
    "size_temperature",
    "with_temperature",
]

BINS = 15  # the usual choice in the calibration literature, so the ECE compares with others
#: Mean confidence within this much of the accuracy reads as "about right".
TOLERANCE = 0.03
#: (shorter side in pixels, temperature) for photos smaller than those the model's own temperature
#: was fitted on, applied on top of it: fitted on shrunk held-out photos by
#: ``benchmarks/small_photos.py`` under its rules (on both folds' answers pooled when the first
#: fold's table fails on the second: ``pooled_with`` in results/small-photos.json; a test keeps
#: the two equal). The last size is the calibration photos' own, where the temperature is 1.
SIZE_TEMPERATURES: tuple[tuple[int, float], ...] = (
    (16, 6.735),
    (24, 3.58),
    (32, 2.462),
    (48, 1.619),
    (64, 1.4),
    (96, 1.164),
    (128, 1.087),
    (160, 1.042),
    (192, 1.018),
    (256, 1.0),
)


@dataclass(frozen=True)
class Reliability:
    """Top-1 confidence against accuracy, per equal-width confidence bin."""

    edges: np.ndarray  # [bins + 1] from 0 to 1
    counts: np.ndarray  # [bins] answers in each bin
    confidence: np.ndarray  # [bins] mean top-1 confidence (NaN where a bin is empty)
    accuracy: np.ndarray  # [bins] share of right answers (NaN where a bin is empty)
    ece: float  # Σ counts/n · |accuracy − confidence|
    mean_confidence: float
    overall_accuracy: float

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def verdict(self) -> str:
        """``underconfident``, ``overconfident`` or ``calibrated``, from the overall means."""
        gap = self.overall_accuracy - self.mean_confidence
        if gap > TOLERANCE:
            return "underconfident"
        if gap < -TOLERANCE:
            return "overconfident"
        return "calibrated"


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS) -> Reliability:
    """Reliability of top-1 answers given their ``confidence`` in [0, 1] and whether each was
    ``correct``. A bin holds the confidences in (lo, hi]; the first also holds 0."""
    conf = np.asarray(confidence, dtype=np.float64).reshape(-1)
    right = np.asarray(correct, dtype=bool).reshape(-1)
    if conf.size == 0 or conf.size != right.size:
        raise ConfigError(
            _("Reliability needs one confidence per answer, got {c} and {r}.").format(
                c=conf.size, r=right.size
            )
        )
    if bins < 1 or not np.all((conf >= 0.0) & (conf <= 1.0)):
        raise ConfigError(_("Confidences must lie in [0, 1], in at least one bin."))
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=conf, minlength=bins) / counts
        accuracy = np.bincount(index, weights=right.astype(np.float64), minlength=bins) / counts
    filled = counts > 0
    ece = float(np.sum(counts[filled] * np.abs(accuracy[filled] - mean_conf[filled])) / conf.size)
    return Reliability(
        edges=edges,
        counts=counts,
        confidence=mean_conf,
        accuracy=accuracy,
        ece=ece,
        mean_confidence=float(conf.mean()),
        overall_accuracy=float(right.mean()),
    )


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T that makes ``softmax(log p / T)`` fit ``labels`` best (least NLL).

    Works from probabilities: ``log p`` equals the logits up to a constant per photo, which the
    softmax ignores. The NLL is convex in 1/T, so a golden-section search on log(1/T) finds it.
    """
    log_p = _log(probabilities)
    y = np.asarray(labels, dtype=np.int64)
    if log_p.ndim != 2 or len(log_p) != len(y) or len(y) == 0:
        raise ConfigError(_("Fitting a temperature needs one probability row per label."))

    def nll(log_beta: float) -> float:
        return float(-np.mean(_log_softmax(log_p, np.exp(log_beta))[np.arange(len(y)), y]))

    lo, hi = np.log(1e-2), np.log(1e2)
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _step in range(80):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(1.0 / np.exp((lo + hi) / 2.0))


def size_temperature(
    shorter_side: int, table: tuple[tuple[int, float], ...] | None = None
) -> float:
    """The temperature for a photo whose shorter side is ``shorter_side`` pixels:
    ``table``'s (``SIZE_TEMPERATURES`` by default), interpolated on log size between its sizes;
    its smallest size's below them, 1 above them."""
    table = SIZE_TEMPERATURES if table is None else table
    sizes = np.log([size for size, _t in table])
    temperatures = [t for _size, t in table]
    return float(np.interp(np.log(max(int(shorter_side), 1)), sizes, temperatures, right=1.0))


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row by row: what a model calibrated with T outputs."""
    return np.exp(_log_softmax(_log(probabilities), 1.0 / float(temperature))).astype(np.float32)


def _log(probabilities: np.ndarray) -> np.ndarray:
    # float64, and no log(0): a float32 softmax rounds the unlikeliest classes to 0
    return np.log(np.clip(np.asarray(probabilities, np.float64), 1e-30, 1.0))


def _log_softmax(log_p: np.ndarray, scale: float) -> np.ndarray:
    """``log softmax(scale · log p)`` along the last axis, stably."""
    z = log_p * scale
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def with_temperature(model, temperature: float):
    """A copy of a flowerdash model whose probabilities are ``softmax(logits / T)``.

    Built-in Keras layers only (a ``Rescaling`` named ``temperature`` between the ``logits``
    layer and the softmax), so the saved ``.keras`` file gives calibrated probabilities to any
    consumer; the answers (the argmax) and the logits the explanations use do not change.
    """
    import keras

    if not temperature > 0:
        raise ConfigError(_("The temperature must be positive."))
    logits = model.get_layer("logits").output
    scaled = keras.layers.Rescaling(1.0 / float(temperature), name="temperature")(logits)
    probs = keras.layers.Activation("softmax", name="probs", dtype="float32")(scaled)
    return keras.Model(model.inputs, probs, name=model.name)
