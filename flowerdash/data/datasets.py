"""Oxford Flowers102 from two sources with one result, and the tf.data pipelines over it.

Sources:
- ``FolderSource``: a folder in the official VGG layout (``jpg/``, ``imagelabels.mat``,
  ``setid.mat``, optional ``class_names.json``); works offline.
- ``TfdsSource``: TensorFlow Datasets ``oxford_flowers102``, once downloaded and prepared by
  :mod:`flowerdash.data.download` (the dashboard's Download button or
  ``python -m flowerdash download``); reading it never downloads.

Both give the official splits (train 1,020 / val 1,020 / test 6,149), labels 0..101 and the
image file name (``image_00001.jpg``), so a prediction can always be traced back to its file.
"""

from __future__ import annotations

import json
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from flowerdash.data.classes import CLASS_NAMES, NUM_CLASSES
from flowerdash.errors import ConfigError, DatasetError, DatasetNotHere
from flowerdash.i18n import N_, _
from flowerdash.settings import ENV_DATA_DIR, load_settings

if TYPE_CHECKING:
    import tensorflow as tf

    from flowerdash.data.augment import AugmentConfig

SPLITS = ("train", "val", "test")
OFFICIAL_SIZES = {"train": 1020, "val": 1020, "test": 6149}
_SETID_KEYS = {"train": "trnid", "val": "valid", "test": "tstid"}
_TFDS_SPLITS = {"train": "train", "val": "validation", "test": "test"}

_HOW_TO_FIX = N_(
    "Point flowerdash at a folder with the official Oxford Flowers102 files by setting "
    "{variable} (or data_dir in flowerdash.toml), or download it with TensorFlow Datasets "
    "(the Download button on the Audit page, or python -m flowerdash download)."
)
_FIX_BAD_IMAGES = N_(
    "re-download the official images (102flowers.tgz) or copy these files again from a good "
    "copy, then reload."
)


def how_to_fix() -> str:
    """How to get the dataset, in the current language."""
    return _(_HOW_TO_FIX).format(variable=ENV_DATA_DIR)


def fix_bad_images() -> str:
    """How to repair damaged dataset images, in the current language."""
    return _(_FIX_BAD_IMAGES)


# Leading bytes of the formats tf.io.decode_jpeg decodes to one RGB image (JPEG, PNG, GIF).
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8")
_JPEG_END = b"\xff\xd9"
_TAIL_BYTES = 4096  # where a complete JPEG's end-of-image marker is looked for
_MISSING = "missing"


