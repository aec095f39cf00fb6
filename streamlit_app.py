"""flowerdash dashboard entry point: page config, the shared checkpoint picker, navigation.

Run with ``streamlit run streamlit_app.py``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from flowerdash import i18n
from flowerdash.errors import FlowerdashError
from flowerdash.i18n import _, ngettext
from flowerdash.models.checkpoints import read_meta
from flowerdash.ui import demo, keras_state, state, warmup

HERE = Path(__file__).resolve().parent
CHECKPOINT_KEY = "app.checkpoint"
LANG_KEY = i18n.SESSION_KEY  # "app.lang"

keras_state.keep_keras_state()  # models and traces outlive a rerun; Streamlit would clear them


def choose_language() -> str:
    """This run's language: the sidebar choice, else ``?lang=`` from the URL, else English."""
    from_url = i18n.normalize(st.query_params.get("lang"))
    if i18n.normalize(st.session_state.get(LANG_KEY)) is None:
        st.session_state[LANG_KEY] = from_url or i18n.DEFAULT_LANGUAGE
    lang = i18n.set_language(st.session_state[LANG_KEY])
    # a shared link keeps its language: mirror a non-default (or already present) choice in the URL
    if st.query_params.get("lang") != lang and ("lang" in st.query_params or lang != "en"):
        st.query_params["lang"] = lang
    return lang


choose_language()  # before any _() of this run, page titles included
st.set_page_config(layout="wide", page_title="flowerdash", page_icon="🌸")

# (file, title, icon, url path); a page whose file is missing is left out of the navigation.
PAGES = [
    ("app_pages/home.py", _("Try it"), "🌸", "home"),
    ("app_pages/explain.py", _("Explain"), "🔍", "explain"),
    ("app_pages/audit.py", _("Audit"), "📋", "audit"),
    ("app_pages/augment_lab.py", _("Augmentation lab"), "🎛️", "augment"),
    ("app_pages/train.py", _("Train"), "🏋️", "train"),
    ("app_pages/robustness.py", _("Robustness"), "🛡️", "robustness"),
]


def language_and_view() -> None:
    """Sidebar: the interface language and the simple / expert switch."""
    st.sidebar.radio(
        "🌐 " + _("Language"),
        list(i18n.LANGUAGES),
        format_func=lambda code: i18n.LANGUAGES[code],
        key=LANG_KEY,
        horizontal=True,
        help=_(
            "The language of the whole dashboard. Flower names stay in English, with the Spanish "
            "name next to them where one has been checked."
        ),
    )
    st.session_state.setdefault(demo.VIEW_KEY, "simple")
    st.sidebar.radio(
        _("View"),
        list(demo.VIEWS),
        format_func=lambda v: {"simple": _("Simple"), "expert": _("Expert")}[v],
        key=demo.VIEW_KEY,
        horizontal=True,
        help=_("Simple gives the answer in plain words; Expert shows every setting and number."),
    )


def checkpoint_picker() -> None:
    """Sidebar: choose the checkpoint every page uses and describe it."""
    usable, broken = state.checkpoint_listing()
    paths = [p for p, _label in usable]
    labels = dict(usable)
    st.sidebar.subheader(_("Model"))
    if not paths:
        st.session_state.pop(CHECKPOINT_KEY, None)
        st.sidebar.info(
            _(
                "No trained model yet. Train one on the Train page, or from a terminal with "
                "`python -m flowerdash train`."
            )
        )
    else:
        switch = st.session_state.pop(state.SWITCH_KEY, None)
        trained = next(
            (p for p in paths if switch and Path(p).resolve() == Path(switch).resolve()), None
        )
        if trained:  # this session just trained it (set before the widget exists in this run)
            st.session_state[CHECKPOINT_KEY] = st.session_state[state.NEW_KEY] = trained
        if st.session_state.get(CHECKPOINT_KEY) not in paths:
            st.session_state[CHECKPOINT_KEY] = state.default_checkpoint() or paths[0]
        chosen = st.sidebar.selectbox(
            _("Checkpoint"),
            paths,
            format_func=lambda p: labels.get(p, Path(p).name),
            key=CHECKPOINT_KEY,
            help=_(
                "The trained model that every page uses. A new visitor starts with the one that "
                "scored best on the whole test set; a run you train here is picked for you."
            ),
        )
        describe_checkpoint(chosen)
        if chosen == st.session_state.get(state.NEW_KEY):
            st.sidebar.caption(
                _(
                    "🆕 New: the model you just trained. Other visitors keep theirs until they pick it."
                )
            )
    if broken:
        with st.sidebar.expander(
            ngettext(
                "{n} checkpoint cannot be used", "{n} checkpoints cannot be used", len(broken)
            ).format(n=len(broken)),
            expanded=False,
        ):
            for path, reason in broken:
                st.markdown(f"**{Path(path).name}**: {reason}")


def describe_checkpoint(path: str) -> None:
    """Backbone, test accuracy and status of the picked checkpoint."""
    try:
        meta = read_meta(path)
    except FlowerdashError as exc:
        st.sidebar.warning(str(exc))
        return
    top1 = ((meta.get("metrics") or {}).get("test") or {}).get("top1")
    accuracy = _("not measured yet") if top1 is None else f"{float(top1):.1%}"
    status = str(meta.get("status", "complete"))
    status_words = {"complete": _("complete"), "partial": _("partial")}
    st.sidebar.markdown(
        _(
            "**Backbone:** {backbone}  \n**Test accuracy:** {accuracy}  \n**Status:** {status}"
        ).format(
            backbone=meta.get("backbone", "?"),
            accuracy=accuracy,
            status=status_words.get(status, status),
        )
    )
    if status != "complete":
        st.sidebar.caption(_("This training run did not finish; its results may be weaker."))


pages = [
    st.Page(file, title=title, icon=icon, url_path=url, default=(i == 0))
    for i, (file, title, icon, url) in enumerate(PAGES)
    if (HERE / file).exists()
]
page = st.navigation(pages)
language_and_view()
checkpoint_picker()
warmup.start(st.session_state.get(CHECKPOINT_KEY))  # once per process, in the background
page.run()
