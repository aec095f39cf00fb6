"""Explain: Grad-CAM and Integrated Gradients side by side for one image, and how faithful each is.

Settings live in the URL (``?split=test&file=image_01234.jpg&target=predicted&steps=64&baseline=blur``)
so the audit page can link here and a view can be shared.
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
    upload_size_limit,
)
from flowerdash.data.names_es import display_name
from flowerdash.errors import FlowerdashError
from flowerdash.explain import defaults
from flowerdash.explain.faithfulness import more_faithful
from flowerdash.explain.overlays import make_panel, overlay, to_png_bytes
from flowerdash.explain.reading import is_small_photo, percent, small_photo_note
from flowerdash.i18n import _
from flowerdash.inference.framing import shown_probabilities
from flowerdash.ui import demo, state, widgets

SPLIT = "test"
DISPLAY = 320  # the downloadable panel's tile size
METHODS = ("gradcam", "ig")
QP_WRITTEN = "explain._qp_written"


def method_name(method: str) -> str:
    """Display name of an explanation method."""
    return _(defaults.METHOD_LABELS[method])


def baseline_label(b: str) -> str:
    """Plain-words name of an IG baseline."""
    return _(defaults.BASELINE_LABELS[b])


def apply_query_params(files: tuple[str, ...] | None) -> None:
    """Copy settings from the URL into the widgets when the URL was changed from outside."""
    qp = st.query_params.to_dict()
    if not qp or qp == st.session_state.get(QP_WRITTEN):
        return
    st.session_state[QP_WRITTEN] = qp
    if qp.get("file") and files is not None:
        st.session_state["explain.source"] = "test"
        st.session_state["explain.browse"] = "file"
        st.session_state["explain.file_text"] = qp["file"]
    target = qp.get("target", "")
    if target in ("predicted", "true"):
        st.session_state["explain.target_mode"] = target
    elif target.isdigit():
        st.session_state["explain.target_mode"] = "other"
        st.session_state["explain.target_class"] = int(target)
    if qp.get("steps", "").isdigit():
        steps = min(max(int(qp["steps"]), defaults.MIN_STEPS), defaults.MAX_STEPS)
        st.session_state["explain.steps"] = steps
    if qp.get("baseline") in defaults.BASELINES:
        st.session_state["explain.baseline"] = qp["baseline"]


def write_query_params(params: dict[str, str]) -> None:
    """Mirror the current settings in the URL so the view can be shared (keeping its language)."""
    if "lang" in st.query_params:
        params = {**params, "lang": st.query_params["lang"]}
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    st.session_state[QP_WRITTEN] = params


def browse_test_set(source, names: list[str]) -> tuple[np.ndarray, str, int] | None:
    """Pick a test image by number, by flower or by file name."""
    files, labels = state.split_files(source, source.description, SPLIT)
    st.session_state.setdefault("explain.file_text", files[0])
    mode = st.radio(
        _("Find a test image"),
        ["number", "flower", "file"],
        format_func=lambda m: {
            "number": _("By number"),
            "flower": _("By flower"),
            "file": _("By file name"),
        }[m],
        key="explain.browse",
        horizontal=True,
        help=_("Choose how to find an image among the test photos."),
    )
    if mode == "number":
        number = st.number_input(
            _("Test image number"),
            min_value=1,
            max_value=len(files),
            key="explain.index",
            help=_("Position of the photo in the test set (1 to {n}).").format(n=len(files)),
        )
        index = int(number) - 1
    elif mode == "flower":
        present = sorted({int(c) for c in labels}, key=lambda c: names[c])
        cls = st.selectbox(
            _("Flower"),
            present,
            format_func=lambda c: display_name(names[c]),
            key="explain.class",
            help=_("Show the test photos of one kind of flower."),
        )
        members = [int(i) for i in np.flatnonzero(labels == cls)]
        index = st.selectbox(
            _("Photo"),
            members,
            format_func=lambda i: files[i],
            key="explain.class_file",
            help=_("One of the test photos of this flower."),
        )
    else:
        text = st.text_input(
            _("File name"),
            key="explain.file_text",
            help=_("A test-set file name such as image_01234.jpg."),
        ).strip()
        if text not in files:
            st.warning(
                _("There is no test image named “{name}”. File names look like {example}.").format(
                    name=text, example=files[0]
                )
            )
            return None
        index = files.index(text)
    try:
        return source.read_image(SPLIT, index), files[index], int(labels[index])
    except FlowerdashError as exc:
        state.show_error(exc, _("This test image could not be read"))
        return None


def verdict(faith: dict) -> str:
    """Which explanation removes/restores the model's confidence faster, in plain words."""
    winners = more_faithful("gradcam", "ig", faith)
    if winners is None:
        return _(
            "**About equally faithful:** hiding or showing the pixels either map marks changes "
            "the model's confidence by almost the same amount."
        )
    del_winner, ins_winner = winners
    if del_winner == ins_winner:
        return _(
            "**{name} looks more faithful here:** hiding the pixels it marks makes the model lose "
            "confidence faster, and showing only those pixels brings the confidence back faster."
        ).format(name=method_name(del_winner))
    return _(
        "**The two tests disagree:** hiding the pixels {a} marks hurts the model more, but "
        "showing the pixels {b} marks restores its confidence faster. Neither explanation is "
        "clearly better here."
    ).format(a=method_name(del_winner), b=method_name(ins_winner))


