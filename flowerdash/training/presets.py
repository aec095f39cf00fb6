"""Named training recipes, called by what they give: the Train page's first choice and
``python -m flowerdash train --preset NAME``.

A preset is a set of ``TrainConfig`` fields; anything it does not set keeps the config's
default, and the CLI's own flags override it. What each one gives (time, accuracy) is measured
by ``python -m benchmarks.presets``; the figures are in docs/RESULTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowerdash.errors import ConfigError
from flowerdash.i18n import N_, _
from flowerdash.training.config import TrainConfig

__all__ = ["PRESETS", "Preset", "preset_config", "preset_fields"]


@dataclass(frozen=True)
class Preset:
    """A named recipe: its title and description (marked for translation) and its fields."""

    title: str
    description: str
    fields: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    # Only a new last layer learns, on features the frozen backbone computes once per photo
    # (no augmentation, so once is enough). The head's settings were chosen on the validation
    # split.
    "quick": Preset(
        N_("Quick: about a minute, about 80% right"),
        N_(
            "MobileNetV2 with its ImageNet weights stays frozen; only a new last layer learns, "
            "on all 1,020 training photos, whose features are computed once. The accuracy is "
            "measured on 1,020 test photos."
        ),
        {
            "backbone": "mobilenetv2",
            "weights": "auto",
            "augment": "none",
            "head_augment": False,
            "epochs": 40,
            "fine_tune_epochs": 0,
            "batch_size": 64,
            "learning_rate": 3e-3,
            "label_smoothing": 0.0,
            "train_on": "train",
            "val_limit": 204,
            "test_limit": 1020,
        },
    ),
    # The recipe of one of the runs averaged into the shipped model (checkpoints/default's
    # meta.json records each member's): the one shipped alone before, with flat-colour patches
    # and fine-tuned 36 epochs.
    "best": Preset(
        N_("Best accuracy: about 40 minutes"),
        N_(
            "The recipe of one of the three runs whose average ships with flowerdash: "
            "MobileNetV2, a new last layer first, then the whole network fine-tuned with "
            "augmented photos, on the training and validation photos together. The accuracy is "
            "measured on all 6,149 test photos."
        ),
        {
            "backbone": "mobilenetv2",
            "weights": "auto",
            "augment": "basic",
            # grey photos, wider zoom and covered patches, half of them one flat colour like a
            # hand or a label: phone and web photos differ from the benchmark's so (chosen on
            # the validation proxies, docs/RESULTS.md)
            "augment_overrides": {"zoom": 0.5, "grayscale": 0.2, "erase": 0.5, "erase_flat": 0.5},
            "epochs": 30,
            "fine_tune_epochs": 36,
            "fine_tune_layers": 1000,
            "batch_size": 32,
            "learning_rate": 1e-3,
            "fine_tune_learning_rate": 3e-4,
            "label_smoothing": 0.1,
            "dropout": 0.2,
            "head_augment": False,
            "train_on": "train+val",
        },
    ),
}


def preset_fields(name: str) -> dict[str, Any]:
    """The TrainConfig fields a preset sets (ConfigError for an unknown name)."""
    if name not in PRESETS:
        raise ConfigError(
            _("Unknown preset {name!r}; choose from {choices}.").format(
                name=name, choices=", ".join(PRESETS)
            )
        )
    return dict(PRESETS[name].fields)


def preset_config(preset: str, **fields: Any) -> TrainConfig:
    """The TrainConfig of ``preset``, with ``fields`` (e.g. the run's ``name``) on top."""
    return TrainConfig(**{**preset_fields(preset), **fields})
