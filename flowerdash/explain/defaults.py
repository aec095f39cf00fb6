"""Explanation settings shared by the core, the CLI and the dashboard: names, limits, defaults.

No TensorFlow here, so pages read the defaults without loading a model. Why these defaults:
``docs/RESULTS.md`` (measured by ``python -m benchmarks.ig_rules``).
"""

from __future__ import annotations

from flowerdash.i18n import N_

#: Method names accepted everywhere (``explain_image``, the registry), with display labels.
METHOD_LABELS = {
    "gradcam": N_("Grad-CAM"),
    "gradcam++": N_("Grad-CAM++"),
    "ig": N_("Integrated Gradients"),
}
METHODS = tuple(METHOD_LABELS)

#: Integrated Gradients: model evaluations per image (one cap for the core, CLI and page).
STEPS = 64
MIN_STEPS = 1
MAX_STEPS = 512
#: The quadrature rule; the comparison rules live in ``benchmarks/ig_research.py``.
RULE = "adaptive"
#: Path points per compiled gradient call: bounds memory whatever the step count.
CHUNK_SIZE = 16
#: The starting image of the path; the default first. A black one gives every dark pixel zero
#: credit whatever the model made of it.
BASELINE = "blur"
BASELINE_LABELS = {
    "blur": N_("Blurred photo"),
    "black": N_("Black image"),
    "noise": N_("Random noise"),
}
BASELINES = tuple(BASELINE_LABELS)

#: Grad-CAM: None = the last feature-map layer (every member's for an ensemble).
LAYERS: tuple[str, ...] | None = None

#: Images per compiled call of an explainer.
BATCH_SIZE = 16
