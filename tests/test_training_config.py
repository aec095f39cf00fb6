"""TrainConfig as the one source of its settings: every field has a ``train`` flag generated from
it, the flags read back as the config's defaults, and each keeps its name and meaning."""

from __future__ import annotations

import dataclasses

import pytest

from flowerdash.cli.main import build_parser
from flowerdash.cli.train import config_fields, given_options
from flowerdash.errors import ConfigError
from flowerdash.training.config import TrainConfig, settings, status_word


def config_of(*flags: str) -> TrainConfig:
    argv = ["train", *flags]
    return TrainConfig(**config_fields(build_parser().parse_args(argv), given_options(argv)))


def test_every_field_has_a_flag_and_the_flags_read_back_as_the_defaults():
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    dests = {a.dest for a in train._actions}
    for f in dataclasses.fields(TrainConfig):
        assert f.name in dests or any(d.startswith(f"{f.name}.") for d in dests), f.name
        assert f.metadata["setting"].help, f.name
    assert config_of() == TrainConfig()


@pytest.mark.parametrize(
    ("flags", "field", "value"),
    [
        (["--backbone", "tiny"], "backbone", "tiny"),
        (["--weights", "none"], "weights", None),
        (["--weights", "imagenet"], "weights", "imagenet"),
        (["--image-size", "64"], "image_size", 64),
        (["--epochs", "7"], "epochs", 7),
        (["--lr", "0.01"], "learning_rate", 0.01),
        (["--fine-tune-lr", "3e-5"], "fine_tune_learning_rate", 3e-5),
        (["--fine-tune-ema", "0.9"], "fine_tune_ema", 0.9),
        (["--train-on", "train+val"], "train_on", "train+val"),
        (["--test-limit", "16"], "test_limit", 16),
        (["--no-test"], "evaluate_test", False),
        (["--no-feature-cache"], "cache_features", False),
        (["--no-head-augment"], "head_augment", False),
        (["--no-keep-on-cancel"], "keep_on_cancel", False),
        (["--strategy", "one"], "strategy", "one"),
        (["--devices", "GPU:0, GPU:1,"], "devices", ["GPU:0", "GPU:1"]),
        (["--devices", ""], "devices", None),
        (["--rotation", "0.3", "--flip", "vertical"], "augment_overrides", {"rotation": 0.3, "flip": "vertical"}),
        (["--rand-augment", "0.1"], "augment_overrides", {"rand_augment": 0.1}),
        (["--name", "x", "--data-dir", "/d", "--checkpoint-dir", "/c"], "name", "x"),
    ],
)  # fmt: skip
def test_each_flag_keeps_its_name_and_meaning(flags, field, value):
    assert getattr(config_of(*flags), field) == value


def test_flags_with_choices_refuse_others():
    for flags in (["--train-on", "test"], ["--strategy", "ps"], ["--preset", "fast"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["train", *flags])


def test_every_bound_is_checked_in_plain_words():
    for f, meta in settings():
        if meta.ge is None and meta.gt is None and meta.lt is None:
            continue
        assert meta.error, f.name
        bad = (meta.ge - 1) if meta.ge is not None else meta.gt if meta.gt is not None else meta.lt
        with pytest.raises(ConfigError):
            TrainConfig(**{f.name: bad})


def test_status_words_read_in_a_sentence_and_as_a_heading():
    assert status_word("succeeded") == "succeeded"
    assert status_word("pending", capital=True) == "Pending"
    assert status_word("unknown") == "unknown"


def test_the_train_forms_widgets_come_from_the_fields(monkeypatch, tmp_path):
    from flowerdash.training import form

    shown = form.widgets()
    assert list(shown)[:2] == ["backbone", "epochs"] and set(form.LIMITS) <= set(shown)
    assert form.start_value("epochs") == 2 and form.start_value("batch_size") == 32
    assert "tiny" not in form.backbone_choices()
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(tmp_path))
    values = {name: form.start_value(name) for name in shown} | {"name": " ", "backbone": "tiny"}
    basic = form.augmentation_values("basic", None)
    quick = form.config_from_form(values, "lab", {**basic, "rotation": 0.3}, quick=True)
    assert (quick.backbone, quick.weights, quick.epochs, quick.train_limit) == (
        "tiny",
        None,
        2,
        160,
    )
    assert (quick.augment, quick.augment_overrides, quick.name) == (
        "basic",
        {"rotation": 0.3},
        None,
    )
    full = form.config_from_form(values | {"backbone": "mobilenetv2"}, "none", basic, quick=False)
    assert full.weights == "auto" and full.train_limit is None and full.test_limit is None
    assert full.augment == "none" and full.augment_config().to_dict() == basic
    assert "mixup_alpha" not in full.augment_overrides  # only what differs from the preset
    with pytest.raises(ConfigError):
        form.config_from_form(values, "basic", {**basic, "zoom": 2.0}, quick=True)
