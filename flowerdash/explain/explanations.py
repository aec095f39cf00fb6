"""High-level "explain this image": prediction, one map per method, timings, optional faithfulness.

Used by the CLI and the dashboard. Explainers are cached per model and settings, so explaining
many images with the same model compiles each method once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from flowerdash.errors import ExplainError
from flowerdash.explain.base import Explainer
from flowerdash.explain.defaults import BASELINE, LAYERS, STEPS
from flowerdash.explain.faithfulness import FaithfulnessResult, deletion_insertion
from flowerdash.explain.methods import METHODS, check_methods, method
from flowerdash.i18n import _
from flowerdash.inference.predict import predict_batch
from flowerdash.models.cache import per_model

__all__ = ["ExplanationResult", "explain_image", "get_explainer", "result_to_json"]

# Explainers kept per model (least recently used dropped): each holds compiled functions.
_KEEP = 16
# Extras reported by ``result_to_json``, under the JSON key the CLI has always used.
_JSON_EXTRAS = {
    "steps": "steps",
    "rule": "rule",
    "completeness_gap": "completeness_gap",
    "layers": "layer",
}


@dataclass
class ExplanationResult:
    """Everything the CLI and dashboard show about one explained image."""

    target: int
    probabilities: np.ndarray  # [K] float32 softmax output
    maps: dict[str, np.ndarray] = field(default_factory=dict)  # method -> [S, S] float32 in [0, 1]
    #: method -> its extras for this image (IG: steps, rule, baseline, completeness_gap, ...;
    #: Grad-CAM: layers)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # method -> wall time
    # method -> whether that time includes one-time preparation (the explainer's first call or
    # a trace), so a page can say the time is not the method's own
    prepared: dict[str, bool] = field(default_factory=dict)
    faithfulness: dict[str, FaithfulnessResult] | None = None

    @property
    def confidence(self) -> float:
        """Probability of the target class."""
        return float(self.probabilities[self.target])


def _hashable(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_hashable(v) for v in value)
    return isinstance(value, (str, int, float, bool, type(None)))


def get_explainer(model: keras.Model, name: str, **options: Any) -> Explainer:
    """A cached explainer of method ``name`` for ``model``, built by the registry."""
    cls = method(name)
    if not all(_hashable(v) for v in options.values()):  # e.g. a baseline image
        return cls(model, **options)
    options = cls.cache_options(model, options)
    key = ("explainer", name, tuple(sorted(options.items())))
    # Building is cheap (sub-models and tf.function wrappers); the expensive tracing happens at
    # the first call, outside the cache's lock.
    return per_model(model, key, lambda: cls(model, **options), keep=_KEEP)


def explain_image(
    model: keras.Model,
    image: np.ndarray,
    methods: Sequence[str] = ("gradcam", "ig"),
    target: int | None = None,
    steps: int = STEPS,
    baseline: str | np.ndarray = BASELINE,
    layers: str | tuple[str, ...] | None = LAYERS,
    with_faithfulness: bool = False,
) -> ExplanationResult:
    """Predict and explain one image [S, S, 3] (uint8 0..255) with each method in ``methods``.

    ``steps`` and ``baseline`` go to the methods that take them (Integrated Gradients),
    ``layers`` to those that take layers (Grad-CAM).
    """
    methods = check_methods(methods)
    img = np.asarray(image)
    if img.ndim == 4 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 3:
        raise ExplainError(
            _("explain_image needs one image [H, W, 3], got shape {shape}.").format(shape=img.shape)
        )
    settings = {"steps": steps, "baseline": baseline, "layers": layers}
    explainers = {
        m: get_explainer(model, m, **{k: settings[k] for k in METHODS[m].options}) for m in methods
    }
    first = next(iter(explainers.values()))
    x = first.prepare_images(img)  # validated once, for every method
    probs = predict_batch(model, x)[0].astype(np.float32)
    targets = first.resolve_targets(x, int(np.argmax(probs)) if target is None else target)

    result = ExplanationResult(target=int(targets[0]), probabilities=probs)
    for m, explainer in explainers.items():
        cold, traces = not explainer.warm, explainer.trace_count
        start = time.perf_counter()
        explanation = explainer.explain_prepared(x, targets)
        result.seconds[m] = time.perf_counter() - start
        result.prepared[m] = cold or explainer.trace_count != traces
        result.maps[m] = explanation.maps[0]
        result.extras[m] = explanation.extras_of(0)

    if with_faithfulness:
        result.faithfulness = {
            m: deletion_insertion(model, x[0], result.maps[m], result.target) for m in result.maps
        }
    return result


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):  # layers: the CLI has always shown them joined
        return " + ".join(value)
    return value.item() if isinstance(value, np.generic) else value


def result_to_json(result: ExplanationResult, top_k: int = 5) -> dict[str, Any]:
    """A JSON-ready summary: prediction, top classes and per-method timings and quality numbers."""
    order = np.argsort(-result.probabilities)[:top_k]
    methods: dict[str, dict[str, Any]] = {}
    for m in result.maps:
        entry: dict[str, Any] = {
            "seconds": round(float(result.seconds.get(m, 0.0)), 4),
            "includes_preparation": bool(result.prepared.get(m, False)),
        }
        extras = result.extras.get(m, {})
        entry.update(
            {key: _json_value(extras[k]) for k, key in _JSON_EXTRAS.items() if k in extras}
        )
        if result.faithfulness and m in result.faithfulness:
            f = result.faithfulness[m]
            entry.update(deletion_auc=f.deletion_auc, insertion_auc=f.insertion_auc)
        methods[m] = entry
    return {
        "target": int(result.target),
        "confidence": result.confidence,
        "top": [{"class": int(i), "probability": float(result.probabilities[i])} for i in order],
        "methods": methods,
    }
