"""Augmentation lab: see what each training augmentation does to a photo, mix two photos
with MixUp/CutMix, and copy the equivalent Keras code."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from flowerdash.data import augment, augment_config, mixing
from flowerdash.data.augment_config import knobs
from flowerdash.data.images import UPLOAD_TYPES, format_list, load_image
from flowerdash.data.names_es import display_name
from flowerdash.errors import FlowerdashError
from flowerdash.i18n import _
from flowerdash.ui import dataset_panel, state, widgets

SPLIT = "train"
GRID_COLUMNS = 4
MAX_SEED = 2**31 - 2
CUSTOM = "custom"
SOURCE_DATASET = "dataset"
SOURCE_UPLOAD = "upload"

# (field, label, step, help), in AugmentConfig's order; upper limits are its own too.
SLIDERS: list[tuple[str, str, float, str]] = [
    (name, k.label, k.step, k.explain) for name, k in knobs().items() if not k.mixing
]
MIX_SLIDERS: list[tuple[str, str, float, str]] = [
    (name, k.label, k.step, k.explain) for name, k in knobs().items() if k.mixing
]
FIELDS = [f for f, *_rest in SLIDERS + MIX_SLIDERS]


def flip_label(mode: str) -> str:
    """Plain words for a flip mode."""
    return {
        "none": _("No flipping"),
        "horizontal": _("Mirror left–right"),
        "vertical": _("Upside down"),
        "horizontal_and_vertical": _("Both, each at random"),
    }[mode]


def preset_label(name: str) -> str:
    """Plain words for a preset name."""
    return {
        "none": _("None (photos unchanged)"),
        "basic": _("Basic (flip, turn, zoom, shift, light)"),
        "advanced": _("Advanced (basic + MixUp and CutMix)"),
        CUSTOM: _("Custom (my own settings)"),
    }.get(name, name)


def fill_from_preset() -> None:
    """Widget callback: copy the chosen preset's values into the controls."""
    name = st.session_state["augment.preset"]
    if name == CUSTOM:
        return
    config = augment_config.preset(name)
    st.session_state["augment.flip"] = config.flip
    for field in FIELDS:
        st.session_state[f"augment.{field}"] = float(getattr(config, field))


def mark_custom() -> None:
    """Widget callback: a hand-moved control makes the settings custom."""
    st.session_state["augment.preset"] = CUSTOM


def reroll() -> None:
    """Widget callback: a new random seed, so new random samples."""
    st.session_state["augment.seed"] = random.randint(0, MAX_SEED)


def init_state() -> None:
    """Start a new session on the 'basic' preset with seed 0 and 8 samples."""
    if "augment.preset" not in st.session_state:
        st.session_state["augment.preset"] = "basic"
        fill_from_preset()
    for field in FIELDS:  # a page switch may have dropped some widget values
        st.session_state.setdefault(
            f"augment.{field}", float(getattr(augment_config.preset("basic"), field))
        )
    st.session_state.setdefault("augment.flip", "horizontal")
    st.session_state.setdefault("augment.seed", 0)
    st.session_state.setdefault("augment.n", 8)


def dataset_picker(
    source: Any, prefix: str, default_rank: int, title: str
) -> tuple[np.ndarray, str] | None:
    """A training photo chosen by flower and photo number: (224 crop, flower name)."""
    files, labels = state.split_files(source, source.description, SPLIT)
    names = source.class_names
    present = widgets.classes_present(labels, names)
    if not present:
        st.warning(_("The training split has no photos."))
        return None
    st.session_state.setdefault(f"{prefix}_class", present[default_rank % len(present)])
    cls, index = widgets.flower_and_photo_number(
        present,
        labels,
        names,
        label=title,
        class_key=f"{prefix}_class",
        pick_key=f"{prefix}_pick",
        class_help=_("Pick a kind of flower; its photos come from the training set."),
        photo_help=_("Which of the {n} training photos of this flower to use."),
        format_name=display_name,
    )
    try:
        return state.lab_dataset_image(source, source.description, SPLIT, index), display_name(
            names[cls]
        )
    except FlowerdashError as exc:
        state.show_error(exc, _("This photo could not be read"))
        return None


def upload_picker(key: str, label: str, name: str) -> tuple[np.ndarray, str] | None:
    """An uploaded photo: (224 crop, the given name), or None before an upload."""
    upload = st.file_uploader(
        label,
        type=UPLOAD_TYPES,
        key=key,
        help=_("A {formats} photo; it is centre-cropped to a square.").format(
            formats=format_list()
        ),
    )
    if upload is None:
        return None
    try:
        return state.lab_crop(load_image(upload)), name
    except FlowerdashError as exc:
        state.show_error(exc, _("This photo could not be used"))
        return None


