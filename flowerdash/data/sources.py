"""Where Oxford Flowers102 comes from: two sources that give the same splits, labels and names.

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

    Reads two small blocks per file (the start and the last 4 KiB), so checking every image
    of the dataset stays cheap; damage inside the compressed data is only found by decoding
    (see :func:`flowerdash.data.pipelines.undecodable_images`).
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
