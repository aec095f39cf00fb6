"""Weight averaging ("model soup"): runs from one start averaged into one model of their size."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from conftest import make_tiny_cnn, save_tiny_checkpoint

from flowerdash.cli.main import main
from flowerdash.errors import CheckpointError, ConfigError
from flowerdash.models.checkpoints import load_model, read_meta
from flowerdash.models.ensemble import ensemble_checkpoint
from flowerdash.models.soup import average_weights


def _images(n: int = 3, size: int = 64) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype("float32")


def test_the_weights_are_the_members_mean_and_the_members_are_untouched():
    members = [make_tiny_cnn(seed=1), make_tiny_cnn(seed=2), make_tiny_cnn(seed=3)]
    before = [m.get_weights() for m in members]
    soup = average_weights(members, name="three")
    assert soup.name == "three" and soup.count_params() == members[0].count_params()
    assert [layer.name for layer in soup.layers] == [layer.name for layer in members[0].layers]
    for i, weight in enumerate(soup.get_weights()):
        np.testing.assert_allclose(weight, np.mean([w[i] for w in before], axis=0), atol=1e-7)
    for m, weights in zip(members, before, strict=True):
        for a, b in zip(m.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_average_of_copies_of_one_model_answers_like_it():
    model = make_tiny_cnn(seed=4)
    x = _images()
    soup = average_weights([model, make_tiny_cnn(seed=4)])
    np.testing.assert_allclose(soup(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-7)


def test_a_frozen_start_averages_with_what_its_fine_tuning_became():
    # WiSE-FT: the start of a fine-tuning (backbone frozen) and the fine-tuned run.
    start, tuned = make_tiny_cnn(seed=5), make_tiny_cnn(seed=6)
    for layer in start.layers[:-1]:
        layer.trainable = False
    soup = average_weights([tuned, start])
    for i, weight in enumerate(soup.get_weights()):
        np.testing.assert_allclose(
            weight, (tuned.get_weights()[i] + start.get_weights()[i]) / 2, atol=1e-7
        )
    assert all(layer.trainable for layer in soup.layers)  # the first member's state


@pytest.mark.parametrize(
    "other",
    [
        lambda: make_tiny_cnn(num_classes=7),
        lambda: make_tiny_cnn(image_size=32),
        # Same weight shapes, another function: a softmax temperature (a calibrated model).
        lambda: keras.Model(
            (m := make_tiny_cnn()).inputs,
            keras.layers.Activation("softmax")(
                keras.layers.Rescaling(0.5)(m.get_layer("logits").output)
            ),
        ),
    ],
    ids=["classes", "size", "temperature"],
)
def test_models_with_different_layers_are_refused(other):
    with pytest.raises(CheckpointError, match="exactly the same layers.*by their answers"):
        average_weights([make_tiny_cnn(), other()])


def test_a_weight_average_checkpoint_is_one_members_size_and_says_what_it_averages(tmp_path):
    a = save_tiny_checkpoint(tmp_path, "a", seed=1)
    b = save_tiny_checkpoint(tmp_path, "b", seed=2)
    folder = ensemble_checkpoint([a, b], name="ab", root=tmp_path, average="weights")
    meta = read_meta(folder)
    assert meta["backbone"] == "tiny" and meta["averages"] == "weights"
    assert [m["name"] for m in meta["members"]] == ["a", "b"]
    soup, members = load_model(folder), [load_model(a), load_model(b)]
    assert soup.count_params() == members[0].count_params()
    for i, weight in enumerate(soup.get_weights()):
        expected = (members[0].get_weights()[i] + members[1].get_weights()[i]) / 2
        np.testing.assert_allclose(weight, expected, rtol=1e-6, atol=1e-7)
    scores = ensemble_checkpoint([a, b], name="ab-scores", root=tmp_path)
    assert read_meta(scores)["averages"] == "scores"


def test_a_weight_average_can_enlarge_what_its_backbone_sees(tmp_path):
    from flowerdash.models.backbones import input_size, with_backbone_size

    a = save_tiny_checkpoint(tmp_path, "a", seed=1)
    b = save_tiny_checkpoint(tmp_path, "b", seed=2)
    plain = ensemble_checkpoint([a, b], name="ab", root=tmp_path, average="weights")
    folder = ensemble_checkpoint(
        [a, b], name="ab96", root=tmp_path, average="weights", backbone_size=96
    )
    assert read_meta(folder)["backbone_size"] == 96 and "backbone_size" not in read_meta(plain)
    model = load_model(folder)
    assert input_size(model) == 64 and model.get_layer("upsample").output.shape[1:3] == (96, 96)
    x = _images()
    expected = with_backbone_size(load_model(plain), 96)(x, training=False)
    np.testing.assert_allclose(model(x), expected, atol=1e-6)
    with pytest.raises(ConfigError, match="Only a weight average"):
        ensemble_checkpoint([a, b], name="s96", root=tmp_path, backbone_size=96)


def test_an_unknown_average_or_one_model_is_refused_before_anything_is_written(tmp_path):
    a = save_tiny_checkpoint(tmp_path, "a", seed=1)
    b = save_tiny_checkpoint(tmp_path, "b", seed=2)
    with pytest.raises(CheckpointError, match="scores or weights; got 'logits'"):
        ensemble_checkpoint([a, b], name="ab", root=tmp_path, average="logits")
    with pytest.raises(CheckpointError, match="at least 2"):
        ensemble_checkpoint([a], name="ab", root=tmp_path, average="weights")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_cli_averages_weights_on_request(tmp_path, capsys):
    save_tiny_checkpoint(tmp_path, "a", seed=1)
    save_tiny_checkpoint(tmp_path, "b", seed=2)
    args = ["ensemble", "a", "b", "--average", "weights", "--name", "ab"]
    code = main([*args, "--checkpoint-dir", str(tmp_path), "--no-test", "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["checkpoint"] == str(tmp_path / "ab")
    assert read_meta(tmp_path / "ab")["backbone"] == "tiny"
    args = ["ensemble", "a", "b", "--average", "weights", "--backbone-size", "80"]
    assert main([*args, "--name", "ab80", "--checkpoint-dir", str(tmp_path), "--no-test"]) == 0
    assert read_meta(tmp_path / "ab80")["backbone_size"] == 80
    with pytest.raises(SystemExit) as bad:
        main(["ensemble", "a", "b", "--average", "median"])
    assert bad.value.code == 2
    assert "invalid choice: 'median'" in capsys.readouterr().err


def test_an_average_of_averages_is_the_average_of_all_their_runs(tmp_path):
    # The shipped model is an average, calibrated and enlarged after averaging: averaging it
    # with more runs must weigh each of its runs once and take off what is not a weight.
    from flowerdash.inference.calibration import with_temperature
    from flowerdash.models.checkpoints import MODEL_FILE, update_meta

    a, b, c = (save_tiny_checkpoint(tmp_path, n, seed=s) for s, n in enumerate("abc", 1))
    ab = ensemble_checkpoint([a, b], name="ab", root=tmp_path, average="weights", backbone_size=80)
    with_temperature(load_model(ab), 0.5).save(ab / MODEL_FILE)
    update_meta(ab, calibration={"temperature": 0.5})
    assert "temperature" in [layer.name for layer in load_model(ab).layers]

    nested = ensemble_checkpoint([ab, c], name="ab-c", root=tmp_path, average="weights")
    flat = ensemble_checkpoint([a, b, c], name="abc", root=tmp_path, average="weights")
    assert [m["name"] for m in read_meta(nested)["members"]] == ["a", "b", "c"]
    nested_model, flat_model = load_model(nested), load_model(flat)
    assert [layer.name for layer in nested_model.layers] == [
        layer.name for layer in flat_model.layers
    ]
    for got, want in zip(nested_model.get_weights(), flat_model.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    x = _images()
    np.testing.assert_allclose(nested_model(x), flat_model(x), rtol=1e-5, atol=1e-6)


def test_each_model_averaged_stands_for_at_least_one_run():
    members = [make_tiny_cnn(seed=1), make_tiny_cnn(seed=2)]
    with pytest.raises(CheckpointError, match="at least one run"):
        average_weights(members, counts=[1, 0])
    weighted = average_weights(members, counts=[3, 1])
    for i, weight in enumerate(weighted.get_weights()):
        expected = (3 * members[0].get_weights()[i] + members[1].get_weights()[i]) / 4
        np.testing.assert_allclose(weight, expected, rtol=1e-6, atol=1e-7)