def pick_photo(source: Any) -> tuple[np.ndarray, str] | None:
    """The main photo, from the dataset or an upload."""
    if isinstance(source, FlowerdashError):
        with st.expander(_("Pick photos from the dataset"), expanded=False):
            dataset_panel.show(source, key="augment.dataset", stacked=True)
        return upload_picker("augment.upload", _("Upload a photo"), _("your photo"))
    choice = st.radio(
        _("Photo"),
        [SOURCE_DATASET, SOURCE_UPLOAD],
        format_func=lambda s: {
            SOURCE_DATASET: _("From the dataset"),
            SOURCE_UPLOAD: _("Upload my photo"),
        }[s],
        key="augment.source",
        horizontal=True,
        help=_("Use one of the dataset's training photos, or upload your own."),
    )
    if choice == SOURCE_UPLOAD:
        return upload_picker("augment.upload", _("Upload a photo"), _("your photo"))
    return dataset_picker(source, "augment.photo", 0, _("Flower"))


def controls() -> augment_config.AugmentConfig | None:
    """Preset, one control per transform, and the batch-mixing strengths."""
    st.selectbox(
        _("Preset"),
        list(augment_config.PRESETS) + [CUSTOM],
        format_func=preset_label,
        key="augment.preset",
        on_change=fill_from_preset,
        help=_("A ready-made set of values; picking one fills in all the controls below."),
    )
    st.selectbox(
        _("Flip"),
        list(augment_config.FLIP_MODES),
        format_func=flip_label,
        key="augment.flip",
        on_change=mark_custom,
        help=_("Whether photos may be mirrored; each sample flips at random, or not."),
    )

    def slider(field: str, label: str, step: float, help_text: str) -> None:
        st.slider(
            _(label),
            0.0,
            augment_config.upper_limit(field),
            step=step,
            key=f"augment.{field}",
            on_change=mark_custom,
            help=_(help_text),
        )

    for row in SLIDERS:
        slider(*row)
    with st.expander(_("Mixing pairs of photos during training"), expanded=False):
        for row in MIX_SLIDERS:
            slider(*row)
    values = {field: st.session_state[f"augment.{field}"] for field in FIELDS}
    try:
        config = augment_config.AugmentConfig(flip=st.session_state["augment.flip"], **values)
    except FlowerdashError as exc:
        state.show_error(exc, _("These settings cannot be used"))
        return None
    st.session_state["augment.last_config"] = config.to_dict()  # offered on the Train page
    return config


def summary(config: augment_config.AugmentConfig) -> str:
    """The settings in plain words, e.g. 'turned up to ±36°, zoomed up to ±10%'."""
    parts = []
    if config.flip != "none":
        parts.append(flip_label(config.flip).lower())
    if config.rotation:
        parts.append(_("turned up to ±{deg:.0f}°").format(deg=config.rotation * 360))
    if config.zoom:
        parts.append(_("zoomed up to ±{p:.0%}").format(p=config.zoom))
    if config.translation:
        parts.append(_("shifted up to ±{p:.0%}").format(p=config.translation))
    if config.tiles:
        parts.append(
            _("shown as a grid of four of its crops {p:.0%} of the time").format(p=config.tiles)
        )
    if config.brightness:
        parts.append(_("lighter or darker by up to {p:.0%}").format(p=config.brightness))
    if config.contrast:
        parts.append(
            _("contrast ×{lo:.2f}–{hi:.2f}").format(lo=1 - config.contrast, hi=1 + config.contrast)
        )
    if config.grayscale:
        parts.append(_("grey {p:.0%} of the time").format(p=config.grayscale))
    if config.covers_patches:
        parts.append(
            _("a patch of up to {size:.0%} of the photo covered {p:.0%} of the time").format(
                size=config.erase_size, p=config.erase
            )
        )
        if config.erase_flat:
            parts.append(
                _("the patch one flat colour {p:.0%} of the time").format(p=config.erase_flat)
            )
    if config.jpeg:
        parts.append(_("saved as a low-quality JPEG {p:.0%} of the time").format(p=config.jpeg))
    if config.rand_augment:
        parts.append(
            _("two random RandAugment operations at strength {s:.2f}").format(s=config.rand_augment)
        )
    if not parts:
        return _("Every sample is the unchanged photo.")
    return _("Each sample is randomly: {what}.").format(what=", ".join(parts))


def sample_grid(image: np.ndarray, config: augment_config.AugmentConfig) -> None:
    """Sample count, seed, re-roll and the grid of augmented samples."""
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    with c1:
        n = st.slider(
            _("Number of samples"),
            1,
            16,
            key="augment.n",
            help=_("How many random versions of the photo to show."),
        )
    with c2:
        seed = st.number_input(
            _("Seed"),
            min_value=0,
            max_value=MAX_SEED,
            step=1,
            key="augment.seed",
            help=_("The same seed always gives the same samples, so you can compare settings."),
        )
    with c3:
        st.button(
            _("Re-roll"),
            icon=":material/casino:",
            key="augment.reroll",
            on_click=reroll,
            help=_("Draw a new random seed to see other samples."),
        )
    st.caption(summary(config))
    items = tuple(sorted(config.to_dict().items()))
    try:
        with st.spinner(_("Augmenting…")):
            grid = state.augment_samples(state.image_key(image), image, items, int(n), int(seed))
    except FlowerdashError as exc:
        state.show_error(exc, _("The samples could not be made"))
        return
    for row in range(0, len(grid), GRID_COLUMNS):
        cols = st.columns(GRID_COLUMNS)
        for col, i in zip(cols, range(row, min(row + GRID_COLUMNS, len(grid))), strict=False):
            col.image(grid[i], caption=_("Sample {i}").format(i=i + 1), width="stretch")


