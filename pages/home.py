"""Try it: upload a flower photo (or pick a test image) and see what the model thinks and why."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from flowerdash.errors import FlowerdashError
from flowerdash.i18n import _
from flowerdash.images import load_image, prepare_for_model
from flowerdash.overlays import overlay
from flowerdash.predict import top_k
from flowerdash.ui import state

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "gif", "bmp"]
DISPLAY_SIZE = 384
SOURCE_UPLOAD = "upload"
SOURCE_TEST = "test"


def pretty(name: str) -> str:
    """A class name as shown to people ('pink primrose' -> 'Pink Primrose')."""
    return name.title()


def pick_test_image() -> tuple[np.ndarray, str] | None:
    """Test-set browser: a flower, then one of its photos; None without a dataset."""
    source = state.dataset_source()
    if isinstance(source, FlowerdashError):
        st.info(
            _(
                "Test images need the Oxford Flowers102 dataset. Set FLOWERDASH_DATA_DIR to the "
                "folder with jpg/, imagelabels.mat and setid.mat, then reload."
            )
            + " "
            + str(source)
        )
        return None
    files, labels = state.split_files(source, source.description, "test")
    names = source.class_names
    present = sorted({int(c) for c in labels}, key=lambda c: names[c])
    cls = st.selectbox(
        _("Flower"),
        present,
        format_func=lambda c: pretty(names[c]),
        key="home.test_class",
        help=_(
            "Pick a kind of flower; its photos come from the test set the model never trained on."
        ),
    )
    members = np.flatnonzero(labels == cls)
    pick = st.number_input(
        _("Photo number"),
        min_value=1,
        max_value=len(members),
        value=1,
        step=1,
        key="home.test_pick",
        help=_("Which of the {n} test photos of this flower to use.").format(n=len(members)),
    )
    index = int(members[int(pick) - 1])
    try:
        return source.read_image("test", index), files[index]
    except FlowerdashError as exc:
        state.show_error(exc, _("This test image could not be read"))
        return None


def top5_chart(rows: list[tuple[int, str, float]]) -> go.Figure:
    """Horizontal bars of the five most likely flowers, best on top."""
    names = [pretty(n) for _i, n, _p in rows][::-1]
    probs = [p for _i, _n, p in rows][::-1]
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=names,
            orientation="h",
            text=[f"{p:.1%}" for p in probs],
            textposition="auto",
            marker_color=["#D9B8CC"] * (len(rows) - 1) + ["#B83B7E"],
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        margin=dict(l=10, r=10, t=10, b=40),
        xaxis=dict(title=_("Probability"), tickformat=".0%", range=[0, 1]),
        yaxis=dict(title=None),
    )
    return fig


def main() -> None:
    st.title(_("🌸 Which flower is this?"))
    st.write(
        _(
            "Give the model a photo of a flower. It names the 102 kinds of flowers it knows and "
            "shows which parts of the photo made it decide."
        )
    )
    path, model, meta = state.require_checkpoint()
    names = meta["class_names"]

    left, right = st.columns([1, 2], gap="large")
    with left:
        choice = st.radio(
            _("Photo"),
            [SOURCE_UPLOAD, SOURCE_TEST],
            format_func=lambda s: {
                SOURCE_UPLOAD: _("Upload my photo"),
                SOURCE_TEST: _("Use a test image"),
            }[s],
            key="home.source",
            horizontal=True,
            help=_("Upload your own picture, or try one of the dataset's test photos."),
        )
        picked: tuple[np.ndarray, str] | None = None
        failed = False
        if choice == SOURCE_UPLOAD:
            upload = st.file_uploader(
                _("Flower photo"),
                type=UPLOAD_TYPES,
                key="home.upload",
                help=_(
                    "A JPEG, PNG, WebP, GIF or BMP picture up to 20 MB; the flower works best centred."
                ),
            )
            if upload is not None:
                try:
                    picked = load_image(upload), upload.name
                except FlowerdashError as exc:
                    state.show_error(exc, _("We could not use that file"))
                    failed = True
        else:
            picked = pick_test_image()
        top1 = ((meta.get("metrics") or {}).get("test") or {}).get("top1")
        st.caption(
            _("Model: {backbone} · accuracy on the test set: {accuracy}").format(
                backbone=meta.get("backbone", "?"),
                accuracy=_("not measured yet") if top1 is None else f"{float(top1):.1%}",
            )
        )

    if picked is None:
        if failed:
            return
        with right:
            st.info(_("Upload a photo or pick a test image to see the model's answer."))
        return
    image, label = picked
    try:
        small = state.model_image(path, image)
        result = state.explain_cached(path, state.image_key(small), small, ("gradcam",))
    except FlowerdashError as exc:
        with right:
            state.show_error(exc, _("The model could not look at this photo"))
        return
    rows = top_k(result.probabilities, names, 5)
    best = rows[0]
    shown = prepare_for_model(image, DISPLAY_SIZE).round().astype(np.uint8)

    with right:
        st.subheader(_("Most likely: {name} ({p:.0%})").format(name=pretty(best[1]), p=best[2]))
        photo, heat = st.columns(2)
        photo.image(
            shown, caption=_("What the model sees: {name}").format(name=label), width="stretch"
        )
        heat.image(
            overlay(shown, result.maps["gradcam"], alpha=0.45, cmap="jet"),
            caption=_("Where it looked (Grad-CAM)"),
            width="stretch",
        )
        st.caption(
            _(
                "Warm colours (red, yellow) mark the regions that pushed the model towards "
                "“{name}”; blue regions hardly mattered for this answer."
            ).format(name=pretty(best[1]))
        )
        st.plotly_chart(top5_chart(rows), key="home.top5", config={"displayModeBar": False})
        if best[2] < 0.3:
            st.caption(
                _(
                    "The model is unsure: no flower gets more than {p:.0%}. It may not be one of the "
                    "102 flowers it knows, or the flower may be small in the picture."
                ).format(p=best[2])
            )


main()
