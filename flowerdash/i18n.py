"""User-facing text through gettext: ``_("…")`` marks a string for translation.

English text is the message id; catalogs live in ``flowerdash/locales/<lang>/LC_MESSAGES``
(``flowerdash.po`` is the source, the committed ``flowerdash.mo`` is what runs, so the runtime
needs only the standard library; ``python -m flowerdash.locales.update`` rebuilds both with Babel).
The active language is per thread (each Streamlit run executes in its own thread); a thread that
never chose one (a fragment rerun) follows its Streamlit session's ``app.lang``, which
:mod:`flowerdash.ui` looks up (this module does not import Streamlit).
"""

from __future__ import annotations

import gettext
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "flowerdash"
LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "app.lang"

_state = threading.local()
_session_lookup: Callable[[], object] | None = None


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


def use_session_language(lookup: Callable[[], object] | None) -> None:
    """Have threads that never chose a language ask ``lookup`` (the UI session's choice)."""
    global _session_lookup
    _session_lookup = lookup


def _session_language() -> str | None:
    """The language of the current UI session, if a lookup is registered and finds one."""
    if _session_lookup is None:
        return None
    try:
        return normalize(_session_lookup())
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
