"""Try it: upload, photograph or pick a flower and see what the model thinks and why.

The simple view answers in words (name, how sure, where it looked); the expert view adds the
Grad-CAM settings and the numbers.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from flowerdash.data.images import (
    UPLOAD_TYPES,
    WHOLE_PHOTO,
    format_list,
    frame,
    load_image,
    prepare_for_model,
    upload_size_limit,
)
from flowerdash.data.names_es import display_name
from flowerdash.errors import FlowerdashError
from flowerdash.examples import EXAMPLES, class_photo
from flowerdash.explain import defaults
from flowerdash.explain.faithfulness import focus_score
from flowerdash.explain.overlays import overlay
from flowerdash.explain.reading import (
    confidence_words,
    describe_map,
    framing_hint,
    is_small_photo,
    is_unsure,
    percent,
    small_photo_note,
)
from flowerdash.i18n import _
from flowerdash.inference.framing import shown_probabilities
from flowerdash.inference.predict import top_k
from flowerdash.ui import demo, state, widgets

DISPLAY_SIZE = 384
THUMB_SIZE = 160
SOURCE_UPLOAD = "upload"
SOURCE_CAMERA = "camera"
SOURCE_EXAMPLE = "example"
SOURCE_TEST = "test"
SOURCES = [SOURCE_UPLOAD, SOURCE_CAMERA, SOURCE_EXAMPLE, SOURCE_TEST]


def unsure_answer(guesses: list[tuple[int, str, float]]) -> None:
    """The model's three best guesses, each beside a training photo of that flower, in words."""
    st.subheader(_("Not sure: it may be one of these"))
    st.markdown(
        _(
            "The model is **not sure** about this photo: its best guess gets only {p}. Here "
            "are its three best guesses, each with a photo of that flower from the training set. "
            "Compare them with your photo."
        ).format(p=percent(guesses[0][2]))
    )
    for col, (_label, name, p) in zip(st.columns(len(guesses)), guesses, strict=True):
        caption = _("{name}: {p}").format(name=display_name(name), p=percent(p))
        photo = class_photo(name)
        if photo is None:
            col.markdown(f"**{caption}**")
        else:
            col.image(str(photo), caption=caption, width="stretch")


@st.cache_data(show_spinner=False, max_entries=16)
def example_image(index: int, source_key: str) -> np.ndarray:
    """An example photo: from the configured dataset's test split, else the shipped copy."""
    example = EXAMPLES[index]
    source = state.dataset_source()
    if not isinstance(source, FlowerdashError):
        try:
            return state.read_split_image(source, "test", example.original)
        except FlowerdashError:
            pass  # another layout (e.g. TFDS) names files differently: use the shipped copy
    return load_image(example.path)


@st.cache_data(show_spinner=False, max_entries=16)
def example_thumb(index: int, source_key: str) -> np.ndarray:
    """A small square thumbnail of an example photo."""
    image = example_image(index, source_key)
    return prepare_for_model(image, THUMB_SIZE).round().astype(np.uint8)


def _source_key() -> str:
    source = state.dataset_source()
    return "shipped" if isinstance(source, FlowerdashError) else source.description


def _pick_example(index: int) -> None:
    st.session_state["home.source"] = SOURCE_EXAMPLE
    st.session_state["home.example"] = index


def gallery(per_row: int) -> None:
    """Example thumbnails; one click on a button loads that photo."""
    key = _source_key()
    chosen = (
        st.session_state.get("home.example")
        if st.session_state.get("home.source") == SOURCE_EXAMPLE
        else None
    )
    for start in range(0, len(EXAMPLES), per_row):
        cols = st.columns(per_row, gap="small")
        for col, i in zip(cols, range(start, min(start + per_row, len(EXAMPLES))), strict=False):
            with col:
                try:
                    st.image(
                        example_thumb(i, key),
                        caption=display_name(EXAMPLES[i].class_name),
                        width="stretch",
                    )
                except FlowerdashError as exc:
                    st.caption(str(exc))
                    continue
                # names wrap to different heights: push each button down so a row lines up
                st.space("stretch")
                st.button(
                    _("Show me"),
                    key=f"home.example_{i}",
                    on_click=_pick_example,
                    args=(i,),
                    type="primary" if chosen == i else "secondary",
                    width="stretch",
                    help=_("Show the model this example photo."),
                )


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
    _cls, index = widgets.flower_and_photo_number(
        widgets.classes_present(labels, names),
        labels,
        names,
        label=_("Flower"),
        class_key="home.test_class",
        pick_key="home.test_pick",
        class_help=_(
            "Pick a kind of flower; its photos come from the test set the model never trained on."
        ),
        photo_help=_("Which of the {n} test photos of this flower to use."),
        format_name=display_name,
    )
    try:
        return source.read_image("test", index), files[index]
    except FlowerdashError as exc:
        state.show_error(exc, _("This test image could not be read"))
        return None


