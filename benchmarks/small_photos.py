"""How small may a photo be before the model's percentages stop meaning what they say, and what
they should say below that: ``python -m benchmarks.small_photos --fold FOLD [--test MODEL]``.

People upload thumbnails too. Every photo is enlarged to the model's size, so a 24-pixel icon
gets an answer, and an enlarged blur can look to the model like a flower it is sure of. Each
validation photo is shrunk the way a thumbnail is made (Pillow's ``thumbnail``: bicubic,
antialiased) until its shorter side is one of ``SIZES``, then answered as ``predict`` answers it
(enlarged and centre-cropped to the model's size by ``prepare_for_model``). ``FOLD`` is the
shipped recipe trained on the training photos only, with the shipped temperature
(``results/calibration.json``), as for ``benchmarks.unsure``. Two rules, fixed before the table
was computed:

* **the notice** ("this photo is small") shows below the smallest size from which on, at every
  larger size too, the sure answers (at or above ``reading.UNSURE_BELOW``) are right at least
  90% of the time: one sure answer in ten may be wrong, not more;
* **the size temperatures**: at each size, the temperature that fits the answers best (least log
  loss) on top of the shipped one; then, from the largest size down, each at least 1 and at least
  the next larger size's, so a smaller photo is never answered more surely than a larger one nor
  than the full-size calibration says. Between two sizes the temperature is interpolated on log
  size; from the largest size up it is 1.

Writes ``benchmarks/results/small-photos.json``; ``reading.SMALL_PHOTO_BELOW`` and
``calibration.SIZE_TEMPERATURES`` must equal the choices (a test checks them). ``--test`` also
reports the shipped model on the test photos, before and after (report only). ``--split train``
measures the second fold (trained on the validation photos) on the training photos, with the
table in the code as well as its own (``--out`` elsewhere: ``small-photos-second-fold.json``).
Its rule, fixed before its numbers: the table fitted on the first fold holds if, with it, the
second fold's ECE is at most 0.05 at every size up to 96 px and below its ECE without it at every
size below 96 px; if not, the table is to be fitted on both folds' answers pooled: ``--pool
SECOND_FOLD`` (with ``--split val``) adds the second fold's answers on the training photos to the
fit. The notice stays chosen on the first fold, and ``val_crossfitted`` scores each validation
photo with the table fitted on the other half of the pooled answers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, ROOT, write_result

OUT = RESULTS / "small-photos.json"
CALIBRATION = RESULTS / "calibration.json"
SIZES = (16, 24, 32, 48, 64, 96, 128, 160, 192, 256)
SURE_ACCURACY = 0.90  # the rule's bar for sure answers on small photos


def shrink(image: np.ndarray, shorter: int) -> np.ndarray:
    """The photo as a thumbnail whose shorter side is ``shorter`` pixels (never enlarged)."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = shorter / min(h, w)
    if scale >= 1:
        return image
    im = Image.fromarray(image)
    im.thumbnail((max(1, round(w * scale)), max(1, round(h * scale))))
    return np.asarray(im)


def size_probabilities(
    checkpoint: Path, source: Any, split: str, limit: int | None
) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """The checkpoint's probabilities for every photo of ``split`` at every size, and labels."""
    from benchmarks.proxies import version_probabilities
    from flowerdash.data.images import prepare_for_model

    def thumbnails(photo: np.ndarray, _index: int, size: int) -> dict[int, np.ndarray]:
        return {s: prepare_for_model(shrink(photo, s), size) for s in SIZES}

    probs, labels = version_probabilities(checkpoint, source, split, limit, thumbnails)
    return {s: p.astype(np.float64) for s, p in probs.items()}, labels.astype(np.int64)


def table(probs: dict[int, np.ndarray], labels: np.ndarray) -> list[dict[str, Any]]:
    """Per size: accuracy, mean confidence, ECE, and how often sure answers are given and right."""
    from flowerdash.explain.reading import is_unsure
    from flowerdash.inference.calibration import reliability

    rows = []
    for s, p in probs.items():
        top = p.max(axis=1)
        right = p.argmax(axis=1) == labels
        sure = ~np.vectorize(is_unsure)(top)
        rel = reliability(top, right)
        rows.append(
            {
                "shorter_side": s,
                "top1": float(right.mean()),
                "mean_confidence": float(top.mean()),
                "ece": rel.ece,
                "sure_share": float(sure.mean()),
                "sure_accuracy": float(right[sure].mean()) if sure.any() else None,
            }
        )
    return rows


def choose(rows: list[dict[str, Any]]) -> int:
    """The rule: the smallest size from which on sure answers are right ``SURE_ACCURACY``."""
    chosen = rows[-1]["shorter_side"]
    for row in reversed(rows):
        accuracy = row["sure_accuracy"]
        if accuracy is not None and accuracy < SURE_ACCURACY:
            break
        chosen = row["shorter_side"]
    return chosen


def size_temperatures(
    probs: dict[int, np.ndarray], labels: np.ndarray
) -> tuple[dict[int, float], tuple[tuple[int, float], ...]]:
    """The rule: each size's best temperature, and the table made from them (at least 1, never
    below a larger size's; 1 at the largest size, the calibration photos' own)."""
    from flowerdash.inference.calibration import fit_temperature

    sizes = sorted(probs)
    fitted = {s: fit_temperature(probs[s], labels) for s in sizes[:-1]}
    made = [(sizes[-1], 1.0)]
    for s in reversed(sizes[:-1]):
        made.append((s, max(1.0, fitted[s], made[-1][1])))
    return fitted, tuple(reversed(made))


