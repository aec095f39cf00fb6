"""Ensembles: one flat model averaging the members' class scores, saved as a checkpoint."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from conftest import make_tiny_cnn, save_tiny_checkpoint

from flowerdash.cli.main import main
from flowerdash.errors import CheckpointError
from flowerdash.explain.base import check_layer, default_conv_layer, logits_model
from flowerdash.explain.gradcam import GradCAM
from flowerdash.explain.integrated_gradients import IntegratedGradients
from flowerdash.models.checkpoints import load_model, read_meta
from flowerdash.models.ensemble import build_ensemble, ensemble_checkpoint


@pytest.fixture(scope="module")
def members():
    return [make_tiny_cnn(seed=1), make_tiny_cnn(seed=2), make_tiny_cnn(seed=3)]


def _images(n: int = 3, size: int = 64) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype("float32")


def test_scores_are_the_mean_of_the_members_and_members_are_untouched(members):
    before = [[w.copy() for w in m.get_weights()] for m in members]
    names = [[layer.name for layer in m.layers] for m in members]
    ensemble = build_ensemble(members)
    x = _images()
    expected = np.mean([logits_model(m)(x).numpy() for m in members], axis=0)
    np.testing.assert_allclose(logits_model(ensemble)(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        ensemble(x).numpy(), keras.ops.softmax(expected).numpy(), rtol=1e-5, atol=1e-6
    )
    for m, weights, layer_names in zip(members, before, names, strict=True):
        assert [layer.name for layer in m.layers] == layer_names
        for a, b in zip(m.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_ensemble_is_flat_and_every_member_layer_is_named(members):
    ensemble = build_ensemble(members)
    assert not any(isinstance(layer, keras.Model) for layer in ensemble.layers)
    names = {layer.name for layer in ensemble.layers}
    assert {"m1_conv2", "m2_conv2", "m3_conv2", "logits", "probs"} <= names
    assert default_conv_layer(ensemble) == "m3_conv2"
    assert check_layer(ensemble, "m1_conv2") == "m1_conv2"


@pytest.mark.parametrize("explainer", [GradCAM, IntegratedGradients], ids=["gradcam", "ig"])
def test_an_ensemble_can_be_explained(members, explainer):
    maps = explainer(build_ensemble(members[:2]))(_images(3))
    assert maps.shape == (3, 64, 64) and maps.dtype == np.float32 and np.isfinite(maps).all()


def test_one_model_or_different_models_are_refused(members):
    with pytest.raises(CheckpointError, match="at least 2"):
        build_ensemble(members[:1])
    with pytest.raises(CheckpointError, match="same input"):
        build_ensemble([members[0], make_tiny_cnn(image_size=32)])
    with pytest.raises(CheckpointError, match="same classes"):
        build_ensemble([members[0], make_tiny_cnn(num_classes=7)])


def test_ensemble_checkpoint_round_trips_and_records_its_members(tmp_path):
    a = save_tiny_checkpoint(tmp_path, "a", seed=1)
    b = save_tiny_checkpoint(tmp_path, "b", seed=2)
    folder = ensemble_checkpoint([a, b], name="both", root=tmp_path)
    meta = read_meta(folder)
    assert meta["backbone"] == "2 × tiny" and meta["status"] == "complete"
    assert [m["name"] for m in meta["members"]] == ["a", "b"]
    assert meta["members"][0]["test"] == {"n": 10, "top1": 0.1, "top5": 0.3}
    x = _images(2)
    logits = np.mean([logits_model(load_model(p))(x).numpy() for p in (a, b)], axis=0)
    got = keras.saving.load_model(folder / "model.keras", compile=False)(x).numpy()
    np.testing.assert_allclose(got, keras.ops.softmax(logits).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["../outside", "a"])
def test_a_bad_or_taken_name_is_refused_before_anything_is_loaded(tmp_path, name):
    from flowerdash.errors import ConfigError

    a = save_tiny_checkpoint(tmp_path, "a", seed=1)
    b = save_tiny_checkpoint(tmp_path, "b", seed=2)
    with pytest.raises(ConfigError, match="letters, digits|already exists"):
        ensemble_checkpoint([a, b], name=name, root=tmp_path)
    assert sorted(p.name for p in tmp_path.parent.iterdir() if p.name == "outside") == []


def test_a_partial_member_makes_a_partial_ensemble(tmp_path):
    from flowerdash.models.checkpoints import update_meta

    a = save_tiny_checkpoint(tmp_path, "a", seed=1)
    b = save_tiny_checkpoint(tmp_path, "b", seed=2)
    update_meta(b, status="partial")
    meta = read_meta(ensemble_checkpoint([a, b], name="ab", root=tmp_path))
    assert meta["status"] == "partial"
    assert [m["status"] for m in meta["members"]] == ["complete", "partial"]


def test_checkpoints_naming_different_classes_are_refused(tmp_path):
    from flowerdash.models.checkpoints import update_meta

    a = save_tiny_checkpoint(tmp_path, "a", seed=1)
    b = save_tiny_checkpoint(tmp_path, "b", seed=2)
    names = read_meta(b)["class_names"]
    update_meta(b, class_names=names[1:] + names[:1])
    with pytest.raises(CheckpointError, match="same classes in the same order"):
        ensemble_checkpoint([a, b], name="mixed", root=tmp_path)
    assert not (tmp_path / "mixed").exists()


def test_cli_ensemble_records_test_accuracy(tmp_path, data_dir, capsys):
    save_tiny_checkpoint(tmp_path, "a", seed=1)
    save_tiny_checkpoint(tmp_path, "b", seed=2)
    args = ["ensemble", "a", "b", "--name", "ab", "--checkpoint-dir", str(tmp_path)]
    code = main([*args, "--limit", "8", "--data-dir", str(data_dir), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test"]["n"] == 8 and 0 <= result["test"]["top1"] <= result["test"]["top5"] <= 1
    assert read_meta(tmp_path / "ab")["metrics"]["test"] == result["test"]


def test_cli_ensemble_of_one_checkpoint_is_a_clear_error(tmp_path, capsys):
    save_tiny_checkpoint(tmp_path, "a", seed=1)
    assert main(["ensemble", "a", "--checkpoint-dir", str(tmp_path), "--no-test"]) == 1
    assert capsys.readouterr().err == "error: An ensemble needs at least 2 models; got 1.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_gradcam_of_an_ensemble_uses_every_member_by_default(members):
    from flowerdash.explain.base import gradcam_layer_choices

    ensemble = build_ensemble(members)
    explainer = GradCAM(ensemble)
    assert explainer.layers == ("m1_conv2", "m2_conv2", "m3_conv2")
    choices = gradcam_layer_choices(ensemble)
    assert choices[-1] == ("m1_conv2", "m2_conv2", "m3_conv2") and ("m2_conv1",) in choices
    assert GradCAM(ensemble, layers=choices[-1]).layers == explainer.layers
    assert gradcam_layer_choices(members[0]) == [("preprocess",), ("conv1",), ("conv2",)]


def test_gradcam_of_one_member_layer_is_that_members_own_map(members):
    # The ensemble's score is the mean of the members', so the gradient reaching member k's
    # layer is its own divided by k: the same map once scaled to [0, 1].
    x, targets = _images(2), [1, 4]
    ensemble = build_ensemble(members[:2])
    for k, member in enumerate(members[:2], start=1):
        np.testing.assert_allclose(
            GradCAM(ensemble, layers=f"m{k}_conv2")(x, targets),
            GradCAM(member)(x, targets),
            atol=1e-5,
        )


def test_gradcam_of_an_ensemble_of_equal_members_is_the_members_map(members):
    x, targets = _images(2), [0, 3]
    ensemble = build_ensemble([members[0], make_tiny_cnn(seed=1)])
    np.testing.assert_allclose(
        GradCAM(ensemble)(x, targets), GradCAM(members[0])(x, targets), atol=1e-5
    )


def test_a_bad_one_of_several_layers_lists_the_candidates(members):
    from flowerdash.errors import ExplainError

    with pytest.raises(ExplainError, match="m9_conv2.*Candidates"):
        GradCAM(build_ensemble(members[:2]), layers=("m1_conv2", "m9_conv2"))


def test_the_models_package_does_not_import_the_explain_package():
    """No import circle: explain uses models (ensembles, logits), never the other way round."""
    import ast
    from pathlib import Path

    import flowerdash.models

    for path in Path(flowerdash.models.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("flowerdash.explain"), (path.name, node.module)
