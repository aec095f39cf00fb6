"""Robustness: does augmentation really help? Two checkpoints under rotated, blurred, noisy… photos."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from flowerdash.errors import FlowerdashError
from flowerdash.i18n import _
from flowerdash.inference import comparison, robustness
from flowerdash.inference.corruptions import CORRUPTIONS, SEVERITIES, describe
from flowerdash.models.checkpoints import MODEL_FILE
from flowerdash.ui import dataset_panel, state

DEFAULT_LIMIT = 100
RESULTS_KEY = "robustness.results"  # fallback when results cannot be saved next to a checkpoint
COLORS = ("#8C8C8C", "#C2185B")  # model A grey, model B flower pink


def severity_name(severity: int) -> str:
    """'Mild', 'Medium' or 'Strong'."""
    return {1: _("Mild"), 2: _("Medium"), 3: _("Strong")}.get(severity, str(severity))


def variation_name(name: str) -> str:
    """A corruption's display name with a capital letter."""
    label = robustness.corruption_label(name)
    return label[:1].upper() + label[1:]


def describe_choice(path: str, labels: dict[str, str]) -> str:
    """Picker label: the sidebar's label plus the augmentation it was trained with."""
    aug = comparison.trained_augmentation(path)
    base = labels.get(path, Path(path).name)
    if aug is None:
        return base
    if aug == "none":
        return base + " · " + _("no augmentation")
    return base + " · " + _("augmentation: {preset}").format(preset=aug)


def pickers(paths: list[str], labels: dict[str, str]) -> tuple[str, str | None]:
    """Two checkpoint selectboxes (the second optional when only one checkpoint exists)."""
    current = st.session_state.get("app.checkpoint") or state.default_checkpoint()
    a_default, b_default = comparison.default_pair(paths, current)
    for key, value in (("robustness.a", a_default), ("robustness.b", b_default)):
        if st.session_state.get(key) not in paths:
            st.session_state[key] = value
    left, right = st.columns(2)
    a = left.selectbox(
        _("Model A (e.g. trained without augmentation)"),
        paths,
        format_func=lambda p: describe_choice(p, labels),
        key="robustness.a",
        help=_("The first checkpoint to test; its bars are grey."),
    )
    if len(paths) < 2:
        right.info(
            _("Train a second model (for example with augmentation) on the Train page to compare.")
        )
        return a, None
    b = right.selectbox(
        _("Model B (e.g. trained with augmentation)"),
        paths,
        format_func=lambda p: describe_choice(p, labels),
        key="robustness.b",
        help=_("The second checkpoint to test; its bars are pink."),
    )
    return a, (None if b == a else b)


def settings(total: int) -> tuple[int | None, tuple[str, ...]]:
    """Subset size and the variations to test."""
    left, right = st.columns([1, 3])
    st.session_state.setdefault("robustness.limit", min(DEFAULT_LIMIT, total))
    n = int(
        left.number_input(
            _("Test images"),
            min_value=1,
            max_value=total,
            step=100,
            key="robustness.limit",
            help=_(
                "How many test photos to use (the same fixed random sample for every variation "
                "and both models). 100 take a few minutes per model on a CPU; all {n} give "
                "the firmest figures."
            ).format(n=total),
        )
    )
    chosen = right.multiselect(
        _("Variations"),
        list(CORRUPTIONS),
        default=list(CORRUPTIONS),
        format_func=variation_name,
        key="robustness.corruptions",
        help=_("The kinds of change applied to every photo, each at three strengths."),
    )
    return (None if n >= total else n), tuple(c for c in CORRUPTIONS if c in chosen)


def stored(path: str, source, limit: int | None, names: tuple[str, ...]):
    """A result saved next to the checkpoint (or kept in this session) for these settings."""
    try:
        found = robustness.cached_result(path, source=source, limit=limit, corruptions=names)
    except FlowerdashError:
        found = None
    if found is not None:
        return found
    mtime = (Path(path) / MODEL_FILE).stat().st_mtime
    return st.session_state.get(RESULTS_KEY, {}).get((path, mtime, limit, names))


