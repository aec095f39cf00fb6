"""The registry of explanation methods: build one by name, e.g. ``build("ig", model, steps=64)``.

Names and labels are in :mod:`flowerdash.explain.defaults` (TensorFlow-free, for the pages);
this module maps each name to its explainer class.
"""

from __future__ import annotations

from typing import Any

import keras

from flowerdash.errors import ExplainError
from flowerdash.explain.base import Explainer
from flowerdash.explain.defaults import METHODS as NAMES
from flowerdash.explain.gradcam import GradCAM, GradCAMPlusPlus
from flowerdash.explain.integrated_gradients import IntegratedGradients
from flowerdash.i18n import _

__all__ = ["METHODS", "build", "check_methods", "method"]

#: Method name -> explainer class (every one answers ``explain(images, targets)``).
METHODS: dict[str, type[Explainer]] = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "ig": IntegratedGradients,
}
if tuple(METHODS) != NAMES:  # pragma: no cover - a programming error, caught by any test run
    raise RuntimeError("flowerdash.explain.defaults.METHODS and the registry disagree")


def check_methods(methods: Any) -> tuple[str, ...]:
    """``methods`` (one name or several) as a tuple of known names, or ExplainError."""
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ExplainError(
            _("Unknown explanation method(s) {methods}; choose from {choices}.").format(
                methods=unknown or list(methods), choices=", ".join(METHODS)
            )
        )
    return methods


def method(name: str) -> type[Explainer]:
    """The explainer class of a method name, or ExplainError."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ExplainError(
            _("Unknown explanation method {method}; choose one of {choices}.").format(
                method=repr(name), choices=", ".join(METHODS)
            )
        ) from None


def build(name: str, model: keras.Model, **options: Any) -> Explainer:
    """A new explainer of method ``name`` for ``model`` (see ``explanations.get_explainer``
    for a cached one)."""
    return method(name)(model, **options)
