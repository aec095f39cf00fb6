"""Knowledge distillation (Hinton et al. 2015): a teacher's answers blended into the training
targets, so one model can learn from an ensemble (``python -m flowerdash ensemble``).

The teacher answers each training batch after augmentation, MixUp and CutMix, so it judges the
very photos the student is shown ("consistent teaching", Beyer et al. 2022). Stages that train
on cached backbone features see no images and keep the plain labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flowerdash.errors import ConfigError
from flowerdash.i18n import _

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


def load_teacher(path: str | Path, num_classes: int, image_size: int) -> keras.Model:
    """A checkpoint's model as a teacher for a run with these classes and input size."""
    from flowerdash.models.backbones import input_size
    from flowerdash.models.checkpoints import load_model

    teacher = load_model(path)  # a CheckpointError in plain words if it cannot be used
    classes = int(teacher.outputs[0].shape[-1])
    size = input_size(teacher)  # a ConfigError in plain words unless square RGB
    if classes != num_classes or size != image_size:
        raise ConfigError(
            _(
                "The teacher {name} answers {classes} classes on {size}-pixel photos; this run "
                "needs {num_classes} classes on {image_size}-pixel photos."
            ).format(
                name=Path(path).name,
                classes=classes,
                size=size,
                num_classes=num_classes,
                image_size=image_size,
            )
        )
    teacher.trainable = False
    return teacher


def with_teacher(dataset: tf.data.Dataset, teacher: keras.Model, share: float) -> tf.data.Dataset:
    """``dataset``'s (images, targets) batches with ``share`` of each target from the teacher.

    Returns a new dataset whose targets are ``(1 - share) * targets + share * teacher(images)``,
    images unchanged; at share 0, ``dataset`` itself.
    """
    if share == 0:
        return dataset
    import tensorflow as tf

    def blend(images: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        answers = tf.cast(teacher(images, training=False), targets.dtype)
        return images, (1.0 - share) * targets + share * answers

    return dataset.map(blend).prefetch(1)
