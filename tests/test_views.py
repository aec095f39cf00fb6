"""benchmarks.views: the rule that decides whether averaging a photo's views is worth building."""

from __future__ import annotations

import numpy as np

from benchmarks.proxies import PROXIES
from benchmarks.views import CANDIDATES, choose, mirrored, scores


def _fold(**rows: tuple[float, float]) -> dict:
    return {c: {"clean": clean, "mean_changed": changed} for c, (clean, changed) in rows.items()}


def test_the_fewest_views_that_reach_the_target_without_losing_clean_photos_are_chosen():
    fold = _fold(single=(0.92, 0.87), mirror=(0.92, 0.881), sizes=(0.92, 0.882), both=(0.92, 0.89))
    assert choose({"a": fold, "b": fold})["chosen"] == "mirror"  # two views, not four
    lossy = _fold(single=(0.92, 0.87), mirror=(0.91, 0.881), sizes=(0.92, 0.87), both=(0.92, 0.87))
    assert choose({"a": lossy, "b": lossy})["chosen"] is None  # a point lost on clean photos
    # both folds count: one fold above 88% and the other below average out short
    short = _fold(single=(0.92, 0.87), mirror=(0.92, 0.87), sizes=(0.92, 0.87), both=(0.92, 0.87))
    assert choose({"a": fold, "b": short})["passing"] == ["both"]


def test_each_candidate_averages_the_answers_of_its_views():
    labels = np.array([0, 1])
    right, wrong = np.array([[0.6, 0.4], [0.4, 0.6]]), np.array([[0.0, 1.0], [0.3, 0.7]])
    probs = {
        (size, name, flip): wrong if (size, flip) == ("288", True) else right
        for size in ("256", "288")
        for name in PROXIES
        for flip in (False, True)
    }
    got = scores(probs, labels)
    assert got["single"]["clean"] == got["mirror"]["clean"] == got["sizes"]["clean"] == 1.0
    # four views: the wrong one outweighs the others on the first photo only
    assert got["both"]["clean"] == 0.5 and got["both"]["mean_changed"] == 0.5
    assert set(got) == set(CANDIDATES)


def test_a_photos_views_are_each_proxy_version_as_it_is_and_mirrored():
    photo = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    views = mirrored(photo, index=3, size=32)
    assert set(views) == {(name, flip) for name in PROXIES for flip in (False, True)}
    for name in PROXIES:
        np.testing.assert_array_equal(views[(name, True)], views[(name, False)][:, ::-1])
