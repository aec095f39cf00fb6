"""Train: configure a run, start it in the background, follow it live, cancel or resume it;
combine finished checkpoints into an ensemble.

The job lives in the process-wide registry, so it survives a page reload and every browser
session sees the same run; only one run can be active at a time. Runs started from a terminal
with ``python -m flowerdash launch`` are followed too, from the record ``launch`` keeps.
"""

from __future__ import annotations

import time
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from flowerdash.data.augment_config import FLIP_MODES
from flowerdash.errors import FlowerdashError, TrainingError
from flowerdash.i18n import _
from flowerdash.inference import evaluation
from flowerdash.models import ensemble
from flowerdash.models.backbones import BACKBONES
from flowerdash.training import form, launch, run_state
from flowerdash.training.config import TrainConfig, status_word
from flowerdash.training.presets import PRESETS, preset_config
from flowerdash.training.progress import (
    clock,
    elapsed,
    progress_of,
    recorded_test_metrics,
    speed,
    strategy_label,
)
from flowerdash.ui import dataset_panel, state


def fill_augmentation() -> None:
    """Widget callback: copy the chosen preset (or the lab's last settings) into the controls."""
    values = form.augmentation_values(
        st.session_state["train.augment"], st.session_state.get("augment.last_config")
    )
    for field in form.AUGMENT_FIELDS:
        st.session_state[f"train.aug.{field}"] = values[field]


def init_state() -> None:
    """Start a new session on the 'basic' augmentation preset."""
    st.session_state.setdefault("train.augment", "basic")
    if any(f"train.aug.{f}" not in st.session_state for f in form.AUGMENT_FIELDS):
        fill_augmentation()


def augmentation_choices() -> list[str]:
    """Presets, plus the lab's settings when the user tried some there."""
    names = form.augment_choices(lab=bool(st.session_state.get("augment.last_config")))
    if st.session_state["train.augment"] not in names:
        st.session_state["train.augment"] = "basic"
    return names


def form_config() -> TrainConfig:
    """The TrainConfig described by the form's current values (ConfigError if unusable)."""
    s = st.session_state
    return form.config_from_form(
        {name: s[f"train.{name}"] for name in form.widgets()},
        augment=s["train.augment"],
        augmentation={f: s[f"train.aug.{f}"] for f in form.AUGMENT_FIELDS},
        quick=bool(s["train.quick"]),
    )


def start(config_factory, resume_from: str | None = None) -> None:
    """Start a run in the background; show why not when it cannot start."""
    try:
        config = config_factory()
        job = state.job_registry().start(config, resume_from=resume_from)
    except TrainingError as exc:
        st.error(str(exc))
        return
    except FlowerdashError as exc:
        state.show_error(exc, _("The run could not start"))
        return
    st.session_state["train.started"] = job.id
    st.toast(_("Training started."), icon="🏋️")


def recipe_choice() -> str:
    """The recipe of the next run: a named preset (the quick one first) or every setting."""
    return st.radio(
        _("What to train"),
        [*PRESETS, "custom"],
        format_func=lambda p: _(PRESETS[p].title) if p in PRESETS else _("Custom: every setting"),
        key="train.preset",
        help=_("The presets are named by what they give; Custom shows every setting."),
    )


def preset_form(name: str) -> None:
    """Start a preset's run: what it does, an optional run name and Start."""
    st.caption(_(PRESETS[name].description))
    with st.form("train.preset_form", border=True):
        run_name = run_name_input("train.preset_name")
        submitted = start_button("train.preset_start")
    if submitted:
        start(lambda: preset_config(name, name=form.new_run_name(run_name)))


def run_name_input(key: str) -> str:
    """The optional name of the checkpoint folder a run writes."""
    widget = form.widgets()["name"]
    return st.text_input(
        _(widget.label),
        key=key,
        value="",
        max_chars=64,
        placeholder=_("e.g. mobilenet-basic"),
        help=_(widget.help),
    )


def start_button(key: str) -> bool:
    """A form's Start button."""
    return st.form_submit_button(
        _("▶ Start training"),
        type="primary",
        key=key,
        help=_("Start the run in the background; you can leave this page and come back."),
    )


def setting_input(name: str) -> None:
    """The widget of TrainConfig field ``name``, as its ``Setting`` describes it."""
    w = form.widgets()[name]
    key, label, tip, value = f"train.{name}", _(w.label), _(w.help), form.start_value(name)
    if w.kind == "number":
        st.number_input(label, w.low, w.high, step=w.step, key=key, value=value, help=tip)
    elif w.kind == "slider":
        st.slider(label, w.low, w.high, step=w.step, key=key, value=value, help=tip)
    elif w.kind == "select":
        st.select_slider(
            label, list(w.options), key=key, value=value, format_func=lambda v: f"{v:g}", help=tip
        )
    else:
        raise ValueError(f"no widget of kind {w.kind!r} here")


