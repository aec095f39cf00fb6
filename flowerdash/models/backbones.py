"""Transfer-learning classifiers: a ``keras.applications`` backbone in one flat functional model.

Every model takes raw RGB pixels 0..255 (float32, [N, S, S, 3]); the backbone's own
preprocessing is the ``preprocess`` layer inside the model. Head: ``pool`` (global average
pooling), ``dropout``, ``logits`` (Dense, linear) and ``probs`` (softmax, float32). Optionally an
``upsample`` layer first enlarges the input for the backbone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flowerdash.data.classes import NUM_CLASSES
from flowerdash.errors import ConfigError, WeightsError
from flowerdash.i18n import _
from flowerdash.settings import ENV_WEIGHTS_DIR, load_settings

if TYPE_CHECKING:
    import keras

HEAD_LAYERS = ("pool", "dropout", "logits", "probs")


@dataclass(frozen=True)
class BackboneSpec:
    """What flowerdash needs to know about one backbone."""

    name: str
    display_name: str
    last_conv: str
    default_image_size: int
    offline_weights_file: str | None
    build: Callable[..., keras.KerasTensor]  # (input tensor, weights) -> feature map
    preprocess: Callable[[], keras.layers.Layer]


def _mobilenetv2(input_tensor, weights):
    import keras

    return keras.applications.MobileNetV2(
        include_top=False, weights=weights, input_tensor=input_tensor
    ).output


def _efficientnetb0(input_tensor, weights):
    import keras

    return keras.applications.EfficientNetB0(
        include_top=False, weights=weights, input_tensor=input_tensor
    ).output


def _tiny(input_tensor, weights):
    import keras

    if weights is not None:
        raise WeightsError(
            _("The 'tiny' test backbone has no pretrained weights; use weights=None.")
        )
    x = input_tensor
    for i, filters in enumerate((16, 32, 32), start=1):
        x = keras.layers.Conv2D(
            filters, 3, strides=2 if i < 3 else 1, padding="same", name=f"conv{i}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
    return x


def _rescale_to_unit_range():
    import keras

    return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")


def _identity():
    import keras

    # EfficientNetB0 in keras.applications rescales and normalises 0..255 input itself.
    return keras.layers.Identity(name="preprocess")


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnetb0": BackboneSpec(
        "efficientnetb0", "EfficientNetB0", "top_activation", 224, None, _efficientnetb0, _identity
    ),
    "mobilenetv2": BackboneSpec(
        "mobilenetv2",
        "MobileNetV2",
        "out_relu",
        224,
        "mobilenet_v2_1.0_224_imagenet_notop.weights.h5",
        _mobilenetv2,
        _rescale_to_unit_range,
    ),
    "tiny": BackboneSpec(
        "tiny", "Tiny CNN (tests)", "relu3", 64, None, _tiny, _rescale_to_unit_range
    ),
}
DEFAULT_BACKBONE = "efficientnetb0"


def get_backbone(name: str) -> BackboneSpec:
    """Look a backbone up by name, with an error that lists the choices."""
    try:
        return BACKBONES[name.lower()]
    except KeyError:
        raise ConfigError(
            _("Unknown backbone {name}; choose one of {choices}.").format(
                name=repr(name), choices=", ".join(BACKBONES)
            )
        ) from None


def resolve_weights(backbone: str, weights: str | Path | None) -> str | None:
    """Turn a weights request into what ``keras.applications`` takes.

    ``"auto"``: the offline file from the weights folder when there is one, else ``"imagenet"``;
    ``"imagenet"``: download (needs internet); a path: that Keras weights file; None/"none": random.
    """
    spec = get_backbone(backbone)
    if weights is None or str(weights).lower() == "none":
        return None
    if spec.name == "tiny":
        raise WeightsError(
            _("The 'tiny' test backbone has no pretrained weights; use weights=None.")
        )
    text = str(weights)
    if text == "auto":
        folder = load_settings().weights_dir
        if spec.offline_weights_file and folder and (folder / spec.offline_weights_file).is_file():
            return str(folder / spec.offline_weights_file)
        return "imagenet"
    if text == "imagenet":
        return text
    path = Path(text).expanduser()
    if not path.is_file():
        raise WeightsError(_("The weights file {path} does not exist.").format(path=path))
    return str(path)


def _weights_help(spec: BackboneSpec) -> str:
    if spec.offline_weights_file:
        return _(
            "Options: go online so Keras can download the ImageNet weights, pass a weights file "
            "path or put {file} in a folder named by {variable}, or use weights=none (random "
            "initialisation, poor accuracy)."
        ).format(file=spec.offline_weights_file, variable=ENV_WEIGHTS_DIR)
    return _(
        "Options: go online so Keras can download the ImageNet weights, pass a weights file "
        "path, or use weights=none (random initialisation, poor accuracy)."
    )


def check_backbone_size(backbone_size: int, size: int) -> None:
    """ConfigError unless the backbone sees at least the model's input side."""
    if backbone_size < size:
        raise ConfigError(
            _(
                "The backbone size ({backbone}) cannot be smaller than the image size ({image})."
            ).format(backbone=backbone_size, image=size)
        )


def _upsample(x: keras.KerasTensor, side: int) -> keras.KerasTensor:
    import keras

    # Resizing's call defaults to training=True, and Keras hands a layer's default on to every
    # later layer of a call that names none: a bare model(x) would then run dropout. Saying
    # training=False here keeps model(x) in inference; model(x, training=True) still trains.
    return keras.layers.Resizing(side, side, name="upsample")(x, training=False)


