"""Dataset sources and tf.data pipelines: the generated miniature in the official file formats
(core tier) and the full dataset (data tier)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import corrupt_inside, replace_image
from miniature import SIZES, split_files
from scipy.io import loadmat

from flowerdash.data import pipelines, sources
from flowerdash.data.classes import CLASS_NAMES
from flowerdash.errors import ConfigError, DatasetError


@pytest.fixture(scope="module")
def source(data_dir: Path) -> sources.FolderSource:
    return sources.FolderSource(data_dir)


def test_split_sizes_and_labels_match_the_mat_files(source, data_dir):
    labels = loadmat(data_dir / "imagelabels.mat")["labels"].reshape(-1)
    setid = loadmat(data_dir / "setid.mat")
    assert source.sizes() == SIZES
    for split, key in (("train", "trnid"), ("val", "valid"), ("test", "tstid")):
        ids = setid[key].reshape(-1)
        index = source.split(split)
        assert index.files == tuple(f"image_{i:05d}.jpg" for i in ids)
        np.testing.assert_array_equal(index.labels, labels[ids - 1] - 1)
    all_labels = np.concatenate([source.split(s).labels for s in sources.SPLITS])
    assert all_labels.min() == 0 and all_labels.max() == 101
    assert len(np.unique(source.split("train").labels)) == 102  # 2 per class


def test_the_real_dataset_has_the_official_splits_and_tfds_labels(real_data_dir):
    """Data tier: the full folder, and TFDS's own generator run on its files, agree."""
    real = sources.FolderSource(real_data_dir)
    assert real.sizes() == sources.OFFICIAL_SIZES
    for split, key in (("train", "trnid"), ("val", "valid"), ("test", "tstid")):
        index = real.split(split)
        assert len(np.unique(index.labels)) == 102
        tfds_labels = dict(_tfds_records(real_data_dir, key))
        assert {f: int(lab) for f, lab in zip(index.files, index.labels, strict=True)} == (
            tfds_labels
        )


def test_class_names_agree_with_tfds_metadata_and_the_folder(source):
    import tensorflow_datasets as tfds

    tfds_names = tfds.builder("oxford_flowers102").info.features["label"].names
    assert source.class_names == CLASS_NAMES
    differ = {
        i: (t, o) for i, (t, o) in enumerate(zip(tfds_names, CLASS_NAMES, strict=True)) if t != o
    }
    # Same order; the two sources spell two names differently (TFDS "lotus" vs "lotus lotus").
    assert differ == {
        59: ("pink-yellow dahlia?", "pink-yellow dahlia"),
        77: ("lotus", "lotus lotus"),
    }


def _tfds_records(data_dir: Path, split_name: str) -> list[tuple[str, int]]:
    """TFDS's own example generator, run on the local official files (no download)."""
    import tensorflow_datasets as tfds

    builder = tfds.builder("oxford_flowers102")
    gen = builder._generate_examples(  # noqa: SLF001 - the builder's documented generator
        images_dir_path=str(data_dir / "jpg"),
        labels_path=str(data_dir / "imagelabels.mat"),
        setid_path=str(data_dir / "setid.mat"),
        split_name=split_name,
    )
    return [(rec["file_name"], int(rec["label"])) for _, rec in gen]


@pytest.mark.parametrize(
    ("split", "key"), [("train", "trnid"), ("val", "valid"), ("test", "tstid")]
)
def test_tfds_and_folder_give_the_same_label_for_the_same_file(source, data_dir, split, key):
    tfds_labels = dict(_tfds_records(data_dir, key))
    index = source.split(split)
    assert len(tfds_labels) == len(index)
    assert all(tfds_labels[f] == int(lab) for f, lab in zip(index.files, index.labels, strict=True))


