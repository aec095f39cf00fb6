"""Streamlit widget helpers shared by the pages: a dataset photo picker, the framing of a photo
and the overlay controls.

No TensorFlow here: callers pass in what the model side knows (for instance the Grad-CAM layers).
``container`` is where a widget goes: ``st`` itself (the current place) or a column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import streamlit as st

from flowerdash.data.images import WHOLE_PHOTO, Framing, image_hash
from flowerdash.errors import FlowerdashError
from flowerdash.explain.overlays import COLORMAPS
from flowerdash.i18n import _
from flowerdash.inference.framing import is_found_square


def classes_present(labels: np.ndarray, names: Sequence[str]) -> list[int]:
    """The classes with at least one photo among ``labels``, in the order of their names."""
    return sorted({int(c) for c in labels}, key=lambda c: names[c])


def flower_and_photo_number(
    present: Sequence[int],
    labels: np.ndarray,
    names: Sequence[str],
    *,
    label: str,
    class_key: str,
    pick_key: str,
    class_help: str,
    photo_help: str,
    format_name: Callable[[str], str],
) -> tuple[int, int]:
    """Pick a flower, then a photo number: (class, index of that photo among ``labels``).

    ``photo_help`` is translated text with an ``{n}`` field for the number of photos of the flower.
    """
    cls = st.selectbox(
        label,
        present,
        format_func=lambda c: format_name(names[c]),
        key=class_key,
        help=class_help,
    )
    members = np.flatnonzero(labels == cls)
    pick = st.number_input(
        _("Photo number"),
        min_value=1,
        max_value=len(members),
        value=1,
        step=1,
        key=pick_key,
        help=photo_help.format(n=len(members)),
    )
    return cls, int(members[int(pick) - 1])


def layer_select(
    layers: Sequence[tuple[str, ...]], label: str, key: str, container: Any = st
) -> tuple[str, ...]:
    """The Grad-CAM layers (one layer, or every ensemble member's), the last choice first."""
    return container.selectbox(
        label,
        layers,
        index=len(layers) - 1,
        key=key,
        format_func=_layer_label,
        help=_(
            "Later layers give coarser maps about whole parts; the last one is the usual choice."
        ),
    )


def _layer_label(layers: tuple[str, ...]) -> str:
    if len(layers) == 1:
        return layers[0]
    return _("All {n} members").format(n=len(layers))


def _set_framing(prefix: str, framing: Framing) -> None:
    zoom, x, y = framing
    st.session_state.update(
        {
            f"{prefix}.zoom": zoom,
            f"{prefix}.frame_x": round(100 * x),
            f"{prefix}.frame_y": round(100 * y),
        }
    )


def _find(prefix: str, find: Callable[[np.ndarray], Framing], image: np.ndarray) -> None:
    try:
        found = find(image)
    except FlowerdashError as exc:  # shown under the buttons: a callback's error would be raw
        st.session_state[f"{prefix}.found"] = exc
        return
    _set_framing(prefix, found)
    st.session_state[f"{prefix}.found"] = found


def found_square(prefix: str) -> Framing | None:
    """The square "Find the flower" picked for the photo ``framing`` shows, if it picked one."""
    found = st.session_state.get(f"{prefix}.found")
    return found if isinstance(found, tuple) else None


def _framing_help(can_find: bool) -> str:
    """What "Frame the flower" is for; the model's own try only where its button is shown."""
    if can_find:
        return _(
            "The model sees one square of the photo. If the flower is small or not in the "
            "middle, zoom in and move the square onto it, or let the model try a few squares "
            "and keep the one it is surest of."
        )
    return _(
        "The model sees one square of the photo. If the flower is small or not in the "
        "middle, zoom in and move the square onto it."
    )


def framing(
    image: np.ndarray,
    prefix: str,
    find: Callable[[np.ndarray], Framing] | None = None,
) -> Framing:
    """Zoom and position (0..1) of the square the model sees, for ``images.frame``.

    Each new photo starts whole: the sliders go back to the centre when the pixels change.
    ``find`` (the page's model call, ``state.flower_finder``; None when the app does not offer
    it) adds a button that moves the square to where the model is surest.
    """
    photo = image_hash(image)
    if st.session_state.get(f"{prefix}.framed_photo") != photo:
        st.session_state[f"{prefix}.framed_photo"] = photo
        _set_framing(prefix, WHOLE_PHOTO)
        st.session_state[f"{prefix}.found"] = None
    with st.expander(_("Frame the flower"), icon="🔍"):
        st.caption(_framing_help(can_find=find is not None))
        zoom = st.slider(_("Zoom"), 1.0, 4.0, step=0.25, format="%.2f×", key=f"{prefix}.zoom")
        x = st.slider(_("Left ↔ right"), 0, 100, step=5, format="%d%%", key=f"{prefix}.frame_x")
        y = st.slider(_("Top ↕ bottom"), 0, 100, step=5, format="%d%%", key=f"{prefix}.frame_y")
        if find is not None:
            st.button(
                _("Find the flower for me"),
                key=f"{prefix}.frame_find",
                on_click=_find,
                args=(prefix, find, image),
                width="stretch",
            )
        st.button(
            _("Whole photo again"),
            key=f"{prefix}.frame_reset",
            on_click=_set_framing,
            args=(prefix, WHOLE_PHOTO),
            width="stretch",
        )
        chosen = (zoom, x / 100, y / 100)
        found = st.session_state[f"{prefix}.found"]
        if isinstance(found, FlowerdashError):
            st.warning(_("The model could not look for the flower: {error}").format(error=found))
        elif found == chosen == WHOLE_PHOTO:
            st.caption(_("The model is surest of the whole photo: no square it tried did better."))
        elif is_found_square(chosen, found):
            st.caption(
                _(
                    "Framed where the model is surest: the best of about twenty tries. Its "
                    "percentage is lowered to allow for that, but the answer is still often "
                    "wrong: check that the square shows the flower."
                )
            )
    return chosen


def alpha_slider(key: str, default: float, container: Any = st) -> float:
    """How strongly the map's colours cover the photo, 0 to 1."""
    return container.slider(
        _("Overlay strength"),
        0.0,
        1.0,
        default,
        0.05,
        key=key,
        help=_("How strongly the colours cover the photo (0 = photo only)."),
    )


def colormap_select(
    key: str, help_text: str, default: str | None = None, container: Any = st
) -> str:
    """The colour scale of the maps; ``default`` (when it is one of them) first, else the first."""
    return container.selectbox(
        _("Colours"),
        COLORMAPS,
        index=COLORMAPS.index(default) if default in COLORMAPS else 0,
        key=key,
        help=help_text,
    )


def timing_metric(container: Any, label: str, seconds: float, prepared: bool, help: str) -> None:
    """A method's time; a time that includes one-time preparation says so under the number."""
    container.metric(
        label,
        f"{seconds:.2f} s",
        delta=_("includes one-time preparation") if prepared else None,
        delta_color="off",
        delta_arrow="off",
        help=help
        + " "
        + _(
            "The first explanation after the server starts may also load and prepare the model; "
            "that time is marked."
        ),
    )