def top5_chart(rows: list[tuple[int, str, float]]) -> go.Figure:
    """Horizontal bars of the five most likely flowers, best on top."""
    names = [display_name(n) for _i, n, _p in rows][::-1]
    probs = [p for _i, _n, p in rows][::-1]
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=names,
            orientation="h",
            text=[percent(p, 1) for p in probs],
            # Inside long bars, beside short ones: never squeezed or turned on its side.
            textposition=["inside" if p >= 0.15 else "outside" for p in probs],
            textangle=0,
            cliponaxis=False,
            marker_color=["#D9B8CC"] * (len(rows) - 1) + ["#B83B7E"],
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        margin=dict(l=10, r=30, t=10, b=40),  # r: room for the last tick label, 100%
        xaxis=dict(title=_("Probability"), tickformat=".0%", range=[0, 1]),
        yaxis=dict(title=None),
    )
    return fig


def choose_photo() -> tuple[tuple[np.ndarray, str] | None, bool, str | None]:
    """The photo picked in the left column: ((image, label) or None, failed?, test file name)."""
    choice = st.radio(
        _("Photo"),
        SOURCES,
        format_func=lambda s: {
            SOURCE_UPLOAD: _("Upload my photo"),
            SOURCE_CAMERA: _("Take a photo"),
            SOURCE_EXAMPLE: _("Examples"),
            SOURCE_TEST: _("Use a test image"),
        }[s],
        key="home.source",
        horizontal=True,
        help=_(
            "Upload your own picture, take one with your camera, or try an example or one of "
            "the dataset's test photos."
        ),
    )
    if choice in (SOURCE_UPLOAD, SOURCE_CAMERA):
        if choice == SOURCE_UPLOAD:
            photo = st.file_uploader(
                _("Flower photo"),
                type=UPLOAD_TYPES,
                key="home.upload",
                help=_("A {formats} picture up to {limit}; the flower works best centred.").format(
                    formats=format_list(), limit=upload_size_limit()
                ),
            )
            label = photo.name if photo is not None else ""
        else:
            photo = st.camera_input(
                _("Take a photo of a flower"),
                key="home.camera",
                help=_(
                    "Point your camera at one flower, fill most of the picture with it and click."
                ),
            )
            label = _("your photo")
        if photo is None:
            return None, False, None
        try:
            return (load_image(photo), label), False, None
        except FlowerdashError as exc:
            state.show_error(exc, _("We could not use that file"))
            return None, True, None
    if choice == SOURCE_EXAMPLE:
        st.session_state.setdefault("home.example", 0)
        gallery(per_row=3)
        i = int(st.session_state["home.example"])
        try:
            image = example_image(i, _source_key())
        except FlowerdashError as exc:
            state.show_error(exc, _("This example could not be read"))
            return None, True, None
        label = _("example: {name}").format(name=display_name(EXAMPLES[i].class_name))
        source = state.dataset_source()
        test_file = None if isinstance(source, FlowerdashError) else EXAMPLES[i].original
        return (image, label), False, test_file
    found = pick_test_image()
    return found, False, (found[1] if found else None)


