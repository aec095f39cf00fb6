"""Small photos: their percentages are lowered for their size, and the pages say why."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, thumbnail

from benchmarks.small_photos import SIZES, choose, shrink, size_temperatures, table, tempered
from flowerdash.cli.main import main
from flowerdash.explain import reading
from flowerdash.inference import calibration

RESULT = ROOT / "benchmarks" / "results" / "small-photos.json"


def test_a_size_temperature_is_interpolated_on_log_size_and_is_1_above_the_table():
    table_ = ((16, 8.0), (64, 2.0), (256, 1.0))
    t = calibration.size_temperature
    assert t(16, table_) == t(8, table_) == t(1, table_) == t(0, table_) == 8.0
    assert t(32, table_) == pytest.approx(5.0)  # halfway between 16 and 64 on log size
    assert t(64, table_) == 2.0 and t(128, table_) == pytest.approx(1.5)
    assert t(256, table_) == t(4000, table_) == 1.0


def test_the_shipped_table_is_the_one_fitted_on_validation():
    result = json.loads(RESULT.read_text())
    fitted = {int(s): t for s, t in result["fitted_temperatures"].items()}
    assert result["val_n"] == 1020  # every validation photo, answered by the train-only fold
    assert [list(row) for row in calibration.SIZE_TEMPERATURES] == result["size_temperatures"]
    sizes = [s for s, _t in calibration.SIZE_TEMPERATURES]
    temperatures = [t for _s, t in calibration.SIZE_TEMPERATURES]
    assert sizes == sorted(sizes) == list(SIZES)
    # the rule: at least each size's fit and 1, never below a larger size's, 1 at full size
    assert temperatures[-1] == 1.0
    assert all(a >= b >= 1.0 for a, b in zip(temperatures, temperatures[1:], strict=False))
    assert all(t >= round(fitted[s], 3) for s, t in calibration.SIZE_TEMPERATURES[:-1])
    assert reading.SMALL_PHOTO_BELOW == result["small_photo_below"] == choose(result["val"])


def test_the_note_says_percentages_are_lowered_only_where_they_are():
    # "its percentages here are lowered": true at every size the note is shown for
    for side in range(1, reading.SMALL_PHOTO_BELOW):
        assert reading.is_small_photo(side)
        assert calibration.size_temperature(side) > 1.0, side
    assert not reading.is_small_photo(reading.SMALL_PHOTO_BELOW)
    assert f"{40} × {40} pixels" in reading.small_photo_note(40)


def test_the_rules_on_a_made_up_table():
    labels = np.zeros(10, dtype=np.int64)
    sure_right = np.tile([0.9, 0.1], (10, 1))
    sure_wrong = np.tile([0.1, 0.9], (10, 1))
    half = np.concatenate([sure_right[:5], sure_wrong[:5]])
    probs = {16: sure_wrong, 32: half, 64: sure_right, 256: sure_right}
    rows = table(probs, labels)
    assert [r["sure_accuracy"] for r in rows] == [0.0, 0.5, 1.0, 1.0]
    assert choose(rows) == 64
    # a size that dips below 90% above a good one moves the notice up to it
    assert choose(table({16: sure_right, 32: half, 256: sure_right}, labels)) == 256

    fitted, temperatures = size_temperatures(probs, labels)
    assert set(fitted) == {16, 32, 64}
    assert temperatures[-1] == (256, 1.0)
    t = dict(temperatures)
    assert t[16] >= t[32] >= t[64] >= 1.0
    assert t[64] == 1.0  # right and sure: its fit sharpens (below 1), so it stays at 1
    after = tempered(probs, temperatures)
    assert after[32][:, 0].max() < half[:, 0].max()  # the half-wrong size is answered less surely
    np.testing.assert_allclose(after[256], sure_right, rtol=1e-6)


def test_a_thumbnail_is_shrunk_to_its_shorter_side_and_never_enlarged():
    photo = np.zeros((300, 500, 3), np.uint8)
    assert shrink(photo, 60).shape == (60, 100, 3)
    assert shrink(photo, 300) is photo and shrink(photo, 400) is photo


def test_predict_says_a_thumbnail_is_small_and_lowers_its_percentages(tmp_path, capsys):
    """The shipped model on the sunflower example shrunk to 32 px: a note, and the top
    percentage the size temperature gives, not the model's own."""
    path, _side = thumbnail(EXAMPLES / "sunflower.jpg", 32, tmp_path / "sunflower-32.jpg")
    assert main(["predict", str(path)]) == 0
    out = capsys.readouterr().out
    assert reading.small_photo_note(32) in out
    assert main(["predict", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["framing"]["shorter_side"] == 32

    from flowerdash.data.images import load_image
    from flowerdash.inference.predict import predict_probabilities
    from flowerdash.models.checkpoints import load_model

    own = predict_probabilities(load_model(ROOT / "checkpoints" / "default"), load_image(path))
    lowered = calibration.apply_temperature(own, calibration.size_temperature(32))
    assert result["top"][0]["probability"] == pytest.approx(float(lowered.max()), abs=1e-5)
    assert result["top"][0]["probability"] < float(own.max())

    assert main(["predict", str(EXAMPLES / "sunflower.jpg")]) == 0
    assert "pixels" not in capsys.readouterr().out  # a photo of ordinary size: no note


def results_text() -> str:
    """docs/RESULTS.md with its line breaks as spaces, as sentences are quoted."""
    return " ".join((ROOT / "docs" / "RESULTS.md").read_text(encoding="utf-8").split())


def test_results_quote_the_committed_table():
    result = json.loads(RESULT.read_text())
    text = results_text()
    assert f"below **{result['small_photo_below']} pixels**" in text
    temperatures = dict(calibration.SIZE_TEMPERATURES)
    for row, after in zip(result["val"], result["val_after"], strict=True):
        s = row["shorter_side"]
        cells = (
            f"| {s} px | {row['top1']:.1%} | {row['mean_confidence']:.1%} | "
            f"{row['sure_share']:.1%} | {row['sure_accuracy']:.1%} | {row['ece']:.3f} | "
            f"{temperatures[s]:.3f} | {after['mean_confidence']:.1%} | {after['ece']:.3f} |"
        )
        assert cells in text, cells
    assert result["test_n"] == 6149 and result["test_model"] == "checkpoints/default"
    quoted = 0
    for row, after in zip(result["test"], result["test_after"], strict=True):
        cells = (
            f"| {row['shorter_side']} px | {row['top1']:.1%} | {row['mean_confidence']:.1%} | "
            f"{row['ece']:.3f} | {row['sure_share']:.1%} | {after['mean_confidence']:.1%} | "
            f"{after['ece']:.3f} | {after['sure_share']:.1%} |"
        )
        quoted += cells in text
    assert quoted == 6  # the rows the test table shows


def test_readme_quotes_the_32_pixel_test_row():
    result = json.loads(RESULT.read_text())
    row, after = (
        next(r for r in rows if r["shorter_side"] == 32)
        for rows in (result["test"], result["test_after"])
    )
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert (
        f"a 32-px one was given a sure answer {row['sure_share']:.0%} of the time and was right "
        f"{row['top1']:.0%} of the time; now {after['sure_share']:.0%}," in readme
    )
    assert f"below {result['small_photo_below']} px the pages say the photo is small" in readme


def test_the_cross_fitted_check_tempers_each_half_with_the_other_halfs_table():
    from benchmarks.small_photos import crossfitted

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)) * 3
    twice = np.repeat(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), 2, axis=0)
    labels = np.repeat(rng.integers(0, 4, 6), 2)  # both halves hold the same photos
    probs = {32: twice, 256: twice}
    _fitted, table_ = size_temperatures(probs, labels)
    np.testing.assert_allclose(
        crossfitted(probs, labels)[32], tempered(probs, table_)[32], rtol=1e-5
    )


