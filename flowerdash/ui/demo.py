"""Demo-mode pieces shared by the pages: the simple/expert view and the first-visit colour help."""

from __future__ import annotations

import streamlit as st

from flowerdash.i18n import _

VIEW_KEY = "app.view"
VIEWS = ("simple", "expert")
HELP_KEY = "app.help_dismissed"


def current_view() -> str:
    """'simple' or 'expert', as chosen in the sidebar (simple until someone switches)."""
    view = st.session_state.get(VIEW_KEY)
    return view if view in VIEWS else "simple"


def is_expert() -> bool:
    """Whether the expert view is on."""
    return current_view() == "expert"


def _dismiss_help() -> None:
    st.session_state[HELP_KEY] = True


def colour_help(on_explain_page: bool = False) -> None:
    """A short, dismissible note on what the colours of the maps mean (until dismissed).

    Elsewhere it points to the Explain page for Integrated Gradients; on that page it does not.
    """
    if st.session_state.get(HELP_KEY):
        return
    with st.container(border=True, key="app.help_box"):
        if on_explain_page:
            text = _(
                "**How to read the colours.** Grad-CAM paints the regions that pushed the model "
                "towards its answer: red and yellow mattered most, blue hardly at all. Integrated "
                "Gradients gives every pixel its own share of the credit: the brightest pixels "
                "mattered most. Both show what the model used, not what a botanist would look at."
            )
        else:
            text = _(
                "**How to read the colours.** Grad-CAM paints the regions that pushed the model "
                "towards its answer: red and yellow mattered most, blue hardly at all. Integrated "
                "Gradients (on the Explain page) gives every pixel its own share of the credit: "
                "the brightest pixels mattered most. Both show what the model used, not what a "
                "botanist would look at."
            )
        st.markdown(text)
        st.button(
            _("Got it"),
            key="app.help_dismiss",
            on_click=_dismiss_help,
            help=_("Hide this note for the rest of the visit."),
        )
