"""Train: configure a run, start it in the background, follow it live, cancel or resume it;
combine finished checkpoints into an ensemble.

The job lives in the process-wide registry, so it survives a page reload and every browser
session sees the same run; only one run can be active at a time. Runs started from a terminal
with ``python -m flowerdash launch`` are followed too, from the record ``launch`` keeps.
"""

from __future__ import annotations

import os
import time
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from flowerdash.data.augment import FLIP_MODES, AugmentConfig, preset
from flowerdash.data.augment import PRESETS as AUGMENT_PRESETS
from flowerdash.errors import FlowerdashError, TrainingError
from flowerdash.i18n import N_, _, ngettext
from flowerdash.models import ensemble
from flowerdash.models.backbones import BACKBONES
from flowerdash.models.checkpoints import check_new_name
from flowerdash.training import job as training  # RENAME
from flowerdash.training import launch
from flowerdash.training.presets import PRESETS, preset_config
from flowerdash.ui import state

DEV_ENV = "FLOWERDASH_DEV"
BATCH_SIZES = [8, 16, 32, 64, 128]
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
FINE_TUNE_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3]
# (field, label, upper limit = AugmentConfig's, step, help)
AUG_SLIDERS: list[tuple[str, str, float, float, str]] = [
    (
        "rotation",
        N_("Rotation"),
        1.0,
        0.01,
        N_("How far photos may turn, as a fraction of a full turn."),
    ),
    ("zoom", N_("Zoom"), 0.95, 0.01, N_("How much photos may be zoomed in or out (0.1 = 10%).")),
    (
        "translation",
        N_("Shift"),
        1.0,
        0.01,
        N_("How far photos may slide, as a fraction of their size."),
    ),
    ("brightness", N_("Brightness"), 1.0, 0.01, N_("How much lighter or darker photos may get.")),
    ("contrast", N_("Contrast"), 1.0, 0.01, N_("How much the contrast may change (0.2 = ±20%).")),
    (
        "rand_augment",
        N_("RandAugment strength"),
        1.0,
        0.05,
        N_("Two operations picked at random for each batch; 0 turns it off."),
    ),
    (
        "mixup_alpha",
        N_("MixUp strength (α)"),
        1.0,
        0.05,
        N_("Blend pairs of photos; 0 turns it off."),
    ),
    (
        "cutmix_alpha",
        N_("CutMix strength (α)"),
        1.0,
        0.05,
        N_("Paste patches between photos; 0 turns it off."),
    ),
]
AUG_FIELDS = ["flip"] + [f for f, *_rest in AUG_SLIDERS]
STAGES = {
    "head": N_("Stage 1: training the new head"),
    "features": N_("Computing backbone features once"),
    "fine_tune": N_("Stage 2: fine-tuning the backbone"),
    "evaluate": N_("Measuring test accuracy"),
}
STATUS_WORDS = {
    "pending": N_("Starting"),
    "running": N_("Running"),
    "succeeded": N_("Finished"),
    "cancelled": N_("Cancelled"),
    "failed": N_("Failed"),
}


def backbone_choices() -> list[str]:
    """Backbones offered: the 'tiny' test network only in developer mode."""
    names = ["mobilenetv2", "efficientnetb0"]
    if os.environ.get(DEV_ENV) == "1":
        names.append("tiny")
    return names


def preset_label(name: str) -> str:
    """Plain words for an augmentation preset."""
    return {
        "none": _("None (photos unchanged)"),
        "basic": _("Basic (flip, turn, zoom, shift, light)"),
        "advanced": _("Advanced (basic + MixUp and CutMix)"),
        "lab": _("My settings from the Augmentation lab"),
    }.get(name, name)


def fill_augmentation() -> None:
    """Widget callback: copy the chosen preset (or the lab's last settings) into the controls."""
    name = st.session_state["train.augment"]
    if name == "lab":
        values = st.session_state.get("augment.last_config") or preset("basic").to_dict()
    else:
        values = preset(name).to_dict()
    for field in AUG_FIELDS:
        st.session_state[f"train.aug.{field}"] = values[field]


