"""Knowledge distillation: a teacher's answers blended into the training targets."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_tiny_cnn, save_tiny_checkpoint, tiny_config

from flowerdash.errors import ConfigError
from flowerdash.models import checkpoints
from flowerdash.training.config import TrainConfig


def batches(n: int = 6, size: int = 64, classes: int = 5):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (n, size, size, 3)).astype(np.float32)
    targets = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]
    return images, targets, tf.data.Dataset.from_tensor_slices((images, targets)).batch(4)


def test_targets_are_the_share_blend_of_labels_and_the_teachers_answers():
    from flowerdash.training.distill import with_teacher

    teacher = make_tiny_cnn(seed=1)
    images, targets, ds = batches()
    assert with_teacher(ds, teacher, 0.0) is ds  # off: the very same pipeline
    got = list(with_teacher(ds, teacher, 0.3).as_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate([x for x, _ in got]), images)
    blended = np.concatenate([y for _, y in got])
    answers = np.asarray(teacher(images, training=False))
    np.testing.assert_allclose(blended, 0.7 * targets + 0.3 * answers, atol=1e-6)
    np.testing.assert_allclose(blended.sum(axis=1), 1.0, atol=1e-5)  # still a distribution


def test_a_teacher_must_answer_the_runs_classes_at_its_size(tmp_path):
    from flowerdash.training.distill import load_teacher

    path = save_tiny_checkpoint(tmp_path, image_size=32)
    assert load_teacher(path, 102, 32).trainable is False
    with pytest.raises(ConfigError, match="102 classes on 32-pixel photos; this run needs 5"):
        load_teacher(path, 5, 32)
    with pytest.raises(ConfigError, match="needs 102 classes on 64-pixel photos"):
        load_teacher(path, 102, 64)


def test_distill_needs_a_teacher_and_a_share_below_one():
    with pytest.raises(ConfigError, match="needs its checkpoint"):
        TrainConfig(distill=0.5)
    with pytest.raises(ConfigError, match=r"must be in \[0, 1\)"):
        TrainConfig(teacher="somewhere", distill=1.0)
    assert TrainConfig(teacher="somewhere").distill == 0.0  # a teacher alone changes nothing


def test_a_run_learns_from_its_teacher_while_fine_tuning(data_dir, tmp_path, monkeypatch):
    """The run's training images (not validation, not cached features) carry the teacher's
    share, and the checkpoint records what it learnt from."""
    from flowerdash.training import distill
    from flowerdash.training.job import train

    teacher = save_tiny_checkpoint(tmp_path / "teachers", image_size=32)
    shares = []
    real = distill.with_teacher

    def spy(ds, model, share):
        shares.append((share, int(model.outputs[0].shape[-1])))
        return real(ds, model, share)

    monkeypatch.setattr(distill, "with_teacher", spy)
    cfg = tiny_config(data_dir, tmp_path, teacher=str(teacher), distill=0.5, head_augment=False)
    job = train(cfg)
    assert job.status == "succeeded", job.error
    assert shares == [(0.5, 102)]  # the fine-tuning stage; the head trains on cached features
    config = checkpoints.read_meta(job.checkpoint)["config"]
    assert (config["teacher"], config["distill"]) == (str(teacher), 0.5)
