"""Metrics by hand and the on-disk prediction cache keyed by the model file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import save_tiny_checkpoint

from flowerdash.data.sources import FolderSource
from flowerdash.inference import evaluation


def test_metrics_match_a_hand_computation():
    labels = np.array([0, 0, 1, 2])
    top = np.array([[0, 1], [1, 0], [1, 2], [0, 1]])
    m = evaluation.compute_metrics(labels, top, num_classes=3)
    assert m["top1"] == 0.5 and m["top5"] == 0.75
    np.testing.assert_array_equal(m["confusion"], [[1, 1, 0], [0, 1, 0], [1, 0, 0]])
    np.testing.assert_allclose(m["per_class_accuracy"], [0.5, 1.0, 0.0])


def test_evaluation_is_cached_and_invalidated_when_the_model_changes(
    data_dir, tmp_path, monkeypatch
):
    source = FolderSource(data_dir)
    ckpt = save_tiny_checkpoint(tmp_path, "e")
    preds, metrics = evaluation.evaluate_checkpoint(ckpt, "test", source=source, limit=12)
    assert metrics["n"] == 12 and len(set(preds.files)) == 12
    index = source.split("test")
    for f, label in zip(preds.files, preds.labels, strict=True):
        assert index.labels[index.files.index(f)] == label
    assert np.all(np.diff(preds.top_k_probs, axis=1) <= 0)  # best first

    calls = []
    real = evaluation.predict_split
    monkeypatch.setattr(
        evaluation, "predict_split", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    again, _ = evaluation.evaluate_checkpoint(ckpt, "test", source=source, limit=12)
    assert calls == [] and np.array_equal(again.top_k, preds.top_k)
    assert evaluation.load_cached_predictions(ckpt, "test") is not None

    other = save_tiny_checkpoint(tmp_path, "other", seed=1)
    (ckpt / "model.keras").write_bytes((other / "model.keras").read_bytes())  # checkpoint changed
    assert evaluation.load_cached_predictions(ckpt, "test") is None
    evaluation.evaluate_checkpoint(ckpt, "test", source=source, limit=12)
    assert calls == [1]


def test_the_split_scan_gives_the_same_predictions_on_litert_and_tensorflow(data_dir, tmp_path):
    from flowerdash.models.checkpoints import load_model

    model = load_model(save_tiny_checkpoint(tmp_path, "engines"))
    source = FolderSource(data_dir)
    runs = {
        engine: evaluation.predict_split(
            model, source, "test", limit=20, batch_size=8, engine=engine
        )
        for engine in ("litert", "tensorflow")
    }
    fast, tf = runs["litert"], runs["tensorflow"]
    assert list(fast.files) == list(tf.files)
    np.testing.assert_array_equal(fast.labels, tf.labels)
    np.testing.assert_allclose(fast.top_k_probs, tf.top_k_probs, atol=1e-5)
    # Winners that are not tied within the engines' difference must be the same class.
    diff = np.abs(fast.top_k_probs - tf.top_k_probs).max()
    clear = tf.top_k_probs[:, 0] - tf.top_k_probs[:, 1] > 2 * diff
    assert clear.sum() >= 10
    np.testing.assert_array_equal(fast.top_k[clear, 0], tf.top_k[clear, 0])


@pytest.mark.parametrize("limit", [5])
def test_predictions_json_lines(data_dir, tmp_path, limit):
    import json

    ckpt = save_tiny_checkpoint(tmp_path, "j")
    preds, _ = evaluation.evaluate_checkpoint(
        ckpt, "val", source=FolderSource(data_dir), limit=limit
    )
    rows = [
        json.loads(line) for line in evaluation.predictions_to_json(preds, ["n"] * 102).splitlines()
    ]
    assert len(rows) == limit and set(rows[0]) >= {
        "file",
        "true",
        "predicted",
        "confidence",
        "top5",
    }


def test_the_shipped_model_scores_its_recorded_accuracy_on_the_real_test_split(
    real_data_dir, tmp_path
):
    """Data tier: the whole test split scanned afresh (no cached predictions) reproduces the
    top-1 / top-5 recorded in the shipped checkpoint's meta.json."""
    from flowerdash.models.checkpoints import SHIPPED_DEFAULT, read_meta

    copy = tmp_path / "shipped"
    shutil.copytree(SHIPPED_DEFAULT, copy, ignore=shutil.ignore_patterns("eval"))
    recorded = read_meta(copy)["metrics"]["test"]
    _, metrics = evaluation.evaluate_checkpoint(copy, "test", source=FolderSource(real_data_dir))
    assert metrics["n"] == recorded["n"] == 6149
    assert metrics["top1"] == pytest.approx(recorded["top1"], abs=0.002)
    assert metrics["top5"] == pytest.approx(recorded["top5"], abs=0.002)


def test_mistakes_are_most_confident_first_and_can_be_narrowed_to_a_class():
    preds = evaluation.Predictions(
        split="test",
        files=np.array(["a", "b", "c", "d", "e"]),
        labels=np.array([0, 1, 2, 1, 0]),
        top_k=np.array([[0], [2], [1], [0], [1]]),
        top_k_probs=np.array([[0.9], [0.5], [0.7], [0.5], [0.8]], np.float32),
    )
    assert list(preds.mistakes()) == [4, 2, 1, 3]  # equal confidence: row order
    assert list(preds.mistakes(involving=0)) == [4, 3]  # true flower 0, or answered 0


def test_most_confused_with_skips_right_answers():
    confusion = np.array([[5, 2, 1], [0, 3, 0], [4, 0, 2]])
    worst, times = evaluation.most_confused_with(confusion)
    assert list(times) == [2, 0, 4]
    assert worst[0] == 1 and worst[2] == 0
    assert confusion[0, 0] == 5  # the caller's matrix is left alone