def test_pooling_two_folds_fits_the_table_on_both_answers():
    """The second-fold rule's fallback: one table fitted on both folds' answers together."""
    from benchmarks.small_photos import pooled

    rng = np.random.default_rng(1)

    def answers(scale: float) -> tuple[dict[int, np.ndarray], np.ndarray]:
        logits = rng.normal(size=(40, 5)) * scale
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        return {32: p, 256: p}, rng.integers(0, 5, 40)

    first, second = answers(4.0), answers(1.0)
    probs, labels = pooled(first, second)
    assert len(labels) == 80 and all(len(p) == 80 for p in probs.values())
    np.testing.assert_array_equal(probs[32][40:], second[0][32])
    table_ = dict(size_temperatures(probs, labels)[1])
    alone = [dict(size_temperatures(*a)[1])[32] for a in (first, second)]
    assert min(alone) < table_[32] < max(alone)  # between what each fold alone would fit
    assert dict(size_temperatures(*pooled(first, first))[1])[32] == pytest.approx(alone[0])


def test_results_quote_the_cross_fitted_check():
    result = json.loads(RESULT.read_text())
    text = results_text()
    small = [r for r in result["val_crossfitted"] if r["shorter_side"] <= 96]
    listed = ", ".join(f"{r['ece']:.3f}" for r in small[:-1]) + f" and {small[-1]['ece']:.3f}"
    assert f"(`val_crossfitted`): {listed} from 16 to 96 px." in text


