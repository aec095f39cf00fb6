"""What defines a training run: ``TrainConfig``, one field per setting.

Each field carries a :class:`Setting` in its metadata: help text, valid range or choices, its
``train`` flag where the spelling differs, and how the Train page shows it. The CLI's flags
(``flowerdash.cli.train``) and the page's form (``training.form``) are generated from these, so
a new knob is one field here. TensorFlow-free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from flowerdash.data.augment_config import knobs
from flowerdash.errors import ConfigError
from flowerdash.i18n import N_, _
from flowerdash.models.checkpoints import check_name
from flowerdash.training.distribute import STRATEGIES, check_strategy_name

#: What a run trains on: ``val`` swaps the official splits (a second fold for choosing recipes).
TRAIN_ON = ("train", "val", "train+val")
STATUSES = ("pending", "running", "succeeded", "cancelled", "failed")
# How a status reads inside a message; the Train page capitalises them (``status_word``).
STATUS_WORDS = {
    "pending": N_("pending"),
    "running": N_("running"),
    "succeeded": N_("succeeded"),
    "cancelled": N_("cancelled"),
    "failed": N_("failed"),
}
#: The augmentation settings a run may override (``AugmentConfig``'s fields) and their types:
#: ``train --rotation ... --flip`` and the Train page's augmentation details.
AUGMENT_KEYS: dict[str, type] = {**dict.fromkeys(knobs(), float), "flip": str}


def status_word(status: str, capital: bool = False) -> str:
    """A run status in words in the current language; ``capital`` for a heading or a metric."""
    word = _(STATUS_WORDS[status]) if status in STATUS_WORDS else status
    return word[:1].upper() + word[1:] if capital else word


@dataclass(frozen=True)
class Widget:
    """How the Train page's custom form shows a setting (the widget key is ``train.<field>``).

    ``kind``: ``number`` (a number box from ``low`` to ``high``), ``slider``, ``text``, ``select`` (a
    select slider over ``options``) or ``choice`` (a drop-down whose options the page supplies).
    ``start``: the form's starting value when it is not the config's (the form starts on a
    short demo run).
    """

    kind: str
    label: str  # marked for translation
    help: str  # marked for translation
    low: float | None = None
    high: float | None = None
    step: float | None = None
    options: tuple[Any, ...] = ()
    start: Any = None  # None: the config's default


@dataclass(frozen=True)
class Setting:
    """One TrainConfig field as the CLI and the Train page know it.

    ``flag``: the ``train`` option when it is not ``--`` + the field name with dashes;
    ``invert``: the flag is a switch that turns the (default-on) setting off; ``parse``: the
    flag's text to a value; ``keys``: a dict field with one flag per key (``--rotation``, ...).
    ``ge``/``gt``/``lt`` bound a number (None passes), ``error`` says so in plain words.
    """

    help: str
    flag: str | None = None
    invert: bool = False
    parse: Callable[[str], Any] | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    keys: dict[str, type] | None = None
    ge: float | None = None
    gt: float | None = None
    lt: float | None = None
    error: str | None = None  # marked for translation
    widget: Widget | None = None

    def check(self, value: Any) -> bool:
        """True when ``value`` is within this setting's range and choices."""
        if self.choices is not None and value is not None and value not in self.choices:
            return False
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return True
        return not (
            (self.ge is not None and value < self.ge)
            or (self.gt is not None and value <= self.gt)
            or (self.lt is not None and value >= self.lt)
        )


