"""Training learns: a tiny model on the generated flowers (core tier) and a short real
MobileNetV2 run on the real photos (data tier)."""

from __future__ import annotations

import numpy as np
from conftest import tiny_config
from miniature import nearest_class

from flowerdash.data import pipelines as datasets
from flowerdash.models import checkpoints
from flowerdash.training.config import TrainConfig
from flowerdash.training.job import train


def test_pipelines_keep_every_image_with_its_label(data_dir):
    """The disc colour of each generated photo encodes its class: a shuffled, batched training
    pipeline must still pair every image with the one-hot label of that class."""
    source = datasets.FolderSource(data_dir)
    ds = datasets.make_pipeline(
        source, "train", image_size=32, batch_size=16, training=True, seed=5
    )
    seen = 0
    for images, labels in ds.as_numpy_iterator():
        centres = images[:, 16, 16, :]
        assert [nearest_class(c) for c in centres] == list(labels.argmax(axis=1))
        seen += len(images)
    assert seen == len(source.split("train"))


def test_tiny_model_on_generated_data_lowers_its_loss(data_dir, tmp_path):
    job = train(
        tiny_config(
            data_dir,
            tmp_path,
            augment="none",
            epochs=2,
            fine_tune_epochs=10,  # the whole tiny CNN: its random frozen features learn slowly
            fine_tune_layers=100,
            learning_rate=1e-2,
            fine_tune_learning_rate=1e-2,
            dropout=0.0,
            train_limit=None,
            val_limit=None,
            test_limit=None,
            batch_size=32,
        )
    )
    assert job.status == "succeeded", job.error
    losses = [h["loss"] for h in job.history]
    assert len(losses) == 12
    assert losses[-1] < 0.6 * losses[0], losses
    # Unseen photos: only images learnt with their own labels can score far above chance (1%).
    top1 = checkpoints.read_meta(job.checkpoint)["metrics"]["test"]["top1"]
    assert top1 > 0.2


def test_short_real_run_beats_chance_by_a_wide_margin(real_data_dir, weights_dir, tmp_path):
    """Data tier: MobileNetV2 with its ImageNet weights, frozen, a few hundred real photos."""
    job = train(
        TrainConfig(
            backbone="mobilenetv2",
            weights=str(weights_dir / "mobilenet_v2_1.0_224_imagenet_notop.weights.h5"),
            image_size=160,
            augment="none",
            epochs=6,
            fine_tune_epochs=0,
            batch_size=32,
            train_limit=400,
            val_limit=100,
            test_limit=400,
            data_dir=str(real_data_dir),
            checkpoint_dir=str(tmp_path),
            seed=1,
        )
    )
    assert job.status == "succeeded", job.error
    test = checkpoints.read_meta(job.checkpoint)["metrics"]["test"]
    assert test["n"] == 400
    assert test["top1"] > 0.30, test  # chance is 1/102, under 1%
    assert np.isfinite([h["loss"] for h in job.history]).all()
