"""The one place where the dashboard caches: models and the training registry in
``st.cache_resource``, derived arrays in ``st.cache_data``, and the friendly error box.

Pages call these functions; they never hold TensorFlow objects themselves.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from flowerdash.data.images import Framing
from flowerdash.errors import FlowerdashError
from flowerdash.explain import defaults
from flowerdash.i18n import _, get_language


@st.cache_resource(show_spinner=False, max_entries=4)
def load_checkpoint(path: str) -> tuple[Any, dict[str, Any]]:
    """Model and metadata of a checkpoint folder, loaded once per process."""
    from flowerdash.models import checkpoints

    return checkpoints.load_model(path), checkpoints.read_meta(path)


@st.cache_resource(show_spinner=False)
def job_registry():
    """The process-wide training job registry (shared by every browser session)."""
    from flowerdash.training.job import REGISTRY

    return REGISTRY


def dataset_source():
    """The dataset source if the dataset is on this machine, else the error saying why not.

    On this machine means: the configured folder, valid; or, with no folder configured,
    TensorFlow Datasets' copy already prepared. Never starts a download (the dataset panel
    does that on request). The source (and its up-front validation) is built once for every
    session; only a failure is worked out again per language, so its message reads in the
    session's language. ``dataset_source.clear()`` looks again (after a download, or a new
    folder setting).
    """
    found = _configured_source()
    if isinstance(found, FlowerdashError):
        return _source_error(get_language())
    return found


def _find_source():
    from flowerdash.data.sources import FolderSource, get_source

    try:
        source = get_source()
        if isinstance(source, FolderSource):
            source.sizes()  # validate the layout and the image list up front
        else:
            source.require_prepared()
        return source
    except FlowerdashError as exc:
        return exc


@st.cache_resource(show_spinner=False)
def _configured_source():
    return _find_source()


@st.cache_resource(show_spinner=False)
def _source_error(lang: str):
    return _find_source()


def _clear_dataset_source() -> None:
    _configured_source.clear()
    _source_error.clear()


dataset_source.clear = _clear_dataset_source  # type: ignore[attr-defined]


@st.cache_data(show_spinner=False, ttl=5)
def _listing(lang: str) -> tuple[list[Any], list[tuple[str, str]]]:
    """Usable checkpoints (CheckpointInfo) and (path, reason) of broken ones.

    Keyed by language because the reasons are messages in the session's language.
    """
    from flowerdash.models.checkpoints import list_checkpoints

    listing = list_checkpoints()
    return listing.checkpoints, [(str(b.path), b.reason) for b in listing.broken]


def checkpoint_listing() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(path, label) of usable checkpoints and (path, reason) of broken ones.

    Labels are in the session's language and distinct (see ``checkpoints.distinct_labels``);
    pickers still use the paths as options and the labels only for display. The folder listing
    is cached for a few seconds; ``checkpoint_listing.clear()`` forgets it.
    """
    from flowerdash.models.checkpoints import distinct_labels

    usable, broken = _listing(get_language())
    labels = distinct_labels(usable)
    return [(str(c.path), label) for c, label in zip(usable, labels, strict=True)], broken


checkpoint_listing.clear = _listing.clear  # type: ignore[attr-defined]


def show_error(exc: BaseException, what: str | None = None) -> None:
    """A friendly error box; technical details only inside an expander."""
    if isinstance(exc, FlowerdashError):
        st.error(f"{what + ': ' if what else ''}{exc}")
        return
    st.error(
        (what + ": " if what else "")
        + _("Something went wrong that we did not expect. Nothing was lost; you can try again.")
    )
    with st.expander(_("Technical details")):
        st.code("".join(traceback.format_exception(exc)), language="text")


def image_key(image: np.ndarray) -> str:
    """A stable cache key of an image's pixels."""
    from flowerdash.data.images import image_hash

    return image_hash(image)


def ensure_path(path: str) -> Path:
    """A checkpoint path that still exists, or a stop with a message if it was deleted."""
    p = Path(path)
    if not p.is_dir():
        st.warning(_("That checkpoint no longer exists; pick another one."))
        st.stop()
    return p


# --- Try it / Explain / Audit pages -------------------------------------------------------------


def default_checkpoint() -> str | None:
    """The checkpoint a new session starts with (``checkpoints.best_measured``), as a path."""
    from flowerdash.models.checkpoints import best_measured

    usable, _broken = _listing(get_language())
    best = best_measured(usable)
    return None if best is None else str(best.path)


SWITCH_KEY = "app.switch_to"  # a checkpoint this session just trained, applied by the sidebar
NEW_KEY = "app.new_checkpoint"  # the one it was switched to, marked new in the sidebar


def switch_to_new_checkpoint(path: str | Path) -> None:
    """Use a checkpoint this session just trained from its next run on (the sidebar applies it)."""
    st.session_state[SWITCH_KEY] = str(path)