def _quick_image_check(path: Path) -> str | None:
    """Why ``path`` is not a readable image (missing, empty, not an image, truncated), or None.

    Reads two small blocks per file (the start and the last 4 KiB), so checking all 8,189
    images costs about a tenth of a second; damage inside the compressed data is only found by
    decoding (see :func:`undecodable_images`).
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return _MISSING
    except OSError as exc:
        return _("cannot be opened: {reason}").format(reason=exc.strerror or exc)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return _MISSING
        size = info.st_size
        if size == 0:
            return _("empty file")
        head = os.pread(fd, 4, 0)
        if not head.startswith(_IMAGE_MAGIC):
            return _("not a JPEG, PNG or GIF image")
        # A JPEG ends with its end-of-image marker; allow a little padding after it.
        if head.startswith(_IMAGE_MAGIC[0]) and _JPEG_END not in os.pread(
            fd, _TAIL_BYTES, max(size - _TAIL_BYTES, 0)
        ):
            return _("truncated: the JPEG has no end marker")
    except OSError as exc:
        return _("cannot be read: {reason}").format(reason=exc.strerror or exc)
    finally:
        os.close(fd)
    return None


@dataclass(frozen=True)
class SplitIndex:
    """The images of one split: file names and 0-based labels, in official order."""

    name: str
    files: tuple[str, ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.files)


def _check_split(name: str) -> str:
    if name not in SPLITS:
        raise ConfigError(
            _("Unknown split {name}; choose one of {choices}.").format(
                name=repr(name), choices=", ".join(SPLITS)
            )
        )
    return name


class DatasetSource(ABC):
    """Where the images come from; every source yields the same splits, labels and names."""

    kind: str = "abstract"

    @property
    @abstractmethod
    def description(self) -> str:
        """A human-readable description, e.g. the folder path."""

    @property
    def class_names(self) -> tuple[str, ...]:
        """The 102 category names, index = label."""
        return CLASS_NAMES

    @abstractmethod
    def split(self, name: str) -> SplitIndex:
        """Return the file names and labels of a split."""

    @abstractmethod
    def raw_dataset(self, name: str, indices: np.ndarray | None = None) -> tf.data.Dataset:
        """Yield ``(image uint8 [H,W,3], label int64, file_name string)`` in index order."""

    @abstractmethod
    def read_image(self, split: str, index: int) -> np.ndarray:
        """Decode one image of a split as uint8 RGB at its stored resolution."""

    def sizes(self) -> dict[str, int]:
        """Number of images per split."""
        return {s: len(self.split(s)) for s in SPLITS}


class FolderSource(DatasetSource):
    """The official download layout in a local folder."""

    kind = "folder"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self._validate_layout()

    @property
    def description(self) -> str:
        return f"folder {self.root}"

    def _validate_layout(self) -> None:
        if not self.root.is_dir():
            raise DatasetError(
                _("The dataset folder {path} does not exist.").format(path=self.root)
                + " "
                + how_to_fix()
            )
        missing = [
            n for n in ("jpg", "imagelabels.mat", "setid.mat") if not (self.root / n).exists()
        ]
        if missing:
            raise DatasetError(
                _(
                    "The dataset folder {path} is missing {missing} "
                    "(expected the official layout: jpg/, imagelabels.mat, setid.mat)."
                ).format(path=self.root, missing=", ".join(missing))
                + " "
                + how_to_fix()
            )

    @cached_property
    def _labels(self) -> np.ndarray:
        labels = self._loadmat("imagelabels.mat", "labels").astype(np.int64) - 1
        if labels.min() < 0 or labels.max() >= NUM_CLASSES:
            raise DatasetError(
                _(
                    "{path} holds labels outside 1..{count}; "
                    "it is not the Oxford Flowers102 label file."
                ).format(path=self.root / "imagelabels.mat", count=NUM_CLASSES)
            )
        return labels

    def _loadmat(self, filename: str, key: str) -> np.ndarray:
        from scipy.io import loadmat

        path = self.root / filename
        try:
            content = loadmat(path)
        except Exception as exc:  # scipy raises several unrelated types for a bad file
            raise DatasetError(
                _("{path} could not be read as a MATLAB file: {error}").format(path=path, error=exc)
            ) from exc
        if key not in content:
            raise DatasetError(
                _("{path} has no '{key}' entry; it is not the official file.").format(
                    path=path, key=key
                )
            )
        return np.asarray(content[key]).reshape(-1)

    @cached_property
    def class_names(self) -> tuple[str, ...]:
        path = self.root / "class_names.json"
        if not path.is_file():
            return CLASS_NAMES
        try:
            names = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(
                _("{path} is not a readable JSON list of names: {error}").format(
                    path=path, error=exc
                )
            ) from exc
        if not isinstance(names, list) or len(names) != NUM_CLASSES:
            raise DatasetError(
                _("{path} must hold a list of {count} class names.").format(
                    path=path, count=NUM_CLASSES
                )
            )
        return tuple(str(n) for n in names)

    @cached_property
    def _splits(self) -> dict[str, SplitIndex]:
        labels = self._labels
        out = {}
        for name, key in _SETID_KEYS.items():
            ids = self._loadmat("setid.mat", key).astype(np.int64)
            if ids.min() < 1 or ids.max() > len(labels):
                raise DatasetError(
                    _("setid.mat refers to image {index} but imagelabels.mat has {count}.").format(
                        index=ids.max(), count=len(labels)
                    )
                )
            files = tuple(f"image_{i:05d}.jpg" for i in ids)
            problems = {f: p for f in files if (p := _quick_image_check(self.image_path(f)))}
            missing = [f for f, p in problems.items() if p == _MISSING]
            if missing:
                shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
                raise DatasetError(
                    _(
                        "The {split} split lists {count} image(s) that are not in "
                        "{path}: {files}. The download looks incomplete; {fix}"
                    ).format(
                        split=name,
                        count=len(missing),
                        path=self.root / "jpg",
                        files=shown,
                        fix=how_to_fix(),
                    )
                )
            if problems:
                shown = ", ".join(f"{f} ({p})" for f, p in list(problems.items())[:5])
                raise DatasetError(
                    _(
                        "The {split} split has {count} image(s) in {path} that "
                        "cannot be read: {files}. flowerdash does "
                        "not skip them (that would quietly change the split); {fix}"
                    ).format(
                        split=name,
                        count=len(problems),
                        path=self.root / "jpg",
                        files=shown + (" …" if len(problems) > 5 else ""),
                        fix=fix_bad_images(),
                    )
                )
            out[name] = SplitIndex(name, files, labels[ids - 1])
        return out

    def split(self, name: str) -> SplitIndex:
        return self._splits[_check_split(name)]

    def image_path(self, file_name: str) -> Path:
        """Path of an image file inside the folder."""
        return self.root / "jpg" / file_name

    def raw_dataset(self, name: str, indices: np.ndarray | None = None) -> tf.data.Dataset:
        import tensorflow as tf

        index = self.split(name)
        sel = np.arange(len(index)) if indices is None else np.asarray(indices, dtype=np.int64)
        files = [index.files[i] for i in sel]
        paths = [str(self.image_path(f)) for f in files]
        ds = tf.data.Dataset.from_tensor_slices((paths, index.labels[sel], files))

        def load(path, label, file_name):
            image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
            return image, label, file_name

        return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def read_image(self, split: str, index: int) -> np.ndarray:
        from flowerdash.data.images import load_image

        return load_image(self.image_path(self.split(split).files[index]))


class TfdsSource(DatasetSource):
    """TensorFlow Datasets ``oxford_flowers102``, once prepared (see ``dataset_download``)."""

    kind = "tfds"
    NAME = "oxford_flowers102"

    def __init__(self, data_dir: str | None = None) -> None:
        self.data_dir = data_dir

    @property
    def description(self) -> str:
        return "TensorFlow Datasets oxford_flowers102"

    def is_prepared(self) -> bool:
        """Whether the dataset is already on this machine (DatasetError if TFDS cannot run)."""
        from flowerdash.data import download

        return download.is_prepared(self.data_dir)

    def require_prepared(self) -> None:
        """DatasetNotHere (saying how to get it) unless the dataset is already on this machine.

        Reading never downloads: a page or command must not start a 345 MB download as a side
        effect (dataset_download does it on request, with progress and cancel).
        """
        if not self.is_prepared():
            raise DatasetNotHere(_("The dataset is not on this machine yet.") + " " + how_to_fix())

    @cached_property
    def _builder(self):
        from flowerdash.data import download

        self.require_prepared()
        return download.builder(self.data_dir)

    def _load(self, name: str) -> tf.data.Dataset:
        return self._builder.as_dataset(split=_TFDS_SPLITS[_check_split(name)], shuffle_files=False)

    @cached_property
    def _splits(self) -> dict[str, SplitIndex]:
        out = {}
        for name in SPLITS:
            files, labels = [], []
            for ex in (
                self._load(name).map(lambda e: (e["file_name"], e["label"])).as_numpy_iterator()
            ):
                files.append(ex[0].decode())
                labels.append(int(ex[1]))
            order = np.argsort(files)  # TFDS order is arbitrary; sort by name like the .mat order
            out[name] = SplitIndex(
                name, tuple(files[i] for i in order), np.asarray(labels, np.int64)[order]
            )
        return out

    def split(self, name: str) -> SplitIndex:
        return self._splits[_check_split(name)]

    def raw_dataset(self, name: str, indices: np.ndarray | None = None) -> tf.data.Dataset:
        """Like the folder source, but in TFDS record order (each item carries its file name)."""
        import tensorflow as tf

        index = self.split(name)
        ds = self._load(name).map(
            lambda e: (e["image"], tf.cast(e["label"], tf.int64), e["file_name"])
        )
        if indices is None:
            return ds
        wanted = tf.constant([index.files[int(i)] for i in indices])
        return ds.filter(lambda image, label, file_name: tf.reduce_any(tf.equal(file_name, wanted)))

    def read_image(self, split: str, index: int) -> np.ndarray:
        """Decoded from the stored JPEG by the folder source's decoder, so both give the same
        pixels (TensorFlow's and Pillow's JPEG decoders differ by a few levels)."""
        import tensorflow as tf
        import tensorflow_datasets as tfds

        from flowerdash.data.images import load_image

        wanted = self.split(split).files[index]
        records = self._builder.as_dataset(
            split=_TFDS_SPLITS[split],
            shuffle_files=False,
            decoders={"image": tfds.decode.SkipDecoding()},
        )
        for record in records.filter(lambda e: tf.equal(e["file_name"], wanted)).take(1):
            return load_image(record["image"].numpy())
        raise DatasetError(
            _("The {split} split has no image named {name}.").format(split=split, name=repr(wanted))
        )


def get_source(data_dir: str | Path | None = None) -> DatasetSource:
    """The configured source: an explicit folder, else the settings, else TFDS."""
    if data_dir is None:
        data_dir = load_settings().data_dir
    return FolderSource(data_dir) if data_dir else TfdsSource()


def resize_and_crop(image: tf.Tensor, image_size: int) -> tf.Tensor:
    """Resize so the shorter side is ``image_size``, then centre-crop; float32 0..255."""
    import tensorflow as tf

    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(image_size, tf.float32) / tf.reduce_min(shape)
    new = tf.cast(tf.math.ceil(shape * scale), tf.int32)
    resized = tf.image.resize(image, new, method="bilinear", antialias=True)
    cropped = tf.image.resize_with_crop_or_pad(resized, image_size, image_size)
    return tf.clip_by_value(cropped, 0.0, 255.0)


def split_size(source: DatasetSource, split: str) -> int:
    """Number of images of a split, or of a combination such as ``"train+val"``."""
    return sum(len(source.split(part)) for part in split.split("+"))


def _raw_combined(source: DatasetSource, split: str, indices: np.ndarray) -> tf.data.Dataset:
    """Raw records of one split or of several joined by '+', for indices into the combination."""
    parts = split.split("+")
    if len(parts) == 1:
        return source.raw_dataset(split, indices)
    datasets, offset = [], 0
    for part in parts:
        n = len(source.split(part))
        mine = indices[(indices >= offset) & (indices < offset + n)] - offset
        if len(mine):
            datasets.append(source.raw_dataset(part, mine))
        offset += n
    ds = datasets[0]
    for more in datasets[1:]:
        ds = ds.concatenate(more)
    return ds


def select_indices(n: int, limit: int | None, seed: int) -> np.ndarray:
    """All indices, or a seeded random subset of ``limit`` of them in ascending order."""
    if limit is None or limit >= n:
        return np.arange(n)
    if limit < 1:
        raise ConfigError(_("A dataset limit must be at least 1 image."))
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def pipeline_files(
    source: DatasetSource, split: str, limit: int | None = None, seed: int = 0
) -> list[str]:
    """File names of a split (or '+' combination) in the order an evaluation pipeline yields them."""
    names = [f for part in split.split("+") for f in source.split(part).files]
    return [names[i] for i in select_indices(len(names), limit, seed)]


def undecodable_images(
    source: DatasetSource, files: Sequence[str], first_only: bool = False
) -> list[str]:
    """The ``files`` (names in the dataset folder) that TensorFlow cannot read and decode.

    Slow (decodes every file it is given): it is what names the culprit after a pipeline failed
    with a decoding error. ``first_only`` stops at the first bad file. TFDS records were verified
    when TFDS prepared them, so other sources return [].
    """
    import tensorflow as tf

    if not isinstance(source, FolderSource):
        return []
    bad = []
    for name in files:
        try:
            tf.io.decode_jpeg(tf.io.read_file(str(source.image_path(name))), channels=3)
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError):
            bad.append(name)
            if first_only:
                break
    return bad


def undecodable_error(source: DatasetSource, split: str, bad: Sequence[str]) -> DatasetError:
    """The error that names images of ``split`` that failed to decode and says how to fix it."""
    shown = ", ".join(bad[:5]) + (" …" if len(bad) > 5 else "")
    where = source.root / "jpg" if isinstance(source, FolderSource) else source.description
    return DatasetError(
        _(
            "{count} image(s) of the {split} split in {path} could not be decoded (the file is "
            "damaged, or was removed after the dataset was checked): {files}. flowerdash does "
            "not skip them (that would quietly change the split); {fix}"
        ).format(count=len(bad), split=split, path=where, files=shown, fix=fix_bad_images())
    )


def raise_if_undecodable(
    source: DatasetSource,
    split: str,
    *,
    limit: int | None = None,
    seed: int = 0,
    files: Sequence[str] | None = None,
) -> None:
    """Raise :func:`undecodable_error` if any image a pipeline of ``split`` reads cannot be decoded.

    Call it when iterating a pipeline raised ``tf.errors.InvalidArgumentError`` (tf.data's
    message does not say which file failed). ``files`` narrows the search, e.g. to the images
    not yet consumed; otherwise the pipeline's seeded subset (``limit``, ``seed``) is decoded.
    """
    files = pipeline_files(source, split, limit, seed) if files is None else files
    bad = undecodable_images(source, files)
    if bad:
        raise undecodable_error(source, split, bad)


def without_autotune(ds: tf.data.Dataset) -> tf.data.Dataset:
    """The pipeline with tf.data's autotuner off, so its parallel steps use every core.

    Two reasons, both measured on 2 cores. Beside LiteRT, whose threads keep the cores busy, the
    autotuner often settles on one decode thread and decoding stops overlapping inference (2,000
    test images: 20.5 s instead of 13.5 s). And destroying an iterator waits for the autotuner's
    thread to wake, and its sleep doubles up to a minute as a long loop goes on: Keras makes a
    new iterator every epoch, so late fine-tuning epochs stalled for up to 50 s with idle cores.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def scan_pipeline(
    source: DatasetSource,
    split: str,
    *,
    image_size: int,
    batch_size: int,
    limit: int | None = None,
    seed: int = 0,
    with_names: bool = False,
) -> tf.data.Dataset:
    """An evaluation pipeline with integer labels for a bulk scan by a predictor (autotuner off)."""
    return without_autotune(
        make_pipeline(
            source,
            split,
            image_size=image_size,
            batch_size=batch_size,
            training=False,
            limit=limit,
            seed=seed,
            one_hot=False,
            with_names=with_names,
        )
    )