def setting(default: Any = dataclasses.MISSING, *, factory: Any = None, **kw: Any) -> Any:
    """A dataclass field with its :class:`Setting` in the metadata."""
    meta = {"setting": Setting(**kw)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _optional_text(text: str) -> str | None:
    return None if text == "none" else text


def _comma_list(text: str) -> list[str]:
    return [d.strip() for d in text.split(",") if d.strip()]


_LIMIT_HELP = N_("How many training photos a quick run uses (the full split has 1020).")


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in the checkpoint)."""

    backbone: str = setting(
        "efficientnetb0",
        help="efficientnetb0 (default, needs internet for ImageNet weights), mobilenetv2, tiny",
        widget=Widget(
            "choice",
            N_("Backbone"),
            N_("The pretrained network the classifier is built on."),
            start="mobilenetv2",
        ),
    )
    weights: str | None = setting(
        "auto",
        help="auto (offline file if configured, else imagenet), imagenet, none, or a weights "
        "file path",
        parse=_optional_text,
    )
    image_size: int | None = setting(None, help="input side in pixels (default: the backbone's)")
    backbone_size: int | None = setting(
        None, help="upsample the input to this side inside the model before the backbone"
    )
    augment: str = setting("basic", help="augmentation preset: none, basic, advanced")
    augment_overrides: dict[str, Any] = setting(
        factory=dict, help="override the preset's {name}", keys=AUGMENT_KEYS
    )
    epochs: int = setting(
        5,
        help="epochs of stage 1 (head on frozen backbone)",
        ge=1,
        error=N_("Epochs must be at least 1."),
        widget=Widget(
            "number",
            N_("Head epochs"),
            N_("Passes over the training photos while only the new last layer learns."),
            low=1,
            high=100,
            step=1,
            start=2,
        ),
    )
    fine_tune_epochs: int = setting(
        0,
        help="epochs of stage 2 (fine-tuning)",
        ge=0,
        error=N_("Fine-tuning epochs cannot be negative."),
        widget=Widget(
            "number",
            N_("Fine-tune epochs"),
            N_("Extra passes that also adjust the backbone's top layers; 0 skips this."),
            low=0,
            high=100,
            step=1,
        ),
    )
    fine_tune_layers: int = setting(
        30,
        help="top backbone layers to fine-tune",
        ge=0,
        error=N_("Fine-tuning depth cannot be negative."),
        widget=Widget(
            "number",
            N_("Fine-tune depth (layers)"),
            N_("How many of the backbone's top layers fine-tuning may change."),
            low=1,
            high=300,
            step=1,
        ),
    )
    batch_size: int = setting(
        32,
        help="images per training step (the global batch on several devices)",
        ge=1,
        error=N_("Batch size must be at least 1."),
        widget=Widget(
            "select",
            N_("Batch size"),
            N_("Photos per training step; smaller uses less memory."),
            options=(8, 16, 32, 64, 128),
        ),
    )
    learning_rate: float = setting(
        1e-3,
        help="stage 1 learning rate",
        flag="lr",
        gt=0,
        error=N_("Learning rates must be positive."),
        widget=Widget(
            "select",
            N_("Learning rate (head)"),
            N_("How big each learning step is while training the head."),
            options=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
        ),
    )
    fine_tune_learning_rate: float = setting(
        1e-4,
        help="stage 2 learning rate",
        flag="fine-tune-lr",
        gt=0,
        error=N_("Learning rates must be positive."),
        widget=Widget(
            "select",
            N_("Learning rate (fine-tuning)"),
            N_("A smaller step size for fine-tuning, so the pretrained backbone is not spoiled."),
            options=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3),
        ),
    )
    fine_tune_weight_decay: float = setting(
        0.0,
        help="stage 2 decoupled weight decay (AdamW; scaled by the learning rate); 0 = Adam",
        ge=0,
        error=N_("Weight decay cannot be negative."),
    )
    fine_tune_ema: float = setting(
        0.0,
        help="stage 2 exponential moving average of the weights with this momentum (e.g. 0.99), "
        "kept as the final weights; 0 = off",
        ge=0,
        lt=1,
        error=N_("The weight-averaging momentum must be in [0, 1) (0 turns it off)."),
    )
    teacher: str | None = setting(
        None,
        help="a checkpoint (an ensemble, say) whose answers on each augmented training batch "
        "--distill blends into the targets",
        metavar="CHECKPOINT",
    )
    distill: float = setting(
        0.0,
        help="share of each training target taken from --teacher's answers on the same photos "
        "(knowledge distillation); stages on cached features keep the labels; 0 = off",
        ge=0,
        lt=1,
        error=N_("The share learnt from the teacher must be in [0, 1) (0 turns it off)."),
    )
    label_smoothing: float = setting(
        0.0,
        help="spread this much of each label's probability over the other classes",
        ge=0,
        lt=1,
        error=N_("Label smoothing must be in [0, 1)."),
        widget=Widget(
            "slider",
            N_("Label smoothing"),
            N_("Makes the model a little less sure of itself, which often generalises better."),
            low=0.0,
            high=0.3,
            step=0.05,
        ),
    )
    dropout: float = setting(
        0.2,
        help="dropout before the new last layer",
        ge=0,
        lt=1,
        error=N_("Dropout must be in [0, 1)."),
    )
    seed: int = setting(42, help="random seed of the run (data order, augmentation, weights)")
    train_on: str = setting(
        "train",
        help="train+val for a final run once hyper-parameters were chosen on val; val to train "
        "on val and validate on train (the splits swapped: a second fold for choosing)",
        choices=TRAIN_ON,
        error=N_("Train on 'train', 'val' (the two splits swapped) or 'train+val'."),
    )
    train_limit: int | None = setting(
        None,
        help="use only N training images",
        widget=Widget(
            "number", N_("Training photos"), _LIMIT_HELP, low=8, high=1020, step=8, start=160
        ),
    )
    val_limit: int | None = setting(
        None,
        help="use only N validation images",
        widget=Widget(
            "number",
            N_("Validation photos"),
            N_("How many validation photos a quick run checks after each epoch."),
            low=8,
            high=1020,
            step=8,
            start=80,
        ),
    )
    test_limit: int | None = setting(
        None,
        help="evaluate on only N test images",
        widget=Widget(
            "number",
            N_("Test photos"),
            N_("How many test photos a quick run measures the final accuracy on."),
            low=8,
            high=6149,
            step=8,
            start=160,
        ),
    )
    evaluate_test: bool = setting(
        True, help="skip the final test-split evaluation", flag="no-test", invert=True
    )
    cache_features: bool = setting(
        True,
        help="stage 1 through the whole model: no cached backbone features for training "
        "(without augmentation) or for validation (with augmentation)",
        flag="no-feature-cache",
        invert=True,
    )
    head_augment: bool = setting(
        True,
        help="stage 1 without augmentation (on cached features); stage 2 still augments",
        flag="no-head-augment",
        invert=True,
    )
    keep_on_cancel: bool = setting(
        True,
        help="on cancel (Ctrl-C) keep nothing, rather than the last completed epoch",
        flag="no-keep-on-cancel",
        invert=True,
    )
    strategy: str = setting(
        "auto",
        help="tf.distribute strategy: one device, or mirrored (data-parallel across the GPUs of "
        "this machine; --batch-size is the global batch, split over the replicas); auto "
        "(default) is mirrored when more than one GPU is visible; multiworker: across the "
        "machines in TF_CONFIG, the same command on each",
        choices=STRATEGIES,
    )
    devices: list[str] | None = setting(
        None,
        help="comma-separated devices for the strategy, e.g. GPU:0,GPU:1 (default: all GPUs)",
        parse=_comma_list,
        metavar="LIST",
    )
    data_dir: str | None = setting(None, help="official-layout dataset folder (else settings/TFDS)")
    checkpoint_dir: str | None = setting(None, help="where checkpoints are written (else settings)")
    name: str | None = setting(
        None,
        help="checkpoint folder name",
        widget=Widget(
            "text",
            N_("Run name (optional)"),
            N_("The name of the checkpoint folder; leave empty for date, time and backbone."),
        ),
    )

    def __post_init__(self) -> None:
        for f, meta in settings():
            # The strategy's spelling is forgiving ("Mirrored"); it is checked below.
            if meta.error is not None and not meta.check(getattr(self, f.name)):
                raise ConfigError(_(meta.error))
        if self.distill and not self.teacher:
            raise ConfigError(_("Learning from a teacher needs its checkpoint (--teacher)."))
        if self.name is not None:
            check_name(self.name)
        self.strategy = check_strategy_name(self.strategy)
        self.devices = list(self.devices) if self.devices else None

    @property
    def validation_split(self) -> str | None:
        """The split that validates the run: the other one of train and val, none for both."""
        return {"train": "val", "val": "train"}.get(self.train_on)

    @property
    def total_epochs(self) -> int:
        """Epochs of both stages."""
        return self.epochs + self.fine_tune_epochs

    def augment_config(self):
        """The resolved augmentation: the preset with overrides applied."""
        from flowerdash.data.augment_config import AugmentConfig, preset

        base = preset(self.augment).to_dict()
        base.update(self.augment_overrides)
        return AugmentConfig.from_dict(base)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from plain data, ignoring unknown keys from other versions."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def settings() -> Iterator[tuple[dataclasses.Field, Setting]]:
    """Every TrainConfig field with its :class:`Setting`, in declaration order."""
    for f in fields(TrainConfig):
        yield f, f.metadata["setting"]


def default_of(f: dataclasses.Field) -> Any:
    """A field's default value (a fresh one for a factory)."""
    return f.default_factory() if f.default is dataclasses.MISSING else f.default