# Form defaults (a quick MobileNetV2 demo run), given to the widgets as their `value`.
DEFAULTS: dict[str, Any] = {
    "train.epochs": 2,
    "train.fine_tune_epochs": 0,
    "train.fine_tune_layers": 30,
    "train.batch_size": 32,
    "train.learning_rate": 1e-3,
    "train.fine_tune_learning_rate": 1e-4,
    "train.label_smoothing": 0.0,
    "train.quick": True,
    "train.train_limit": 160,
    "train.val_limit": 80,
    "train.test_limit": 160,
}


def init_state() -> None:
    """Start a new session on the 'basic' augmentation preset."""
    st.session_state.setdefault("train.augment", "basic")
    if any(f"train.aug.{f}" not in st.session_state for f in AUG_FIELDS):
        fill_augmentation()


def augmentation_choices() -> list[str]:
    """Presets, plus the lab's settings when the user tried some there."""
    names = list(AUGMENT_PRESETS)
    if st.session_state.get("augment.last_config"):
        names.append("lab")
    if st.session_state["train.augment"] not in names:
        st.session_state["train.augment"] = "basic"
    return names


def form_config() -> training.TrainConfig:
    """The TrainConfig described by the form's current values (ConfigError if unusable)."""
    s = st.session_state
    chosen = {f: s[f"train.aug.{f}"] for f in AUG_FIELDS}
    AugmentConfig.from_dict(chosen)  # plain-words ConfigError for a bad value
    base_name = "basic" if s["train.augment"] == "lab" else s["train.augment"]
    base = preset(base_name).to_dict()
    overrides = {k: v for k, v in chosen.items() if v != base[k]}
    name = new_run_name(s["train.name"])
    backbone = s["train.backbone"]
    quick = bool(s["train.quick"])
    return training.TrainConfig(
        backbone=backbone,
        weights=None if backbone == "tiny" else "auto",
        augment=base_name,
        augment_overrides=overrides,
        epochs=int(s["train.epochs"]),
        fine_tune_epochs=int(s["train.fine_tune_epochs"]),
        fine_tune_layers=int(s["train.fine_tune_layers"]),
        batch_size=int(s["train.batch_size"]),
        learning_rate=float(s["train.learning_rate"]),
        fine_tune_learning_rate=float(s["train.fine_tune_learning_rate"]),
        label_smoothing=float(s["train.label_smoothing"]),
        train_limit=int(s["train.train_limit"]) if quick else None,
        val_limit=int(s["train.val_limit"]) if quick else None,
        test_limit=int(s["train.test_limit"]) if quick else None,
        name=name,
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
        start(lambda: preset_config(name, name=new_run_name(run_name)))


def run_name_input(key: str) -> str:
    """The optional name of the checkpoint folder a run writes."""
    return st.text_input(
        _("Run name (optional)"),
        key=key,
        value="",
        max_chars=64,
        placeholder=_("e.g. mobilenet-basic"),
        help=_("The name of the checkpoint folder; leave empty for date, time and backbone."),
    )


def new_run_name(text: str) -> str | None:
    """The run name typed, or None for the default one (ConfigError if it is taken or bad)."""
    name = text.strip() or None
    if name is not None:
        check_new_name(name)
    return name


def start_button(key: str) -> bool:
    """A form's Start button."""
    return st.form_submit_button(
        _("▶ Start training"),
        type="primary",
        key=key,
        help=_("Start the run in the background; you can leave this page and come back."),
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
        format_func=preset_label,
        key="train.augment",
        on_change=fill_augmentation,
        help=_("How training photos are changed at random; try them in the Augmentation lab."),
    )
    note.caption(_("Adjust single values under “Augmentation details” at the bottom of the form."))
    names = {b: BACKBONES[b].display_name for b in BACKBONES}
    with st.form("train.form", border=True):
        c1, c2, c3 = st.columns(3, gap="medium")
        with c1:
            st.selectbox(
                _("Backbone"),
                backbone_choices(),
                format_func=lambda b: names.get(b, b),
                key="train.backbone",
                index=0,
                help=_("The pretrained network the classifier is built on."),
            )
            st.caption(
                _(
                    "MobileNetV2 uses ImageNet weights stored on this machine. EfficientNetB0 is "
                    "more accurate but needs internet to download its ImageNet weights."
                )
            )
            st.number_input(
                _("Head epochs"),
                1,
                100,
                step=1,
                key="train.epochs",
                value=DEFAULTS["train.epochs"],
                help=_("Passes over the training photos while only the new last layer learns."),
            )
            st.number_input(
                _("Fine-tune epochs"),
                0,
                100,
                step=1,
                key="train.fine_tune_epochs",
                value=DEFAULTS["train.fine_tune_epochs"],
                help=_("Extra passes that also adjust the backbone's top layers; 0 skips this."),
            )
            st.number_input(
                _("Fine-tune depth (layers)"),
                1,
                300,
                step=1,
                key="train.fine_tune_layers",
                value=DEFAULTS["train.fine_tune_layers"],
                help=_("How many of the backbone's top layers fine-tuning may change."),
            )
        with c2:
            st.select_slider(
                _("Batch size"),
                BATCH_SIZES,
                key="train.batch_size",
                value=DEFAULTS["train.batch_size"],
                help=_("Photos per training step; smaller uses less memory."),
            )
            st.select_slider(
                _("Learning rate (head)"),
                LEARNING_RATES,
                key="train.learning_rate",
                value=DEFAULTS["train.learning_rate"],
                format_func=lambda v: f"{v:g}",
                help=_("How big each learning step is while training the head."),
            )
            st.select_slider(
                _("Learning rate (fine-tuning)"),
                FINE_TUNE_RATES,
                key="train.fine_tune_learning_rate",
                value=DEFAULTS["train.fine_tune_learning_rate"],
                format_func=lambda v: f"{v:g}",
                help=_(
                    "A smaller step size for fine-tuning, so the pretrained backbone is not spoiled."
                ),
            )
            st.slider(
                _("Label smoothing"),
                0.0,
                0.3,
                step=0.05,
                key="train.label_smoothing",
                value=DEFAULTS["train.label_smoothing"],
                help=_(
                    "Makes the model a little less sure of itself, which often generalises better."
                ),
            )
        with c3:
            st.checkbox(
                _("Quick run (use only some photos)"),
                key="train.quick",
                value=DEFAULTS["train.quick"],
                help=_("Train and test on a few photos so a demo run takes about a minute."),
            )
            st.number_input(
                _("Training photos"),
                8,
                1020,
                step=8,
                key="train.train_limit",
                value=DEFAULTS["train.train_limit"],
                help=_("How many training photos a quick run uses (the full split has 1020)."),
            )
            st.number_input(
                _("Validation photos"),
                8,
                1020,
                step=8,
                key="train.val_limit",
                value=DEFAULTS["train.val_limit"],
                help=_("How many validation photos a quick run checks after each epoch."),
            )
            st.number_input(
                _("Test photos"),
                8,
                6149,
                step=8,
                key="train.test_limit",
                value=DEFAULTS["train.test_limit"],
                help=_("How many test photos a quick run measures the final accuracy on."),
            )
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
            for i, (field, label, upper, step, help_text) in enumerate(AUG_SLIDERS):
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


def progress_of(job: Any, events: list[Any]) -> tuple[float, str]:
    """Overall fraction done and a one-line description, from the newest progress event."""
    last = next((e for e in reversed(events) if e.kind in ("batch", "epoch", "stage")), None)
    if last is None:
        return 0.0, _("Preparing (loading the dataset and the backbone)…")
    stage = _(STAGES.get(last.stage or "", last.stage or ""))
    done_epochs = job.epoch_counter / max(job.total_epochs, 1)
    if last.kind == "batch" and last.stage in ("features", "evaluate") and last.steps:
        frac = min(last.step / last.steps, 1.0)
        return frac, f"{stage} · {last.step}/{last.steps}"
    if last.kind == "batch" and last.steps:
        epochs = last.epochs or 1
        frac = ((last.epoch or 1) - 1 + (last.step or 0) / last.steps) / epochs
        text = _("epoch {e} of {n} · batch {s}/{t}").format(
            e=last.epoch, n=epochs, s=last.step, t=last.steps
        )
        if last.eta_seconds is not None:
            text += " · " + _("about {t} left in this stage").format(t=clock(last.eta_seconds))
        return min(max(frac, 0.0), 1.0), f"{stage} · {text}"
    text = _("{e} of {n} epochs done").format(e=job.epoch_counter, n=job.total_epochs)
    return min(done_epochs, 1.0), f"{stage} · {text}"


def clock(seconds: float) -> str:
    """Seconds as m:ss or h:mm:ss."""
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


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


def _test_metrics(job: Any) -> dict[str, Any] | None:
    """Test top-1/top-5/n recorded in the finished run's checkpoint, if any."""
    from flowerdash.models.checkpoints import read_meta

    try:
        test = (read_meta(job.checkpoint).get("metrics") or {}).get("test")
    except FlowerdashError:
        return None
    return test if test and {"top1", "top5", "n"} <= set(test) else None


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
        test = _test_metrics(job)
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
    speed = next((e.images_per_sec for e in reversed(events) if e.images_per_sec), None)
    elapsed = (run.finished_at or time.time()) - run.started_at if run.started_at else 0.0
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("Status"), _(STATUS_WORDS.get(run.status, run.status)))
    m2.metric(_("Time"), clock(elapsed))
    m3.metric(_("Speed"), _("{n:.0f} images/s").format(n=speed) if speed else "–")
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


