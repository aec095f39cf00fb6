"""Shared explainer base: input clean-up, targets, batching, the logits model, normalisation.

Every explainer takes images in the model's pixel space (raw RGB 0..255, float32 or uint8,
``[H, W, 3]`` or ``[N, H, W, 3]``) and returns one float32 map ``[N, H, W]`` per image.
Gradients are always taken of the target class's pre-softmax score (its *logit*), never of the
softmax probability, which saturates.
"""

from __future__ import annotations

import abc
import hashlib
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from flowerdash.errors import ExplainError
from flowerdash.explain.rewrites import rewrite_for_gradients
from flowerdash.i18n import N_, _
from flowerdash.models.ensemble import ALL_MEMBERS_SEPARATOR, MEMBER_PATTERN

__all__ = [
    "Explainer",
    "conv_layer_names",
    "default_conv_layer",
    "gradient_logits_model",
    "logits_model",
    "model_input_shape",
    "normalize_maps",
]

# id(model) -> (weakref to model, logits model); entries vanish when the model is collected.
_LOGITS_CACHE: dict[int, tuple[weakref.ref, keras.Model]] = {}
# The same, rewritten for cheaper input gradients (see gradient_rewrites): per model,
# {rewrites: (digest of the weights it was copied from, copy)}.
_REWRITTEN_CACHE: dict[
    int, tuple[weakref.ref, dict[tuple[str, ...], tuple[bytes, keras.Model]]]
] = {}
# One logits model per model, also when several threads (dashboard sessions) ask at once.
_LOGITS_LOCK = threading.RLock()


def _cache_get(cache: dict, model: Any) -> Any | None:
    entry = cache.get(id(model))
    if entry is not None and entry[0]() is model:
        return entry[1]
    return None


def _cache_put(cache: dict, model: Any, value: Any) -> None:
    key = id(model)
    cache[key] = (weakref.ref(model), value)
    weakref.finalize(model, cache.pop, key, None)


def _is_softmax(fn: Any) -> bool:
    name = getattr(fn, "__name__", "")
    if not name and fn is not None:
        try:
            name = keras.activations.serialize(fn)
        except Exception:  # noqa: BLE001 - any unserialisable activation is simply "not softmax"
            name = ""
        if isinstance(name, dict):
            name = name.get("config", name.get("class_name", ""))
    return str(name) == "softmax"


def model_input_shape(model: keras.Model) -> tuple[int | None, int | None, int | None]:
    """The (H, W, C) an image model expects; ExplainError for models that are not single-image."""
    if len(model.inputs) != 1:
        raise ExplainError(
            _(
                "The model has {count} inputs; explanations need a model with one image input."
            ).format(count=len(model.inputs))
        )
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4:
        raise ExplainError(
            _(
                "The model's input has shape {shape}; explanations need an image input "
                "[N, H, W, C]."
            ).format(shape=shape)
        )
    return shape[1], shape[2], shape[3]


def logits_model(model: keras.Model) -> keras.Model:
    """A model from the same inputs to the pre-softmax class scores (built once per model)."""
    with _LOGITS_LOCK:
        cached = _cache_get(_LOGITS_CACHE, model)
        if cached is None:
            cached = _build_logits_model(model)
            _cache_put(_LOGITS_CACHE, model, cached)
        return cached


def _weights_digest(model: keras.Model) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.digest()


def gradient_logits_model(model: keras.Model, rewrites: Sequence[str]) -> keras.Model:
    """The logits model rewritten for cheaper input gradients (same function; gradient_rewrites).

    The copy holds the weights the model had when it was made; it is built once per model and
    set of rewrites, and built anew when the model's weights have changed since (e.g. the sanity
    check's randomisation).
    """
    key = tuple(sorted(rewrites))
    if not key:
        return logits_model(model)
    digest = _weights_digest(model)
    with _LOGITS_LOCK:
        copies = _cache_get(_REWRITTEN_CACHE, model)
        if copies is None:
            copies = {}
            _cache_put(_REWRITTEN_CACHE, model, copies)
        cached = copies.get(key)
        if cached is None or cached[0] != digest:
            cached = copies[key] = (digest, rewrite_for_gradients(logits_model(model), key))
        return cached[1]


