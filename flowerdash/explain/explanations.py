"""High-level "explain this image": prediction, one map per method, timings, optional faithfulness.

Used by the CLI and the dashboard. Explainers are cached per model and options, so explaining
many images with the same model compiles each method once.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from flowerdash.errors import ExplainError
from flowerdash.explain.base import Explainer, check_layers
from flowerdash.explain.faithfulness import FaithfulnessResult, deletion_insertion
from flowerdash.explain.gradcam import GradCAM
from flowerdash.explain.integrated_gradients import (
    DEFAULT_BASELINE,
    DEFAULT_RULE,
    DEFAULT_STEPS,
    IntegratedGradients,
)
from flowerdash.i18n import _
from flowerdash.inference.predict import predict_batch
from flowerdash.models.ensemble import ALL_MEMBERS_SEPARATOR

__all__ = [
    "METHODS",
    "METHOD_LABELS",
    "ExplanationResult",
    "explain_image",
    "get_explainer",
    "result_to_json",
]

#: Method keys accepted by :func:`explain_image`, with their display names.
METHOD_LABELS = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "ig": "Integrated Gradients"}
METHODS = tuple(METHOD_LABELS)

_CACHE_SIZE = 16
# (id(model), method, options) -> (weakref to model, explainer); least recently used first.
_EXPLAINERS: OrderedDict[tuple, tuple[weakref.ref, Explainer]] = OrderedDict()
# Sessions of the dashboard explain in parallel threads. The lock makes look-up, insertion and
# eviction one step (an eviction between another thread's look-up and its move_to_end raised
# KeyError) and lets only one thread build a missing explainer while the others wait for it.
# Building is cheap (sub-models and tf.function wrappers); the expensive tracing happens at the
# first call, outside the lock, and tf.function traces once however many threads call it.
_EXPLAINERS_LOCK = threading.Lock()


@dataclass
class ExplanationResult:
    """Everything the CLI and dashboard show about one explained image."""

    target: int
    probabilities: np.ndarray  # [K] float32 softmax output
    maps: dict[str, np.ndarray] = field(default_factory=dict)  # method -> [S, S] float32 in [0, 1]
    seconds: dict[str, float] = field(default_factory=dict)  # method -> wall time
    # method -> whether that time includes one-time preparation (the explainer's first call or
    # a trace), so a page can say the time is not the method's own
    prepared: dict[str, bool] = field(default_factory=dict)
    ig_gap: float | None = None  # relative completeness gap of IG
    ig_steps: int | None = None
    ig_rule: str | None = None
    layer: str | None = None  # Grad-CAM layer used
    faithfulness: dict[str, FaithfulnessResult] | None = None

    @property
    def confidence(self) -> float:
        """Probability of the target class."""
        return float(self.probabilities[self.target])


def get_explainer(model: keras.Model, method: str, **options: Any) -> Explainer:
    """A cached explainer for ``model`` and ``method`` ('gradcam', 'gradcam++' or 'ig')."""
    if method not in METHOD_LABELS:
        raise ExplainError(
            _("Unknown explanation method {method}; choose one of {choices}.").format(
                method=repr(method), choices=", ".join(METHODS)
            )
        )
    cacheable = all(isinstance(v, (str, int, float, bool, type(None))) for v in options.values())
    if not cacheable:
        return _build_explainer(model, method, options)
    if method != "ig" and "layer" in options:
        # The default layer by name and by None is one explainer (one trace), so a page that
        # names the layer reuses what the warm-up or another page prepared with None.
        options = {
            **options,
            "layer": ALL_MEMBERS_SEPARATOR.join(check_layers(model, options["layer"])),
        }
    key = (id(model), method, tuple(sorted(options.items())))
    with _EXPLAINERS_LOCK:
        entry = _EXPLAINERS.get(key)
        if entry is not None and entry[0]() is model:
            _EXPLAINERS.move_to_end(key)
            return entry[1]
        explainer = _build_explainer(model, method, options)
        _EXPLAINERS[key] = (weakref.ref(model), explainer)
        while len(_EXPLAINERS) > _CACHE_SIZE:
            _EXPLAINERS.popitem(last=False)
    return explainer


def _build_explainer(model: keras.Model, method: str, options: dict[str, Any]) -> Explainer:
    if method == "ig":
        return IntegratedGradients(model, **options)
    return GradCAM(model, plus_plus=(method == "gradcam++"), **options)


def explain_image(
    model: keras.Model,
    image: np.ndarray,
    methods: Sequence[str] = ("gradcam", "ig"),
    target: int | None = None,
    ig_steps: int = DEFAULT_STEPS,
    ig_baseline: str | np.ndarray = DEFAULT_BASELINE,
    ig_rule: str = DEFAULT_RULE,
    layer: str | None = None,
    with_faithfulness: bool = False,
) -> ExplanationResult:
    """Predict and explain one image [S, S, 3] (uint8 0..255) with each method in ``methods``."""
    if isinstance(methods, str):
        methods = (methods,)
    unknown = [m for m in methods if m not in METHOD_LABELS]
    if unknown or not methods:
        raise ExplainError(
            _("Unknown explanation method(s) {methods}; choose from {choices}.").format(
                methods=unknown or list(methods), choices=", ".join(METHODS)
            )
        )
    img = np.asarray(image)
    if img.ndim == 4 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 3:
        raise ExplainError(
            _("explain_image needs one image [H, W, 3], got shape {shape}.").format(shape=img.shape)
        )

    explainers: dict[str, Explainer] = {}
    for m in methods:
        if m == "ig":
            explainers[m] = get_explainer(
                model, "ig", steps=ig_steps, baseline=ig_baseline, rule=ig_rule
            )
        else:
            explainers[m] = get_explainer(model, m, layer=layer)
    first = next(iter(explainers.values()))
    x = first.prepare_images(img)
    probs = predict_batch(model, x)[0].astype(np.float32)
    if target is None:
        target = int(np.argmax(probs))
    target = int(first.resolve_targets(x, target)[0])

    result = ExplanationResult(target=target, probabilities=probs)
    for m, explainer in explainers.items():
        cold, traces = not explainer.warm, explainer.trace_count
        start = time.perf_counter()
        if isinstance(explainer, IntegratedGradients):
            ig = explainer.explain(x, [target])
            result.maps[m] = ig.maps[0]
            result.ig_gap = float(ig.completeness_gap[0])
            result.ig_steps, result.ig_rule = ig.steps, ig.rule
        else:
            result.maps[m] = explainer(x, [target])[0]
            result.layer = getattr(explainer, "layer", None)
        result.seconds[m] = time.perf_counter() - start
        result.prepared[m] = cold or explainer.trace_count != traces

    if with_faithfulness:
        result.faithfulness = {
            m: deletion_insertion(model, x[0], result.maps[m], target) for m in result.maps
        }
    return result


def result_to_json(result: ExplanationResult, top_k: int = 5) -> dict[str, Any]:
    """A JSON-ready summary: prediction, top classes and per-method timings and quality numbers."""
    order = np.argsort(-result.probabilities)[:top_k]
    methods: dict[str, dict[str, Any]] = {}
    for m in result.maps:
        entry: dict[str, Any] = {
            "seconds": round(float(result.seconds.get(m, 0.0)), 4),
            "includes_preparation": bool(result.prepared.get(m, False)),
        }
        if m == "ig":
            entry.update(
                steps=result.ig_steps,
                rule=result.ig_rule,
                completeness_gap=None if result.ig_gap is None else float(result.ig_gap),
            )
        elif result.layer is not None:
            entry["layer"] = result.layer
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
