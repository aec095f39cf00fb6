"""Weight averaging, a "model soup" (Wortsman et al. 2022): several fine-tuned runs averaged
weight by weight into one model of the same size and speed.

Runs fine-tuned from one starting point (the same backbone weights and the same head, trained
on cached features with the same seed) stay in one basin of the loss, so their average answers
much like the ensemble of them, at the cost of one model. Runs from different starts average to
noise: the architecture is checked here; the shared start is the caller's to know.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from flowerdash.errors import CheckpointError
from flowerdash.i18n import _

if TYPE_CHECKING:
    import keras


def average_weights(
    models: Sequence[keras.Model],
    name: str = "soup",
    counts: Sequence[int] | None = None,
) -> keras.Model:
    """A new model with the members' architecture and the mean of their weights.

    Floating-point weights (kernels, biases, BatchNorm statistics) are averaged; any other
    (integer random-seed states) are the first member's. The members are left untouched.
    ``counts``: how many runs each member stands for (an average of three counts three), so
    averaging averages gives the mean of all their runs; one each by default.
    ``ensemble_checkpoint(..., average="weights")`` checks there are at least two.
    """
    first = _architecture(models[0])
    if any(_architecture(m) != first for m in models[1:]):
        raise CheckpointError(
            _(
                "Only models with exactly the same layers can have their weights averaged; "
                "these differ. Combine them by their answers instead (an ensemble)."
            )
        )
    members = [m.get_weights() for m in models]
    counts = [1] * len(models) if counts is None else list(counts)
    if len(counts) != len(models) or min(counts) < 1:
        raise CheckpointError(_("Each model averaged must stand for at least one run."))
    averaged = [
        np.average(np.array([w[i] for w in members], np.float64), axis=0, weights=counts).astype(
            tensor.dtype
        )
        if np.issubdtype(tensor.dtype, np.floating)
        else tensor
        for i, tensor in enumerate(members[0])
    ]
    config = models[0].get_config()
    config["name"] = name
    soup = type(models[0]).from_config(config)
    soup.set_weights(averaged)
    return soup


def _architecture(model: keras.Model) -> Any:
    """Everything that defines the function but the weights' values (and the model's name).

    Which layers are trainable is left out: it is training state, not the function, and the
    run a fine-tuning started from (its backbone frozen) must average with what it became.
    """
    config = dict(model.get_config())
    config.pop("name", None)
    return _without_trainable(config), [tuple(w.shape) for w in model.weights]


def _without_trainable(config: Any) -> Any:
    if isinstance(config, dict):
        return {k: _without_trainable(v) for k, v in config.items() if k != "trainable"}
    if isinstance(config, list | tuple):
        return [_without_trainable(v) for v in config]
    return config
