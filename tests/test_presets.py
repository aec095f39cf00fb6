"""Training presets: what each sets, the CLI's --preset, and the quick preset on real data."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, best_preset_run

from flowerdash.cli.main import build_parser
from flowerdash.cli.train import config_fields, given_options
from flowerdash.errors import ConfigError
from flowerdash.models import checkpoints
from flowerdash.training.config import TrainConfig
from flowerdash.training.job import train
from flowerdash.training.presets import PRESETS, preset_config, preset_fields


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_a_valid_config_with_a_title_and_description(name):
    config = preset_config(name, name="run")
    assert config.name == "run"
    for field, value in PRESETS[name].fields.items():
        assert getattr(config, field) == value
    assert PRESETS[name].title and PRESETS[name].description


def test_the_quick_preset_is_the_recipe_the_issue_names():
    """All training photos, frozen backbone on cached features, no augmentation in that stage,
    measured on at least 1,000 test photos."""
    quick = preset_config("quick")
    assert quick.backbone == "mobilenetv2" and quick.train_on == "train"
    assert quick.train_limit is None and quick.fine_tune_epochs == 0
    assert quick.cache_features and not quick.head_augment and quick.augment == "none"
    assert quick.evaluate_test and quick.test_limit >= 1000


def test_the_best_preset_is_the_recipe_of_one_of_the_shipped_models_members():
    shipped = json.loads((ROOT / "checkpoints" / "default" / "meta.json").read_text())
    assert shipped["averages"] == "weights"  # one model, the mean of its members' weights
    assert best_preset_run() in [m["name"] for m in shipped["members"]]


def test_an_unknown_preset_is_a_plain_error():
    with pytest.raises(ConfigError, match="Unknown preset 'fast'"):
        preset_fields("fast")


def fields_of(argv: list[str]) -> dict:
    return config_fields(build_parser().parse_args(argv), given_options(argv))


def test_cli_preset_fills_every_field_whose_flag_is_not_given():
    fields = fields_of(["train", "--preset", "quick", "--epochs", "7", "--name", "x"])
    assert fields["epochs"] == 7 and fields["name"] == "x"  # given: kept
    assert fields["backbone"] == "mobilenetv2" and fields["test_limit"] == 1020  # from the preset
    assert TrainConfig(**fields) == preset_config("quick", epochs=7, name="x")
    # a flag given with its default value still wins over the preset
    best = fields_of(["train", "--preset", "best", "--train-on", "train", "--lr=0.001"])
    assert best["train_on"] == "train" and best["fine_tune_epochs"] == 36
    assert best["augment_overrides"] == {
        "zoom": 0.5,
        "grayscale": 0.2,
        "erase": 0.5,
        "erase_flat": 0.5,
    }
    # one augmentation flag overrides its own key and keeps the preset's others
    zoom = fields_of(["train", "--preset", "best", "--zoom", "0.1"])["augment_overrides"]
    assert zoom == {"zoom": 0.1, "grayscale": 0.2, "erase": 0.5, "erase_flat": 0.5}
    assert fields_of(["train", "--zoom", "0.1"])["augment_overrides"] == {"zoom": 0.1}
    assert fields_of(["train", "--preset", "quick", "--no-test"])["evaluate_test"] is False
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--preset", "fast"])


def test_quick_preset_reaches_about_80_percent(real_data_dir, weights_dir, tmp_path):
    """Data tier: the Train page's default on the real photos (benchmarks.presets times it)."""
    job = train(
        preset_config(
            "quick",
            weights=str(weights_dir / "mobilenet_v2_1.0_224_imagenet_notop.weights.h5"),
            data_dir=str(real_data_dir),
            checkpoint_dir=str(tmp_path),
        )
    )
    assert job.status == "succeeded", job.error
    meta = checkpoints.read_meta(job.checkpoint)
    test = meta["metrics"]["test"]
    assert test["n"] == 1020 and meta["dataset"]["split_sizes"]["train"] == 1020
    # 80.2% here (benchmarks/results/presets.json); a little room for other CPUs' rounding
    assert test["top1"] >= 0.78, test