def tempered(
    probs: dict[int, np.ndarray], temperatures: tuple[tuple[int, float], ...]
) -> dict[int, np.ndarray]:
    """Each size's probabilities as the product shows them with the table ``temperatures``."""
    from flowerdash.inference.calibration import apply_temperature, size_temperature

    return {s: apply_temperature(p, size_temperature(s, temperatures)) for s, p in probs.items()}


def pooled(
    *answers: tuple[dict[int, np.ndarray], np.ndarray],
) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Several folds' (probabilities by size, labels) as one set of answers."""
    sizes = answers[0][0]
    return (
        {s: np.concatenate([probs[s] for probs, _labels in answers]) for s in sizes},
        np.concatenate([labels for _probs, labels in answers]),
    )


def crossfitted(probs: dict[int, np.ndarray], labels: np.ndarray) -> dict[int, np.ndarray]:
    """Each photo's probabilities tempered with the table fitted on the other half of the photos
    (odd and even positions), so the ECE after is measured on photos the fit did not see."""
    half = np.arange(len(labels)) % 2
    out = {s: np.empty_like(p) for s, p in probs.items()}
    for h in (0, 1):
        _fitted, other_half = size_temperatures(
            {s: p[half != h] for s, p in probs.items()}, labels[half != h]
        )
        for s, p in tempered({s: p[half == h] for s, p in probs.items()}, other_half).items():
            out[s][half == h] = p
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.small_photos", description=__doc__)
    parser.add_argument("--fold", type=Path, required=True)
    parser.add_argument(
        "--split",
        default="val",
        choices=("val", "train"),
        help="the photos the fold never trained on: val (default), or train for the second "
        "fold (trained on val), which also reports the table in the code on them",
    )
    parser.add_argument("--limit", type=int, default=None, help="photos of the split (all)")
    parser.add_argument("--test", type=Path, default=None, help="also report this model on test")
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--pool",
        type=Path,
        default=None,
        help="the second fold: fit the size temperatures on its answers on the training photos "
        "and the first fold's pooled (the second-fold rule's fallback; with --split val)",
    )
    args = parser.parse_args(argv)
    if args.pool is not None and args.split != "val":
        parser.error("--pool pools the second fold with the first: use it with --split val")

    from benchmarks.machine import describe
    from flowerdash.data.sources import get_source
    from flowerdash.explain.reading import UNSURE_BELOW
    from flowerdash.inference.calibration import SIZE_TEMPERATURES, apply_temperature

    source, split = get_source(), args.split
    temperature = json.loads(CALIBRATION.read_text())["temperature"]
    probs, labels = size_probabilities(args.fold, source, split, args.limit)
    probs = {s: apply_temperature(p, temperature) for s, p in probs.items()}
    rows = table(probs, labels)
    chosen = choose(rows)
    fit_on = (probs, labels)
    if args.pool is not None:
        more, more_labels = size_probabilities(args.pool, source, "train", args.limit)
        more = {s: apply_temperature(p, temperature) for s, p in more.items()}
        fit_on = pooled(fit_on, (more, more_labels))
    fitted, temperatures = size_temperatures(*fit_on)
    # each photo of the split tempered by a table fitted on the other half of what the fit saw
    crossed = {s: p[: len(labels)] for s, p in crossfitted(*fit_on).items()}
    result: dict[str, Any] = {
        "machine": describe(),
        "rule": f"the smallest shorter side on {list(SIZES)} from which on, at every larger size "
        f"too, sure answers (at or above {UNSURE_BELOW:.0%}) are right at least "
        f"{SURE_ACCURACY:.0%} of the time on {'validation' if split == 'val' else split}",
        "fold": args.fold.name,
        "pooled_with": None if args.pool is None else args.pool.name,
        "temperature": temperature,
        f"{split}_n": int(len(labels)),
        split: rows,
        "small_photo_below": chosen,
        "fitted_temperatures": {str(s): t for s, t in fitted.items()},
        "size_temperatures": [[s, round(t, 3)] for s, t in temperatures],
        f"{split}_after": table(tempered(probs, temperatures), labels),
        f"{split}_crossfitted": table(crossed, labels),
    }
    if split != "val":  # does the table fitted on the first fold hold on the second?
        result[f"{split}_shipped_table"] = table(tempered(probs, SIZE_TEMPERATURES), labels)
    after_rows, crossed_rows = result[f"{split}_after"], result[f"{split}_crossfitted"]
    for row, (_s, t), after, crossed in zip(
        rows, temperatures, after_rows, crossed_rows, strict=True
    ):
        print(
            f"{row['shorter_side']:>4} px: {row['top1']:.1%} right, mean confidence "
            f"{row['mean_confidence']:.1%}, sure {row['sure_share']:.1%} of the time, "
            f"sure answers right {row['sure_accuracy'] or 0:.1%}, ECE {row['ece']:.3f}; "
            f"T {t:.3f}: mean confidence {after['mean_confidence']:.1%}, ECE {after['ece']:.3f} "
            f"(cross-fitted {crossed['ece']:.3f})"
        )
    print(f"notice below {chosen} px ({split})")
    if args.test is not None:
        # The shipped model holds its temperature: its probabilities are taken as they are.
        test_probs, test_labels = size_probabilities(args.test, source, "test", args.test_limit)
        result |= {
            "test_model": str(
                args.test.relative_to(ROOT) if args.test.is_absolute() else args.test
            ),
            "test_n": int(len(test_labels)),
            "test": table(test_probs, test_labels),
            "test_after": table(tempered(test_probs, temperatures), test_labels),
        }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