def backbone_input() -> None:
    """The backbone drop-down (its choices depend on developer mode)."""
    w = form.widgets()["backbone"]
    choices = form.backbone_choices()
    names = {b: BACKBONES[b].display_name for b in BACKBONES}
    st.selectbox(
        _(w.label),
        choices,
        format_func=lambda b: names.get(b, b),
        key="train.backbone",
        index=choices.index(form.start_value("backbone")),
        help=_(w.help),
    )
    st.caption(
        _(
            "MobileNetV2 uses ImageNet weights stored on this machine. EfficientNetB0 is "
            "more accurate but needs internet to download its ImageNet weights."
        )
    )


def settings_form() -> None:
    """The new-run form; Start launches the run in the background."""
    st.subheader(_("New training run"))
    recipe = recipe_choice()
    if recipe != "custom":
        preset_form(recipe)
        return
    pick, note = st.columns([1, 2], vertical_alignment="bottom")
    pick.selectbox(
        _("Augmentation"),
        augmentation_choices(),
        format_func=form.augment_label,
        key="train.augment",
        on_change=fill_augmentation,
        help=_("How training photos are changed at random; try them in the Augmentation lab."),
    )
    note.caption(_("Adjust single values under “Augmentation details” at the bottom of the form."))
    with st.form("train.form", border=True):
        c1, c2, c3 = st.columns(3, gap="medium")
        with c1:
            backbone_input()
            for name in ("epochs", "fine_tune_epochs", "fine_tune_layers"):
                setting_input(name)
        with c2:
            for name in ("batch_size", "learning_rate", "fine_tune_learning_rate"):
                setting_input(name)
            setting_input("label_smoothing")
        with c3:
            st.checkbox(
                _("Quick run (use only some photos)"),
                key="train.quick",
                value=True,
                help=_("Train and test on a few photos so a demo run takes about a minute."),
            )
            for name in form.LIMITS:
                setting_input(name)
            run_name_input("train.name")
        with st.expander(_("Augmentation details"), expanded=False):
            a1, a2 = st.columns(2, gap="medium")
            with a1:
                st.selectbox(
                    _("Flip"),
                    list(FLIP_MODES),
                    key="train.aug.flip",
                    help=_("Whether photos may be mirrored left–right, upside down, or both."),
                )
            for i, (field, label, upper, step, help_text) in enumerate(form.AUGMENT_SLIDERS):
                with a2 if i % 2 == 0 else a1:
                    st.slider(
                        _(label),
                        0.0,
                        upper,
                        step=step,
                        key=f"train.aug.{field}",
                        help=_(help_text),
                    )
        submitted = start_button("train.start")
    if submitted:
        start(form_config)


def curves(history: list[dict[str, Any]]) -> go.Figure:
    """Loss and accuracy per epoch, training and validation."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("Loss"), _("Accuracy")))
    epochs = [h["epoch"] for h in history]
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for prefix, name, color in (
            ("", _("training"), "#B83B7E"),
            ("val_", _("validation"), "#4C78A8"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[h.get(prefix + metric) for h in history],
                    mode="lines+markers",
                    name=name,
                    line=dict(color=color),
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text=_("Epoch"), dtick=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1], row=1, col=2)
    fig.update_layout(
        height=300, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.3)
    )
    return fig


def outcome(job: Any) -> None:
    """What happened when the run ended; the first time, the whole app again for the sidebar.

    The session that started a run that succeeded is switched to its checkpoint; everyone else
    keeps theirs (a new run is offered, not imposed).
    """
    mine = st.session_state.get("train.started") == job.id
    show_outcome(job, switched=mine)
    if st.session_state.get("train.seen_done") != job.id:
        st.session_state["train.seen_done"] = job.id
        state.checkpoint_listing.clear()
        if mine and job.status == "succeeded" and job.checkpoint:
            state.switch_to_new_checkpoint(job.checkpoint)
        st.rerun()  # the whole app, so the sidebar's model list shows the new checkpoint


def show_outcome(job: Any, switched: bool = False) -> None:
    """What happened when a run (of this process or started from a terminal) ended."""
    if job.status == "succeeded":
        name = job.checkpoint.name if job.checkpoint else "?"
        if switched:
            st.success(
                _(
                    "Checkpoint {name} saved, and this session now uses it. Other visitors keep "
                    "their model until they pick this one in the sidebar."
                ).format(name=name)
            )
        else:
            st.success(
                _("Checkpoint {name} saved. Pick it in the sidebar's model list to use it.").format(
                    name=name
                )
            )
        test = recorded_test_metrics(job.checkpoint)
        if test:
            st.markdown(
                _(
                    "**Test accuracy:** {top1:.1%} (right flower in the top 5: {top5:.1%}), "
                    "measured on {n} photos the model never saw."
                ).format(**test)
            )
    elif job.status == "failed":
        st.error(_("Training failed: {error}").format(error=job.error))
        if job.error_details:
            with st.expander(_("Technical details")):
                st.code(job.error_details, language="text")
    elif job.status == "cancelled":
        if job.checkpoint:
            st.warning(
                _(
                    "Training was cancelled. The last completed epoch ({n}) was kept as "
                    "checkpoint {name}."
                ).format(n=job.epoch_counter, name=job.checkpoint.name)
            )
        else:
            st.warning(_("Training was cancelled before any epoch completed, so nothing was kept."))


def status_row(run: Any, events: list[Any]) -> Any:
    """Status, time so far and speed of a run (of this process or from a terminal); returns the
    row's fourth column for what the caller adds."""
    rate = speed(events)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("Status"), status_word(run.status, capital=True))
    m2.metric(_("Time"), clock(elapsed(run, time.time())))
    m3.metric(_("Speed"), _("{n:.0f} images/s").format(n=rate) if rate else "–")
    return m4


