"""Robustness results in plain words: which two checkpoints to compare, and what they show.

Differences smaller than :func:`chance_margin` are reported as chance, so what a small sample
of photos can produce by luck is not announced as a win.
"""

from __future__ import annotations

import math

from flowerdash.errors import FlowerdashError
from flowerdash.i18n import _
from flowerdash.inference.robustness import RobustnessResult, corruption_label
from flowerdash.models.checkpoints import read_meta


def trained_augmentation(path: str) -> str | None:
    """The augmentation preset a checkpoint was trained with, if recorded."""
    try:
        config = read_meta(path).get("config") or {}
    except FlowerdashError:
        return None
    value = config.get("augment")
    return None if value is None else str(value)


def default_pair(paths: list[str], current: str | None) -> tuple[str, str | None]:
    """(A, B): ``current`` and another checkpoint, the un-augmented one first when known.

    The partner preferably differs in augmentation, since that is the question compared.
    """
    a = current if current in paths else paths[0]
    others = [p for p in paths if p != a]
    if not others:
        return a, None
    mine = trained_augmentation(a)
    b = next((p for p in others if trained_augmentation(p) != mine), others[0])
    if trained_augmentation(a) not in (None, "none") and trained_augmentation(b) == "none":
        a, b = b, a
    return a, b


def chance_margin(n: int) -> float:
    """Accuracy difference (0..1) below which two results on ``n`` images may differ by chance."""
    return max(0.01, 1.0 / math.sqrt(max(n, 1)))


def _points(value: float) -> str:
    return f"{abs(value) * 100:.1f}"


def compare(
    a: RobustnessResult, b: RobustnessResult, name_a: str, name_b: str, top: int = 2
) -> list[str]:
    """Plain-language sentences: clean accuracy difference, biggest wins and losses of b vs a."""
    sentences: list[str] = []
    margin = chance_margin(min(a.n, b.n))
    diff = b.clean - a.clean
    if abs(diff) < margin:
        sentences.append(
            _(
                "On clean photos both models are about equally accurate ({b:.1%} for {name_b}, "
                "{a:.1%} for {name_a})."
            ).format(a=a.clean, b=b.clean, name_a=name_a, name_b=name_b)
        )
    else:
        better, worse = (name_b, name_a) if diff > 0 else (name_a, name_b)
        sentences.append(
            _(
                "On clean photos {better} is {points} points more accurate than {worse} "
                "({b:.1%} for {name_b}, {a:.1%} for {name_a})."
            ).format(
                better=better,
                worse=worse,
                points=_points(diff),
                a=a.clean,
                b=b.clean,
                name_a=name_a,
                name_b=name_b,
            )
        )

    shared = [c for c in b.accuracy if c in a.accuracy]
    if not shared:
        return _capitalised(sentences)
    k = len(set(a.severities) & set(b.severities))
    average = (
        _("average over the {k} severities").format(k=k) if k > 1 else _("at the tested severity")
    )
    gaps = sorted(((b.mean(c) - a.mean(c), c) for c in shared), reverse=True)
    wins = [(g, c) for g, c in gaps if g >= margin][:top]
    losses = [(g, c) for g, c in reversed(gaps) if g <= -margin][:top]
    better = _(
        "{name_b} kept {points} more points of accuracy than {name_a} under {corruption} "
        "({average}: {b:.1%} vs {a:.1%})."
    )
    worse = _(
        "{name_a} did better under {corruption}: {points} points more accurate than "
        "{name_b} ({average}: {a:.1%} vs {b:.1%})."
    )
    for template, found in ((better, wins), (worse, losses)):
        for gap, c in found:
            sentences.append(
                template.format(
                    name_a=name_a,
                    name_b=name_b,
                    points=_points(gap),
                    corruption=corruption_label(c),
                    average=average,
                    a=a.mean(c),
                    b=b.mean(c),
                )
            )
    if not wins and not losses:
        sentences.append(
            _(
                "Under the variations the two models differ by less than {points} points "
                "everywhere, which is within what chance alone can explain on {n} images."
            ).format(points=_points(margin), n=min(a.n, b.n))
        )
    for name, result in ((name_a, a), (name_b, b)):
        drop = result.clean - result.mean_corrupted()
        text = (
            _("Averaged over all variations, {name} loses {points} points of its clean accuracy.")
            if drop >= 0
            else _(
                "Averaged over all variations, {name} gains {points} points over its clean "
                "accuracy."
            )
        )
        sentences.append(text.format(name=name, points=_points(drop)))
    if min(a.n, b.n) < 1000:
        sentences.append(
            _(
                "These figures come from {n} test images; differences under about {points} "
                "points may be chance. Use more images for firmer conclusions."
            ).format(n=min(a.n, b.n), points=_points(margin))
        )
    return _capitalised(sentences)


def _capitalised(sentences: list[str]) -> list[str]:
    return [t[:1].upper() + t[1:] for t in sentences]


def summarize(result: RobustnessResult, name: str, top: int = 3) -> list[str]:
    """Sentences for one model: its clean accuracy and the variations that hurt it most."""
    worst = sorted(result.corruptions, key=lambda c: result.clean - result.mean(c), reverse=True)
    lines = [
        _("{name} is right on {acc:.1%} of the unchanged photos.").format(
            name=name, acc=result.clean
        )
    ]
    for c in worst[:top]:
        lines.append(
            _("Under {corruption} it loses {points:.1f} points on average.").format(
                corruption=corruption_label(c),
                points=(result.clean - result.mean(c)) * 100,
            )
        )
    return lines