def expert_controls(path: str) -> tuple[tuple[str, ...] | None, float, str]:
    """Grad-CAM layers (None = the default), overlay strength and colours (expert view)."""
    c1, c2, c3 = st.columns(3)
    layers = state.gradcam_layers(path)
    chosen = widgets.layer_select(layers, _("Grad-CAM layer"), "home.layer", c1)
    alpha = widgets.alpha_slider("home.alpha", 0.45, c2)
    cmap = widgets.colormap_select(
        "home.cmap",
        _("The colour scale of the map; warm = important in most scales."),
        default="jet",
        container=c3,
    )
    return (None if chosen == layers[-1] else chosen), alpha, cmap


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
    expert = demo.is_expert()

    left, right = st.columns([1, 2], gap="large")
    with left:
        picked, failed, test_file = choose_photo()
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
            st.info(
                _("Upload a photo, take one, or click an example below to see the model's answer.")
            )
            gallery(per_row=6)
        return
    image, label = picked
    try:
        finder = state.flower_finder(path, image)  # None where the app does not offer the button
    except FlowerdashError as exc:
        with right:
            state.show_error(exc, _("The model could not look at this photo"))
        return
    with left:
        framing = widgets.framing(image, "home", find=finder)
    image = frame(image, *framing)
    layers, alpha, cmap = None, 0.45, "jet"
    if expert:
        with right:
            layers, alpha, cmap = expert_controls(path)
    try:
        small = state.model_image(path, image)
        result = state.explain_cached(
            path, state.image_key(small), small, ("gradcam",), None, layers=layers
        )
    except FlowerdashError as exc:
        with right:
            state.show_error(exc, _("The model could not look at this photo"))
        return
    found = widgets.found_square("home")
    side = min(image.shape[:2])
    rows = top_k(shown_probabilities(result.probabilities, framing, found, side), names, 5)
    best = rows[0]
    shown = prepare_for_model(image, DISPLAY_SIZE).round().astype(np.uint8)
    cam = result.maps["gradcam"]

    with right:
        demo.colour_help()
        if is_unsure(best[2]):
            unsure_answer(rows[:3])
        elif expert:
            st.subheader(
                _("Most likely: {name} ({p})").format(
                    name=display_name(best[1]), p=percent(best[2])
                )
            )
        else:
            st.subheader(_("Most likely: {name}").format(name=display_name(best[1])))
            st.markdown(
                _("The model is **{confidence}** about this answer ({p}).").format(
                    confidence=confidence_words(best[2]), p=percent(best[2])
                )
            )
        if is_small_photo(side):
            st.caption("📏 " + small_photo_note(side))
        if hint := framing_hint(best[2], side, framing == WHOLE_PHOTO, can_find=finder is not None):
            st.caption("💡 " + hint)
        photo, heat = st.columns(2)
        photo.image(
            shown, caption=_("What the model sees: {name}").format(name=label), width="stretch"
        )
        heat.image(
            overlay(shown, cam, alpha=alpha, cmap=cmap),
            caption=_("Where it looked (Grad-CAM)"),
            width="stretch",
        )
        st.markdown("👀 " + describe_map(cam))
        st.caption(
            _(
                "Warm colours (red, yellow) mark the regions that pushed the model towards "
                "“{name}”; blue regions hardly mattered for this answer."
            ).format(name=display_name(best[1]))
        )
        if expert:
            m1, m2, m3 = st.columns(3)
            m1.metric(
                _("Confidence"),
                percent(best[2], 1),
                help=_("The probability the model gives its top answer."),
            )
            m2.metric(
                _("Focus on the centre"),
                f"{focus_score(cam):.0%}",
                help=_(
                    "Share of the Grad-CAM weight inside the central quarter of the photo "
                    "(25% if it looked everywhere equally)."
                ),
            )
            widgets.timing_metric(
                m3,
                _("Grad-CAM time"),
                result.seconds.get("gradcam", 0.0),
                result.prepared.get("gradcam", False),
                _("How long the Grad-CAM map took."),
            )
        else:
            st.markdown("**" + _("Other possibilities") + "**")
        st.plotly_chart(top5_chart(rows), key="home.top5", config={"displayModeBar": False})
        if expert:
            params = {
                "target": "predicted",
                "steps": str(defaults.STEPS),
                "baseline": defaults.BASELINE,
            }
            if test_file and framing == WHOLE_PHOTO:  # Explain shows test photos whole
                params |= {"split": "test", "file": test_file}
            if "lang" in st.query_params:
                params["lang"] = st.query_params["lang"]
            st.page_link(
                "app_pages/explain.py",
                label=_("Compare with Integrated Gradients on the Explain page"),
                icon="🔍",
                query_params=params,
                help=_("Open the Explain page with both methods and the faithfulness test."),
            )


main()
