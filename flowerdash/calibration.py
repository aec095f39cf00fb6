"""Can a model's percentage be read as "how sure"? Reliability bins and calibration error.

People read the top answer's probability as the chance that it is right. Over many photos that
holds when, among answers given with about 70%, about 70% are right. ``reliability`` sorts the
top-1 answers into equal-width confidence bins and compares, per bin, the mean confidence with the
share of right answers; the expected calibration error (ECE) is the gap averaged over answers.
Pure NumPy, so the Audit page, the CLI and tests use it on saved predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowerdash.errors import ConfigError
from flowerdash.i18n import _

__all__ = ["BINS", "Reliability", "reliability"]

BINS = 15  # the usual choice in the calibration literature, so the ECE compares with others
#: Mean confidence within this much of the accuracy reads as "about right".
TOLERANCE = 0.03


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
