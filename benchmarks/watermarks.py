"""How much does a watermark cost? ``python -m benchmarks.watermarks FOLD [--split val]``.

Web photos carry watermarks and date stamps, which the proxies (``benchmarks.proxies``) leave
out. Each photo of the split is answered as it is and with text written over it, the two ways
photo sites and cameras do it (OpenCV's Hershey font, a pure function of the photo and a seed):

- ``corner``: a name or a date in small opaque white letters (a twelfth of the photo's height)
  near a random corner, with a thin dark outline, as cameras stamp dates;
- ``across``: a photographer's name in large letters a third of the photo's height, white at
  40% opacity, across the middle, as stock-photo sites mark previews.

A measurement, not a choice: no rule and no threshold. The fold answers without calibration (the
answer, not its percentage, is measured). Writes ``benchmarks/results/watermarks.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import RESULTS, write_result
from benchmarks.proxies import version_probabilities

OUT = RESULTS / "watermarks.json"
WORDS = ("(c) J. Smith", "24 05 2019", "flickr.com/jsmith", "PHOTO: A. GARCIA", "12/08/2021 14:32")
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text_box(text: str, height: int) -> tuple[float, int, int]:
    """The font scale that makes ``text`` ``height`` pixels tall, and its width and height."""
    (w, h), _ = cv2.getTextSize(text, FONT, 1.0, 2)
    scale = height / h
    return scale, round(w * scale), height


def corner(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    text = str(rng.choice(WORDS))
    scale, tw, th = _text_box(text, max(6, h // 12))
    scale = min(scale, scale * (w * 0.9) / tw)  # no wider than the photo
    tw = min(tw, round(w * 0.9))
    margin = max(2, h // 40)
    left = margin if rng.random() < 0.5 else w - tw - margin
    base = th + margin if rng.random() < 0.5 else h - margin
    thick = max(1, round(scale * 2))
    out = x.copy()
    cv2.putText(out, text, (left, base), FONT, scale, (20, 20, 20), thick + 2, cv2.LINE_AA)
    cv2.putText(out, text, (left, base), FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def across(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    text = str(rng.choice(WORDS[::2]))
    scale, tw, th = _text_box(text, h // 3)
    scale = min(scale, scale * (w * 0.95) / tw)
    tw, th = min(tw, round(w * 0.95)), round(th * min(1.0, (w * 0.95) / tw))
    layer = x.copy()
    thick = max(1, round(scale * 3))
    cv2.putText(
        layer,
        text,
        ((w - tw) // 2, (h + th) // 2),
        FONT,
        scale,
        (255, 255, 255),
        thick,
        cv2.LINE_AA,
    )
    return cv2.addWeighted(layer, 0.4, x, 0.6, 0)


VERSIONS = {"clean": lambda x, rng: x, "corner": corner, "across": across}


def watermarked(photo: np.ndarray, index: int, size: int) -> dict[str, np.ndarray]:
    """Each version of a photo, cropped for the model."""
    from flowerdash.data.images import prepare_for_model

    return {
        name: prepare_for_model(change(photo, np.random.default_rng([index, k])), size)
        .round()
        .astype(np.uint8)
        for k, (name, change) in enumerate(VERSIONS.items())
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.watermarks", description=__doc__)
    parser.add_argument("fold", type=Path, help="a checkpoint that never trained on the split")
    parser.add_argument("--split", default="val", choices=("val", "train"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from benchmarks.machine import describe
    from flowerdash.data.sources import get_source

    probs, labels = version_probabilities(
        args.fold, get_source(), args.split, args.limit, watermarked
    )
    top1 = {name: float((p.argmax(axis=1) == labels).mean()) for name, p in probs.items()}
    print(", ".join(f"{k} {v:.1%}" for k, v in top1.items()))
    write_result(
        args.out,
        {
            "machine": describe(),
            "fold": args.fold.name,
            "split": args.split,
            "n": int(len(labels)),
            "top1": top1,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