def curves_chart(faith: dict) -> go.Figure:
    """Deletion and insertion curves of both methods."""
    colours = {"gradcam": "#B83B7E", "ig": "#3B7EB8"}
    fig = go.Figure()
    for m, f in faith.items():
        x = np.asarray(f.fractions) * 100
        fig.add_scatter(
            x=x,
            y=f.deletion_scores,
            name=_("{method}: hiding pixels").format(method=method_name(m)),
            line=dict(color=colours[m], dash="solid"),
        )
        fig.add_scatter(
            x=x,
            y=f.insertion_scores,
            name=_("{method}: showing pixels").format(method=method_name(m)),
            line=dict(color=colours[m], dash="dot"),
        )
    fig.update_layout(
        height=320,
        margin=dict(l=10, r=10, t=30, b=40),
        xaxis=dict(title=_("Share of pixels hidden or shown, most important first (%)")),
        yaxis=dict(title=_("Probability of the explained class"), rangemode="tozero"),
        legend=dict(orientation="h", y=-0.3),
    )
    return fig


def expert_settings(path: str) -> tuple[int, str, tuple[str, ...], float, str, bool]:
    """IG steps and baseline, Grad-CAM layers, overlay look and the faithfulness switch."""
    steps = st.slider(
        _("Integrated Gradients steps"),
        defaults.MIN_STEPS,
        defaults.MAX_STEPS,
        key="explain.steps",
        help=_("More steps give a more exact map but take longer."),
    )
    baseline = st.selectbox(
        _("Starting point (baseline)"),
        defaults.BASELINES,
        format_func=baseline_label,
        key="explain.baseline",
        help=_("Integrated Gradients measures the change from this 'empty' picture to the photo."),
    )
    # expanders cannot nest: in the simple view all of this already sits in "More settings"
    with st.expander(_("Grad-CAM layer")) if demo.is_expert() else st.container():
        layers = widgets.layer_select(state.gradcam_layers(path), _("Layer"), "explain.layer")
    alpha = widgets.alpha_slider("explain.alpha", 0.5)
    cmap = widgets.colormap_select(
        "explain.cmap", _("The colour scale of the maps; warm = important in most scales.")
    )
    faithful = st.toggle(
        _("Measure faithfulness"),
        value=True,
        key="explain.faithfulness",
        help=_(
            "Hide and reveal pixels in order of importance to check each map (takes a few seconds)."
        ),
    )
    return steps, baseline, layers, alpha, cmap, faithful


