"""Write the training photo of each flower that Try it shows beside an unsure answer:
``python -m benchmarks.class_photos`` (needs the dataset; writes ``flowerdash/examples/classes/``).

For each class, its first photo of the official training split (in split order), centre-cropped
and made small enough that all 102 ship with the package, so the comparison works without the
dataset. The list of source files goes to ``flowerdash/examples/classes/sources.json``.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from flowerdash.examples import CLASS_PHOTOS_DIR, class_photo_file

SIZE = 144  # shown a third of the answer column wide
QUALITY = 82


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.class_photos", description=__doc__)
    parser.add_argument("--out", type=Path, default=CLASS_PHOTOS_DIR)
    args = parser.parse_args(argv)

    from flowerdash.data.classes import CLASS_NAMES
    from flowerdash.data.images import prepare_for_model
    from flowerdash.data.sources import get_source

    source = get_source()
    train = source.split("train")
    args.out.mkdir(parents=True, exist_ok=True)
    sources = {}
    for label, name in enumerate(CLASS_NAMES):
        index = int(np.flatnonzero(train.labels == label)[0])
        image = prepare_for_model(source.read_image("train", index), SIZE)
        buffer = io.BytesIO()
        Image.fromarray(image.round().astype(np.uint8)).save(buffer, "JPEG", quality=QUALITY)
        (args.out / class_photo_file(label)).write_bytes(buffer.getvalue())
        sources[class_photo_file(label)] = {"class": name, "original": train.files[index]}
    (args.out / "sources.json").write_text(json.dumps(sources, indent=1) + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in args.out.glob("*.jpg"))
    print(f"{len(sources)} photos, {total / 1e3:.0f} kB, in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
