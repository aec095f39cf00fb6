"""Streamlit-facing helpers (the only part of flowerdash that imports streamlit)."""

from __future__ import annotations

import sys

from flowerdash import i18n


def _session_language() -> object:
    """The language stored in the current Streamlit session, or None outside a script run."""
    if "streamlit" not in sys.modules:  # not the app: do not start Streamlit to ask
        return None
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None or i18n.SESSION_KEY not in ctx.session_state:
        return None
    return ctx.session_state[i18n.SESSION_KEY]


# A fragment rerun runs in a thread that never chose a language: it follows its session.
i18n.use_session_language(_session_language)
