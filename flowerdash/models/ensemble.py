"""Ensembles: several trained checkpoints as one flat model that averages their class scores
(or, with ``average="weights"``, as one model of a member's size: ``flowerdash.models.soup``).

The ensemble is an ordinary flowerdash model: raw RGB pixels in, a ``logits`` layer (the mean of
the members' pre-softmax scores) and a softmax out, every layer reachable by name (member ``k``'s
layers are prefixed ``m{k}_``), so it loads with ``keras.saving.load_model`` and the dashboard
can evaluate and explain it like any other checkpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowerdash.errors import CheckpointError, ConfigError
from flowerdash.i18n import _
from flowerdash.models.backbones import input_size, with_backbone_size, without_temperature
from flowerdash.models.checkpoints import (
    check_new_name,
    load_model,
    now_iso,
    read_meta,
    save_checkpoint,
)
from flowerdash.models.views import single_view, view_sizes, with_views

if TYPE_CHECKING:
    import keras


MIN_MEMBERS = 2
# What an ensemble checkpoint averages: the members' answers (the class scores), or their
# weights (one model of a member's size; flowerdash.models.soup).
AVERAGES = ("scores", "weights")
# Member k's layers are named "m{k}_<its own name>".
MEMBER_PATTERN = re.compile(r"^m(\d+)_")


def member_prefix(index: int) -> str:
    """The prefix of member ``index``'s layer names (0-based index, 1-based name: ``m1_``)."""
    return f"m{index + 1}_"


def check_member_count(count: int) -> None:
    """CheckpointError unless there are enough members for an ensemble."""
    if count < MIN_MEMBERS:
        raise CheckpointError(
            _("An ensemble needs at least {n} models; got {count}.").format(
                n=MIN_MEMBERS, count=count
            )
        )


def build_ensemble(models: Sequence[keras.Model], name: str = "ensemble") -> keras.Model:
    """One flat model whose class scores are the mean of the members' (members left untouched)."""
    import keras

    from flowerdash.models.logits import logits_model, model_input_shape

    check_member_count(len(models))
    shapes = {model_input_shape(m) for m in models}
    classes = {int(m.outputs[0].shape[-1]) for m in models}
    if len(shapes) > 1 or len(classes) > 1:
        raise CheckpointError(
            _(
                "The models of an ensemble must take the same input and predict the same classes; "
                "these take {shapes} and predict {classes} classes."
            ).format(
                shapes=", ".join(sorted(str(s) for s in shapes)),
                classes=", ".join(str(c) for c in sorted(classes)),
            )
        )
    image = keras.Input(shape=next(iter(shapes)), name="image")
    scores = []
    for index, model in enumerate(models):
        source = logits_model(model)
        clone = keras.models.clone_model(
            source, input_tensors=image, clone_function=_renamer(member_prefix(index))
        )
        for layer in source.layers:
            if layer.weights:
                clone.get_layer(member_prefix(index) + layer.name).set_weights(layer.get_weights())
        scores.append(clone.outputs[0])
    logits = keras.layers.Average(name="logits")(scores)
    probs = keras.layers.Activation("softmax", name="probs")(logits)
    return keras.Model(image, probs, name=name)


def _renamer(prefix: str) -> Callable[[keras.layers.Layer], keras.layers.Layer]:
    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        config["name"] = prefix + layer.name
        return layer.__class__.from_config(config)

    return clone