def strategy_label(run: launch.LaunchedRun) -> str:
    """'multiworker (2 workers, 2 replicas)'; the replicas once the chief has named them."""
    parts = [ngettext("{n} worker", "{n} workers", run.workers).format(n=run.workers)]
    if run.replicas is not None:
        parts.append(ngettext("{n} replica", "{n} replicas", run.replicas).format(n=run.replicas))
    return f"{run.strategy} ({', '.join(parts)})"


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
    runs = training.interrupted_runs()
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
        total = run.config.epochs + run.config.fine_tune_epochs
        c1.markdown(
            _("Run `{id}`: {backbone}, {done} of {total} epochs done").format(
                id=run.run_id, backbone=run.config.backbone, done=run.epochs_done, total=total
            )
        )
        if c2.button(
            _("Resume"),
            key=f"train.resume.{run.run_id}",
            help=_("Continue this run from its last completed epoch."),
        ):
            start(lambda run=run: run.config, resume_from=str(run.path))


def ensemble_section() -> None:
    """Combine finished checkpoints into one model that averages their answers."""
    usable, _broken = state.checkpoint_listing()
    if len(usable) < ensemble.MIN_MEMBERS:
        return
    labels = dict(usable)
    st.subheader(_("Combine trained models"))
    st.caption(
        _(
            "An ensemble averages the answers of several models. It is usually more accurate than "
            "each of them, and as slow as all of them together. It is saved as a new checkpoint "
            "that every page can use, and its accuracy is measured on the test photos."
        )
    )
    with st.form("train.ensemble_form", border=False):
        members = st.multiselect(
            _("Models to combine"),
            list(labels),
            format_func=lambda p: labels.get(p, p),
            key="train.ensemble.members",
            placeholder=_("Pick two or more"),
        )
        name = st.text_input(
            _("Name of the combined model (optional)"),
            key="train.ensemble.name",
            max_chars=64,
            placeholder=_("e.g. ensemble-4"),
        )
        submitted = st.form_submit_button(_("Combine"), key="train.ensemble.build")
    if submitted:
        combine(members, name.strip() or None)


def combine(members: list[str], name: str | None) -> None:
    """Build and save the ensemble, then measure it on the test split with a progress bar."""
    try:
        with st.spinner(_("Combining the models…")):
            folder = ensemble.ensemble_checkpoint(members, name=name)
        state.checkpoint_listing.clear()
        bar = st.progress(0.0, text=_("Measuring its accuracy on the test photos…"))

        def progress(done: int, n: int) -> None:
            bar.progress(
                min(done / max(n, 1), 1.0), text=_("{done} of {n} images").format(done=done, n=n)
            )

        test = ensemble.measure_test_accuracy(folder, state.dataset_source(), progress=progress)
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
    state.require_dataset()
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
