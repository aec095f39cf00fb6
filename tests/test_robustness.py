"""Robustness evaluation: accuracy against a direct computation, disk cache, compare(), CLI."""

from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import pytest
from conftest import save_tiny_checkpoint

from flowerdash.data.pipelines import make_pipeline
from flowerdash.data.sources import DatasetSource, FolderSource, SplitIndex
from flowerdash.errors import ConfigError
from flowerdash.inference import robustness
from flowerdash.inference.comparison import compare
from flowerdash.inference.corruptions import CORRUPTIONS, apply_corruption
from flowerdash.inference.robustness import RobustnessResult, evaluate_robustness
from flowerdash.models.checkpoints import MODEL_FILE, load_model

LIMIT = 24


class RelabelledSource(DatasetSource):
    """The real test images with labels we choose, so accuracies are far from 0 and 1."""

    kind = "relabelled"

    def __init__(self, inner: FolderSource, labels: np.ndarray) -> None:
        self.inner, self.labels = inner, np.asarray(labels, np.int64)

    @property
    def description(self) -> str:
        return "relabelled " + self.inner.description

    def split(self, name: str) -> SplitIndex:
        index = self.inner.split(name)
        return SplitIndex(name, index.files, self.labels)

    def raw_dataset(self, name: str, indices=None):
        import tensorflow as tf

        sel = np.arange(len(self.labels)) if indices is None else np.asarray(indices)
        records = self.inner.raw_dataset(name, sel)
        labels = tf.data.Dataset.from_tensor_slices(self.labels[sel])
        return tf.data.Dataset.zip((records, labels)).map(lambda r, y: (r[0], y, r[2]))

    def read_image(self, split: str, index: int) -> np.ndarray:
        return self.inner.read_image(split, index)


def pipeline_arrays(source, limit=LIMIT, seed=0):
    images, labels = [], []
    for x, y in make_pipeline(
        source, "test", image_size=64, batch_size=64, limit=limit, seed=seed, one_hot=False
    ):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny checkpoint this module may write robustness results into."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("robust-checkpoints"), "tiny")


@pytest.fixture(scope="module")
def setting(checkpoint, data_dir):
    """(model, source, images, labels): labels equal the model's clean answer on even images."""
    model = load_model(checkpoint)
    inner = FolderSource(data_dir)
    images, _ = pipeline_arrays(inner)
    predicted = model.predict(images, verbose=0).argmax(axis=1)
    chosen = np.arange(len(images)) % 2 == 0
    subset_labels = np.where(chosen, predicted, (predicted + 1) % 102)
    # write the chosen labels at the subset's positions of the full test split
    from flowerdash.data.pipelines import select_indices

    full = inner.split("test").labels.copy()
    full[select_indices(len(full), LIMIT, 0)] = subset_labels
    source = RelabelledSource(inner, full)
    return model, source, images, subset_labels


def direct_accuracy(model, images, labels, name, severity, seed=0):
    if name == "noise":  # seeded image by image, by its position in the subset
        x = np.stack(
            [
                apply_corruption(img, name, severity, seed=seed * 1_000_003 + i)
                for i, img in enumerate(images)
            ]
        )
    else:
        x = apply_corruption(images, name, severity)
    return float(np.mean(model.predict(x, verbose=0).argmax(axis=1) == labels))


