"""Does a saliency map explain the model? Deletion/insertion curves, sanity checks, focus score.

* Deletion/insertion (Petsiuk et al., 2018): remove (or add) pixels in order of attribution,
  most important first, and follow the target-class probability. A faithful map makes the
  probability fall fast when deleting (low deletion AUC) and rise fast when inserting (high
  insertion AUC).
* Sanity check (Adebayo et al., 2018): randomise the model's weights layer by layer from the
  classifier head downwards (on a clone) and measure how much the maps change; a method whose
  maps stay the same is not explaining the model.
* Focus score: the share of map mass in the centre of the image, a cheap proxy for "looks at
  the flower, not the background" (flowers are usually centred in Flowers102).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from scipy.stats import spearmanr

from flowerdash.errors import ExplainError
from flowerdash.explain.baselines import make_baseline
from flowerdash.i18n import _
from flowerdash.inference.predict import predict_batch
from flowerdash.models.views import single_view

if TYPE_CHECKING:  # pages import this module for the focus score: no TensorFlow at import
    import keras

__all__ = [
    "FaithfulnessResult",
    "deletion_insertion",
    "focus_score",
    "more_faithful",
    "sanity_check",
]

#: Area differences below this share of the full-image probability are noise, not a verdict.
NOISE_SHARE = 0.05


@dataclass
class FaithfulnessResult:
    """Deletion and insertion curves of one saliency map."""

    fractions: np.ndarray  # [steps + 1] share of pixels removed / inserted, 0..1
    deletion_scores: np.ndarray  # [steps + 1] target probability while deleting
    insertion_scores: np.ndarray  # [steps + 1] target probability while inserting
    deletion_auc: float  # lower = more faithful
    insertion_auc: float  # higher = more faithful


def _pixel_baseline(image: np.ndarray, baseline: str) -> np.ndarray:
    # Deletion and insertion need a baseline that does not depend on a seed: no noise.
    if baseline not in ("blur", "black"):
        raise ExplainError(
            _("Unknown deletion/insertion baseline {baseline}; choose 'blur' or 'black'.").format(
                baseline=repr(baseline)
            )
        )
    return make_baseline(image[None], baseline)[0]


def deletion_insertion(
    model: keras.Model,
    image: np.ndarray,
    saliency_map: np.ndarray,
    target: int,
    steps: int = 20,
    baseline: str = "blur",
    batch_size: int = 16,
) -> FaithfulnessResult:
    """Deletion/insertion curves of ``saliency_map`` for ``target`` on one image [H, W, C]."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 4 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 3:
        raise ExplainError(
            _("deletion_insertion needs one image [H, W, C], got shape {shape}.").format(
                shape=img.shape
            )
        )
    if not 1 <= int(steps) <= 1000:
        raise ExplainError(_("steps must be between 1 and 1000, got {steps}.").format(steps=steps))
    h, w = img.shape[:2]
    sal = np.nan_to_num(np.asarray(saliency_map, dtype=np.float32))
    if sal.ndim != 2:
        raise ExplainError(
            _("The saliency map must be [H, W], got shape {shape}.").format(shape=sal.shape)
        )
    if sal.shape != (h, w):
        sal = cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR)
    num_classes = int(model.outputs[0].shape[-1])
    if not 0 <= int(target) < num_classes:
        raise ExplainError(
            _("Target class {target} is out of range (0..{last}).").format(
                target=target, last=num_classes - 1
            )
        )
    base = _pixel_baseline(img, baseline)

    # Most important first; a stable sort keeps ties in reading order, so results are repeatable.
    order = np.argsort(-sal.ravel(), kind="stable")
    fractions = np.linspace(0.0, 1.0, int(steps) + 1)
    counts = np.round(fractions * h * w).astype(int)
    rank = np.empty(h * w, dtype=np.int64)
    rank[order] = np.arange(h * w)
    rank = rank.reshape(h, w)
    chosen = rank[None] < counts[:, None, None]  # [S+1, H, W]: pixels already moved
    mask = chosen[..., None]
    deleted = np.where(mask, base[None], img[None])
    inserted = np.where(mask, img[None], base[None])
    probs = predict_batch(model, np.concatenate([deleted, inserted]), batch_size)
    scores = probs[:, int(target)]
    n = len(fractions)
    del_s, ins_s = scores[:n], scores[n:]
    return FaithfulnessResult(
        fractions=fractions.astype(np.float32),
        deletion_scores=del_s.astype(np.float32),
        insertion_scores=ins_s.astype(np.float32),
        deletion_auc=float(np.trapezoid(del_s, fractions)),
        insertion_auc=float(np.trapezoid(ins_s, fractions)),
    )


