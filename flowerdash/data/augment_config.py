"""What augmentation to apply and how strongly: ``AugmentConfig`` and its presets, without
TensorFlow, so the CLI, the Train form and the Augmentation lab build their controls from it.

Every numeric setting is one field carrying its label, upper limit, slider step and help
(``knob``); the layers that apply them are in :mod:`flowerdash.data.augment`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

from flowerdash.errors import ConfigError
from flowerdash.i18n import N_, _

FLIP_MODES = ("none", "horizontal", "vertical", "horizontal_and_vertical")
# Keras RandomErasing's own default for the largest patch; also what runs before the setting had.
ERASE_SIZE = 0.33
# The JPEG qualities a compressed training photo is saved at: a heavily compressed web thumbnail
# to a phone's ordinary save (web photos are seldom saved better, and nothing lower is common).
JPEG_QUALITY = (15, 90)
# A tile's side as a share of the photo's, for photos shown as several flowers: crops large
# enough to hold a flower, small enough that the four differ.
TILE_SIDES = (0.6, 0.9)
# How blurred a blurred training photo is: a Gaussian's width in pixels, from a slightly soft
# phone photo to a shaken or misfocused one (Keras draws one width per batch), and the kernel
# that holds the widest (odd, as Keras needs; 2.4 widths either side).
BLUR_SIGMA = (0.5, 2.5)
BLUR_KERNEL = 13
# How grainy a grainy training photo is: the noise's standard deviation on the 0-255 scale, from
# a daylight phone photo to one taken in dim light, drawn for each photo.
NOISE_SIGMA = (2.0, 25.0)


@dataclass(frozen=True)
class Knob:
    """How a numeric augmentation setting is shown and checked (Keras layer semantics)."""

    label: str  # marked with N_, translated where shown
    upper: float  # inclusive; 0 is always the lower limit and turns the setting off
    step: float  # a slider's step
    meaning: str  # what a value means, for the out-of-range message
    help: str  # one line, for the Train form and ``train --help``
    explain: str  # a fuller sentence, for the Augmentation lab
    mixing: bool = False  # applied to pairs of photos in a batch (MixUp/CutMix), not one photo
    shapes: str = ""  # the setting this one shapes (a size, say); alone it changes no photo


def knob(default: float, **meta: Any) -> Any:
    """A numeric ``AugmentConfig`` field with its ``Knob``."""
    return dataclasses.field(default=default, metadata={"knob": Knob(**meta)})


@dataclass
class AugmentConfig:
    """Which augmentations to apply and how strongly (Keras layer semantics)."""

    flip: str = "horizontal"
    rotation: float = knob(
        0.1,
        label=N_("Rotation"),
        upper=1.0,
        step=0.01,
        meaning=N_("a fraction of a full turn, e.g. 0.1 means up to ±36 degrees"),
        help=N_("How far photos may turn, as a fraction of a full turn."),
        explain=N_(
            "How far the photo may turn, as a fraction of a full turn: 0.1 means up to 36 degrees either way."
        ),
    )
    zoom: float = knob(
        0.1,
        label=N_("Zoom"),
        upper=0.95,
        step=0.01,
        meaning=N_("a fraction of the image size, e.g. 0.1 means up to 10% in or out"),
        help=N_("How much photos may be zoomed in or out (0.1 = 10%)."),
        explain=N_(
            "How much the photo may be zoomed in or out: 0.1 means up to 10% closer or farther."
        ),
    )
    translation: float = knob(
        0.1,
        label=N_("Shift"),
        upper=1.0,
        step=0.01,
        meaning=N_("a fraction of the image size, e.g. 0.1 means up to 10% shift"),
        help=N_("How far photos may slide, as a fraction of their size."),
        explain=N_(
            "How far the photo may slide sideways and up or down: 0.1 means up to 10% of its size."
        ),
    )
    tiles: float = knob(
        0.0,
        label=N_("Several flowers"),
        upper=1.0,
        step=0.05,
        meaning=N_("the share of photos shown as a 2 × 2 grid, e.g. 0.2 means one in five"),
        help=N_("The share of photos shown as a 2 × 2 grid of four crops of themselves."),
        explain=N_(
            "The share of photos shown as a 2 × 2 grid of four crops of themselves, each 60% to 90% of the photo across: the model also meets several smaller flowers in one picture, as in a flower bed or a bouquet. 0 turns it off."
        ),
    )
    brightness: float = knob(
        0.2,
        label=N_("Brightness"),
        upper=1.0,
        step=0.01,
        meaning=N_("a fraction of the 0..255 range, e.g. 0.2 means up to ±51"),
        help=N_("How much lighter or darker photos may get."),
        explain=N_(
            "How much lighter or darker the photo may get: 0.2 means up to a fifth of full white."
        ),
    )
    contrast: float = knob(
        0.2,
        label=N_("Contrast"),
        upper=1.0,
        step=0.01,
        meaning=N_("e.g. 0.2 scales contrast by a factor between 0.8 and 1.2"),
        help=N_("How much the contrast may change (0.2 = ±20%)."),
        explain=N_(
            "How much the contrast may change: 0.2 means between 80% and 120% of the original."
        ),
    )
    grayscale: float = knob(
        0.0,
        label=N_("Grey photos"),
        upper=1.0,
        step=0.05,
        meaning=N_("the share of photos shown in grey, e.g. 0.2 means one in five"),
        help=N_("The share of photos shown in grey, so colour is not all the model learns."),
        explain=N_(
            "The share of photos shown in shades of grey: the model must also learn shapes, which "
            "helps with faded, grey or oddly lit photos. 0 turns it off."
        ),
    )
    erase: float = knob(
        0.0,
        label=N_("Covered patches"),
        upper=1.0,
        step=0.05,
        meaning=N_("the share of photos with a random patch covered, e.g. 0.5 means one in two"),
        help=N_("The share of photos with a patch covered, so no one part decides."),
        explain=N_(
            "The share of photos with a random patch covered by noise or a flat colour (its size and fill are set below): the model must recognise a flower from what is left, as when a leaf, a hand or a watermark hides part of it. 0 turns it off."
        ),
    )
    erase_size: float = knob(
        ERASE_SIZE,
        label=N_("Largest covered patch"),
        upper=1.0,
        step=0.01,  # the default, Keras's 0.33, lies on this grid
        meaning=N_("the largest share of the photo one patch covers, e.g. 0.33 means a third"),
        help=N_("The largest share of the photo a covered patch may take (0.33 = a third)."),
        explain=N_(
            "How large a covered patch may be, as a share of the photo: each patch covers between 2% and this much (or exactly this much, if it is smaller). It only matters when covered patches are on."
        ),
        shapes="erase",
    )
    erase_flat: float = knob(
        0.0,
        label=N_("Flat-colour patches"),
        upper=1.0,
        step=0.05,
        meaning=N_("the share of covered patches filled with one flat colour instead of noise"),
        help=N_("The share of covered patches filled with one flat colour instead of noise."),
        explain=N_(
            "The share of covered patches filled with one flat colour of a random shade instead of noise: most things that hide a flower in a real photo (a hand, a leaf, a label) are smooth, not speckled. It only matters when covered patches are on."
        ),
        shapes="erase",
    )
    blur: float = knob(
        0.0,
        label=N_("Blurred photos"),
        upper=1.0,
        step=0.05,
        meaning=N_("the share of photos blurred, e.g. 0.2 means one in five"),
        help=N_("The share of photos blurred, as by a shaky hand or a missed focus."),
        explain=N_(
            "The share of photos blurred by a Gaussian between 0.5 and 2.5 pixels wide (one width for each batch): a shaky hand, a missed focus or an enlarged small photo loses fine detail, and the model must still know the flower. 0 turns it off."
        ),
    )
    noise: float = knob(
        0.0,
        label=N_("Grainy photos"),
        upper=1.0,
        step=0.05,
        meaning=N_("the share of photos given random grain, e.g. 0.2 means one in five"),
        help=N_("The share of photos given random grain, as a phone adds in dim light."),
        explain=N_(
            "The share of photos given random grain, as a phone camera adds in dim light: noise of a strength between 2 and 25 on the 0-255 scale, drawn for each photo. 0 turns it off."
        ),
    )
    jpeg: float = knob(
        0.0,
        label=N_("JPEG-compressed photos"),
        upper=1.0,
        step=0.05,
        meaning=N_(
            "the share of photos saved as JPEG at a random quality, e.g. 0.5 means one in two"
        ),
        help=N_("The share of photos saved as JPEG at a random low-to-ordinary quality."),
        explain=N_(
            "The share of photos saved as JPEG at a random quality between 15 and 90, from a heavily compressed web thumbnail to an ordinary phone save: the blocks and smudged edges of compression stop looking like part of a flower. 0 turns it off."
        ),
    )
    rand_augment: float = knob(
        0.0,
        label=N_("RandAugment strength"),
        upper=1.0,
        step=0.05,
        meaning=N_("the strength of RandAugment's two random operations; 0 turns it off"),
        help=N_("Two operations picked at random for each batch; 0 turns it off."),
        explain=N_(
            "On top of the above, two operations picked at random (shear, shift, turn, light, colour, contrast, sharpness, auto-contrast, equalisation) at this strength; 0 turns RandAugment off. One pick serves a whole training batch; each sample here is its own pick."
        ),
    )
    mixup_alpha: float = knob(
        0.0,
        label=N_("MixUp strength (α)"),
        upper=1.0,
        step=0.05,
        meaning=N_("the Beta(alpha, alpha) parameter of MixUp; 0 turns it off"),
        help=N_("Blend pairs of photos; 0 turns it off."),
        explain=N_(
            "During training, blend random pairs of photos; higher values make more even blends and 0 turns MixUp off."
        ),
        mixing=True,
    )
    cutmix_alpha: float = knob(
        0.0,
        label=N_("CutMix strength (α)"),
        upper=1.0,
        step=0.05,
        meaning=N_("the Beta(alpha, alpha) parameter of CutMix; 0 turns it off"),
        help=N_("Paste patches between photos; 0 turns it off."),
        explain=N_(
            "During training, paste a patch of one photo onto another; higher values vary the patch size more and 0 turns CutMix off."
        ),
        mixing=True,
    )

    def __post_init__(self) -> None:
        if not isinstance(self.flip, str) or self.flip not in FLIP_MODES:
            raise ConfigError(
                _("Flip must be one of {choices}; got {value}.").format(
                    choices=", ".join(FLIP_MODES), value=repr(self.flip)
                )
            )
        for name, k in knobs().items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ConfigError(
                    _("{name} must be a number; got {value}.").format(name=name, value=repr(value))
                )
            value = float(value)
            if not math.isfinite(value) or value < 0 or value > k.upper:
                raise ConfigError(
                    _("{name} must be between 0 and {upper} ({meaning}); got {value}.").format(
                        name=name, upper=f"{k.upper:g}", meaning=_(k.meaning), value=repr(value)
                    )
                )
            setattr(self, name, value)

    @property
    def is_identity(self) -> bool:
        """True when no augmentation at all is switched on."""
        return self.flip == "none" and all(
            getattr(self, name) == 0 for name, k in knobs().items() if not k.shapes
        )

    @property
    def covers_patches(self) -> bool:
        """True when some photos get a covered patch: a share of photos and a patch size."""
        return self.erase > 0 and self.erase_size > 0

    @property
    def mixing_methods(self) -> tuple[str, ...]:
        """The batch-mixing methods switched on, in a fixed order."""
        return tuple(
            m for m, a in (("mixup", self.mixup_alpha), ("cutmix", self.cutmix_alpha)) if a > 0
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of the settings."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentConfig:
        """Build from a dict such as `to_dict()` made; missing keys take their defaults."""
        if not isinstance(data, dict):
            raise ConfigError(
                _("Augmentation settings must be a mapping; got {type_name}.").format(
                    type_name=type(data).__name__
                )
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                _("Unknown augmentation setting(s): {unknown}. Known settings: {known}.").format(
                    unknown=", ".join(map(str, unknown)), known=", ".join(sorted(known))
                )
            )
        return cls(**data)


def knobs() -> dict[str, Knob]:
    """Every numeric setting of ``AugmentConfig`` and its ``Knob``, in field order."""
    return {
        f.name: f.metadata["knob"]
        for f in dataclasses.fields(AugmentConfig)
        if "knob" in f.metadata
    }


def upper_limit(name: str) -> float:
    """The largest value a numeric setting accepts (what a control for it may reach)."""
    return knobs()[name].upper


PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(flip="none", rotation=0, zoom=0, translation=0, brightness=0, contrast=0),
    "basic": AugmentConfig(),
    "advanced": AugmentConfig(mixup_alpha=0.2, cutmix_alpha=1.0),
}


def preset(name: str) -> AugmentConfig:
    """A fresh copy of the named preset."""
    if name not in PRESETS:
        raise ConfigError(
            _("Unknown augmentation preset {name}. Choose one of: {choices}.").format(
                name=repr(name), choices=", ".join(PRESETS)
            )
        )
    return dataclasses.replace(PRESETS[name])