def ensemble_checkpoint(
    members: Sequence[str | Path],
    name: str | None = None,
    root: str | Path | None = None,
    average: str = "scores",
    backbone_size: int | None = None,
    also_sizes: Sequence[int] = (),
    mirror: bool = False,
) -> Path:
    """Build the ensemble of checkpoint folders and save it as a checkpoint (atomically).

    ``average`` is "scores" (one model running every member) or "weights" (one model of a
    member's size whose weights are the members' mean: see ``flowerdash.models.soup``).
    ``backbone_size`` (weights only): the average enlarges every photo to this side before its
    backbone (``flowerdash.models.backbones.with_backbone_size``). ``also_sizes`` and ``mirror``
    (weights only): it answers the mean over these views too, at each further backbone size and
    mirrored (``flowerdash.models.views``).
    """
    if average not in AVERAGES:
        raise CheckpointError(
            _("An ensemble averages {choices}; got {average!r}.").format(
                choices=" or ".join(AVERAGES), average=average
            )
        )
    views = bool(also_sizes) or mirror
    if (backbone_size is not None or views) and average != "weights":
        raise ConfigError(_("Only a weight average can change its backbone size or views."))
    check_member_count(len(members))
    if name is not None:
        check_new_name(name, root)
    metas = [read_meta(m) for m in members]
    # Its views are nested networks, whose feature maps Grad-CAM cannot reach from outside.
    answering_views = [
        Path(m).name for m, meta in zip(members, metas, strict=True) if meta.get("views")
    ]
    if average == "scores" and answering_views:
        raise ConfigError(
            _(
                "{names}: a model answering several views of each photo cannot be explained "
                "inside an ensemble of scores. Average it by weights instead, where it counts "
                "as the runs it averages."
            ).format(names=", ".join(answering_views))
        )
    class_names = metas[0]["class_names"]
    if any(meta["class_names"] != class_names for meta in metas[1:]):
        raise CheckpointError(
            _("The checkpoints of an ensemble must name the same classes in the same order.")
        )
    started = now_iso()
    models = [load_model(m) for m in members]
    backbones = sorted({str(meta.get("backbone", "?")) for meta in metas})
    if average == "weights":
        from flowerdash.models.soup import average_weights

        runs = [_as_runs(model, meta) for model, meta in zip(models, metas, strict=True)]
        model = average_weights([m for m, _n in runs], counts=[n for _m, n in runs])
        if views:
            sizes = [backbone_size or input_size(model), *also_sizes]
            model = with_views(model, sizes, mirror=mirror)
        elif backbone_size is not None:
            model = with_backbone_size(model, backbone_size)
        backbone = backbones[0]  # one architecture, checked by average_weights
    else:
        model = build_ensemble(models)
        backbone = f"{len(metas)} × {'+'.join(backbones)}"
    meta: dict[str, Any] = {
        # A cancelled member (kept at its last completed epoch) makes the ensemble partial too.
        "status": "complete" if all(_status(m) == "complete" for m in metas) else "partial",
        "backbone": backbone,
        "averages": average,
        "image_size": metas[0].get("image_size"),
        "class_names": class_names,
        "dataset": metas[0].get("dataset"),
        "members": [
            summary
            for path, meta in zip(members, metas, strict=True)
            for summary in _member_summaries(Path(path), meta, average)
        ],
        "metrics": {},
        "history": [],
        "started": started,
        "finished": now_iso(),
    }
    if backbone_size is not None:
        meta["backbone_size"] = backbone_size
    if views:
        meta["views"] = {"sizes": view_sizes(model), "mirror": bool(mirror)}
    kind = "ensemble" if average == "scores" else "soup"
    name = name or f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{kind}-{len(members)}"
    return save_checkpoint(model, meta, root=root, name=name)


def _as_runs(model: keras.Model, meta: dict[str, Any]) -> tuple[keras.Model, int]:
    """A member of a weight average as the runs it stands for: (a model, how many runs).

    A weight average among the members counts as all its runs, so an average of averages is
    the average of every run in them. Its calibration, enlargement and views, added after
    averaging and not weights, are taken off first; the new average gets its own.
    """
    if meta.get("averages") != "weights":
        return model, 1
    model = without_temperature(single_view(model))
    if meta.get("backbone_size") is not None:
        model = with_backbone_size(model, input_size(model))
    return model, max(len(meta.get("members") or []), 1)


def _member_summaries(path: Path, meta: dict[str, Any], average: str) -> list[dict[str, Any]]:
    """The runs a member adds to an ensemble's list: a weight average in a weight average adds
    its own runs, as :func:`_as_runs` weighs them."""
    if average == "weights" and meta.get("averages") == "weights" and meta.get("members"):
        return list(meta["members"])
    return [_member_summary(path, meta)]


def _status(meta: dict[str, Any]) -> str:
    return str(meta.get("status", "complete"))


def _member_summary(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": meta.get("trained_as", meta.get("name", path.name)),
        "status": _status(meta),
        "backbone": meta.get("backbone"),
        "config": meta.get("config"),
        "test": (meta.get("metrics") or {}).get("test"),
    }
