"""Reliability bins and expected calibration error on known answers."""

from __future__ import annotations

import numpy as np
import pytest

from flowerdash.errors import ConfigError
from flowerdash.inference.calibration import (
    apply_temperature,
    fit_temperature,
    reliability,
    with_temperature,
)


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


def test_the_figures_in_results_come_from_the_saved_predictions_and_the_fit():
    import json

    from conftest import ROOT

    from flowerdash.inference.evaluation import load_cached_predictions
    from flowerdash.models.checkpoints import load_model, read_meta

    fit = json.loads((ROOT / "benchmarks/results/calibration.json").read_text())
    shipped = ROOT / "checkpoints" / "default"
    preds = load_cached_predictions(shipped)  # the rescan of the calibrated model
    assert preds is not None and len(preds.labels) == 6149
    after = reliability(preds.confidence, preds.correct)
    before = fit["target_test_before"]
    assert after.ece <= 0.03 and abs(after.ece - fit["target_test_after"]["ece"]) < 1e-4
    assert read_meta(shipped)["calibration"]["temperature"] == fit["temperature"]
    layer = load_model(shipped).get_layer("temperature")
    assert layer.get_config()["scale"] == pytest.approx(1.0 / fit["temperature"])

    text = (ROOT / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    section = " ".join(
        text.split("## Can its percentages be read as chances?")[1].split("\n## ")[0].split()
    )
    for figure in (
        f"was **{before['mean_confidence']:.1%}** at **{before['top1']:.1%}** right",
        f"ECE **{before['ece']:.3f}**",
        f"right {before['bins']['accuracy'][4]:.1%} of the time",  # the (0.267, 0.333] bin
        f"right {before['bins']['accuracy'][7]:.1%} of the time",  # the (0.467, 0.533] bin
        f"**T = {fit['temperature']:.3f}**",
        f"ECE goes from {fit['fold_val_before']['ece']:.3f} to {fit['fold_val_after']['ece']:.3f}",
        f"{fit['fold_val_before']['top1']:.1%} on validation",
        f"confidence **{after.mean_confidence:.1%}** at **{after.overall_accuracy:.1%}** right, "
        f"ECE **{after.ece:.3f}**",
        f"log loss {before['nll']:.3f} → {fit['target_test_after']['nll']:.3f}",
    ):
        assert figure in section, figure


def test_the_fitted_temperature_undoes_a_known_scaling():
    rng = np.random.default_rng(1)
    logits = rng.normal(0.0, 3.0, (4000, 10))
    labels = np.array([rng.choice(10, p=p) for p in apply_temperature(softmax(logits), 1.0)])
    for t in (0.5, 2.0):  # the model says softmax(logits / t): too sure, too modest
        fitted = fit_temperature(softmax(logits / t), labels)
        assert fitted == pytest.approx(1.0 / t, rel=0.1)
    calibrated = apply_temperature(
        softmax(logits / 0.5), fit_temperature(softmax(logits / 0.5), labels)
    )
    before = reliability(softmax(logits / 0.5).max(1), softmax(logits).argmax(1) == labels).ece
    after = reliability(calibrated.max(1), calibrated.argmax(1) == labels).ece
    assert after < before / 2 and (calibrated.argmax(1) == softmax(logits).argmax(1)).all()


def test_a_model_with_a_temperature_keeps_its_answers_and_saves(tmp_path, tiny_cnn, flower_images):
    import keras

    from flowerdash.explain.base import logits_model
    from flowerdash.models.backbones import without_temperature

    hot = with_temperature(tiny_cnn, 0.5)
    x = np.asarray(flower_images[:3], np.float32)
    before, after = tiny_cnn.predict(x, verbose=0), hot.predict(x, verbose=0)
    assert np.allclose(after, apply_temperature(before, 0.5), atol=1e-5)
    assert (after.argmax(1) == before.argmax(1)).all()
    path = tmp_path / "m.keras"
    hot.save(path)
    again = keras.saving.load_model(path)
    assert np.allclose(again.predict(x, verbose=0), after, atol=1e-6)
    assert np.allclose(
        logits_model(again).predict(x, verbose=0),
        logits_model(tiny_cnn).predict(x, verbose=0),
        atol=1e-5,
    )
    twice = with_temperature(again, 2.0)  # re-calibrating replaces the temperature
    assert np.allclose(twice.predict(x, verbose=0), apply_temperature(before, 2.0), atol=1e-5)
    with pytest.raises(ConfigError):
        with_temperature(tiny_cnn, 0.0)
    # taken off again (to average a calibrated model, or fit it anew): the uncalibrated model
    plain = without_temperature(again)
    assert [layer.name for layer in plain.layers] == [layer.name for layer in tiny_cnn.layers]
    assert np.allclose(plain.predict(x, verbose=0), before, atol=1e-6)
    assert without_temperature(tiny_cnn) is tiny_cnn


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_readme_summary_matches_the_artefacts():
    import json

    from conftest import ROOT

    fit = json.loads((ROOT / "benchmarks/results/calibration.json").read_text())
    quick = json.loads((ROOT / "benchmarks/results/presets.json").read_text())
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    before, after = fit["target_test_before"], fit["target_test_after"]
    assert (
        f"({before['mean_confidence']:.1%} mean confidence at {before['top1']:.1%} right, "
        f"calibration error {before['ece']:.3f} on test)" in readme
    )
    assert (
        f"mean confidence {after['mean_confidence']:.1%} at {after['top1']:.1%} right, "
        f"calibration error {after['ece']:.3f}" in readme
    )
    assert (
        f"({quick['seconds_from_click_median']:.0f} s from the click on 2 cores) for "
        f"{quick['test_top1_median']:.1%} on {quick['runs'][0]['test']['n']:,} test photos"
        in readme
    )
