"""Plain-words readings: confidence words and where a Grad-CAM map puts its weight."""

from __future__ import annotations

import numpy as np
import pytest

from flowerdash import i18n
from flowerdash.errors import ExplainError
from flowerdash.explain.reading import (
    SMALL_PHOTO_BELOW,
    UNSURE_BELOW,
    confidence_level,
    confidence_words,
    describe_map,
    framing_hint,
    percent,
    reading_sentence,
    where_it_looked,
)


def blob(cy: float, cx: float, size: int = 32, sigma: float = 3.0) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    return np.exp(-((y - cy) ** 2 + (x - cx) ** 2) * (size - 1) ** 2 / (2 * sigma**2)).astype(
        np.float32
    )


@pytest.mark.parametrize(
    ("p", "level"),
    [
        (0.95, "very_sure"),
        (0.9, "very_sure"),
        (0.89, "fairly_sure"),
        (UNSURE_BELOW, "fairly_sure"),  # chosen on validation (tests/test_unsure.py)
        (UNSURE_BELOW - 0.01, "unsure"),
        (0.01, "unsure"),
    ],
)
def test_confidence_levels(p, level):
    assert confidence_level(p) == level


def test_confidence_words_follow_the_language():
    i18n.set_language("en")
    assert confidence_words(0.95) == "very sure"
    i18n.set_language("es")
    assert confidence_words(0.7) == "bastante seguro"
    i18n.set_language("en")


@pytest.mark.parametrize(
    ("cy", "cx", "place"),
    [
        (0.5, 0.5, "centre"),
        (0.1, 0.5, "top"),
        (0.9, 0.5, "bottom"),
        (0.5, 0.1, "left"),
        (0.5, 0.9, "right"),
    ],
)
def test_where_a_blob_is(cy, cx, place):
    assert where_it_looked(blob(cy, cx)) == place


def test_flat_empty_and_scattered_maps_are_spread_out():
    assert where_it_looked(np.ones((16, 16))) == "spread"
    assert where_it_looked(np.zeros((16, 16))) == "spread"
    rng = np.random.default_rng(0)
    assert where_it_looked(rng.random((32, 32))) == "spread"


def test_sentence_and_errors():
    i18n.set_language("en")
    assert describe_map(blob(0.5, 0.5)).startswith("The model looked mostly at the centre")
    with pytest.raises(ExplainError):
        reading_sentence("sideways")
    with pytest.raises(ExplainError):
        where_it_looked(np.zeros((2, 3, 3)))


@pytest.mark.parametrize(
    ("p", "decimals", "shown"),
    [
        (1.0, 0, ">99%"),
        (0.996, 0, ">99%"),
        (0.994, 0, "99%"),
        (0.87, 0, "87%"),
        (0.006, 0, "1%"),
        (0.004, 0, "<1%"),
        (1.0, 1, ">99.9%"),
        (0.9996, 1, ">99.9%"),
        (0.9994, 1, "99.9%"),
        (0.0004, 1, "<0.1%"),
        (0.0, 1, "<0.1%"),
    ],
)
def test_a_percentage_never_claims_certainty(p, decimals, shown):
    assert percent(p, decimals) == shown


@pytest.mark.parametrize("can_find", [True, False])
def test_framing_is_suggested_only_for_an_unsure_answer_of_a_whole_photo_large_enough(can_find):
    unsure, sure, big = UNSURE_BELOW - 0.01, UNSURE_BELOW, SMALL_PHOTO_BELOW
    assert framing_hint(unsure, big, whole_photo=True, can_find=can_find)
    assert framing_hint(sure, big, whole_photo=True, can_find=can_find) is None
    # zooming in shrinks a small photo further
    assert framing_hint(unsure, big - 1, whole_photo=True, can_find=can_find) is None
    assert framing_hint(unsure, big, whole_photo=False, can_find=can_find) is None  # framed


def test_the_framing_hint_names_the_button_only_where_the_page_shows_it():
    unsure, big = UNSURE_BELOW - 0.01, SMALL_PHOTO_BELOW
    offered = framing_hint(unsure, big, whole_photo=True, can_find=True)
    by_hand = framing_hint(unsure, big, whole_photo=True, can_find=False)
    assert "“Find the flower for me” under “Frame the flower”" in offered
    assert "Find the flower" not in by_hand
    assert "Under “Frame the flower”, zoom in and move the square onto it." in by_hand