def run(jobs: list[str], source, limit: int | None, names: tuple[str, ...]) -> None:
    """Evaluate the checkpoints one after the other with a progress bar."""
    bar = st.progress(0.0, text=_("Starting…"))
    for i, path in enumerate(jobs):
        name = Path(path).name

        def progress(done: int, total: int, i: int = i, name: str = name) -> None:
            bar.progress(
                min((i + done / max(total, 1)) / len(jobs), 1.0),
                text=_("Testing {name}: {done} of {total} photo variations").format(
                    name=name, done=done, total=total
                ),
            )

        try:
            model, _meta = state.load_checkpoint(path)
            result = robustness.evaluate_robustness(
                path, source=source, model=model, limit=limit, corruptions=names, progress=progress
            )
        except FlowerdashError as exc:
            bar.empty()
            state.show_error(exc, _("The robustness test of {name} failed").format(name=name))
            st.stop()
        mtime = (Path(path) / MODEL_FILE).stat().st_mtime
        st.session_state.setdefault(RESULTS_KEY, {})[(path, mtime, limit, names)] = result
    bar.empty()
    st.rerun()


def chart(results: list[tuple[str, robustness.RobustnessResult]]) -> go.Figure:
    """Small multiples, one row per severity: bars per variation for each model, clean lines."""
    severities = results[0][1].severities
    names = results[0][1].corruptions
    fig = make_subplots(
        rows=len(severities),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=[
            _("{level} changes (severity {s})").format(level=severity_name(s), s=s)
            for s in severities
        ],
    )
    x = [variation_name(c) for c in names]
    for j, (label, result) in enumerate(results):
        color = COLORS[j % len(COLORS)]
        for row, s in enumerate(severities, start=1):
            fig.add_trace(
                go.Bar(
                    x=x,
                    y=[result.accuracy[c][s] for c in names],
                    name=label,
                    legendgroup=label,
                    showlegend=row == 1,
                    marker_color=color,
                    customdata=[describe(c, s) for c in names],
                    hovertemplate=f"<b>{label}</b><br>%{{customdata}}<br>"
                    + _("Accuracy")
                    + ": %{y:.1%}<extra></extra>",
                ),
                row=row,
                col=1,
            )
            fig.add_hline(
                y=result.clean,
                line_dash="dash",
                line_color=color,
                line_width=1.5,
                row=row,
                col=1,
                annotation_text=_("clean {acc:.0%}").format(acc=result.clean),
                annotation_position="top right" if j == 0 else "top left",
                annotation_font_color=color,
            )
    fig.update_yaxes(title_text=_("Accuracy"), tickformat=".0%", rangemode="tozero")
    fig.update_layout(
        barmode="group",
        height=260 * len(severities) + 60,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.04, xanchor="left", x=0),
    )
    return fig


def table(results: list[tuple[str, robustness.RobustnessResult]]) -> pd.DataFrame:
    """One row per variation and severity (clean first), one accuracy column per model."""
    first = results[0][1]
    rows = [
        {
            _("Variation"): _("Clean photos"),
            _("Severity"): "—",
            **{label: r.clean for label, r in results},
        }
    ]
    for c in first.corruptions:
        for s in first.severities:
            rows.append(
                {
                    _("Variation"): variation_name(c),
                    _("Severity"): f"{s} · {describe(c, s)}",
                    **{label: r.accuracy[c][s] for label, r in results},
                }
            )
    frame = pd.DataFrame(rows)
    if len(results) == 2:
        a, b = results[0][0], results[1][0]
        frame[_("B − A (points)")] = (frame[b] - frame[a]) * 100
    return frame


