"""The square of a photo where the model is surest: what "Find the flower" frames.

The model sees one square of a photo (``images.frame``), by default the centre one, so a small or
off-centre flower in a wide photo may be cut away or tiny. This tries a fixed set of squares in
one batch (the whole photo's centre and, for an oblong photo, its two ends; a 3×3 grid of
squares at 1.5× and at 2×) and keeps the one whose top answer is most probable.

That answer's probability is the best of many tries, so it overstates how sure the model is:
``shown_probabilities`` tempers it with a temperature of its own, on top of the model's.
``benchmarks/find_flower.py`` measures how often the square helps and fits that temperature
(docs/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flowerdash.data.images import WHOLE_PHOTO, Framing, frame, prepare_for_model
from flowerdash.inference.calibration import apply_temperature, size_temperature

ZOOMS = (1.5, 2.0)
POSITIONS = (0.0, 0.5, 1.0)
#: Softens the answer for a square ``find_flower`` picked, on top of the model's own temperature:
#: fitted on validation photos by ``benchmarks/find_flower.py`` under its second rule
#: (``found_temperature`` in benchmarks/results/find-flower.json).
FOUND_TEMPERATURE = 1.933
#: Whether the app offers "Find the flower for me": the first rule of ``benchmarks/find_flower.py``
#: for the shipped model (``offer`` in benchmarks/results/find-flower.json; a test keeps the two
#: equal). Unoffered, ``find_flower`` still serves ``--find``, and a later model that passes.
OFFERED = True
#: Whether it is offered also for a photo the model is already sure of, whole: the third rule of
#: ``benchmarks/find_flower.py`` (``sure.offer`` in find-flower.json; a test keeps the two equal).
#: Where the squares found lose on sure answers, the button is only offered while the whole
#: photo's answer is unsure.
OFFERED_ON_SURE = False


def offered(whole_photo_unsure: Callable[[], bool]) -> bool:
    """Whether a page offers "Find the flower for me" for a photo. ``whole_photo_unsure`` says
    whether the whole photo's answer is below the unsure threshold; asked only when the rules
    leave that to decide, as answering it costs a model call."""
    if not OFFERED:
        return False
    return OFFERED_ON_SURE or whole_photo_unsure()


def candidate_framings(height: int, width: int) -> list[Framing]:
    """The squares tried, the whole photo first (it wins ties)."""
    out = [WHOLE_PHOTO]
    if height != width:  # the two ends of the long side
        out += [(1.0, 0.0, 0.0), (1.0, 1.0, 1.0)]
    out += [(zoom, x, y) for zoom in ZOOMS for y in POSITIONS for x in POSITIONS]
    return out


@dataclass(frozen=True)
class FoundSquare:
    """The square chosen and the model's probabilities for it."""

    framing: Framing
    probabilities: np.ndarray


def find_flower(
    predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray, size: int
) -> FoundSquare:
    """The candidate square whose top answer is most probable.

    ``predict`` maps a float32 batch [N, size, size, 3] (0..255) to probabilities [N, classes].
    """
    framings = candidate_framings(*image.shape[:2])
    batch = np.stack([prepare_for_model(frame(image, *f), size) for f in framings])
    probs = np.asarray(predict(batch.astype(np.float32)), dtype=np.float64)
    best = int(probs.max(axis=1).argmax())  # the first of equals: the whole photo if it ties
    return FoundSquare(framings[best], probs[best])


def is_found_square(framing: Framing, found: Framing | None) -> bool:
    """Whether ``framing`` is the square ``find_flower`` picked (``found``) and not the whole
    photo, whose answer the page gave before the search: the one case whose percentage is
    tempered, and which the page says so about."""
    return found is not None and tuple(framing) == tuple(found) != WHOLE_PHOTO


def shown_probabilities(
    probabilities: np.ndarray, framing: Framing, found: Framing | None, shorter_side: int
) -> np.ndarray:
    """The probabilities to show for the square ``framing`` of a photo, ``shorter_side`` pixels
    across: lowered for a small square (``calibration.size_temperature``), and further with
    ``FOUND_TEMPERATURE`` where ``is_found_square``; a square chosen by hand was not picked for
    its confidence."""
    temperature = size_temperature(shorter_side)
    if is_found_square(framing, found):
        temperature *= FOUND_TEMPERATURE  # tempering twice is tempering once by the product
    if temperature == 1.0:
        return probabilities
    return apply_temperature(probabilities, temperature)