@st.fragment(run_every=1.0)
def live_view() -> None:
    """Status, progress, curves and log of the newest run; polls without rerunning the page."""
    job = state.job_registry().latest()
    st.subheader(_("Current run"))
    if job is None:
        st.caption(_("No run has been started since the dashboard was launched."))
        return
    events = job.channel.snapshot()
    cfg = job.config
    st.markdown(
        _("**{backbone}**, {epochs} epoch(s), augmentation {aug}, run `{id}`").format(
            backbone=BACKBONES[cfg.backbone].display_name
            if cfg.backbone in BACKBONES
            else cfg.backbone,
            epochs=job.total_epochs,
            aug=cfg.augment,
            id=job.id,
        )
    )
    m4 = status_row(job, events)
    m4.metric(
        _("Device"),
        job.device or "–",
        help=_("Trained in parallel on {n} devices (tf.distribute MirroredStrategy).").format(
            n=job.replicas
        )
        if (job.replicas or 1) > 1
        else None,
    )
    if not job.done:
        frac, text = progress_of(job, events)
        st.progress(frac, text=text)
        if job.cancel_requested:
            st.info(_("Cancelling… the run stops within one batch."))
        elif st.button(
            _("■ Cancel"),
            key="train.cancel",
            help=_("Stop the run; the last completed epoch is kept as a checkpoint."),
        ):
            job.cancel()
            st.info(_("Cancelling… the run stops within one batch."))
    else:
        outcome(job)
    if job.history:
        st.plotly_chart(curves(job.history), key="train.curves", config={"displayModeBar": False})
    log(events, expanded=not job.done)


def log(events: list[Any], expanded: bool) -> None:
    """The run's messages (the last 40) in an expander."""
    with st.expander(_("Log"), expanded=expanded):
        lines = [
            f"{time.strftime('%H:%M:%S', time.localtime(e.time))}  {e.message}"
            for e in events
            if e.message and e.kind != "batch"
        ]
        st.code("\n".join(lines[-40:]) or _("(no messages yet)"), language="text")


def terminal_run(run: launch.LaunchedRun) -> None:
    """One run started with ``launch``: strategy and workers, progress or outcome, curves, log."""
    backbone = run.backbone or "?"
    st.markdown(
        _("**{backbone}**, {epochs} epoch(s), augmentation {aug}, run `{id}`").format(
            backbone=BACKBONES[backbone].display_name if backbone in BACKBONES else backbone,
            epochs=run.total_epochs or "?",
            aug=run.augment or "?",
            id=run.id,
        )
    )
    st.caption(
        _("Started from a terminal: `python -m flowerdash launch --workers {n} {command}`").format(
            n=run.workers, command=" ".join(run.command)
        )
    )
    m4 = status_row(run, run.events)
    m4.metric(
        _("Strategy"),
        strategy_label(run),
        help=_(
            "Trained by {n} worker processes (tf.distribute MultiWorkerMirroredStrategy); the "
            "progress is the chief's (worker 0)."
        ).format(n=run.workers),
    )
    if run.done:
        show_outcome(run)
    else:
        frac, text = progress_of(run, run.events)
        st.progress(frac, text=text)
        st.caption(_("Stop it in its terminal (Ctrl-C)."))
    if run.history:
        st.plotly_chart(
            curves(run.history),
            key=f"train.terminal.curves.{run.id}",
            config={"displayModeBar": False},
        )
    log(run.events, expanded=False)


