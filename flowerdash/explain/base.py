"""The one explanation contract: ``explain(images, targets) -> Explanation``, and the shared base.

Every explainer takes images in the model's pixel space (raw RGB 0..255, float32 or uint8,
``[H, W, 3]`` or ``[N, H, W, 3]``). The base cleans up and validates the images and targets
once, batches, and scales the maps; a method supplies :meth:`Explainer.explain_batch`.
Gradients are taken of the target class's pre-softmax score (its *logit*), never of the
softmax probability, which saturates.
"""

from __future__ import annotations

import abc
import hashlib
import types
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from flowerdash.errors import ExplainError
from flowerdash.explain.defaults import BATCH_SIZE
from flowerdash.explain.overlays import normalize_map
from flowerdash.explain.rewrites import rewrite_for_gradients
from flowerdash.i18n import N_, _
from flowerdash.models.cache import per_model
from flowerdash.models.ensemble import MEMBER_PATTERN
from flowerdash.models.logits import logits_model, model_input_shape
from flowerdash.models.views import single_view

__all__ = [
    "BatchResult",
    "Explainer",
    "Explanation",
    "check_layers",
    "conv_layer_names",
    "default_conv_layer",
    "ensemble_layers",
    "gradcam_layer_choices",
    "gradient_logits_model",
    "logits_model",
    "model_input_shape",
]


@dataclass(frozen=True)
class Explanation:
    """What every method returns for a batch of images."""

    maps: np.ndarray  # [N, H, W] float32 in [0, 1]
    attributions: np.ndarray | None  # [N, H, W, C] pixel attributions; None for Grad-CAM
    targets: np.ndarray  # [N] int32
    #: Method-specific values: per-image arrays of length N, or one value for the batch.
    extras: Mapping[str, Any] = field(default_factory=dict)

    def extras_of(self, index: int) -> dict[str, Any]:
        """The extras of image ``index``: per-image arrays indexed, batch-wide values as they are."""
        n = len(self.maps)
        return {
            k: (v[index].item() if isinstance(v, np.ndarray) and v.shape[:1] == (n,) else v)
            for k, v in self.extras.items()
        }


@dataclass
class BatchResult:
    """What a method computes for one batch: raw maps, attributions, per-image extras."""

    maps: np.ndarray  # [n, H, W], any non-negative scale
    attributions: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # each [n]


def _weights_digest(model: keras.Model) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.digest()


def gradient_logits_model(model: keras.Model, rewrites: Sequence[str]) -> keras.Model:
    """The logits model rewritten for cheaper input gradients (same function; see rewrites).

    Built once per model and set of rewrites, and anew when the model's weights changed since
    (the copy holds the weights it was made from; the sanity check changes weights).
    """
    key = tuple(sorted(rewrites))
    if not key:
        return logits_model(model)
    digest = _weights_digest(model)
    _digest, copy = per_model(
        model,
        ("rewritten", key),
        lambda: (digest, rewrite_for_gradients(logits_model(model), key)),
        fresh=lambda entry: entry[0] == digest,
    )
    return copy


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the layers whose output is a 4-D feature map (candidates for Grad-CAM).

    A views model's are those of the view its explanations read (``single_view``).
    """
    model = single_view(model)
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


def ensemble_layers(model: keras.Model) -> tuple[str, ...]:
    """The last feature-map layer of each member of an ensemble (flowerdash.models.ensemble).

    Empty for any other model. Members are recognised by their ``m1_``, ``m2_``... prefixes and
    the ``logits`` layer that averages them.
    """
    model = single_view(model)  # a views model's logits average its views, not members
    names = [layer.name for layer in model.layers]
    if "logits" not in names or not isinstance(model.get_layer("logits"), keras.layers.Average):
        return ()
    last: dict[int, str] = {}
    for name in conv_layer_names(model):
        match = MEMBER_PATTERN.match(name)
        if match:
            last[int(match.group(1))] = name
    return tuple(last[k] for k in sorted(last)) if len(last) > 1 else ()


def gradcam_layer_choices(model: keras.Model) -> list[tuple[str, ...]]:
    """Grad-CAM layer choices, the default last: every member's last layer for an ensemble."""
    choices = [(name,) for name in conv_layer_names(model)]
    members = ensemble_layers(model)
    return [*choices, members] if members else choices


def check_layers(model: keras.Model, layers: str | Sequence[str] | None) -> tuple[str, ...]:
    """Resolve one layer name, several, or None (the default) to feature-map layer names.

    The default is the last feature-map layer, or every member's for an ensemble.
    """
    if layers is None:
        return ensemble_layers(model) or (default_conv_layer(model),)
    if isinstance(layers, str):
        layers = (layers,)
    return tuple(check_layer(model, name) for name in layers)


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


def _check_model(model: Any) -> keras.Model:
    if not isinstance(model, keras.Model):
        raise ExplainError(
            _("Expected a Keras model, got {type_name}.").format(type_name=type(model).__name__)
        )
    return model


