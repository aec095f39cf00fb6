"""``python -m benchmarks.colour_profile CHECKPOINT``: what reading a phone's colour profile is worth.

Phones store photos as Display P3 numbers with the profile that says so. Every photo of a
split is stored that way here (converted from sRGB with :mod:`benchmarks.icc`'s profile, saved
as a lossless PNG carrying it), then scored three ways: the photo as it is (sRGB), the stored
numbers read as if they were sRGB (what ignoring the profile gives), and the file read by
``load_image`` (which converts the profile to sRGB). Writes
``benchmarks/results/colour-profile.json``. Use a train-only fold on ``val``, as the proxies do.
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, write_result

OUT = RESULTS / "colour-profile.json"
VERSIONS = ("srgb", "p3_numbers_as_srgb", "p3_file_read")


def versions(image: np.ndarray) -> dict[str, np.ndarray]:
    """The photo, its Display P3 numbers, and what ``load_image`` reads from the tagged file."""
    from benchmarks.icc import as_display_p3
    from flowerdash.data.images import load_image

    stored, p3 = as_display_p3(image)
    buf = io.BytesIO()
    stored.save(buf, "PNG", icc_profile=p3)
    return {
        "srgb": image,
        "p3_numbers_as_srgb": np.asarray(stored),
        "p3_file_read": load_image(buf.getvalue()),
    }


def run(checkpoint: str, split: str = "val", limit: int | None = None) -> dict[str, Any]:
    """Top-1 of the checkpoint on each version of every photo of the split."""
    from flowerdash.data.images import prepare_for_model
    from flowerdash.data.sources import get_source
    from flowerdash.inference.evaluation import file_hash
    from flowerdash.inference.litert import batch_predictor
    from flowerdash.models.backbones import input_size
    from flowerdash.models.checkpoints import MODEL_FILE, load_model

    model = load_model(checkpoint)
    size, predict = input_size(model), batch_predictor(model)
    source = get_source()
    labels = source.split(split).labels[:limit]
    right = {v: 0 for v in VERSIONS}
    batch: dict[str, list[np.ndarray]] = {v: [] for v in VERSIONS}

    def score(upto: int) -> None:
        for v in VERSIONS:
            if batch[v]:
                answers = predict(np.stack(batch[v])).argmax(axis=1)
                right[v] += int((answers == labels[upto - len(answers) : upto]).sum())
                batch[v].clear()

    for i in range(len(labels)):
        for v, image in versions(source.read_image(split, i)).items():
            batch[v].append(prepare_for_model(image, size))
        if len(batch["srgb"]) == 64:
            score(i + 1)
        print(f"\r{i + 1}/{len(labels)}", end="", flush=True)
    score(len(labels))
    print()
    return {
        "checkpoint": checkpoint,
        "model_hash": file_hash(Path(checkpoint) / MODEL_FILE),
        "split": split,
        "photos": len(labels),
        "top1": {v: right[v] / len(labels) for v in VERSIONS},
    }


def main(argv: list[str] | None = None) -> int:
    """Run it, save the JSON, print one line per version."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.colour_profile")
    parser.add_argument("checkpoint", help="a train-only fold, scored on val")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=None, help="only the first n photos")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = run(args.checkpoint, args.split, args.limit)
    write_result(args.out, result)
    for v, top1 in result["top1"].items():
        print(f"{v}: {top1:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