def build_model(
    backbone: str = DEFAULT_BACKBONE,
    weights: str | Path | None = "auto",
    image_size: int | None = None,
    num_classes: int = NUM_CLASSES,
    dropout: float = 0.2,
    backbone_size: int | None = None,
) -> keras.Model:
    """Build the flat functional classifier for a backbone; see the module docstring.

    ``backbone_size``: when larger than the input, an ``upsample`` layer (bilinear) enlarges the
    image to this side before the backbone; the model still takes ``image_size`` pixels.
    """
    import keras

    spec = get_backbone(backbone)
    size = image_size or spec.default_image_size
    if size < 32:
        raise ConfigError(_("Image size must be at least 32 pixels."))
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(_("Dropout must be in [0, 1)."))
    if backbone_size is not None:
        check_backbone_size(backbone_size, size)
    resolved = resolve_weights(spec.name, weights)
    inputs = keras.Input((size, size, 3), name="image")
    x = inputs
    if backbone_size is not None and backbone_size > size:
        x = _upsample(x, backbone_size)
    x = spec.preprocess()(x)
    try:
        features = spec.build(x, resolved)
    except WeightsError:
        raise
    except Exception as exc:  # a failed download or a mismatched file raise many types
        raise WeightsError(
            _("Could not load {weights} weights for {backbone}: {error}.").format(
                weights=repr(resolved), backbone=spec.display_name, error=exc
            )
            + " "
            + _weights_help(spec)
        ) from exc
    x = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(x)
    probs = keras.layers.Activation("softmax", name="probs", dtype="float32")(logits)
    return keras.Model(inputs, probs, name=f"flowerdash_{spec.name}")


def with_backbone_size(model: keras.Model, backbone_size: int) -> keras.Model:
    """A copy of a :func:`build_model` model that enlarges each photo to ``backbone_size`` first.

    The copy has the same weights and takes the same input; only the side the backbone sees
    changes (an ``upsample`` layer before ``preprocess``, replaced if the model has one). It
    computes the same function as the original at the original's own backbone size. Runs that
    train on random zooms answer a centre crop in which the flower looks smaller than in
    training; enlarging at test closes that gap (Touvron et al. 2019, "FixRes").
    """
    import keras

    size = input_size(model)
    check_backbone_size(backbone_size, size)
    names = [layer.name for layer in model.layers]
    if "preprocess" not in names:
        raise ConfigError(_("Only flowerdash's own classifiers can change their backbone size."))
    has_upsample = "upsample" in names

    def call(layer, *args, **kwargs):
        if layer.name == "upsample":
            # no resizing at all at the input size, not a resize to the same size
            return args[0] if backbone_size == size else _upsample(args[0], backbone_size)
        if layer.name == "preprocess" and not has_upsample and backbone_size > size:
            args = (_upsample(args[0], backbone_size),)
        return layer(*args, **kwargs)

    copy = keras.models.clone_model(model, call_function=call)
    copy.set_weights(model.get_weights())  # resizing has no weights: the order is unchanged
    return copy


def without_temperature(model: keras.Model) -> keras.Model:
    """A copy of a calibrated model (``flowerdash.inference.calibration.with_temperature``)
    answering with its uncalibrated softmax, as :func:`build_model` built it.

    The temperature is not a weight, so the copy has the same weights; a model without one is
    returned as it is.
    """
    import keras

    if "temperature" not in [layer.name for layer in model.layers]:
        return model
    logits = model.get_layer("logits").output
    probs = keras.layers.Activation("softmax", name="probs", dtype="float32")(logits)
    # one input tensor, not a list of one: serialised as build_model's are, so averageable
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, probs, name=model.name)


def backbone_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers between the input/preprocessing and the head, in order."""
    skip = {"image", "upsample", "preprocess", *HEAD_LAYERS}
    return [layer for layer in model.layers if layer.name not in skip]


def set_trainable(model: keras.Model, fine_tune_layers: int) -> int:
    """Freeze the backbone except its top ``fine_tune_layers`` layers; BatchNorm stays frozen.

    Frozen BatchNormalization layers run in inference mode in Keras 3, which is what
    fine-tuning on a small dataset needs. Returns the number of trainable backbone layers.
    """
    import keras

    layers = backbone_layers(model)
    if fine_tune_layers < 0:
        raise ConfigError(_("The number of layers to fine-tune cannot be negative."))
    start = len(layers) - min(fine_tune_layers, len(layers))
    count = 0
    for i, layer in enumerate(layers):
        trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable
        count += int(trainable and bool(layer.weights))
    for name in HEAD_LAYERS:
        model.get_layer(name).trainable = True
    return count


def feature_model(model: keras.Model) -> keras.Model:
    """A model from the image to the pooled backbone features (shares weights, no copy)."""
    import keras

    return keras.Model(model.inputs, model.get_layer("pool").output, name="features")


def head_model(model: keras.Model) -> keras.Model:
    """The model's own dropout/logits/probs layers on pooled-feature input (shares weights)."""
    import keras

    inputs = keras.Input(model.get_layer("pool").output.shape[1:], name="features")
    x = model.get_layer("dropout")(inputs)
    x = model.get_layer("logits")(x)
    return keras.Model(inputs, model.get_layer("probs")(x), name="head")


def input_size(model: keras.Model) -> int:
    """Square input side of a model built by :func:`build_model` (or any square-input model)."""
    shape = model.inputs[0].shape
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
        raise ConfigError(
            _("Expected a square RGB image model, got input shape {shape}.").format(
                shape=tuple(shape)
            )
        )
    return int(shape[1])