def _build_logits_model(model: keras.Model) -> keras.Model:
    model_input_shape(model)
    names = [layer.name for layer in model.layers]
    last = model.layers[-1]
    if "logits" in names:
        out = model.get_layer("logits").output
    elif (
        isinstance(last, keras.layers.Activation)
        and _is_softmax(last.activation)
        or isinstance(last, keras.layers.Softmax)
    ):
        out = last.input
    elif isinstance(last, keras.layers.Dense) and _is_softmax(last.activation):
        # Rebuild the last Dense without its softmax; the original layer is left untouched.
        linear = keras.layers.Dense(
            last.units,
            use_bias=last.use_bias,
            dtype=last.dtype_policy,
            name=f"{last.name}_linear_for_explanations",
        )
        out = linear(last.input)
        linear.set_weights(last.get_weights())
    else:
        raise ExplainError(
            _(
                "Cannot find the model's class scores: it has no layer named 'logits' and its last "
                "layer ({name}, {layer_type}) is not a softmax."
            ).format(name=repr(last.name), layer_type=type(last).__name__)
        )
    return keras.Model(model.inputs[0], out, name=f"{model.name}_logits")


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the layers whose output is a 4-D feature map (candidates for Grad-CAM)."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            out = layer.output
        except (AttributeError, ValueError):  # layer used several times or never
            continue
        if isinstance(out, (list, tuple)) or len(out.shape) != 4:
            continue
        names.append(layer.name)
    return names


def default_conv_layer(model: keras.Model) -> str:
    """The last layer with a 4-D output (e.g. 'out_relu' for MobileNetV2, 'conv2' for tiny CNNs)."""
    names = conv_layer_names(model)
    if not names:
        raise ExplainError(
            _(
                "The model has no layer with a 4-D feature-map output, so Grad-CAM cannot be used. "
                "If the backbone is a nested model, rebuild the model flat."
            )
        )
    return names[-1]


def ensemble_layers(model: keras.Model) -> list[str]:
    """The last feature-map layer of each member of an ensemble (see flowerdash.models.ensemble).

    Empty for any other model. Members are recognised by their ``m1_``, ``m2_``... prefixes and
    the ``logits`` layer that averages them.
    """
    names = [layer.name for layer in model.layers]
    if "logits" not in names or not isinstance(model.get_layer("logits"), keras.layers.Average):
        return []
    last: dict[int, str] = {}
    for name in conv_layer_names(model):
        match = MEMBER_PATTERN.match(name)
        if match:
            last[int(match.group(1))] = name
    return [last[k] for k in sorted(last)] if len(last) > 1 else []


def gradcam_layer_choices(model: keras.Model) -> list[str]:
    """Grad-CAM layer choices, the default last: every member's last layer for an ensemble."""
    names = conv_layer_names(model)
    members = ensemble_layers(model)
    return [*names, ALL_MEMBERS_SEPARATOR.join(members)] if members else names


def check_layers(model: keras.Model, layer: str | None) -> tuple[str, ...]:
    """Resolve ``layer`` to feature-map layer names: one, or several joined by " + ".

    None is the default: the last feature-map layer, or every member's for an ensemble.
    """
    if layer is None:
        members = ensemble_layers(model)
        return tuple(members) if members else (default_conv_layer(model),)
    return tuple(check_layer(model, part) for part in layer.split(ALL_MEMBERS_SEPARATOR))


