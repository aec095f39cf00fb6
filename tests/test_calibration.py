"""Reliability bins and expected calibration error on known answers."""

from __future__ import annotations

import numpy as np
import pytest

from flowerdash.calibration import reliability
from flowerdash.errors import ConfigError


def test_a_calibrated_model_has_a_small_error_and_follows_the_diagonal():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.05, 1.0, 200_000)
    correct = rng.uniform(size=confidence.size) < confidence  # right as often as it says
    rel = reliability(confidence, correct)
    assert rel.ece < 0.01 and rel.verdict == "calibrated" and rel.n == confidence.size
    filled = rel.counts > 0
    assert np.allclose(rel.accuracy[filled], rel.confidence[filled], atol=0.02)


def test_the_error_by_hand_and_empty_bins():
    # two bins of width 0.5: (0, .5] holds 0.2 and 0.4 (one right), (.5, 1] holds 0.9 (right)
    rel = reliability(np.array([0.2, 0.4, 0.9]), np.array([True, False, True]), bins=2)
    assert rel.counts.tolist() == [2, 1]
    assert rel.confidence.tolist() == pytest.approx([0.3, 0.9])
    assert rel.accuracy.tolist() == [0.5, 1.0]
    assert rel.ece == pytest.approx((2 * 0.2 + 1 * 0.1) / 3)
    sparse = reliability(np.array([0.0, 1.0]), np.array([False, True]), bins=4)
    assert sparse.counts.tolist() == [1, 0, 0, 1]  # 0 joins the first bin, 1 the last
    assert np.isnan(sparse.accuracy[1]) and sparse.ece == 0.0


def test_modest_and_overconfident_models_are_told_apart():
    # right 93% of the time while saying 67% on average, as the shipped model on test
    modest = reliability(np.full(100, 0.67), np.arange(100) < 93)
    assert modest.verdict == "underconfident" and modest.ece == pytest.approx(0.26)
    sure = reliability(np.full(100, 0.95), np.arange(100) < 60)
    assert sure.verdict == "overconfident"


def test_bad_input_is_a_plain_error():
    with pytest.raises(ConfigError):
        reliability(np.array([0.5]), np.array([True, False]))
    with pytest.raises(ConfigError):
        reliability(np.array([1.5]), np.array([True]))


def test_the_figures_in_results_come_from_the_shipped_models_predictions():
    from conftest import ROOT

    from flowerdash.evaluation import load_cached_predictions

    preds = load_cached_predictions(ROOT / "checkpoints" / "default")
    assert preds is not None and len(preds.labels) == 6149
    rel = reliability(preds.confidence, preds.correct)
    text = (ROOT / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    section = text.split("## Can its percentages be read as chances?")[1].split("\n## ")[0]
    assert f"mean confidence **{rel.mean_confidence:.1%}**" in section
    assert f"at **{rel.overall_accuracy:.1%}** right" in section
    assert f"calibration\nerror **{rel.ece:.3f}**" in section
    thirty, fifty = 4, 7  # the bins (0.267, 0.333] and (0.467, 0.533]
    assert f"right {rel.accuracy[thirty]:.1%} of the time" in section
    assert f"right {rel.accuracy[fifty]:.1%} of the time" in section