@st.fragment(run_every=2.0)
def terminal_runs() -> None:
    """The newest runs started with ``python -m flowerdash launch``, followed while they train."""
    runs = launch.launched_runs()
    if not runs:
        return
    st.subheader(_("Runs started from a terminal"))
    for run in runs:
        with st.container(border=True):
            terminal_run(run)
    # A run seen training that has now ended: the whole app again, for the sidebar's model list.
    watched = st.session_state.setdefault("train.terminal.running", set())
    ended = {r.id for r in runs if r.done} & watched
    watched |= {r.id for r in runs if not r.done}
    if ended:
        watched -= ended
        state.checkpoint_listing.clear()
        st.rerun()


def interrupted_section() -> None:
    """Runs a killed process left behind, each with a Resume button."""
    runs = run_state.interrupted_runs()
    if not runs:
        return
    st.subheader(_("Interrupted runs"))
    st.caption(
        _(
            "These runs stopped unexpectedly (for example the server was restarted). "
            "Resume continues from the last completed epoch."
        )
    )
    for run in runs:
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.markdown(
            _("Run `{id}`: {backbone}, {done} of {total} epochs done").format(
                id=run.run_id,
                backbone=run.config.backbone,
                done=run.epochs_done,
                total=run.config.total_epochs,
            )
        )
        if c2.button(
            _("Resume"),
            key=f"train.resume.{run.run_id}",
            help=_("Continue this run from its last completed epoch."),
        ):
            start(lambda run=run: run.config, resume_from=str(run.path))


def ensemble_section() -> None:
    """Combine finished checkpoints into one model that averages their answers or weights."""
    usable, _broken = state.checkpoint_listing()
    if len(usable) < ensemble.MIN_MEMBERS:
        return
    labels = dict(usable)
    st.subheader(_("Combine trained models"))
    st.caption(
        _(
            "Several models become one new checkpoint that every page can use, and its accuracy "
            "is measured on the test photos."
        )
    )
    ways = {
        "scores": _(
            "Average their answers (an ensemble): usually more accurate than each of them, and "
            "as slow as all of them together"
        ),
        "weights": _(
            "Average their weights: one model of the same size and speed; only for runs that "
            "share their first stage and differ in their fine-tuning"
        ),
    }
    with st.form("train.ensemble_form", border=False):
        members = st.multiselect(
            _("Models to combine"),
            list(labels),
            format_func=lambda p: labels.get(p, p),
            key="train.ensemble.members",
            placeholder=_("Pick two or more"),
        )
        average = st.radio(
            _("How to combine them"),
            ensemble.AVERAGES,
            format_func=ways.get,
            key="train.ensemble.average",
        )
        name = st.text_input(
            _("Name of the combined model (optional)"),
            key="train.ensemble.name",
            max_chars=64,
            placeholder=_("e.g. ensemble-4"),
        )
        submitted = st.form_submit_button(_("Combine"), key="train.ensemble.build")
    if submitted:
        combine(members, name.strip() or None, average)


def combine(members: list[str], name: str | None, average: str) -> None:
    """Build and save the combined model, then measure it on the test split with a progress bar."""
    try:
        with st.spinner(_("Combining the models…")):
            folder = ensemble.ensemble_checkpoint(members, name=name, average=average)
        state.checkpoint_listing.clear()
        bar = st.progress(0.0, text=_("Measuring its accuracy on the test photos…"))

        def progress(done: int, n: int) -> None:
            bar.progress(
                min(done / max(n, 1), 1.0), text=_("{done} of {n} images").format(done=done, n=n)
            )

        test = evaluation.measure_test_accuracy(folder, state.dataset_source(), progress=progress)
        bar.empty()
    except FlowerdashError as exc:
        state.show_error(exc, _("The models could not be combined"))
        return
    st.success(
        _("Saved {name}: {accuracy} right on {n} test photos. Pick it in the sidebar.").format(
            name=folder.name, accuracy=f"{test['top1']:.1%}", n=test["n"]
        )
    )


def main() -> None:
    st.title(_("🏋️ Train a model"))
    st.write(
        _(
            "Train a flower classifier on the Oxford Flowers102 photos. The run continues in the "
            "background: you can switch pages or reload, and come back to follow it here."
        )
    )
    dataset_panel.require_dataset()
    init_state()
    live_slot = st.container()
    st.divider()
    settings_form()  # before the live view, so a run started now shows at once
    interrupted_section()
    st.divider()
    ensemble_section()
    with live_slot:
        live_view()
        terminal_runs()


main()
