"""The tf.data pipelines over a dataset source: resize and crop, subsets, batching, augmenting.

Pipelines never skip an image that cannot be decoded (that would quietly change a split); the
``undecodable_*`` helpers name the culprit after a pipeline failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from flowerdash.data.classes import NUM_CLASSES
from flowerdash.data.sources import DatasetSource, FolderSource, fix_bad_images
from flowerdash.errors import ConfigError, DatasetError
from flowerdash.i18n import _

if TYPE_CHECKING:
    import tensorflow as tf

    from flowerdash.data.augment_config import AugmentConfig


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

    Two reasons. Beside LiteRT, whose threads keep the cores busy, the autotuner often settles
    on one decode thread, and decoding stops overlapping inference. And destroying an iterator
    waits for the autotuner's thread to wake, whose sleep grows as a long loop goes on: Keras
    makes a new iterator every epoch, so late epochs would stall with idle cores.
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
