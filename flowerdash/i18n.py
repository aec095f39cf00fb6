"""User-facing text through gettext: ``_("…")`` marks a string for translation.

English text is the message id; catalogs live in ``flowerdash/locales/<lang>/LC_MESSAGES``
(``flowerdash.po`` is the source, the committed ``flowerdash.mo`` is what runs, so the runtime
needs only the standard library; ``python -m flowerdash.locales.update`` rebuilds both with Babel).
The active language is per thread (each Streamlit run executes in its own thread); a thread that
never chose one (a fragment rerun) follows its Streamlit session's ``app.lang``.
"""

from __future__ import annotations

import gettext
import sys
import threading
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "flowerdash"
LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "app.lang"

_state = threading.local()


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of a language (English, or a missing catalog, translate to themselves)."""
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def normalize(lang: object) -> str | None:
    """A supported language code from user input ('ES', 'es-MX' -> 'es'), or None."""
    if not isinstance(lang, str):
        return None
    code = lang.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else None


def set_language(lang: str) -> str:
    """Make ``lang`` the language of this thread; unknown codes fall back to English."""
    _state.lang = normalize(lang) or DEFAULT_LANGUAGE
    return _state.lang


def _session_language() -> str | None:
    """The language stored in the current Streamlit session, if this is a Streamlit script run."""
    if "streamlit" not in sys.modules:
        return None
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx(suppress_warning=True)
        if ctx is None:
            return None
        return (
            normalize(ctx.session_state[SESSION_KEY]) if SESSION_KEY in ctx.session_state else None
        )
    except Exception:  # no session (bare mode, tests): fall back to the default
        return None


def get_language() -> str:
    """The language of this thread (or of its Streamlit session)."""
    lang = getattr(_state, "lang", None)
    return lang or _session_language() or DEFAULT_LANGUAGE


def _(message: str) -> str:
    """Translate a message into the current thread's language."""
    return translations(get_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a count."""
    return translations(get_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet (tables built at import)."""
    return message