def make_pipeline(
    source: DatasetSource,
    split: str,
    *,
    image_size: int = 224,
    batch_size: int = 32,
    training: bool = False,
    augment: AugmentConfig | None = None,
    seed: int = 0,
    limit: int | None = None,
    one_hot: bool = True,
    with_names: bool = False,
    num_classes: int = NUM_CLASSES,
) -> tf.data.Dataset:
    """Batched ``(images float32 0..255, labels)`` for a split (or splits joined by '+').

    Training pipelines shuffle (seeded) and, when ``augment`` is given, augment. Evaluation
    pipelines (``training=False``) never shuffle and never augment, whatever ``augment`` says.
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ConfigError(_("Batch size must be at least 1."))
    indices = select_indices(split_size(source, split), limit, seed)
    ds = _raw_combined(source, split, indices)
    if training:
        ds = ds.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)

    def prepare(image, label, name):
        image = resize_and_crop(tf.cast(image, tf.float32), image_size)
        target = tf.one_hot(label, num_classes) if one_hot else label
        return (image, target, name) if with_names else (image, target)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    ds = ds.batch(batch_size, drop_remainder=False)
    if training and augment is not None and not augment.is_identity:
        if with_names or not one_hot:
            raise ConfigError(_("Augmented training pipelines need one-hot labels and no names."))
        from flowerdash.data.augment import augment_dataset

        ds = augment_dataset(ds, augment, seed=seed, num_classes=num_classes)
    return ds.prefetch(tf.data.AUTOTUNE)