def test_tfds_source_maps_records_like_the_folder(source, data_dir, monkeypatch):
    import tensorflow as tf

    records = _tfds_records(data_dir, "valid")[:6][::-1]  # TFDS order is not the official order

    def fake_load(self, name):
        images = [tf.io.decode_jpeg(tf.io.read_file(str(data_dir / "jpg" / f))) for f, _ in records]
        return tf.data.Dataset.from_generator(
            lambda: (
                {"image": im, "label": lab, "file_name": f}
                for im, (f, lab) in zip(images, records, strict=True)
            ),
            output_signature={
                "image": tf.TensorSpec([None, None, 3], tf.uint8),
                "label": tf.TensorSpec([], tf.int64),
                "file_name": tf.TensorSpec([], tf.string),
            },
        )

    monkeypatch.setattr(sources.TfdsSource, "_load", fake_load)
    tfds_src = sources.TfdsSource()
    index = tfds_src.split("val")
    assert sorted(index.files) == list(index.files)
    for f, lab in zip(index.files, index.labels, strict=True):
        assert int(source.split("val").labels[source.split("val").files.index(f)]) == lab
    x_t, y_t = next(
        iter(pipelines.make_pipeline(tfds_src, "val", image_size=32, batch_size=6, one_hot=False))
    )
    assert x_t.shape == (6, 32, 32, 3) and sorted(y_t.numpy().tolist()) == sorted(
        index.labels.tolist()
    )


def test_missing_folder_says_how_to_fix(tmp_path):
    with pytest.raises(DatasetError, match="FLOWERDASH_DATA_DIR"):
        sources.FolderSource(tmp_path / "nope")


def test_wrong_layout_names_what_is_missing(tmp_path):
    (tmp_path / "jpg").mkdir()
    with pytest.raises(DatasetError, match="imagelabels.mat, setid.mat"):
        sources.FolderSource(tmp_path)


def test_incomplete_download_lists_missing_images(tmp_path, data_dir):
    for name in ("imagelabels.mat", "setid.mat"):
        shutil.copy(data_dir / name, tmp_path / name)
    (tmp_path / "jpg").mkdir()
    shutil.copy(data_dir / "jpg" / split_files("test")[0], tmp_path / "jpg")
    src = sources.FolderSource(tmp_path)
    with pytest.raises(DatasetError, match=rf"{SIZES['train']} image\(s\) that are not in"):
        src.split("train")