class Explainer(abc.ABC):
    """Validates images and targets, batches, scales the maps; a method adds ``explain_batch``.

    An explainer may copy the model's weights when it is built (Integrated Gradients runs on a
    rewritten copy): after changing a model's weights in place, build a new explainer. It keeps
    only a weak reference to the model, so caching it per model does not keep the model alive.
    """

    #: Options of the constructor that ``explain_image`` passes on (one name everywhere).
    options: ClassVar[tuple[str, ...]] = ()
    #: Percentile above which a map is clipped before scaling (None: plain max scaling).
    clip_percentile: ClassVar[float | None] = None

    def __init__(
        self,
        model: keras.Model,
        batch_size: int = BATCH_SIZE,
        rewrites: Sequence[str] = (),
    ) -> None:
        # A views model is explained through one view: each has its own feature maps. Its
        # answer is still the mean of its views, so that is the class explained by default.
        answering = _check_model(model)
        model = single_view(answering)
        self._answering = None if model is answering else weakref.ref(answering)
        if int(batch_size) < 1:
            raise ExplainError(
                _("batch_size must be at least 1, got {value}.").format(value=batch_size)
            )
        self._model = weakref.ref(model)
        self.batch_size = int(batch_size)
        self.input_shape = model_input_shape(model)
        self.rewrites = tuple(rewrites)
        self.logits_model = gradient_logits_model(model, self.rewrites)
        self.num_classes = int(self.logits_model.outputs[0].shape[-1])
        #: How many times any compiled function of this explainer has been traced.
        self.trace_count = 0
        #: Whether a call has finished: later calls no longer pay for the first one's tracing.
        self.warm = False
        self._logits_fn = self.compile(
            lambda x: tf.cast(self.logits_model(x, training=False), tf.float32),
            [self.image_spec()],
        )

    @property
    def model(self) -> keras.Model | None:
        """The explained model (None once it has been collected)."""
        return self._model()

    @classmethod
    def cache_options(cls, model: keras.Model, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` as the explainer will use them, so equal settings share one cache entry."""
        return options

    @property
    def extras(self) -> dict[str, Any]:
        """Method-specific values that hold for every image (e.g. the settings used)."""
        return {}

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

        # No autograph: no method needs it (no Python branch on a tensor), and it parses each
        # function's source with ast.parse, unsafe beside another thread's on Python < 3.11.8.
        compiled = tf.function(traced, input_signature=list(signature), autograph=False)
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

    def predicted_classes(self, images: np.ndarray) -> np.ndarray:
        """The model's answer for prepared images, int32 [N]: for a views model, the class its
        views' mean answers, which the view explained may not."""
        if self._answering is None:
            return self.predict_logits(images).argmax(axis=1).astype(np.int32)
        from flowerdash.inference.predict import predict_batch

        answering = self._answering()
        if answering is None:
            raise ExplainError(_("The model was unloaded; load it again to explain it."))
        return predict_batch(answering, images, self.batch_size).argmax(axis=1).astype(np.int32)

    def resolve_targets(self, images: np.ndarray, targets: Any) -> np.ndarray:
        """Targets as int32 [N]: None = predicted class, an int for all, or one per image."""
        n = len(images)
        if targets is None:
            return self.predicted_classes(images)
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

    # -- the contract ---------------------------------------------------------------------------
    def explain(self, images: Any, targets: Any = None) -> Explanation:
        """Explain ``images`` for ``targets`` (None = the predicted class of each image)."""
        x = self.prepare_images(images)
        return self.explain_prepared(x, self.resolve_targets(x, targets))

    def explain_prepared(self, images: np.ndarray, targets: np.ndarray) -> Explanation:
        """:meth:`explain` for images from :meth:`prepare_images` and targets from
        :meth:`resolve_targets` (already validated: not checked again)."""
        parts = [
            self.explain_batch(images[i : i + self.batch_size], targets[i : i + self.batch_size])
            for i in range(0, len(images), self.batch_size)
        ]
        self.warm = True
        maps = normalize_map(
            np.maximum(np.concatenate([p.maps for p in parts]).astype(np.float32), 0.0),
            clip_percentile=self.clip_percentile,
        )
        attributions = (
            None
            if parts[0].attributions is None
            else np.concatenate([p.attributions for p in parts])
        )
        extras = dict(self.extras)
        for key in parts[0].extras:
            extras[key] = np.concatenate([p.extras[key] for p in parts])
        return Explanation(maps, attributions, targets, types.MappingProxyType(extras))

    def __call__(self, images: Any, targets: Any = None) -> np.ndarray:
        """Shorthand for ``explain(images, targets).maps``."""
        return self.explain(images, targets).maps

    @abc.abstractmethod
    def explain_batch(self, images: np.ndarray, targets: np.ndarray) -> BatchResult:
        """One batch of prepared float32 images [n, H, W, C] and int32 targets [n]."""
