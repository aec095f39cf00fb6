"""The one place where the dashboard caches: models and the training registry in
``st.cache_resource``, derived arrays in ``st.cache_data``, and the friendly error box.

Pages call these functions; they never hold TensorFlow objects themselves.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from flowerdash.errors import FlowerdashError
from flowerdash.i18n import _


@st.cache_resource(show_spinner=False, max_entries=4)
def load_checkpoint(path: str) -> tuple[Any, dict[str, Any]]:
    """Model and metadata of a checkpoint folder, loaded once per process."""
    from flowerdash import checkpoints

    return checkpoints.load_model(path), checkpoints.read_meta(path)


@st.cache_resource(show_spinner=False)
def job_registry():
    """The process-wide training job registry (shared by every browser session)."""
    from flowerdash.training import REGISTRY

    return REGISTRY


@st.cache_resource(show_spinner=False)
def dataset_source():
    """The configured dataset source, or the error explaining why there is none."""
    from flowerdash.data import FolderSource, get_source

    try:
        source = get_source()
        if isinstance(source, FolderSource):
            source.sizes()  # validate the layout and the image list up front
        return source
    except FlowerdashError as exc:
        return exc


def require_dataset():
    """The dataset source; stops the page with plain instructions when there is none."""
    from flowerdash.data import HOW_TO_FIX

    source = dataset_source()
    if isinstance(source, FlowerdashError):
        st.info(_("This page needs the Oxford Flowers102 dataset.") + " " + str(source)
                if str(source) else HOW_TO_FIX)
        st.stop()
    return source


@st.cache_data(show_spinner=False, ttl=5)
def checkpoint_listing(_version: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(path, label) of usable checkpoints and (path, reason) of broken ones."""
    from flowerdash.checkpoints import list_checkpoints

    listing = list_checkpoints()
    return ([(str(c.path), c.label) for c in listing.checkpoints],
            [(str(b.path), b.reason) for b in listing.broken])


def show_error(exc: BaseException, what: str | None = None) -> None:
    """A friendly error box; technical details only inside an expander."""
    if isinstance(exc, FlowerdashError):
        st.error(f"{what + ': ' if what else ''}{exc}")
        return
    st.error((what + ": " if what else "")
             + _("Something went wrong that we did not expect. Nothing was lost; you can try again."))
    with st.expander(_("Technical details")):
        st.code("".join(traceback.format_exception(exc)), language="text")


def image_key(image: np.ndarray) -> str:
    """A stable cache key of an image's pixels."""
    from flowerdash.images import image_hash

    return image_hash(image)


def ensure_path(path: str) -> Path:
    """A checkpoint path that still exists, or a stop with a message if it was deleted."""
    p = Path(path)
    if not p.is_dir():
        st.warning(_("That checkpoint no longer exists; pick another one."))
        st.stop()
    return p