def shares_chart(shares: dict[str, float]) -> go.Figure:
    """One stacked horizontal bar of the mixed label's shares."""
    colors = ["#B83B7E", "#4C78A8"]
    fig = go.Figure()
    for i, (name, share) in enumerate(shares.items()):
        fig.add_trace(
            go.Bar(
                x=[share],
                y=[""],
                orientation="h",
                name=name,
                text=[f"{share:.0%} {name}"],
                textposition="inside",
                insidetextanchor="middle",
                marker_color=colors[i % len(colors)],
                hovertemplate=f"{name}: %{{x:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        height=90,
        showlegend=False,
        margin=dict(l=0, r=0, t=0, b=0),
        xaxis=dict(range=[0, 1], visible=False),
        yaxis=dict(visible=False),
    )
    return fig


def shares_text(shares: dict[str, float]) -> str:
    """'62% Rose, 38% Tulip' with whole percentages that add up to 100."""
    names = list(shares)
    percents = [round(100 * shares[n]) for n in names]
    percents[-1] = 100 - sum(percents[:-1])
    return ", ".join(f"{p}% {n}" for p, n in zip(percents, names, strict=True))


def mixing_section(source: Any, image: np.ndarray, name: str) -> None:
    """MixUp / CutMix of the main photo with a second one, with the label shares."""
    st.subheader(_("Mix two photos (MixUp and CutMix)"))
    st.write(
        _(
            "MixUp blends two photos; CutMix pastes a patch of the second photo onto the first. "
            "The label is mixed in the same proportions, so the model learns that the picture is "
            "partly one flower and partly the other."
        )
    )
    left, first, mid, right = st.columns([1.2, 1, 1, 1], gap="medium")
    with left:
        if isinstance(source, FlowerdashError):
            second = upload_picker(
                "augment.mix_upload", _("Upload a second photo"), _("your second photo")
            )
        else:
            second = dataset_picker(source, "augment.mix", 1, _("Second flower"))
        method = st.radio(
            _("Method"),
            list(mixing.MIX_METHODS),
            format_func=lambda m: {"mixup": "MixUp", "cutmix": "CutMix"}[m],
            key="augment.mix_method",
            horizontal=True,
            help=_("MixUp blends the whole photos; CutMix pastes a square from the second photo."),
        )
        lam = st.slider(
            _("Share of the first photo (λ)"),
            0.0,
            1.0,
            value=0.62,
            step=0.01,
            key="augment.mix_lambda",
            help=_(
                "How much of the mix comes from the first photo; the rest comes from the second."
            ),
        )
    if second is None:
        with mid:
            st.info(_("Choose a second photo to mix with."))
        return
    image_b, name_b = second
    if name_b == name:
        name_b = name_b + " " + _("(second photo)")
    try:
        mixed, shares = state.mixed_pair(
            state.image_key(image),
            state.image_key(image_b),
            image,
            image_b,
            name,
            name_b,
            method,
            float(lam),
        )
    except FlowerdashError as exc:
        state.show_error(exc, _("These photos could not be mixed"))
        return
    with first:
        st.image(image, caption=_("First photo: {name}").format(name=name), width="stretch")
    with mid:
        st.image(image_b, caption=_("Second photo: {name}").format(name=name_b), width="stretch")
    with right:
        st.image(mixed, caption=_("Mixed photo"), width="stretch")
    st.markdown(_("**Label of the mixed photo:** {shares}").format(shares=shares_text(shares)))
    st.plotly_chart(
        shares_chart(shares), key="augment.shares_chart", config={"displayModeBar": False}
    )


def main() -> None:
    st.title(_("🎛️ Augmentation lab"))
    st.write(
        _(
            "During training, every photo is changed a little at random (flipped, turned, zoomed, "
            "made lighter…) so the model learns the flower, not the exact picture. Move the "
            "controls and watch the samples change."
        )
    )
    init_state()
    source = state.dataset_source()
    left, right = st.columns([1, 2], gap="large")
    with left:
        picked = pick_photo(source)
        config = controls()
    with right:
        if picked is None:
            st.info(_("Choose or upload a photo to see augmented samples."))
        elif config is not None:
            image, name = picked
            st.image(image, caption=_("Original: {name}").format(name=name), width=180)
            sample_grid(image, config)
    if picked is not None:
        st.divider()
        mixing_section(source, *picked)
    if config is not None:
        st.divider()
        st.subheader(_("The equivalent Keras code for these settings"))
        st.caption(_("Copy it with the button in the top-right corner of the box."))
        st.code(augment.keras_code(config), language="python")


main()
