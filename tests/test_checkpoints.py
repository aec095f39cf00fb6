"""Atomic checkpoint writes, listing that survives bad folders, clear load errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import save_tiny_checkpoint

from flowerdash.errors import CheckpointError
from flowerdash.models import checkpoints


def test_saved_checkpoint_is_self_contained_and_loads_without_flowerdash(tmp_path):
    import keras

    path = save_tiny_checkpoint(tmp_path, "a")
    assert sorted(p.name for p in path.iterdir()) == ["meta.json", "model.keras"]
    meta = json.loads((path / "meta.json").read_text())
    assert meta["backbone"] == "tiny" and len(meta["class_names"]) == 102
    assert {"tensorflow", "keras"} <= set(meta["versions"]) and meta["created"]
    plain = keras.saving.load_model(path / "model.keras")  # no custom objects needed
    x = np.full((1, 64, 64, 3), 128.0, "float32")
    np.testing.assert_allclose(plain(x).numpy(), checkpoints.load_model(path)(x).numpy(), rtol=1e-6)


def test_a_trained_model_is_saved_without_its_optimizer_state(tmp_path):
    import zipfile

    import h5py
    import keras

    from flowerdash.data.classes import CLASS_NAMES
    from flowerdash.models.backbones import build_model

    model = build_model("tiny", weights=None, image_size=32)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)), np.arange(4)
    model.fit(x, y, epochs=1, verbose=0)
    meta = {
        "status": "complete",
        "backbone": "tiny",
        "image_size": 32,
        "class_names": list(CLASS_NAMES),
        "config": {},
        "history": [],
    }
    path = checkpoints.save_checkpoint(model, meta, root=tmp_path, name="trained")
    with zipfile.ZipFile(path / "model.keras") as z:
        z.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as weights:
        assert "optimizer" not in weights
    loaded = keras.saving.load_model(path / "model.keras")
    np.testing.assert_allclose(loaded(x[:2]).numpy(), model(x[:2]).numpy(), rtol=1e-5, atol=1e-6)
    assert model.optimizer is not None  # the trained model itself is left untouched


def test_listing_rejects_corrupt_and_foreign_folders_without_breaking(tmp_path):
    good = save_tiny_checkpoint(tmp_path, "good")
    corrupt = save_tiny_checkpoint(tmp_path, "corrupt")
    (corrupt / "model.keras").write_bytes(b"not a zip at all")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("hello")
    nometa = save_tiny_checkpoint(tmp_path, "nometa")
    (nometa / "meta.json").unlink()
    listing = checkpoints.list_checkpoints(tmp_path, include_default=False)
    # the corrupt model file is only detected on load; its folder is complete and listed
    assert {c.name for c in listing.checkpoints} == {"corrupt", "good"}
    assert {b.path.name for b in listing.broken} == {"foreign", "nometa"}
    with pytest.raises(CheckpointError, match="corrupt or was not written by flowerdash"):
        checkpoints.load_model(corrupt)
    assert checkpoints.load_model(good) is not None


def test_metadata_from_a_different_number_of_classes_is_rejected(tmp_path):
    path = save_tiny_checkpoint(tmp_path, "x")
    meta = json.loads((path / "meta.json").read_text())
    meta["class_names"] = meta["class_names"][:10]
    meta["num_classes"] = 10
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="predicts 102 classes but its metadata names 10"):
        checkpoints.load_model(path)


def test_interrupted_write_leaves_nothing_listed(tmp_path, monkeypatch):
    import keras

    def crash(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", crash)
    with pytest.raises(CheckpointError, match="No space left on device"):
        save_tiny_checkpoint(tmp_path, "half")
    assert list(tmp_path.iterdir()) == []  # no final folder, no temporary left
    assert checkpoints.list_checkpoints(tmp_path, include_default=False).checkpoints == []


def test_hidden_temporaries_are_never_listed_and_can_be_cleaned(tmp_path):
    save_tiny_checkpoint(tmp_path, "ok")
    shutil.copytree(tmp_path / "ok", tmp_path / ".tmp-killed-1234")
    assert [
        c.name for c in checkpoints.list_checkpoints(tmp_path, include_default=False).checkpoints
    ] == ["ok"]
    assert checkpoints.clean_stale_temporaries(tmp_path) == 1


def test_unwritable_folder_even_as_root(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(CheckpointError, match="Check that the folder is writable"):
        save_tiny_checkpoint(blocker, "x")


def test_resolve_delete_and_deleted_while_listed(tmp_path):
    path = save_tiny_checkpoint(tmp_path, "gone")
    assert checkpoints.resolve("gone", root=tmp_path) == path
    assert checkpoints.resolve(str(path / "model.keras")) == path
    checkpoints.delete_checkpoint(path)
    with pytest.raises(CheckpointError, match="No checkpoint named"):
        checkpoints.resolve("gone", root=tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoints.load_model(Path(path))


def test_equal_picker_labels_are_told_apart():
    from flowerdash.models.checkpoints import CheckpointInfo, distinct_labels

    meta = {"backbone": "tiny", "metrics": {"test": {"top1": 0.1}}}

    def info(path: str, created: str = "2025-01-02T10:11:12+00:00") -> CheckpointInfo:
        return CheckpointInfo(Path(path), {**meta, "created": created})

    # a unique label stays as it is; equal ones get the folder they are in ...
    labels = distinct_labels(
        [info("/a/runs/x"), info("/b/checkpoints/x"), info("/b/checkpoints/y")]
    )
    assert labels == [
        "x · test top-1 10.0% · tiny · runs/",
        "x · test top-1 10.0% · tiny · checkpoints/",
        "y · test top-1 10.0% · tiny",
    ]
    # ... or, in folders of the same name, when they were created ...
    labels = distinct_labels([info("/a/ck/x"), info("/b/ck/x", "2025-03-04T05:06:07+00:00")])
    assert labels[0].endswith(" · 2025-01-02 10:11:12")
    assert labels[1].endswith(" · 2025-03-04 05:06:07")
    # ... or, for an exact copy, the full path
    labels = distinct_labels([info("/a/ck/x"), info("/b/ck/x")])
    assert labels == [f"x · test top-1 10.0% · tiny · {Path(p)}" for p in ("/a/ck/x", "/b/ck/x")]


def _info(path: Path, status="complete", top1=None, n=6149, total=6149, created="2026-01-01"):
    from flowerdash.models.checkpoints import CheckpointInfo

    meta = {"status": status, "created": created, "dataset": {"split_sizes": {"test": total}}}
    if top1 is not None:
        meta["metrics"] = {"test": {"n": n, "top1": top1, "top5": 1.0}}
    return CheckpointInfo(path, meta)


def test_a_new_session_starts_with_the_best_whole_split_score(tmp_path, monkeypatch):
    shipped = tmp_path / "default"
    monkeypatch.setattr(checkpoints, "SHIPPED_DEFAULT", shipped)
    best = checkpoints.best_measured
    ship = _info(shipped, top1=0.919)
    # newest first, as list_checkpoints sorts them
    quick = _info(tmp_path / "quick", top1=1.0, n=8, created="2026-03-01")  # 8 photos: a sample
    worse = _info(tmp_path / "worse", top1=0.80, created="2026-02-01")
    assert best([quick, worse, ship]) is ship  # a new run is offered, not imposed
    better = _info(tmp_path / "better", top1=0.93, created="2026-04-01")
    partial = _info(tmp_path / "partial", status="partial", top1=0.99, created="2026-05-01")
    assert best([partial, better, quick, worse, ship]) is better
    tie = _info(tmp_path / "tie", top1=0.919, created="2026-06-01")
    assert best([tie, ship]) is ship  # only a strictly better score replaces the shipped one
    assert best([tie, worse]) is tie


def test_without_whole_split_scores_the_shipped_then_the_newest_complete(tmp_path, monkeypatch):
    shipped = tmp_path / "default"
    monkeypatch.setattr(checkpoints, "SHIPPED_DEFAULT", shipped)
    best = checkpoints.best_measured
    newest = _info(tmp_path / "new", top1=0.5, n=10, created="2026-03-01")
    older = _info(tmp_path / "old", created="2026-02-01")
    partial = _info(tmp_path / "partial", status="partial", created="2026-04-01")
    assert best([partial, newest, older, _info(shipped)]).path == shipped
    assert best([partial, newest, older]) is newest
    assert best([partial]) is partial
    assert best([]) is None