def test_accuracies_match_a_direct_computation(checkpoint, setting):
    model, source, images, labels = setting
    calls = []
    result = evaluate_robustness(
        checkpoint,
        source=source,
        model=model,
        limit=LIMIT,
        corruptions=["blur", "noise", "rotation"],
        batch_size=10,
        use_cache=False,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert result.n == LIMIT
    assert result.clean == pytest.approx(0.5)
    assert result.corruptions == ["blur", "noise", "rotation"]
    for name in result.corruptions:
        for s in (1, 2, 3):
            assert result.accuracy[name][s] == pytest.approx(
                direct_accuracy(model, images, labels, name, s)
            ), (name, s)
    # the corrupted answers are not all the clean ones (the test would be vacuous otherwise)
    assert any(result.accuracy[n][3] != result.clean for n in result.corruptions)
    # progress counts image variations: clean + 3 corruptions x 3 severities
    assert calls[-1] == (LIMIT * 10, LIMIT * 10)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    rows = result.table()
    assert rows[0]["corruption"] == "clean" and rows[0]["mean"] == result.clean
    blur = next(r for r in rows if r["corruption"] == "blur")
    assert blur["severity_2"] == result.accuracy["blur"][2]
    assert blur["drop"] == pytest.approx(
        result.clean - np.mean(list(result.accuracy["blur"].values()))
    )
    assert RobustnessResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_noise_does_not_depend_on_the_batch_size(checkpoint, setting):
    model, source, _images, _labels = setting
    runs = [
        evaluate_robustness(
            checkpoint,
            source=source,
            model=model,
            limit=LIMIT,
            corruptions=["noise"],
            batch_size=b,
            use_cache=False,
        )
        for b in (7, 64)
    ]
    assert runs[0].accuracy == runs[1].accuracy


def test_data_is_read_once_and_one_compiled_function_serves_every_batch(
    checkpoint, setting, monkeypatch
):
    model, source, _images, _labels = setting
    reads, builds, batches = [], [], []
    real_pipeline, real_predictor = robustness.scan_pipeline, robustness._predictor
    monkeypatch.setattr(
        robustness, "scan_pipeline", lambda *a, **k: reads.append(1) or real_pipeline(*a, **k)
    )

    def predictor(m):
        builds.append(1)
        fn = real_predictor(m)
        return lambda x: batches.append(len(x)) or fn(x)

    monkeypatch.setattr(robustness, "_predictor", predictor)
    evaluate_robustness(
        checkpoint, source=source, model=model, limit=LIMIT, batch_size=10, use_cache=False
    )
    assert reads == [1] and builds == [1]
    assert len(batches) == 3 * (1 + len(CORRUPTIONS) * 3)  # 3 batches of 10, 10, 4


def test_cache_hit_and_invalidation_when_the_model_changes(tmp_path, setting, monkeypatch):
    _model, source, _images, _labels = setting
    folder = save_tiny_checkpoint(tmp_path, "mine")
    other = save_tiny_checkpoint(tmp_path, "other", seed=1)
    calls = []
    real = robustness._predictor

    def counting(model):
        fn = real(model)
        return lambda x: calls.append(len(x)) or fn(x)

    monkeypatch.setattr(robustness, "_predictor", counting)
    kwargs = dict(source=source, limit=LIMIT, corruptions=["blur", "flip"], severities=(1, 3))
    first = evaluate_robustness(folder, **kwargs)
    assert calls and first.severities == [1, 3]
    assert len(list((folder / "robustness").glob("*.json"))) == 1

    calls.clear()
    monkeypatch.setattr(robustness, "load_model", lambda p: pytest.fail("model loaded again"))
    again = evaluate_robustness(folder, **kwargs)
    assert calls == [] and again == first

    # other settings are a different cache entry
    monkeypatch.setattr(robustness, "load_model", load_model)
    evaluate_robustness(folder, **{**kwargs, "corruptions": ["blur"]})
    assert calls and len(list((folder / "robustness").glob("*.json"))) == 2

    # a retrained model in the same folder never reuses the stale result
    calls.clear()
    shutil.copyfile(other / MODEL_FILE, folder / MODEL_FILE)
    changed = evaluate_robustness(folder, **kwargs)
    assert calls and changed.model_hash != first.model_hash


def test_the_photos_a_model_is_chosen_on_are_measured_apart_from_test(tmp_path, data_dir):
    source = FolderSource(data_dir)
    folder = save_tiny_checkpoint(tmp_path, "split")
    model = load_model(folder)
    kwargs = dict(source=source, corruptions=["blur"], severities=(1,), use_cache=True)
    test = evaluate_robustness(folder, **kwargs)
    val = evaluate_robustness(folder, split="val", **kwargs)
    assert (test.extra["split"], val.extra["split"]) == ("test", "val")
    assert val.n == len(source.split("val").labels) != test.n
    images, labels = [], []
    for x, y in make_pipeline(source, "val", image_size=64, batch_size=64, one_hot=False):
        images.append(x.numpy())
        labels.append(y.numpy())
    images, labels = np.concatenate(images), np.concatenate(labels)
    clean = np.mean(model.predict(images, verbose=0).argmax(axis=1) == labels)
    assert val.clean == pytest.approx(clean)
    assert val.accuracy["blur"][1] == pytest.approx(
        direct_accuracy(model, images, labels, "blur", 1)
    )
    assert len(list((folder / "robustness").glob("*.json"))) == 2  # cached apart
    with pytest.raises(ConfigError, match="train, val or test"):
        evaluate_robustness(folder, split="holdout", **kwargs)


def test_an_empty_split_is_named_in_the_error(tmp_path, data_dir, monkeypatch):
    import flowerdash.inference.robustness as robustness

    monkeypatch.setattr(robustness, "scan_pipeline", lambda *args, **kwargs: [])
    folder = save_tiny_checkpoint(tmp_path, "empty")
    with pytest.raises(ConfigError, match="^The val split has no images to evaluate"):
        evaluate_robustness(
            folder,
            source=FolderSource(data_dir),
            split="val",
            corruptions=["blur"],
            severities=(1,),
        )


def test_bad_choices_are_plain_errors(checkpoint, setting):
    _model, source, _images, _labels = setting
    with pytest.raises(ConfigError, match="Unknown corruption 'fog'"):
        evaluate_robustness(checkpoint, source=source, corruptions=["fog"])
    with pytest.raises(ConfigError, match="Severities"):
        evaluate_robustness(checkpoint, source=source, severities=(4,))
    with pytest.raises(ConfigError, match="at least 1"):
        evaluate_robustness(checkpoint, source=source, limit=0)


def constructed(clean, means, n=6149):
    return RobustnessResult(
        clean=clean, accuracy={c: {1: m + 0.02, 2: m, 3: m - 0.02} for c, m in means.items()}, n=n
    )


def test_compare_names_the_biggest_win_and_loss():
    plain = constructed(0.80, {"rotation": 0.40, "noise": 0.60, "blur": 0.70, "jpeg": 0.75})
    augmented = constructed(0.82, {"rotation": 0.52, "noise": 0.50, "blur": 0.705, "jpeg": 0.76})
    text = compare(plain, augmented, "without augmentation", "with augmentation")
    assert text[0].startswith("On clean photos with augmentation is 2.0 points more accurate")
    win = [t for t in text if "kept" in t]
    assert len(win) == 1 and "12.0 more points" in win[0] and "under rotation" in win[0]
    assert win[0].startswith("With augmentation kept")
    assert "average over the 3 severities" in win[0]
    loss = [t for t in text if "did better" in t]
    assert len(loss) == 1 and "under noise" in loss[0] and "10.0 points" in loss[0]
    # a 0.5-point gap on blur and 1 point on jpeg are below the chance margin: not named
    assert not any("blur" in t or "JPEG" in t for t in text)
    assert not any("may be chance" in t for t in text)  # the whole test split


def test_compare_says_when_nothing_differs_on_a_small_sample():
    a = constructed(0.50, {"zoom": 0.40}, n=300)
    b = constructed(0.51, {"zoom": 0.42}, n=300)
    text = compare(a, b, "A", "B")
    assert "about equally accurate" in text[0]
    assert any("within what chance alone can explain on 300 images" in t for t in text)
    assert any("300 test images" in t and "may be chance" in t for t in text)


def cli_args(*argv):
    from flowerdash.cli import robustness

    parser = argparse.ArgumentParser()
    robustness.add_parser(parser.add_subparsers(dest="command"))
    return robustness, parser.parse_args(["robustness", *argv])


def test_cli_json_and_table(checkpoint, data_dir, capsys):
    module, args = cli_args(
        str(checkpoint),
        "--limit",
        "8",
        "--corruptions",
        "blur,grayscale",
        "--json",
        "--data-dir",
        str(data_dir),
    )
    assert module.run(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["checkpoint"] == str(checkpoint) and out["n"] == 8
    assert list(out["accuracy"]) == ["blur", "grayscale"]
    assert set(out["accuracy"]["blur"]) == {"1", "2", "3"}
    assert 0.0 <= out["clean"] <= 1.0

    module, args = cli_args(
        str(checkpoint),
        "--limit",
        "8",
        "--corruptions",
        "blur,grayscale",
        "--data-dir",
        str(data_dir),
    )
    assert module.run(args) == 0  # cached: same numbers, now as a table
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert "8 test images" in lines[0]
    assert lines[1].split() == ["variation", "sev", "1", "sev", "2", "sev", "3", "mean", "drop"]
    assert lines[3].startswith("clean") and lines[4].startswith("blur")
    assert "turned black and white" in text


def test_cli_rejects_unknown_corruptions(checkpoint, data_dir):
    module, args = cli_args(str(checkpoint), "--corruptions", "fog", "--data-dir", str(data_dir))
    with pytest.raises(ConfigError, match="fog"):
        module.run(args)


def test_published_comparison_is_the_committed_pair():
    """What the page shows without a dataset: the notebook recipe without and with augmentation."""
    pair = robustness.published_comparison()
    assert [label for label, _r in pair] == [
        "Trained without augmentation",
        "Trained with augmentation",
    ]
    (_, plain), (_, augmented) = pair
    assert plain.n == augmented.n == 200
    assert plain.corruptions == augmented.corruptions == list(CORRUPTIONS)
    assert (plain.clean, augmented.clean) == (0.77, 0.715)  # docs/RESULTS.md: 77.0 and 71.5
    assert round(plain.mean("rotation") * 100, 1) == 75.2


def test_the_default_pair_differs_in_augmentation_and_puts_the_plain_model_first(monkeypatch):
    from flowerdash.errors import CheckpointError
    from flowerdash.inference import comparison

    trained = {"plain": "none", "basic": "basic", "advanced": "advanced", "old": None}

    def read_meta(path):
        if path == "broken":
            raise CheckpointError("unreadable")
        return {"config": {"augment": trained[path]} if trained[path] else {}}

    monkeypatch.setattr(comparison, "read_meta", read_meta)
    assert comparison.trained_augmentation("basic") == "basic"
    assert comparison.trained_augmentation("old") is None
    assert comparison.trained_augmentation("broken") is None
    assert comparison.default_pair(["basic", "plain"], "basic") == ("plain", "basic")
    assert comparison.default_pair(["plain", "basic"], "elsewhere") == ("plain", "basic")
    assert comparison.default_pair(["basic", "advanced", "plain"], "basic") == ("basic", "advanced")
    assert comparison.default_pair(["basic"], None) == ("basic", None)


def test_summarize_names_the_variations_that_hurt_most():
    from flowerdash.inference.comparison import summarize

    result = constructed(0.80, {"rotation": 0.40, "noise": 0.60, "blur": 0.70, "jpeg": 0.75})
    text = summarize(result, "A")
    assert text[0] == "A is right on 80.0% of the unchanged photos."
    assert [t.split(" it loses")[0] for t in text[1:]] == [
        "Under rotation",
        "Under noise",
        "Under blur",
    ]
    assert "40.0 points" in text[1]
