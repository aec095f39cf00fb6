"""A miniature Oxford Flowers102 in the official file formats, generated for the core tier.

Every one of the 102 labels has :data:`PER_CLASS` small JPEGs (sizes and aspect ratios vary,
like the real photos). The disc in the middle of each photo has its class's colour
(:func:`class_colour`, far enough apart that JPEG never confuses two), so a test can check
that a pipeline keeps each image with its label, and a tiny model can learn the classes.
The official download is three files: ``102flowers.tgz`` (a ``jpg/`` folder),
``imagelabels.mat`` and ``setid.mat``; :func:`write_folder` lays them out as flowerdash's
folder source expects, :func:`write_download` as the VGG server (and so TFDS) serves them.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np

NUM_CLASSES = 102
# Per class: 2 train, 1 val, 2 test photos.
SPLIT_PER_CLASS = {"trnid": 2, "valid": 1, "tstid": 2}
PER_CLASS = sum(SPLIT_PER_CLASS.values())
SIZES = {"train": 2 * NUM_CLASSES, "val": NUM_CLASSES, "test": 2 * NUM_CLASSES}
_LEVELS = (0, 64, 128, 192, 255)


def class_colour(label: int) -> np.ndarray:
    """The disc colour of class ``label`` (0-based): a point of a 5x5x5 RGB grid, 64 apart."""
    r, g, b = np.unravel_index(label + 12, (5, 5, 5))  # skip the darkest greys
    return np.array([_LEVELS[r], _LEVELS[g], _LEVELS[b]], np.uint8)


def nearest_class(rgb: np.ndarray) -> int:
    """The class whose colour is nearest to ``rgb`` (the inverse of :func:`class_colour`)."""
    colours = np.stack([class_colour(c) for c in range(NUM_CLASSES)]).astype(np.float32)
    return int(np.argmin(((colours - np.asarray(rgb, np.float32)) ** 2).sum(axis=1)))


def _labels_and_splits(seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """1-based labels of images 1..N and the 1-based image ids of each split (shuffled ids)."""
    rng = np.random.default_rng(seed)
    n = NUM_CLASSES * PER_CLASS
    labels = np.empty(n, np.int64)
    splits: dict[str, list[int]] = {k: [] for k in SPLIT_PER_CLASS}
    ids = rng.permutation(n) + 1  # image ids in no particular class order, like the real files
    it = iter(ids)
    for c in range(NUM_CLASSES):
        for key, count in SPLIT_PER_CLASS.items():
            for _ in range(count):
                i = int(next(it))
                labels[i - 1] = c + 1
                splits[key].append(i)
    return labels, {k: np.sort(np.array(v, np.int64)) for k, v in splits.items()}


def split_files(split: str, seed: int = 0) -> tuple[str, ...]:
    """File names of a split ("train", "val" or "test") in official order (ascending ids)."""
    key = {"train": "trnid", "val": "valid", "test": "tstid"}[split]
    return tuple(f"image_{i:05d}.jpg" for i in _labels_and_splits(seed)[1][key])


def _photo(label: int, rng: np.random.Generator) -> np.ndarray:
    h, w = (int(v) for v in rng.choice([(48, 64), (64, 48), (56, 56), (40, 72)]))
    image = np.empty((h, w, 3), np.float32)
    image[:] = (60, 110, 50)  # leafy background
    image += rng.normal(0, 12, image.shape)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = h / 2 + rng.uniform(-3, 3), w / 2 + rng.uniform(-3, 3)
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= (0.32 * min(h, w)) ** 2
    image[disc] = class_colour(label)
    return image.clip(0, 255).astype(np.uint8)


def _jpegs(labels: np.ndarray, seed: int) -> dict[str, bytes]:
    from PIL import Image

    rng = np.random.default_rng(seed + 1)
    out = {}
    for i, label in enumerate(labels, start=1):
        buf = io.BytesIO()
        Image.fromarray(_photo(int(label) - 1, rng)).save(buf, format="JPEG", quality=92)
        out[f"image_{i:05d}.jpg"] = buf.getvalue()
    return out


def _write_mats(root: Path, labels: np.ndarray, splits: dict[str, np.ndarray]) -> None:
    from scipy.io import savemat

    # The official files hold 1 x N rows of integers (labels uint8, image ids uint16); TFDS's
    # builder indexes with the ids, so doubles would break it.
    savemat(root / "imagelabels.mat", {"labels": labels[None].astype(np.uint8)})
    savemat(root / "setid.mat", {k: v[None].astype(np.uint16) for k, v in splits.items()})


def write_folder(root: Path, seed: int = 0) -> Path:
    """The folder layout (``jpg/``, ``imagelabels.mat``, ``setid.mat``) under ``root``."""
    root = Path(root)
    (root / "jpg").mkdir(parents=True, exist_ok=True)
    labels, splits = _labels_and_splits(seed)
    for name, data in _jpegs(labels, seed).items():
        (root / "jpg" / name).write_bytes(data)
    _write_mats(root, labels, splits)
    return root


def write_download(root: Path, seed: int = 0) -> Path:
    """The three files of the official download (``102flowers.tgz``, a gzipped tar of ``jpg/``)
    under ``root``: the same images as :func:`write_folder` with the same seed."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    labels, splits = _labels_and_splits(seed)
    with tarfile.open(root / "102flowers.tgz", "w:gz") as tar:
        for name, data in _jpegs(labels, seed).items():
            info = tarfile.TarInfo(f"jpg/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _write_mats(root, labels, splits)
    return root
