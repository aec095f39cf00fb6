"""Plain-words readings of a prediction for the simple view: how sure, and where the model looked."""

from __future__ import annotations

import numpy as np

from flowerdash.errors import ExplainError
from flowerdash.explain.faithfulness import focus_score
from flowerdash.i18n import _

VERY_SURE = 0.9
# Below this the top answer is called unsure and Try it shows the three best guesses instead.
# Chosen on validation photos by benchmarks/unsure.py (results/unsure.json; a test keeps the two
# equal): the smallest threshold above which answers are right at least 95% of the time.
UNSURE_BELOW = 0.45
FAIRLY_SURE = UNSURE_BELOW
# Below this shorter side (pixels) Try it says the photo is small: chosen on shrunk validation
# photos by benchmarks/small_photos.py (results/small-photos.json; a test keeps the two equal),
# the smallest size from which on sure answers are right at least 90% of the time.
SMALL_PHOTO_BELOW = 96
CENTRE_FOCUS = 0.5  # Grad-CAM mass in the central box (a uniform map has 0.25)
# The hottest pixels holding half of the weight cover more than this (uniform: 0.5).
SPREAD_AREA = 0.25
OFF_CENTRE = 0.12  # how far (in image sizes) the hot spot must sit from the centre to be a side
PLACES = ("centre", "top", "bottom", "left", "right", "spread")


def confidence_level(p: float) -> str:
    """'very_sure' (>= 90 %), 'fairly_sure' (>= UNSURE_BELOW) or 'unsure'."""
    if p >= VERY_SURE:
        return "very_sure"
    if not is_unsure(p):
        return "fairly_sure"
    return "unsure"


def is_unsure(p: float) -> bool:
    """Whether a top answer of probability ``p`` is too unsure to be given alone."""
    return p < UNSURE_BELOW


def is_small_photo(shorter_side: int) -> bool:
    """Whether the model sees a photo (or the square of it) at too few pixels to be trusted."""
    return shorter_side < SMALL_PHOTO_BELOW


def small_photo_note(shorter_side: int) -> str:
    """Why the answer for a small photo is less sure, in the current language."""
    return _(
        "The model sees this flower in only {side} × {side} pixels. On photos this small it is "
        "right less often, and its percentages here are lowered to say so. A larger photo, or "
        "one closer to the flower, gives a better answer."
    ).format(side=shorter_side)


def framing_hint(p: float, shorter_side: int, whole_photo: bool, *, can_find: bool) -> str | None:
    """What to try next when the top answer ``p`` is unsure, or None.

    Only for an unsure answer of a photo shown whole: on such validation photos a better-framed
    square (the one ``framing.find_flower`` picks) is right more often than the whole photo
    (benchmarks/find_flower.py, results/find-flower.json), and on sure ones it is not. Not for a
    small photo, which zooming in makes smaller still, nor once the person has framed it.
    ``can_find``: whether the page shows the "Find the flower for me" button; the hint names it
    only then, and otherwise asks the person to frame the flower by hand.
    """
    if not is_unsure(p) or is_small_photo(shorter_side) or not whole_photo:
        return None
    if can_find:
        return _(
            "The flower may be small or off-centre in the picture, or not one of the 102 flowers "
            "the model knows. Try “Find the flower for me” under “Frame the flower”, or zoom in "
            "on it there yourself."
        )
    return _(
        "The flower may be small or off-centre in the picture, or not one of the 102 flowers "
        "the model knows. Under “Frame the flower”, zoom in and move the square onto it."
    )


def percent(p: float, decimals: int = 0) -> str:
    """A probability as a person reads it, but never "100%" or "0%": a calibrated model is never
    certain, and 99.6% rounded up would say it is. ``decimals`` after the point (0 or 1)."""
    step = 10.0 ** -(decimals + 2)  # the smallest change the text shows, as a probability
    if p >= 1 - step / 2:
        return f">{1 - step:.{decimals}%}"
    if p < step / 2:
        return f"<{step:.{decimals}%}"
    return f"{p:.{decimals}%}"


def confidence_words(p: float) -> str:
    """How sure the model is, in words, in the current language."""
    return {
        "very_sure": _("very sure"),
        "fairly_sure": _("fairly sure"),
        "unsure": _("unsure"),
    }[confidence_level(p)]


def where_it_looked(cam_map: np.ndarray) -> str:
    """Where a Grad-CAM map puts its weight: one of ``PLACES``."""
    m = np.maximum(np.nan_to_num(np.asarray(cam_map, dtype=np.float64)), 0.0)
    if m.ndim != 2 or min(m.shape) < 2:
        raise ExplainError(
            _("A reading needs one map [H, W], got shape {shape}.").format(shape=m.shape)
        )
    total = m.sum()
    if total <= 0:
        return "spread"
    # share of the picture covered by the hottest pixels that hold half of the weight
    flat = np.sort(m.ravel())[::-1]
    area = (np.searchsorted(np.cumsum(flat), 0.5 * total) + 1) / flat.size
    if area > SPREAD_AREA:
        return "spread"
    if focus_score(m) >= CENTRE_FOCUS:
        return "centre"
    hot = m >= 0.5 * m.max()
    ys, xs = np.nonzero(hot)
    weights = m[hot]
    h, w = m.shape
    dy = float(np.average(ys, weights=weights)) / (h - 1) - 0.5
    dx = float(np.average(xs, weights=weights)) / (w - 1) - 0.5
    if max(abs(dy), abs(dx)) < OFF_CENTRE:
        return "centre"
    if abs(dy) >= abs(dx):
        return "top" if dy < 0 else "bottom"
    return "left" if dx < 0 else "right"


def reading_sentence(place: str) -> str:
    """One sentence saying where the model looked, in the current language."""
    sentences = {
        "centre": _(
            "The model looked mostly at the centre of the photo, where the flower usually is."
        ),
        "top": _("The model looked mostly at the top of the photo."),
        "bottom": _("The model looked mostly at the bottom of the photo."),
        "left": _("The model looked mostly at the left side of the photo."),
        "right": _("The model looked mostly at the right side of the photo."),
        "spread": _("The model looked all over the photo rather than at one spot."),
    }
    if place not in sentences:
        raise ExplainError(
            _("Unknown place {place}; expected one of {choices}.").format(
                place=repr(place), choices=", ".join(PLACES)
            )
        )
    return sentences[place]


def describe_map(cam_map: np.ndarray) -> str:
    """The one-sentence reading of a Grad-CAM map."""
    return reading_sentence(where_it_looked(cam_map))