def require_checkpoint() -> tuple[str, Any, dict[str, Any]]:
    """(path, model, meta) of the checkpoint picked in the sidebar; stops the page if none."""
    path = st.session_state.get("app.checkpoint") or default_checkpoint()
    if not path:
        st.info(
            _(
                "There is no trained model yet. Open the Train page to train one, or run "
                "`python -m flowerdash train` and reload this page."
            )
        )
        st.stop()
    ensure_path(path)
    try:
        model, meta = load_checkpoint(path)
    except FlowerdashError as exc:
        show_error(exc, _("The model could not be loaded"))
        st.stop()
    return path, model, meta


def model_image(checkpoint: str, image: np.ndarray) -> np.ndarray:
    """The centre crop the model sees, as uint8 [S, S, 3]."""
    from flowerdash.data.images import prepare_for_model
    from flowerdash.models.backbones import input_size

    model, _meta = load_checkpoint(checkpoint)
    return prepare_for_model(image, input_size(model)).round().astype(np.uint8)


@st.cache_data(show_spinner=False, max_entries=16)
def found_framing(checkpoint: str, key: str, _image: np.ndarray) -> Framing:
    """The square of a photo where the model is surest (``framing.find_flower``), cached by
    checkpoint and photo key."""
    from flowerdash.inference.framing import find_flower
    from flowerdash.inference.predict import predict_batch
    from flowerdash.models.backbones import input_size

    model, _meta = load_checkpoint(checkpoint)
    found = find_flower(lambda x: predict_batch(model, x), _image, input_size(model))
    return found.framing


@st.cache_data(show_spinner=False, max_entries=16)
def probabilities(checkpoint: str, key: str, _image: np.ndarray) -> np.ndarray:
    """``predict.predict_probabilities`` for a model-sized uint8 image, cached by checkpoint and
    key."""
    from flowerdash.inference.predict import predict_probabilities

    wait_for_warmup(checkpoint)
    model, _meta = load_checkpoint(checkpoint)
    return predict_probabilities(model, _image)


def whole_photo_unsure(checkpoint: str, image: np.ndarray) -> bool:
    """Whether the answer for the whole photo, as the page shows it, is unsure."""
    from flowerdash.data.images import WHOLE_PHOTO, frame
    from flowerdash.explain.reading import is_unsure
    from flowerdash.inference.framing import shown_probabilities

    whole = frame(image, *WHOLE_PHOTO)
    small = model_image(checkpoint, whole)
    p = probabilities(checkpoint, image_key(small), small)
    return is_unsure(float(shown_probabilities(p, WHOLE_PHOTO, None, min(whole.shape[:2])).max()))


def flower_finder(checkpoint: str, image: np.ndarray) -> Callable[[np.ndarray], Framing] | None:
    """What ``widgets.framing``'s "Find the flower" button calls for this checkpoint and photo,
    or None (no button) where ``framing.offered`` says the shipped model's squares do not help
    enough, for any photo or for one it is already sure of. May raise FlowerdashError (a model
    call, where the rules need the whole photo's answer)."""
    from flowerdash.inference import framing

    # framing's switches are read at call time: tests turn them
    if not framing.offered(lambda: whole_photo_unsure(checkpoint, image)):
        return None
    return lambda image: found_framing(checkpoint, image_key(image), image)


class WarmupSlot:
    """The process's warm-up (``flowerdash.ui.warmup``), if one was started."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.warmup: Any = None  # a warmup.Warmup: its checkpoint and a ``done`` event


@st.cache_resource(show_spinner=False)
def warmup_slot() -> WarmupSlot:
    """The process-wide warm-up slot. Here, not in ``warmup``, so that the caches the warm-up
    fills can wait for it without importing it; cleared with the model it prepares."""
    return WarmupSlot()


WARMUP_WAIT_SECONDS = 300.0  # a ceiling only: a stuck warm-up must not hold a page forever


def wait_for_warmup(checkpoint: str, timeout: float = WARMUP_WAIT_SECONDS) -> None:
    """Block while this process's warm-up is still preparing ``checkpoint``."""
    warmup = warmup_slot().warmup
    if warmup is not None and warmup.checkpoint == str(checkpoint):
        warmup.done.wait(timeout)


@st.cache_data(show_spinner=False, max_entries=48)
def explain_cached(
    checkpoint: str,
    key: str,
    _image: np.ndarray,
    methods: tuple[str, ...],
    target: int | None = None,
    steps: int = defaults.STEPS,
    baseline: str = defaults.BASELINE,
    layers: tuple[str, ...] | None = defaults.LAYERS,
    with_faithfulness: bool = False,
):
    """explain_image on a model-sized uint8 image, cached by checkpoint, image key and options."""
    from flowerdash.explain import explanations

    wait_for_warmup(checkpoint)  # reuse what the warm-up prepares rather than race it
    model, _meta = load_checkpoint(checkpoint)
    return explanations.explain_image(
        model,
        _image,
        methods=methods,
        target=target,
        steps=steps,
        baseline=baseline,
        layers=layers,
        with_faithfulness=with_faithfulness,
    )