def check_layer(model: keras.Model, layer: str | None) -> str:
    """Resolve ``layer`` (None = default) to a valid feature-map layer name or raise ExplainError."""
    if layer is None:
        return default_conv_layer(model)
    names = conv_layer_names(model)
    if layer in names:
        return layer
    shown = names if len(names) <= 20 else ["..."] + names[-20:]
    raise ExplainError(
        _(
            "Layer {layer} is not a feature-map layer of this model. "
            "Candidates (last is the default): {candidates}."
        ).format(layer=repr(layer), candidates=", ".join(shown))
    )


def normalize_maps(maps: np.ndarray) -> np.ndarray:
    """Scale each non-negative map [N, H, W] by its maximum to [0, 1]; all-zero maps stay zero."""
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    maps = np.maximum(maps, 0.0)
    peak = maps.reshape(len(maps), -1).max(axis=1) if maps.size else np.zeros(len(maps))
    scale = np.where(peak > 0, peak, 1.0).astype(np.float32)
    return (maps / scale[:, None, None]).astype(np.float32)


class Explainer(abc.ABC):
    """Base class: validates images and targets, batches, and normalises the maps of a method.

    An explainer may copy the model's weights when it is built (Integrated Gradients runs on a
    rewritten copy): after changing a model's weights in place, build a new explainer.
    """

    #: Whether __call__ scales each map to [0, 1] with :func:`normalize_maps`.
    normalize: bool = True
    #: Rewrites of the logits model that make input gradients cheaper (the same function; see
    #: gradient_rewrites); methods that read a layer's activations keep the original.
    gradient_rewrites: tuple[str, ...] = ()

    def __init__(self, model: keras.Model, batch_size: int = 16) -> None:
        if not isinstance(model, keras.Model):
            raise ExplainError(
                _("Expected a Keras model, got {type_name}.").format(type_name=type(model).__name__)
            )
        if int(batch_size) < 1:
            raise ExplainError(
                _("batch_size must be at least 1, got {value}.").format(value=batch_size)
            )
        self.model = model
        self.batch_size = int(batch_size)
        self.input_shape = model_input_shape(model)
        self.logits_model = gradient_logits_model(model, self.gradient_rewrites)
        self.num_classes = int(self.logits_model.outputs[0].shape[-1])
        #: How many times any compiled function of this explainer has been traced.
        self.trace_count = 0
        #: Whether a call has finished: later calls no longer pay for the first one's tracing.
        self.warm = False
        self._logits_fn = self.compile(
            lambda x: tf.cast(self.logits_model(x, training=False), tf.float32),
            [self.image_spec()],
        )

    # -- compiled functions -------------------------------------------------------------------
    def image_spec(self, batched: bool = True) -> tf.TensorSpec:
        """The TensorSpec of an image batch (batch dim None) or of one image."""
        shape = self.input_shape if not batched else (None, *self.input_shape)
        return tf.TensorSpec(shape, tf.float32)

    def compile(self, fn: Callable[..., Any], signature: Sequence[tf.TensorSpec]) -> Callable:
        """Wrap ``fn`` in a tf.function with a fixed signature, counting traces."""

        def traced(*args: Any) -> Any:
            self.trace_count += 1  # Python side effect: runs only while tracing
            return fn(*args)

        compiled = tf.function(traced, input_signature=list(signature))
        # Each explainer traces its own functions once; TF would otherwise count all explainers'
        # traces together (same code object) and warn about "retracing".
        compiled._omit_frequent_tracing_warning = True
        return compiled

    # -- input clean-up -----------------------------------------------------------------------
    def prepare_images(self, images: Any) -> np.ndarray:
        """Images as float32 [N, H, W, C] in the model's pixel space, or ExplainError."""
        try:
            arr = np.asarray(images)
        except Exception as exc:  # noqa: BLE001
            raise ExplainError(
                _("Cannot read the images as an array: {error}").format(error=exc)
            ) from exc
        if arr.dtype == bool or not (
            np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
        ):
            raise ExplainError(
                _("Images must be numeric pixel arrays, got dtype {dtype}.").format(dtype=arr.dtype)
            )
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4:
            raise ExplainError(
                _(
                    "Expected one image [H, W, C] or a batch [N, H, W, C], got shape {shape}."
                ).format(shape=arr.shape)
            )
        if arr.shape[0] == 0:
            raise ExplainError(_("No images were given."))
        want = self.input_shape
        dimensions = (
            N_("The image height is {got} but the model expects {expected}"),
            N_("The image width is {got} but the model expects {expected}"),
            N_("The image channels is {got} but the model expects {expected}"),
        )
        for got, exp, mismatch in zip(arr.shape[1:], want, dimensions, strict=True):
            if exp is not None and got != exp:
                raise ExplainError(
                    _(mismatch).format(got=got, expected=exp)
                    + " "
                    + _(
                        "(images must be {height}x{width} with {channels} channels; got "
                        "{got_height}x{got_width} with {got_channels})."
                    ).format(
                        height=want[0],
                        width=want[1],
                        channels=want[2],
                        got_height=arr.shape[1],
                        got_width=arr.shape[2],
                        got_channels=arr.shape[3],
                    )
                )
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise ExplainError(_("The images contain NaN or infinite pixel values."))
        return arr

    def predict_logits(self, images: np.ndarray) -> np.ndarray:
        """Pre-softmax scores [N, K] for prepared images, in batches."""
        out = [
            self._logits_fn(tf.constant(images[i : i + self.batch_size])).numpy()
            for i in range(0, len(images), self.batch_size)
        ]
        return np.concatenate(out, axis=0)

    def resolve_targets(self, images: np.ndarray, targets: Any) -> np.ndarray:
        """Targets as int32 [N]: None = predicted class, an int for all, or one per image."""
        n = len(images)
        if targets is None:
            return self.predict_logits(images).argmax(axis=1).astype(np.int32)
        arr = np.asarray(targets)
        if arr.ndim == 0:
            arr = np.full(n, arr)
        if arr.ndim != 1 or len(arr) != n:
            raise ExplainError(
                _(
                    "Got {targets} targets for {images} images; give one int or one per image."
                ).format(targets=arr.size, images=n)
            )
        if not np.issubdtype(arr.dtype, np.integer):
            if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise ExplainError(
                    _("Targets must be class indices (integers), got {targets}.").format(
                        targets=arr.tolist()
                    )
                )
        bad = arr[(arr < 0) | (arr >= self.num_classes)]
        if bad.size:
            raise ExplainError(
                _(
                    "Target class {target} is out of range: the model has {count} classes "
                    "(0..{last})."
                ).format(target=int(bad[0]), count=self.num_classes, last=self.num_classes - 1)
            )
        return arr.astype(np.int32)

    # -- the public call ----------------------------------------------------------------------
    def __call__(self, images: Any, targets: Any = None) -> np.ndarray:
        """Explain ``images`` for ``targets`` (None = predicted class): float32 maps [N, H, W]."""
        x = self.prepare_images(images)
        t = self.resolve_targets(x, targets)
        maps = []
        for i in range(0, len(x), self.batch_size):
            batch = self._explain_batch(
                tf.constant(x[i : i + self.batch_size]), tf.constant(t[i : i + self.batch_size])
            )
            maps.append(np.asarray(batch, dtype=np.float32))
        out = np.concatenate(maps, axis=0)
        self.warm = True
        return self.postprocess(out)

    def postprocess(self, maps: np.ndarray) -> np.ndarray:
        """Final per-image scaling of the maps (default: max-normalise to [0, 1])."""
        if self.normalize:
            return normalize_maps(maps)
        return np.nan_to_num(maps.astype(np.float32))

    @abc.abstractmethod
    def _explain_batch(self, images: tf.Tensor, targets: tf.Tensor) -> np.ndarray:
        """Raw maps [n, H, W] for one batch of prepared images and int32 targets."""
