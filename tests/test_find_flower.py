"""Find the flower (flowerdash.inference.framing): the square where the model is surest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT

from flowerdash.data.images import WHOLE_PHOTO
from flowerdash.inference.framing import (
    OFFERED,
    OFFERED_ON_SURE,
    candidate_framings,
    find_flower,
)

RESULT = ROOT / "benchmarks" / "results" / "find-flower.json"


def red_share(batch: np.ndarray) -> np.ndarray:
    """A stand-in model of ten flowers: the first as likely as the crop is red, the rest sharing
    what is left, so it is unsure of a crop without red, as a real model is of grass."""
    red = ((batch[..., 0] > 200) & (batch[..., 1] < 60)).mean(axis=(1, 2))
    return np.concatenate([red[:, None], np.repeat((1.0 - red[:, None]) / 9, 9, axis=1)], axis=1)


def test_the_whole_photo_comes_first_and_an_oblong_photo_adds_its_ends():
    square, oblong = candidate_framings(300, 300), candidate_framings(300, 500)
    assert square[0] == oblong[0] == WHOLE_PHOTO
    assert len(set(square)) == len(square) == 19
    assert len(set(oblong)) == len(oblong) == 21
    assert all(zoom >= 1 and 0 <= x <= 1 and 0 <= y <= 1 for zoom, x, y in oblong)


def test_a_small_flower_in_a_corner_is_found():
    field = np.full((300, 450, 3), (60, 120, 50), np.uint8)
    field[20:110, 350:440] = (230, 30, 40)  # a small red flower near the top-right corner
    found = find_flower(red_share, field, 32)
    zoom, x, y = found.framing
    assert zoom == 2.0 and x == 1.0 and y == 0.0
    assert found.probabilities.argmax() == 0 and found.probabilities[0] > 0.3
    # where the whole photo is as sure as any square, it stays whole
    assert find_flower(red_share, np.full((200, 200, 3), 90, np.uint8), 32).framing == WHOLE_PHOTO


def test_the_benchmark_summary_scores_the_square_against_the_whole_photo():
    from benchmarks.find_flower import summary

    rows = [
        {"label": 3, "whole": 1, "found": 3, "found_p": 0.9, "found_p_tempered": 0.7},
        {"label": 2, "whole": 2, "found": 4, "found_p": 0.7, "found_p_tempered": 0.5},
        {"label": 5, "whole": 0, "found": 0, "found_p": 0.3, "found_p_tempered": 0.3},
    ]
    for row, framing in zip(rows, ([2.0, 1.0, 0.0], [1.5, 0.0, 0.5], [1.0, 0.5, 0.5]), strict=True):
        row["framing"] = framing
    out = summary(rows, 0.6)
    assert out["n"] == 3 and out["whole_top1"] == 1 / 3 and out["found_top1"] == 1 / 3
    assert out["found_is_whole"] == 1 / 3 and out["found_sure_and_wrong"] == 1 / 3
    # the tempered percentage takes the second row below the threshold, keeps the first above
    assert out["found_sure_and_wrong_tempered"] == 0.0
    assert out["found_sure_and_right_tempered"] == 1 / 3


def test_the_rules_pass_a_gain_of_exactly_their_bar_in_photos():
    from benchmarks.find_flower import rules

    def pooled(whole: int, found: int, n: int) -> dict:
        return {"n": n, "whole_top1": whole / n, "found_top1": found / n}

    sure = pooled(90, 90, 100)
    # 6 photos of 120 more is 5.0 points (their float shares differ by 0.0499...): offered
    assert rules(pooled(34, 40, 120), sure) == (True, True)
    assert rules(pooled(34, 39, 120), sure) == (False, True)
    # on sure answers, a loss of exactly 2 points takes the button away; 1.9 does not
    assert rules(pooled(34, 40, 120), pooled(98, 96, 100)) == (True, False)
    assert rules(pooled(34, 40, 120), pooled(981, 962, 1000)) == (True, True)


def test_the_found_temperature_is_fitted_on_moved_squares_and_judged_on_the_other_half():
    from benchmarks.find_flower import VERSIONS, temper
    from flowerdash.inference.framing import FoundSquare

    rng = np.random.default_rng(0)
    n, classes = 40, 5
    labels = rng.integers(0, classes, n)

    def square(label: int, moved: bool) -> FoundSquare:
        # over-sure: 97% on the top answer, which is right only half of the time
        top = label if rng.random() < 0.5 else (label + 1) % classes
        p = np.full(classes, 0.03 / (classes - 1))
        p[top] = 0.97
        return FoundSquare((2.0, 0.0, 0.0) if moved else WHOLE_PHOTO, p)

    found = {v: [square(y, moved=j % 4 != 0) for j, y in enumerate(labels)] for v in VERSIONS}
    fit, top = temper(found, labels)
    assert fit["n"] == len(VERSIONS) * 30  # every fourth photo kept the whole photo
    assert fit["temperature"] > 1.0  # softer
    assert fit["before"]["ece"] > 0.4 and fit["crossfitted"]["ece"] < 0.25 and fit["temper"]
    assert fit["before"]["top1"] == fit["crossfitted"]["top1"]
    for v in VERSIONS:
        assert top[v][0] == 0.97 and np.all(top[v][1:4] < 0.9)  # the whole photo stays as it was


def test_only_the_square_the_finder_picked_is_tempered():
    from flowerdash.inference.framing import FOUND_TEMPERATURE, shown_probabilities

    p = np.array([0.9, 0.06, 0.04])
    square = (2.0, 1.0, 0.0)
    tempered = shown_probabilities(p, square, square, 400)
    assert tempered.argmax() == 0 and 0.5 < tempered[0] < 0.9 and np.isclose(tempered.sum(), 1)
    # softmax(log p / T): the log-odds between any two flowers shrink by T
    assert np.isclose(np.log(tempered[0] / tempered[1]), np.log(15) / FOUND_TEMPERATURE)
    assert shown_probabilities(p, (1.5, 0.0, 0.0), square, 400) is p  # moved by hand since
    assert shown_probabilities(p, square, None, 400) is p  # never searched
    assert shown_probabilities(p, WHOLE_PHOTO, WHOLE_PHOTO, 400) is p  # the answer given before


def test_a_small_square_is_tempered_for_its_size_and_then_for_being_found(monkeypatch):
    from flowerdash.inference.framing import FOUND_TEMPERATURE, shown_probabilities

    monkeypatch.setattr(
        "flowerdash.inference.calibration.SIZE_TEMPERATURES", ((32, 4.0), (64, 2.0), (256, 1.0))
    )
    p = np.array([0.9, 0.06, 0.04])
    square = (2.0, 1.0, 0.0)

    def shrink(q: np.ndarray) -> float:  # by how much the log-odds of the top two shrank
        return float(np.log(15) / np.log(q[0] / q[1]))

    assert np.isclose(shrink(shown_probabilities(p, WHOLE_PHOTO, None, 64)), 2.0)
    assert np.isclose(shrink(shown_probabilities(p, square, square, 64)), 2.0 * FOUND_TEMPERATURE)
    assert shown_probabilities(p, WHOLE_PHOTO, None, 256) is p


def test_the_app_offers_the_button_as_the_benchmark_s_first_and_third_rules_say():
    from benchmarks.find_flower import rules

    result = json.loads(RESULT.read_text(encoding="utf-8"))
    assert isinstance(result["offer"], bool) and result["offer"] == OFFERED
    assert result["sure"]["offer"] == OFFERED_ON_SURE
    # the committed verdicts are the rules' on the committed figures
    assert rules(result["pooled"], result["sure"]["pooled"]) == (
        result["offer"],
        result["sure"]["offer"],
    )


@pytest.mark.parametrize(
    ("offered", "on_sure", "unsure", "shown"),
    [
        (False, True, True, False),
        (False, False, True, False),
        (True, True, False, True),
        (True, True, True, True),
        (True, False, False, False),
        (True, False, True, True),
    ],
)
def test_the_button_is_offered_as_the_rules_say_and_asks_the_model_only_when_needed(
    monkeypatch, offered, on_sure, unsure, shown
):
    from flowerdash.inference import framing

    monkeypatch.setattr(framing, "OFFERED", offered)
    monkeypatch.setattr(framing, "OFFERED_ON_SURE", on_sure)
    asked = []

    def whole_photo_unsure() -> bool:
        asked.append(True)
        return unsure

    assert framing.offered(whole_photo_unsure) is shown
    # the whole photo's answer costs a model call: asked only where it decides
    assert bool(asked) == (offered and not on_sure)