@st.cache_data(show_spinner=False, max_entries=48)
def faithfulness_cached(
    checkpoint: str,
    key: str,
    _image: np.ndarray,
    target: int,
    steps: int,
    baseline: str,
    layers: tuple[str, ...] | None,
    _maps: dict[str, np.ndarray],
):
    """Deletion/insertion of each map of ``explain_cached`` with the same image and options.

    Apart from the maps, so a page can show them before this slower test; keyed by what the
    maps were computed from (the maps themselves are not hashed).
    """
    from flowerdash.explain.faithfulness import deletion_insertion

    model, _meta = load_checkpoint(checkpoint)
    x = np.asarray(_image, dtype=np.float32)
    return {m: deletion_insertion(model, x, heat, int(target)) for m, heat in _maps.items()}


@st.cache_data(show_spinner=False, max_entries=8)
def gradcam_layers(checkpoint: str) -> list[tuple[str, ...]]:
    """Layer choices of a checkpoint's model for Grad-CAM (last = default): one layer each, or
    every ensemble member's."""
    from flowerdash.explain.base import gradcam_layer_choices

    model, _meta = load_checkpoint(checkpoint)
    return gradcam_layer_choices(model)


@st.cache_data(show_spinner=False, max_entries=8)
def split_files(_source: Any, source_key: str, split: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(file names, labels) of a dataset split."""
    index = _source.split(split)
    return tuple(index.files), np.asarray(index.labels)


def read_split_image(source: Any, split: str, file_name: str) -> np.ndarray:
    """A dataset image by its file name (DatasetError if the split has no such file)."""
    from flowerdash.errors import DatasetError

    files, _labels = split_files(source, source.description, split)
    try:
        index = files.index(file_name)
    except ValueError:
        raise DatasetError(
            _("The {split} split has no image named {name}.").format(
                split=split, name=repr(file_name)
            )
        ) from None
    return source.read_image(split, index)


@st.cache_data(show_spinner=False, max_entries=512)
def focus_for(checkpoint: str, _source: Any, split: str, file_name: str, target: int) -> float:
    """Focus score (Grad-CAM mass in the centre) of one dataset image for ``target``."""
    from flowerdash.explain.faithfulness import focus_score

    image = model_image(checkpoint, read_split_image(_source, split, file_name))
    result = explain_cached(checkpoint, image_key(image), image, ("gradcam",), int(target))
    return focus_score(result.maps["gradcam"])


@st.cache_data(show_spinner=False, max_entries=8)
def cached_predictions(checkpoint: str, model_mtime: float, split: str = "test"):
    """Predictions stored next to a checkpoint for ``split`` (None if it was never scanned)."""
    from flowerdash.inference.evaluation import load_cached_predictions

    return load_cached_predictions(checkpoint, split)


# --- Augmentation lab / Train pages -------------------------------------------------------------

LAB_IMAGE_SIZE = 224  # the lab shows what training sees: the model-sized centre crop


# --- The dataset download (the dataset panel) ------------------------------------------------


class DownloadSlot:
    """The one dataset download of this server, shared by every session."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.job = None
        self.announced = None  # the finished job whose dataset the pages were told about


@st.cache_resource(show_spinner=False)
def download_slot() -> DownloadSlot:
    """The process-wide slot holding the current (or last) download job."""
    return DownloadSlot()


@st.cache_data(show_spinner=False, ttl=30)
def is_online() -> bool:
    """Whether the dataset's server can be reached (asked at most every 30 s)."""
    from flowerdash.data import download

    return download.is_online()


@st.cache_data(show_spinner=False)
def download_size() -> int:
    """Bytes the download will fetch (the sizes TFDS registers for the files)."""
    from flowerdash.data import download

    return download.download_size()


@st.cache_data(show_spinner=False, max_entries=64)
def lab_dataset_image(_source: Any, source_key: str, split: str, index: int) -> np.ndarray:
    """A dataset image as the uint8 model-sized centre crop used by the augmentation lab."""
    return lab_crop(_source.read_image(split, int(index)))


def lab_crop(image: np.ndarray) -> np.ndarray:
    """Any uint8 image as the lab's uint8 [224, 224, 3] centre crop."""
    from flowerdash.data.images import prepare_for_model

    return prepare_for_model(image, LAB_IMAGE_SIZE).round().clip(0, 255).astype(np.uint8)


@st.cache_data(show_spinner=False, max_entries=32)
def augment_samples(key: str, _image: np.ndarray, config_items: tuple, n: int, seed: int):
    """``augment.sample_grid`` cached by image key, config (sorted items), n and seed."""
    from flowerdash.data.augment import sample_grid
    from flowerdash.data.augment_config import AugmentConfig

    return sample_grid(_image, AugmentConfig.from_dict(dict(config_items)), int(n), int(seed))


@st.cache_data(show_spinner=False, max_entries=32)
def mixed_pair(
    key_a: str,
    key_b: str,
    _a: np.ndarray,
    _b: np.ndarray,
    label_a: str,
    label_b: str,
    method: str,
    lam: float,
) -> tuple[np.ndarray, dict[str, float]]:
    """``augment.mix_pair`` of two same-sized images, cached by their keys and the settings."""
    from flowerdash.data.mixing import mix_pair

    return mix_pair(_a, _b, label_a, label_b, method, float(lam))