def more_faithful(a: str, b: str, faith: dict[str, FaithfulnessResult]) -> tuple[str, str] | None:
    """(the method whose deletion curve falls faster, the one whose insertion curve rises faster)
    of methods ``a`` and ``b``; None when both differences are noise."""
    fa, fb = faith[a], faith[b]
    scale = max(float(fa.deletion_scores[0]), 1e-6)
    if (
        abs(fa.deletion_auc - fb.deletion_auc) < NOISE_SHARE * scale
        and abs(fa.insertion_auc - fb.insertion_auc) < NOISE_SHARE * scale
    ):
        return None
    deletion = a if fa.deletion_auc < fb.deletion_auc else b
    insertion = a if fa.insertion_auc > fb.insertion_auc else b
    return deletion, insertion


def _randomize_layer(layer: keras.layers.Layer, rng: np.random.Generator) -> None:
    new = []
    for w in layer.get_weights():
        if w.ndim >= 2:  # kernels: fresh Gaussian draw with the original spread
            std = float(w.std()) or 0.05
            new.append(rng.normal(0.0, std, w.shape).astype(w.dtype))
        else:  # vectors (biases, batch-norm statistics): shuffle, which keeps variances positive
            new.append(rng.permutation(w).astype(w.dtype))
    layer.set_weights(new)


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    rho = spearmanr(a, b).statistic
    return float(rho) if np.isfinite(rho) else 0.0


def _default_stages(model: keras.Model, max_stages: int = 4) -> list[list[str]]:
    weighted = [layer.name for layer in reversed(model.layers) if layer.weights]
    if not weighted:
        raise ExplainError(_("The model has no layers with weights to randomise."))
    head, rest = weighted[:1], weighted[1:]
    stages = [head]
    if rest:
        groups = np.array_split(np.arange(len(rest)), min(max_stages - 1, len(rest)))
        stages += [[rest[i] for i in g] for g in groups if len(g)]
    return stages


def sanity_check(
    model: keras.Model,
    images: np.ndarray,
    explainer_factory: Callable[[keras.Model], Callable[..., np.ndarray]],
    layers_to_randomize: Sequence[str] | None = None,
    seed: int = 0,
) -> list[tuple[str, float]]:
    """Cascading randomisation on a clone: [(stage, mean Spearman ρ vs the original maps)].

    ``layers_to_randomize`` lists layer names in the order to randomise them (each adds one
    stage, cumulatively); by default the head comes first, then the rest of the weighted layers
    from the top down in up to three groups. The stage name is the last layer randomised.
    ``explainer_factory(model)`` must return a callable ``(images, targets) -> maps``.
    The original model is never modified.
    """
    model = single_view(model)  # the layers the explanations read
    imgs = np.asarray(images, dtype=np.float32)
    if imgs.ndim == 3:
        imgs = imgs[None]
    names = {layer.name for layer in model.layers}
    if layers_to_randomize is None:
        stages = _default_stages(model)
    else:
        unknown = [n for n in layers_to_randomize if n not in names]
        if unknown:
            raise ExplainError(
                _("Unknown layers to randomise: {layers}.").format(layers=", ".join(unknown))
            )
        stages = [[n] for n in layers_to_randomize]

    original = explainer_factory(model)
    probs = predict_batch(model, imgs, 16)
    targets = probs.argmax(axis=1)
    reference = np.asarray(original(imgs, targets))

    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    out = []
    for group in stages:
        for name in group:
            _randomize_layer(clone.get_layer(name), rng)
        # A new explainer per stage: an explainer may hold a copy of the weights it was built with.
        maps = np.asarray(explainer_factory(clone)(imgs, targets))
        rho = float(
            np.mean([_rank_correlation(r, m) for r, m in zip(reference, maps, strict=True)])
        )
        out.append((group[-1], rho))
    return out


def focus_score(cam_map: np.ndarray, center_fraction: float = 0.5) -> float:
    """Share of the map's mass inside a centred box covering ``center_fraction`` of each side.

    A uniform map scores ``center_fraction**2`` (0.25 by default); an all-zero map scores 0.
    """
    m = np.maximum(np.nan_to_num(np.asarray(cam_map, dtype=np.float64)), 0.0)
    if m.ndim != 2:
        raise ExplainError(
            _("focus_score needs one map [H, W], got shape {shape}.").format(shape=m.shape)
        )
    if not 0.0 < float(center_fraction) <= 1.0:
        raise ExplainError(
            _("center_fraction must be in (0, 1], got {value}.").format(value=center_fraction)
        )
    total = m.sum()
    if total <= 0:
        return 0.0
    h, w = m.shape
    bh, bw = round(h * center_fraction), round(w * center_fraction)
    top, left = (h - bh) // 2, (w - bw) // 2
    return float(m[top : top + bh, left : left + bw].sum() / total)