SMALL = [s for s in SIZES if s <= 96]


def holds(check: dict) -> bool:
    """The second-fold rule: with the table, ECE at most 0.05 up to 96 px, and lower than
    without it below 96 px."""
    before = {r["shorter_side"]: r["ece"] for r in check["train"]}
    after = {r["shorter_side"]: r["ece"] for r in check["train_shipped_table"]}
    return all(after[s] <= 0.05 for s in SMALL) and all(
        after[s] < before[s] for s in SMALL if s < 96
    )


def load(name: str) -> dict:
    return json.loads((ROOT / "benchmarks" / "results" / name).read_text())


def listed(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values[:-1]) + f" and {values[-1]:.3f}"


def eces(rows: list[dict]) -> str:
    by_size = {r["shorter_side"]: r["ece"] for r in rows}
    return listed([by_size[s] for s in SMALL])


def test_the_first_folds_table_holds_on_the_second_fold_by_its_rule():
    """The shipped table, fitted on the first fold alone, passes on the second fold."""
    shipped, check = json.loads(RESULT.read_text()), load("small-photos-second-fold.json")
    assert check["fold"] == "swap-soup9-views" and check["train_n"] == 1020
    assert check["small_photo_below"] == reading.SMALL_PHOTO_BELOW
    assert shipped.get("pooled_with") is None and holds(check)
    assert [list(r) for r in calibration.SIZE_TEMPERATURES] == shipped["size_temperatures"]
    text = results_text()
    assert f"ECE goes from {eces(check['train'])} to {eces(check['train_shipped_table'])}" in text
    own = dict(check["size_temperatures"])
    assert (
        f"({own[16]:.2f} at 16 px, {own[32]:.2f} at 32, {own[64]:.2f} at 64, {own[96]:.2f} at 96)"
        in text
    )


def test_the_second_fold_rule_pooled_the_folds_for_the_model_shipped_before():
    """For the model shipped before, the first fold's table failed on the second fold, so its
    table was fitted on both folds' answers pooled; RESULTS quotes both checks."""
    before = "soup6-alllong-tiles-up256-final"
    alone, shipped = (load(f"small-photos{s}-{before}.json") for s in ("-first-fold-alone", ""))
    first_check, pooled_check = (
        load(f"small-photos-second-fold{s}-{before}.json") for s in ("-first-table", "")
    )
    for check in (first_check, pooled_check):
        assert check["fold"] == "swap-soup6-alllong-tiles-up256" and check["train_n"] == 1020
    assert alone.get("pooled_with") is None and not holds(first_check)
    assert shipped["pooled_with"] == first_check["fold"] and shipped["fold"] == alone["fold"]
    text = results_text()
    for check in (first_check, pooled_check):
        quoted = f"ECE went from {eces(check['train'])} to {eces(check['train_shipped_table'])}"
        assert quoted in text
    table = dict(alone["size_temperatures"])
    assert f"{table[16]:.3f} at 16 px, {table[32]:.3f} at 32, {table[48]:.3f} at 48" in text