def main() -> None:
    st.title(_("🔍 Explain a prediction"))
    st.write(
        _(
            "Two ways of asking the model *why*: Grad-CAM (coarse regions from the last "
            "convolution layer) and Integrated Gradients (pixel-level credit). Then we test which "
            "one really tells us what the model relies on."
        )
    )
    path, model, meta = state.require_checkpoint()
    names = list(meta["class_names"])
    source = state.dataset_source()
    has_data = not isinstance(source, FlowerdashError)
    files = state.split_files(source, source.description, SPLIT)[0] if has_data else None
    st.session_state.setdefault("explain.steps", defaults.STEPS)
    st.session_state.setdefault("explain.baseline", defaults.BASELINE)
    apply_query_params(files)

    settings, view = st.columns([1, 3], gap="large")
    with settings:
        # the test set is offered only when the dataset is on this machine
        origins = ["test", "upload"] if has_data else ["upload"]
        if st.session_state.get("explain.source") not in origins:
            st.session_state["explain.source"] = origins[0]
        origin = st.radio(
            _("Image"),
            origins,
            format_func=lambda s: {"test": _("Test set"), "upload": _("Upload")}[s],
            key="explain.source",
            horizontal=True,
            help=_("Explain a photo from the test set or one of your own."),
        )
        if not has_data:
            st.caption(
                _(
                    "Photos from the test set appear here once the Oxford Flowers102 dataset "
                    "is on this computer (the Audit page shows how to get it)."
                )
            )
        picked = None
        framing = WHOLE_PHOTO
        true_label: int | None = None
        if origin == "test":
            found = browse_test_set(source, names)
            if found is not None:
                image, file_name, true_label = found
                picked = (image, file_name)
        else:
            upload = st.file_uploader(
                _("Flower photo"),
                type=UPLOAD_TYPES,
                key="explain.upload",
                help=_("A {formats} picture up to {limit}.").format(
                    formats=format_list(), limit=upload_size_limit()
                ),
            )
            if upload is not None:
                try:
                    photo = load_image(upload)
                except FlowerdashError as exc:
                    state.show_error(exc, _("We could not use that file"))
                else:
                    try:
                        finder = state.flower_finder(path, photo)
                    except FlowerdashError as exc:
                        state.show_error(exc, _("The model could not look at this photo"))
                    else:
                        framing = widgets.framing(photo, "explain", finder)
                        picked = (frame(photo, *framing), upload.name)

        modes = ["predicted", "true", "other"] if true_label is not None else ["predicted", "other"]
        if st.session_state.get("explain.target_mode") not in modes:
            st.session_state["explain.target_mode"] = "predicted"
        target_mode = st.radio(
            _("Explain which class?"),
            modes,
            format_func=lambda m: {
                "predicted": _("The model's answer"),
                "true": _("The true flower"),
                "other": _("Another flower"),
            }[m],
            key="explain.target_mode",
            help=_("The maps show the evidence for this class, whether or not the model chose it."),
        )
        target_class = None
        if target_mode == "other":
            target_class = st.selectbox(
                _("Flower to explain"),
                list(range(len(names))),
                format_func=lambda c: display_name(names[c]),
                key="explain.target_class",
                help=_("Any of the flowers the model knows."),
            )
        advanced = (
            st.container()
            if demo.is_expert()
            else st.expander(_("More settings"), expanded=False, key="explain.more")
        )
        with advanced:
            steps, baseline, layers, alpha, cmap, faithful = expert_settings(path)

    if picked is None:
        with view:
            st.info(_("Choose an image on the left."))
        return
    image, label = picked
    if origin == "test":
        write_query_params(
            {
                "split": SPLIT,
                "file": label,
                "target": str(target_class) if target_mode == "other" else target_mode,
                "steps": str(steps),
                "baseline": baseline,
            }
        )

    # The one resize of the photo: the model's crop is explained, shown and overlaid.
    shown = state.model_image(path, image)
    target = {"true": true_label, "other": target_class}.get(target_mode)
    try:
        with view, st.spinner(_("Computing the explanations…")):
            result = state.explain_cached(
                path,
                state.image_key(shown),
                shown,
                METHODS,
                None if target is None else int(target),
                int(steps),
                baseline,
                layers,
            )
    except FlowerdashError as exc:
        with view:
            state.show_error(exc, _("The explanation failed"))
        return

    side = min(image.shape[:2])
    probs = shown_probabilities(
        result.probabilities, framing, widgets.found_square("explain"), side
    )
    predicted = int(np.argmax(probs))
    overlays = {m: overlay(shown, result.maps[m], alpha=alpha, cmap=cmap) for m in METHODS}
    ig = result.extras["ig"]
    with view:
        demo.colour_help(on_explain_page=True)
        head = _("The model says **{pred}** ({p}).").format(
            pred=display_name(names[predicted]), p=percent(probs[predicted])
        )
        if true_label is not None:
            head += " " + _("The true flower is **{true}**.").format(
                true=display_name(names[true_label])
            )
        st.markdown(head)
        if is_small_photo(side):
            st.caption("📏 " + small_photo_note(side))
        st.caption(
            _(
                "Explaining **{target}** (probability {p}). Warm colours mark what pushed the "
                "model towards this class."
            ).format(target=display_name(names[result.target]), p=percent(probs[result.target], 1))
        )
        c0, c1, c2 = st.columns(3)
        c0.image(
            shown, caption=_("What the model sees: {name}").format(name=label), width="stretch"
        )
        for column, m in zip((c1, c2), METHODS, strict=True):
            column.image(overlays[m], caption=method_name(m), width="stretch")

        m1, m2, m3 = st.columns(3)
        widgets.timing_metric(
            m1,
            _("Grad-CAM time"),
            result.seconds.get("gradcam", 0.0),
            result.prepared.get("gradcam", False),
            _("How long the Grad-CAM map took."),
        )
        widgets.timing_metric(
            m2,
            _("Integrated Gradients time"),
            result.seconds.get("ig", 0.0),
            result.prepared.get("ig", False),
            _("How long the Integrated Gradients map took."),
        )
        m3.metric(
            _("IG completeness gap"),
            f"{ig['completeness_gap']:.1%}",
            help=_(
                "How far the pixel credits fall short of explaining the whole score change; "
                "below about 5% is good, more steps make it smaller."
            ),
        )

        lines = [
            _("Model: {backbone} | predicted {pred} ({p}) | explaining {target}").format(
                backbone=meta.get("backbone", "?"),
                pred=display_name(names[predicted]),
                p=percent(probs[predicted]),
                target=display_name(names[result.target]),
            ),
            _("IG: {steps} steps, {baseline} baseline").format(
                steps=ig["steps"], baseline=ig["baseline"]
            ),
        ]
        faith = None
        if faithful:
            # After the maps are on the page: the test takes longer than both maps together.
            try:
                with st.spinner(_("Testing which explanation is more faithful…")):
                    faith = state.faithfulness_cached(
                        path,
                        state.image_key(shown),
                        shown,
                        result.target,
                        int(steps),
                        baseline,
                        layers,
                        result.maps,
                    )
            except FlowerdashError as exc:
                state.show_error(exc, _("The faithfulness test failed"))
        if faith:
            st.subheader(_("Which explanation is more faithful here?"))
            st.markdown(verdict(faith))
            st.dataframe(
                {
                    _("Method"): [method_name(m) for m in faith],
                    _("Hiding: area (lower = better)"): [
                        round(f.deletion_auc, 3) for f in faith.values()
                    ],
                    _("Showing: area (higher = better)"): [
                        round(f.insertion_auc, 3) for f in faith.values()
                    ],
                },
                hide_index=True,
                key="explain.faith_table",
            )
            st.caption(
                _(
                    "We hide the most important pixels first (or show only them) and follow the "
                    "model's confidence. A faithful map makes it drop fast when hiding and rise "
                    "fast when showing."
                )
            )
            st.plotly_chart(
                curves_chart(faith),
                key="explain.curves",
                config={"displayModeBar": False},
            )
            for m, f in faith.items():
                lines.append(
                    _("{method}: deletion AUC {d:.3f}, insertion AUC {i:.3f}").format(
                        method=method_name(m), d=f.deletion_auc, i=f.insertion_auc
                    )
                )
        panel = make_panel(
            shown, {method_name(m): v for m, v in overlays.items()}, lines, tile_size=DISPLAY
        )
        st.download_button(
            _("Download this panel (PNG)"),
            data=to_png_bytes(panel),
            file_name=f"explain-{label.rsplit('.', 1)[0]}.png",
            mime="image/png",
            key="explain.download",
            help=_("One picture with the photo, both maps and the numbers, to share or keep."),
        )


main()