def show(
    results: list[tuple[str, robustness.RobustnessResult]], measured_here: bool = True
) -> None:
    """Headline numbers, the plain-language summary, the chart and the table."""
    for col, (label, result) in zip(st.columns(len(results)), results, strict=True):
        with col, st.container(border=True):
            st.markdown(f"**{label}**")
            left, right = st.columns(2)
            left.metric(
                _("Clean photos"),
                f"{result.clean:.1%}",
                help=_("Accuracy on the unchanged test photos."),
            )
            change = (result.mean_corrupted() - result.clean) * 100
            right.metric(
                _("Under variations"),
                f"{result.mean_corrupted():.1%}",
                delta=_("{points:+.1f} points").format(points=change),
                delta_color="normal" if abs(change) >= 0.05 else "off",
                help=_("Accuracy averaged over every variation and strength."),
            )
    if len(results) == 2:
        (la, a), (lb, b) = results
        sentences = comparison.compare(a, b, f"**{la}**", f"**{lb}**")
    else:
        sentences = comparison.summarize(results[0][1], f"**{results[0][0]}**")
    st.subheader(_("What it means"))
    st.markdown("\n".join(f"- {s}" for s in sentences))
    st.subheader(_("Accuracy per variation"))
    st.caption(
        _(
            "Each bar is the share of test photos the model still gets right after the change; "
            "dashed lines show the accuracy on unchanged photos. Hover a bar to see the exact "
            "change."
        )
    )
    st.plotly_chart(chart(results), key="robustness.chart", config={"displayModeBar": False})
    with st.expander(_("Table"), expanded=False):
        frame = table(results)
        percent = {
            label: st.column_config.NumberColumn(label, format="percent") for label, _r in results
        }
        st.dataframe(
            frame,
            hide_index=True,
            key="robustness.table",
            column_config={
                **percent,
                _("B − A (points)"): st.column_config.NumberColumn(
                    _("B − A (points)"), format="%+.1f"
                ),
            },
        )
    if not measured_here:
        return
    seconds = sum(r.seconds for _l, r in results)
    st.caption(
        _(
            "Based on {n} test photos; measured in {s:.0f} s and saved next to each checkpoint."
        ).format(n=results[0][1].n, s=seconds)
    )


def show_published() -> None:
    """Without a dataset: the team's committed measurement, so the question still gets an answer."""
    pair = robustness.published_comparison()
    if not pair:
        return
    st.header(_("What we measured"))
    st.caption(
        _(
            "The course notebooks' recipe (frozen backbone, 8 epochs) trained once without and "
            "once with augmentation, tested by the team on the same {n} test photos. With the "
            "dataset on this computer, this page measures your own models the same way."
        ).format(n=pair[0][1].n)
    )
    show(pair, measured_here=False)


def main() -> None:
    st.title(_("🛡️ Does augmentation really help?"))
    st.caption(
        _(
            "Real photos are rotated, blurry, dark or grainy. Here both models see the same test "
            "photos changed in {k} ways at three strengths, and we count how often each one is "
            "still right."
        ).format(k=len(CORRUPTIONS))
    )
    source = state.dataset_source()
    if isinstance(source, FlowerdashError):
        dataset_panel.show(source)
        show_published()
        st.stop()
    usable, _broken = state.checkpoint_listing()
    if not usable:
        st.info(
            _(
                "There is no trained model yet. Open the Train page to train one, or run "
                "`python -m flowerdash train` and reload this page."
            )
        )
        st.stop()
    paths = [p for p, _label in usable]
    # short folder names, but the sidebar's distinct label where two folders share a name
    # (the pickers select by label, so equal labels would pick the wrong checkpoint)
    names = [Path(p).name for p in paths]
    labels = {p: (full if names.count(Path(p).name) > 1 else Path(p).name) for p, full in usable}
    total = len(state.split_files(source, source.description, "test")[0])

    a, b = pickers(paths, labels)
    limit, names = settings(total)
    if not names:
        st.info(_("Choose at least one variation to test."))
        st.stop()
    chosen = [p for p in (a, b) if p]
    for p in chosen:
        state.ensure_path(p)
    found = {p: stored(p, source, limit, names) for p in chosen}
    missing = [p for p in chosen if found[p] is None]
    if missing:
        n = limit or total
        versions = 1 + len(SEVERITIES) * len(names)  # the clean photo and each variation
        st.info(
            _(
                "Not measured yet with these settings. Each model will look at {n} photos in "
                "{v} versions ({total} predictions)."
            ).format(n=n, v=versions, total=n * versions)
        )
        if st.button(
            _("Run the robustness test"),
            key="robustness.run",
            type="primary",
            help=_("Test the chosen models; the results are saved for next time."),
        ):
            run(missing, source, limit, names)
        st.stop()
    show([(labels[p], found[p]) for p in chosen])


main()
