"""Core tier: the real TensorFlow Datasets builder, end to end, against a local server.

The miniature download (``102flowers.tgz``, ``imagelabels.mat``, ``setid.mat``) is served on
127.0.0.1; TFDS downloads it, verifies each file against the checksums registered for it,
extracts, prepares its records, and flowerdash reads them through ``TfdsSource``. The online
user must get what the folder user gets from the same files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tfds_local import local_tfds, tfds_server  # noqa: F401 - a fixture

from flowerdash.data import download
from flowerdash.data.sources import SPLITS, FolderSource, TfdsSource
from flowerdash.errors import DatasetError


def _images(source, split: str) -> dict[str, np.ndarray]:
    return {
        file_name.decode(): image
        for image, _label, file_name in source.raw_dataset(split).as_numpy_iterator()
    }


@pytest.fixture(scope="module")
def prepared(tfds_server, tmp_path_factory) -> Path:  # noqa: F811 - the imported fixture
    """A TFDS data folder where the real builder downloaded and prepared the miniature."""
    root = tmp_path_factory.mktemp("tfds-data")
    assert not download.is_prepared(root)
    download.prepare(root)
    return root


def test_the_builder_downloads_verifies_and_prepares(prepared):
    assert download.is_prepared(prepared)
    builder = download.builder(prepared)
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == {
        "train": 204,
        "validation": 102,
        "test": 204,
    }


def test_online_user_gets_the_folder_users_splits_labels_names_and_pixels(prepared, data_dir):
    tfds_source, folder = TfdsSource(str(prepared)), FolderSource(data_dir)
    assert tfds_source.class_names == folder.class_names
    for split in SPLITS:
        online, offline = tfds_source.split(split), folder.split(split)
        assert online.files == offline.files
        np.testing.assert_array_equal(online.labels, offline.labels)
        a, b = _images(tfds_source, split), _images(folder, split)
        assert a.keys() == b.keys() == set(offline.files)
        for name in offline.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    index = folder.split("val")
    np.testing.assert_array_equal(tfds_source.read_image("val", 7), folder.read_image("val", 7))
    assert index.files[7] in _images(tfds_source, "val")


def test_reading_an_unprepared_dataset_never_downloads(tfds_server, tmp_path):  # noqa: F811
    source = TfdsSource(str(tmp_path))
    with pytest.raises(DatasetError, match="not on this machine"):
        source.split("train")
    assert not (tmp_path / "downloads").exists()


def test_a_file_that_differs_from_its_registered_checksum_is_refused(tmp_path):
    with local_tfds(tmp_path / "srv") as server:
        setid = server.download_dir / "setid.mat"
        setid.write_bytes(setid.read_bytes()[:-1] + b"\x00")  # registered before the damage
        with pytest.raises(DatasetError, match="checksum") as caught:
            download.prepare(tmp_path / "data")
    assert type(caught.value.__cause__).__name__ == "NonMatchingChecksumError"
    assert not download.is_prepared(tmp_path / "data")


def test_a_download_with_no_registered_checksum_is_refused(tmp_path):
    with local_tfds(tmp_path / "srv", register=False), pytest.raises(DatasetError) as caught:
        download.prepare(tmp_path / "data")
    assert "Missing checksums" in str(caught.value.__cause__)
    assert not download.is_prepared(tmp_path / "data")


def test_a_served_downloads_checksums_are_forgotten_when_it_stops(tmp_path):
    """A later server on the same port (the OS reuses them) must not be checked against them:
    that made the test above fail now and then with NonMatchingChecksumError."""
    from tensorflow_datasets.core.download import checksums

    with local_tfds(tmp_path / "srv") as server:
        url = f"{server.base_url}setid.mat"
        assert url in checksums.get_all_url_infos()
    assert url not in checksums.get_all_url_infos()


def test_download_size_is_what_tfds_registers(tfds_server):  # noqa: F811
    expected = sum((tfds_server.download_dir / n).stat().st_size for n in download.FILES)
    assert download.download_size() == expected


def test_online_check_follows_the_server(tmp_path):
    with local_tfds(tmp_path / "srv") as server:
        assert download.is_online(timeout=1.0)
        server.go_offline()
        assert not download.is_online(timeout=1.0)


def test_the_offline_failure_is_in_plain_words(tmp_path, monkeypatch):
    from tensorflow_datasets.core.download import downloader

    # TFDS retries a refused connection ten times with backoff (minutes); once is enough here.
    monkeypatch.setattr(downloader, "MAX_RETRIES", 0)
    with local_tfds(tmp_path / "srv") as server:
        server.go_offline()
        with pytest.raises(DatasetError, match="could not reach 127.0.0.1") as caught:
            download.prepare(tmp_path / "data")
    assert "Traceback" not in str(caught.value)
    assert not download.is_prepared(tmp_path / "data")
