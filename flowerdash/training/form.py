"""The Train page's custom form as data: which settings it shows, how, and the run its values
describe. The widgets of ``TrainConfig`` fields come from their ``Setting`` (``config.py``);
the augmentation details are ``AugmentConfig``'s. Streamlit-free.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flowerdash.data.augment_config import knobs
from flowerdash.i18n import N_, _
from flowerdash.models.checkpoints import check_new_name
from flowerdash.training.config import AUGMENT_KEYS, TrainConfig, Widget, default_of, settings

DEV_ENV = "FLOWERDASH_DEV"  # "1": the tiny test backbone is offered too
#: The settings a quick run limits (ignored when the form's Quick run is off).
LIMITS = ("train_limit", "val_limit", "test_limit")
# Augmentation details: (field, label, upper limit, step, help), from AugmentConfig's knobs.
AUGMENT_SLIDERS: list[tuple[str, str, float, float, str]] = [
    (name, k.label, k.upper, k.step, k.help) for name, k in knobs().items()
]
AUGMENT_FIELDS = list(AUGMENT_KEYS)
AUGMENT_LABELS = {
    "none": N_("None (photos unchanged)"),
    "basic": N_("Basic (flip, turn, zoom, shift, light)"),
    "advanced": N_("Advanced (basic + MixUp and CutMix)"),
    "lab": N_("My settings from the Augmentation lab"),
}


def widgets() -> dict[str, Widget]:
    """The TrainConfig fields the form shows, with their widgets, in declaration order."""
    return {f.name: meta.widget for f, meta in settings() if meta.widget is not None}


def start_value(name: str) -> Any:
    """The value the form starts with for field ``name``."""
    widget = widgets()[name]
    if widget.start is not None:
        return widget.start
    return next(default_of(f) for f, _meta in settings() if f.name == name)


def backbone_choices() -> list[str]:
    """Backbones offered: the 'tiny' test network only in developer mode."""
    names = ["mobilenetv2", "efficientnetb0"]
    if os.environ.get(DEV_ENV) == "1":
        names.append("tiny")
    return names


def augment_label(name: str) -> str:
    """Plain words for an augmentation preset."""
    return _(AUGMENT_LABELS[name]) if name in AUGMENT_LABELS else name


def augment_choices(lab: bool) -> list[str]:
    """Augmentation presets, plus the lab's settings when the user tried some there."""
    from flowerdash.data.augment_config import PRESETS

    return [*PRESETS, "lab"] if lab else list(PRESETS)


def augmentation_values(name: str, lab: Mapping[str, Any] | None) -> dict[str, Any]:
    """The augmentation details of a preset, or of the lab's last settings (``lab``)."""
    from flowerdash.data.augment_config import preset

    if name == "lab":
        return dict(lab or preset("basic").to_dict())
    return preset(name).to_dict()


def new_run_name(text: str) -> str | None:
    """The run name typed, or None for the default one (ConfigError if it is taken or bad)."""
    name = text.strip() or None
    if name is not None:
        check_new_name(name)
    return name


def config_from_form(
    values: Mapping[str, Any], augment: str, augmentation: Mapping[str, Any], quick: bool
) -> TrainConfig:
    """The TrainConfig of the form's values (ConfigError if unusable).

    ``values``: the shown fields' values; ``augment``: the chosen augmentation preset (or
    ``lab``); ``augmentation``: the details; ``quick``: the limits apply.
    """
    from flowerdash.data.augment_config import AugmentConfig, preset

    AugmentConfig.from_dict(dict(augmentation))  # plain-words ConfigError for a bad value
    base_name = "basic" if augment == "lab" else augment
    base = preset(base_name).to_dict()
    overrides = {k: v for k, v in augmentation.items() if v != base[k]}
    fields: dict[str, Any] = {}
    for name, value in values.items():
        if name == "name":
            fields[name] = new_run_name(value)
        elif name in LIMITS and not quick:
            fields[name] = None
        else:
            fields[name] = type(start_value(name))(value)
    return TrainConfig(
        **fields,
        weights=None if fields["backbone"] == "tiny" else "auto",
        augment=base_name,
        augment_overrides=overrides,
    )