def test_get_source_follows_settings(monkeypatch, data_dir, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWERDASH_SETTINGS", raising=False)
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    assert isinstance(sources.get_source(), sources.FolderSource)
    monkeypatch.delenv("FLOWERDASH_DATA_DIR")
    assert isinstance(sources.get_source(), sources.TfdsSource)
    (tmp_path / "flowerdash.toml").write_text(f'data_dir = "{data_dir}"\n')
    src = sources.get_source()
    assert isinstance(src, sources.FolderSource) and src.root == data_dir


def test_eval_pipeline_shapes_dtypes_range_and_determinism(source):
    ds = pipelines.make_pipeline(source, "val", image_size=96, batch_size=4, limit=8)
    batches = [(x.numpy(), y.numpy()) for x, y in ds]
    again = [(x.numpy(), y.numpy()) for x, y in ds]
    assert [b[0].shape for b in batches] == [(4, 96, 96, 3)] * 2
    assert batches[0][0].dtype == np.float32 and batches[0][1].shape == (4, 102)
    lo = min(b[0].min() for b in batches)
    hi = max(b[0].max() for b in batches)
    assert 0.0 <= lo < 30 and 200 < hi <= 255.0  # raw pixel range, not preprocessed
    for (a, _), (b, _) in zip(batches, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_eval_pipeline_ignores_augmentation(source):
    from flowerdash.data.augment_config import preset

    plain = pipelines.make_pipeline(source, "val", image_size=64, batch_size=4, limit=4)
    with_aug = pipelines.make_pipeline(
        source, "val", image_size=64, batch_size=4, limit=4, augment=preset("advanced")
    )
    np.testing.assert_array_equal(next(iter(plain))[0].numpy(), next(iter(with_aug))[0].numpy())


def test_training_pipeline_shuffles_with_seed(source):
    def labels(seed):
        ds = pipelines.make_pipeline(
            source,
            "train",
            image_size=32,
            batch_size=64,
            training=True,
            seed=seed,
            limit=64,
            one_hot=False,
        )
        return next(iter(ds))[1].numpy().tolist()

    assert labels(1) == labels(1)
    assert labels(1) != sorted(labels(1)) or labels(1) != labels(2)


def test_bad_arguments_are_config_errors(source):
    with pytest.raises(ConfigError):
        source.split("validation")
    with pytest.raises(ConfigError):
        pipelines.make_pipeline(source, "val", batch_size=0)


def test_train_plus_val_joins_both_splits(source):
    both = SIZES["train"] + SIZES["val"]
    assert pipelines.split_size(source, "train+val") == both
    ds = pipelines.make_pipeline(
        source,
        "train+val",
        image_size=32,
        batch_size=both,
        limit=40,
        with_names=True,
        one_hot=False,
    )
    _, labels, names = next(iter(ds))
    names = {n.decode() for n in names.numpy()}
    assert len(names) == 40
    assert names & set(source.split("train").files) and names & set(source.split("val").files)


# --- Unreadable image files -----------------------------------------------------------------------


# Test images 2-4 in official order (setid.mat tstid).
EMPTY, TEXT, TRUNCATED = split_files("test")[1:4]


def test_empty_and_non_image_files_are_refused_up_front_by_name(dataset_copy, data_dir):
    replace_image(dataset_copy, EMPTY, b"")
    replace_image(dataset_copy, TEXT, b"<html>404 Not Found</html>\n")
    src = sources.FolderSource(dataset_copy)
    for call in (
        lambda: src.split("train"),  # every split is checked at once, as for missing files
        lambda: pipelines.make_pipeline(src, "test", image_size=32, limit=8),
        lambda: pipelines.make_pipeline(src, "train", image_size=32, training=True, limit=8),
    ):
        with pytest.raises(DatasetError) as info:
            call()
        message = str(info.value)
        assert f"{EMPTY} (empty file)" in message
        assert f"{TEXT} (not a JPEG, PNG or GIF image)" in message
        assert "2 image(s)" in message and "test split" in message
        assert "re-download" in message.lower()


def test_truncated_jpeg_is_refused_up_front(dataset_copy, data_dir):
    whole = (data_dir / "jpg" / TRUNCATED).read_bytes()
    replace_image(dataset_copy, TRUNCATED, whole[: len(whole) // 2])
    with pytest.raises(DatasetError, match=rf"{TRUNCATED} \(truncated"):
        sources.FolderSource(dataset_copy).sizes()


def test_decodable_variants_are_not_refused(dataset_copy, data_dir):
    import io

    from PIL import Image

    whole = (data_dir / "jpg" / TRUNCATED).read_bytes()
    replace_image(dataset_copy, TRUNCATED, whole + b"\0" * 64)  # padding after the end marker
    png = io.BytesIO()
    with Image.open(data_dir / "jpg" / TEXT) as im:
        im.save(png, "PNG")
    replace_image(dataset_copy, TEXT, png.getvalue())  # a PNG with a .jpg name decodes fine
    src = sources.FolderSource(dataset_copy)
    assert src.sizes()["test"] == SIZES["test"]
    ds = pipelines.make_pipeline(
        src, "test", image_size=32, batch_size=8, limit=None, one_hot=False, with_names=True
    )
    _, labels, names = next(iter(ds))
    names = [n.decode() for n in names.numpy()]
    assert TEXT in names and TRUNCATED in names
    index = src.split("test")
    assert labels.numpy().tolist() == [int(index.labels[index.files.index(n)]) for n in names]


def test_image_that_fails_to_decode_is_named_by_evaluation(dataset_copy, data_dir):
    import keras

    from flowerdash.inference.evaluation import predict_split

    replace_image(dataset_copy, TEXT, corrupt_inside(data_dir, TEXT))
    src = sources.FolderSource(dataset_copy)
    assert src.sizes()["test"] == SIZES["test"]  # passes the quick check: only decoding finds it
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(
        inputs,
        keras.layers.Dense(102, activation="softmax")(
            keras.layers.GlobalAveragePooling2D()(inputs)
        ),
    )
    with pytest.raises(DatasetError) as info:
        predict_split(model, src, "test", batch_size=4, limit=None)
    message = str(info.value)
    assert TEXT in message and "could not be decoded" in message
    assert pipelines.undecodable_images(src, src.split("test").files[:8]) == [TEXT]
    # What a training run can call when its (shuffled) pipeline fails to decode an image.
    with pytest.raises(DatasetError, match=TEXT):
        pipelines.raise_if_undecodable(src, "test", files=src.split("test").files[:8])
    pipelines.raise_if_undecodable(src, "train", limit=16)  # the train split is fine
