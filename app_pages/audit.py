"""Audit: how the model does on the test set, where it fails, and whether it looks at the flower."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from flowerdash.data.images import prepare_for_model
from flowerdash.data.names_es import display_name
from flowerdash.errors import FlowerdashError
from flowerdash.explain import defaults
from flowerdash.explain.reading import percent
from flowerdash.i18n import _, ngettext
from flowerdash.inference.calibration import reliability
from flowerdash.inference.evaluation import most_confused_with
from flowerdash.models.checkpoints import MODEL_FILE
from flowerdash.ui import dataset_panel, state

SPLIT = "test"
PER_PAGE = 12
COLUMNS = 4
PREDICTIONS_KEY = "audit.predictions"


def scan_controls(path: str, model, source, total: int, first: bool) -> None:
    """Scope choice and the scan button; stores the predictions in the session when done."""
    scope = st.radio(
        _("How much of the test set?"),
        ["quick", "all"],
        format_func=lambda s: {
            "quick": _("A quick sample"),
            "all": _("All {n} test images").format(n=total),
        }[s],
        key="audit.scope",
        horizontal=True,
        help=_("A sample takes seconds; the whole test set about a minute on a 2-core CPU."),
    )
    limit = None
    if scope == "quick":
        st.session_state.setdefault("audit.limit", min(500, total))
        limit = int(
            st.number_input(
                _("Number of images"),
                min_value=1,
                max_value=total,
                step=50,
                key="audit.limit",
                help=_("How many test images to look at (a fixed random sample)."),
            )
        )
    label = _("Scan the test set") if first else _("Scan again")
    if not st.button(
        label,
        key="audit.scan",
        type="primary" if first else "secondary",
        help=_("Let the model predict every chosen test image and keep the results."),
    ):
        return
    bar = st.progress(0.0, text=_("Starting…"))

    def progress(done: int, n: int) -> None:
        bar.progress(
            min(done / max(n, 1), 1.0), text=_("{done} of {n} images").format(done=done, n=n)
        )

    try:
        from flowerdash.inference.evaluation import evaluate_checkpoint

        preds, _metrics = evaluate_checkpoint(
            path, SPLIT, source=source, model=model, limit=limit, progress=progress
        )
    except FlowerdashError as exc:
        state.show_error(exc, _("The scan failed"))
        return
    bar.empty()
    st.session_state.setdefault(PREDICTIONS_KEY, {})[path] = preds
    state.cached_predictions.clear()
    st.rerun()


def per_class_table(metrics: dict, names: list[str]) -> pd.DataFrame:
    """One row per flower: test images, accuracy and its most frequent wrong answer."""
    worst, times = most_confused_with(metrics["confusion"])
    rows = []
    for c, name in enumerate(names):
        n = int(metrics["support"][c])
        if n == 0:
            continue
        mistaken = f"{display_name(names[worst[c]])} ({times[c]})" if times[c] > 0 else "—"
        rows.append(
            {
                _("Flower"): display_name(name),
                _("Test images"): n,
                _("Accuracy"): float(metrics["per_class_accuracy"][c]),
                _("Most often mistaken for"): mistaken,
            }
        )
    return pd.DataFrame(rows).sort_values(_("Accuracy"), kind="stable")


def confusion_chart(confusion: np.ndarray, names: list[str], hide_diagonal: bool) -> go.Figure:
    """A 102x102 heatmap: rows = true flower, columns = predicted flower, hover shows names."""
    z = confusion.astype(float)
    if hide_diagonal:
        z = z.copy()
        np.fill_diagonal(z, np.nan)
    k = len(names)
    shown = [display_name(n) for n in names]
    hover = np.empty((k, k, 2), dtype=object)
    hover[:, :, 0] = np.asarray(shown, dtype=object)[:, None]
    hover[:, :, 1] = np.asarray(shown, dtype=object)[None, :]
    numbers = list(range(1, k + 1))
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=numbers,
            y=numbers,
            customdata=hover,
            colorscale=[[0, "#FFFFFF"], [0.15, "#F1C6DD"], [1, "#7A1F52"]],
            hovertemplate=_("True: %{customdata[0]}<br>Predicted: %{customdata[1]}<br>Images: %{z}")
            + "<extra></extra>",
            colorbar=dict(title=_("Images")),
        )
    )
    fig.update_layout(
        height=720,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title=_("Predicted flower (number)"), side="top", constrain="domain"),
        yaxis=dict(title=_("True flower (number)"), autorange="reversed", scaleanchor="x"),
    )
    return fig


def focus_scores(path: str, source, preds, rows: np.ndarray) -> np.ndarray:
    """Focus score of each listed mistake (unreadable images last), with a progress bar."""
    scores = np.full(len(rows), np.inf)
    bar = st.progress(
        0.0, text=_("Measuring where the model looked in {n} mistakes…").format(n=len(rows))
    )
    for k, i in enumerate(rows):
        # An unreadable image keeps inf (sorted last); its card shows the error itself.
        with contextlib.suppress(FlowerdashError):
            scores[k] = state.focus_for(
                path, source, SPLIT, str(preds.files[i]), int(preds.predicted[i])
            )
        bar.progress((k + 1) / len(rows))
    bar.empty()
    return scores


def gallery(path: str, source, preds, names: list[str]) -> None:
    """The mistakes, most confident first, each with a link to the Explain page."""
    wrong = preds.mistakes()
    if len(wrong) == 0:
        st.success(_("No mistakes in the scanned images."))
        return
    involved = sorted(
        {int(c) for c in preds.labels[wrong]} | {int(c) for c in preds.predicted[wrong]},
        key=lambda c: names[c],
    )
    top = st.columns([2, 1.3, 1, 1])
    cls = top[0].selectbox(
        _("Show mistakes involving"),
        [-1, *involved],
        format_func=lambda c: _("All flowers") if c < 0 else display_name(names[c]),
        key="audit.class",
        help=_("Only mistakes where this flower is the true one or the model's answer."),
    )
    if cls >= 0:
        wrong = preds.mistakes(involving=cls)
    order = top[1].selectbox(
        _("Order"),
        ["confidence", "focus"],
        format_func=lambda o: {
            "confidence": _("Most confident first"),
            "focus": _("Least focused first"),
        }[o],
        key="audit.order",
        help=_(
            "Least focused first puts on top the mistakes where the model's attention lay "
            "furthest from the centre of the photo; it measures every mistake shown first."
        ),
    )
    if order == "focus":
        wrong = wrong[np.argsort(focus_scores(path, source, preds, wrong), kind="stable")]
    pages = max(1, -(-len(wrong) // PER_PAGE))
    page = int(
        top[2].number_input(
            _("Page (of {n})").format(n=pages),
            min_value=1,
            max_value=pages,
            key="audit.page",
            help=_("The mistakes come {k} per page, in the order chosen.").format(k=PER_PAGE),
        )
    )
    with_focus = order == "focus" or top[3].toggle(
        _("Focus scores"),
        value=True,
        key="audit.focus",
        help=_("Compute how much of the Grad-CAM heat lies in the centre of each photo."),
    )
    first = (
        _("the ones where the model looked least at the centre first")
        if order == "focus"
        else _("the ones the model was most sure about first")
    )
    count = ngettext("{n} mistake", "{n} mistakes", len(wrong)).format(n=len(wrong))
    # one mistake has no order to speak of
    listed = (
        count if len(wrong) == 1 else _("{mistakes}, {order}").format(mistakes=count, order=first)
    )
    st.caption(
        _(
            "{listed}. The focus score is the share of the model's attention in the central "
            "quarter of the photo: flowers are usually centred, so a low score (below about 30%) "
            "suggests it looked at the background."
        ).format(listed=listed)
    )
    shown = wrong[(page - 1) * PER_PAGE : page * PER_PAGE]
    cols = st.columns(COLUMNS)
    for j, i in enumerate(shown):
        file_name = str(preds.files[i])
        true, pred = int(preds.labels[i]), int(preds.predicted[i])
        with cols[j % COLUMNS], st.container(border=True):
            try:
                image = state.read_split_image(source, SPLIT, file_name)
                st.image(prepare_for_model(image, 224).astype(np.uint8), width="stretch")
            except FlowerdashError as exc:
                st.warning(str(exc))
                continue
            st.markdown(
                _("**True:** {true}  \n**Model:** {pred} ({p})").format(
                    true=display_name(names[true]),
                    pred=display_name(names[pred]),
                    p=percent(preds.confidence[i]),
                )
            )
            if with_focus:
                try:
                    score = state.focus_for(path, source, SPLIT, file_name, pred)
                    st.caption(_("Focus on the centre: {s:.0%}").format(s=score))
                except FlowerdashError as exc:
                    st.caption(str(exc))
            st.page_link(
                "app_pages/explain.py",
                label=_("Explain {file}").format(file=file_name),
                icon="🔍",
                query_params={
                    "split": SPLIT,
                    "file": file_name,
                    "target": "predicted",
                    "steps": str(defaults.STEPS),
                    "baseline": defaults.BASELINE,
                },
                help=_("Open this photo on the Explain page."),
            )


def reliability_chart(rel) -> go.Figure:
    """Accuracy against confidence per bin, with the diagonal a trustworthy model follows."""
    filled = rel.counts > 0
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        name=_("Percentages that can be trusted"),
        line=dict(color="#999999", dash="dash"),
    )
    fig.add_scatter(
        x=rel.confidence[filled],
        y=rel.accuracy[filled],
        mode="lines+markers",
        name=_("This model"),
        marker=dict(size=np.clip(np.sqrt(rel.counts[filled]) * 2, 6, 30), color="#B83B7E"),
        line=dict(color="#B83B7E"),
        customdata=rel.counts[filled],
        hovertemplate=_("said {x} on average, right {y} of {n} times").format(
            x="%{x:.0%}", y="%{y:.0%}", n="%{customdata}"
        )
        + "<extra></extra>",
    )
    fig.update_layout(
        height=420,
        margin=dict(l=10, r=10, t=30, b=40),
        xaxis=dict(title=_("What the model said (top answer's probability)"), range=[0, 1]),
        yaxis=dict(title=_("How often it was right"), range=[0, 1.02]),
        legend=dict(orientation="h", y=-0.2),
    )
    return fig


def confidence_view(rel) -> None:
    """The reliability diagram, the calibration error and what they mean in plain words."""
    c1, c2, c3 = st.columns(3)
    c1.metric(
        _("Mean confidence"),
        f"{rel.mean_confidence:.0%}",
        help=_("The top answer's probability, averaged over the scanned photos."),
    )
    c2.metric(
        _("Right answers"),
        f"{rel.overall_accuracy:.0%}",
        help=_("How often the top answer was right on the same photos."),
    )
    c3.metric(
        _("Calibration error"),
        f"{rel.ece:.3f}",
        help=_(
            "Expected calibration error: how far, on average over the answers, the probability "
            "is from the share of right answers given with it (15 bins); 0 is perfect."
        ),
    )
    st.markdown(
        {
            "underconfident": _(
                "**Too modest:** the model is right more often than its percentages say, so "
                "read a low percentage with care: it may still be the right flower."
            ),
            "overconfident": _(
                "**Too sure of itself:** the model is right less often than its percentages say."
            ),
            "calibrated": _(
                "**Its percentages can be read as chances:** among answers given with about "
                "70%, about 70% are right."
            ),
        }[rel.verdict]
    )
    st.caption(
        _(
            "Each point gathers the answers given with similar probabilities (its size: how "
            "many). On the dashed line, the percentage matches how often the answer is right; "
            "above it the model is too modest, below it too sure."
        )
    )
    st.plotly_chart(
        reliability_chart(rel), key="audit.reliability", config={"displayModeBar": False}
    )


def main() -> None:
    st.title(_("📋 Audit the model on the test set"))
    path, model, meta = state.require_checkpoint()
    source = dataset_panel.require_dataset()
    names = list(meta["class_names"])
    total = len(state.split_files(source, source.description, SPLIT)[0])

    preds = st.session_state.get(PREDICTIONS_KEY, {}).get(path)
    if preds is None:
        mtime = (Path(path) / MODEL_FILE).stat().st_mtime
        preds = state.cached_predictions(path, mtime, SPLIT)
    if preds is None:
        st.info(
            _(
                "The model has not been run over the test set yet. Scan it once; the results are "
                "saved next to the checkpoint for next time."
            )
        )
        scan_controls(path, model, source, total, first=True)
        st.stop()

    metrics = preds.metrics(len(names))
    n = metrics["n"]
    a, b, c = st.columns(3)
    a.metric(
        _("Top-1 accuracy"),
        f"{metrics['top1']:.1%}",
        help=_("How often the model's first answer is right."),
    )
    b.metric(
        _("Top-5 accuracy"),
        f"{metrics['top5']:.1%}",
        help=_("How often the right flower is among the model's five best guesses."),
    )
    c.metric(
        _("Images scanned"),
        f"{n} / {total}",
        help=_("How many test images these numbers are based on."),
    )
    if n < total:
        st.caption(
            _(
                "These numbers come from a sample of the test set; scan all of it for the "
                "final figures."
            )
        )
    with st.expander(_("Scan again"), expanded=False):
        scan_controls(path, model, source, total, first=False)

    mistakes, per_class, confusion, trust = st.tabs(
        [_("Mistakes"), _("Accuracy per flower"), _("Confusion matrix"), _("Confidence")]
    )
    with mistakes:
        gallery(path, source, preds, names)
    with per_class:
        st.caption(_("Worst flowers first; click a column title to sort."))
        st.dataframe(
            per_class_table(metrics, names),
            hide_index=True,
            height=560,
            key="audit.per_class",
            column_config={
                _("Accuracy"): st.column_config.ProgressColumn(
                    _("Accuracy"), format="percent", min_value=0.0, max_value=1.0
                )
            },
        )
    with confusion:
        hide = st.toggle(
            _("Hide correct answers (the diagonal)"),
            value=True,
            key="audit.hide_diagonal",
            help=_("Without the diagonal, the mistakes stand out."),
        )
        st.caption(_("Rows: the true flower. Columns: the model's answer. Hover to see names."))
        st.plotly_chart(
            confusion_chart(metrics["confusion"], names, hide),
            key="audit.confusion",
            config={"displayModeBar": False},
        )
    with trust:
        confidence_view(reliability(preds.confidence, preds.correct))


main()
