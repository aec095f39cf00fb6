"""User-facing text through gettext: ``_("…")`` marks a string for translation.

English text is the message id; catalogs live in ``flowerdash/locales/<lang>/LC_MESSAGES``.
The active language is per thread (each Streamlit session runs its script in its own thread).
"""

from __future__ import annotations

import gettext
import threading
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "flowerdash"
LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"

_state = threading.local()


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of a language (English, or a missing catalog, translate to themselves)."""
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def set_language(lang: str) -> str:
    """Make ``lang`` the language of this thread; unknown codes fall back to English."""
    _state.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    return _state.lang


def get_language() -> str:
    """The language of this thread."""
    return getattr(_state, "lang", DEFAULT_LANGUAGE)


def _(message: str) -> str:
    """Translate a message into the current thread's language."""
    return translations(get_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a count."""
    return translations(get_language()).ngettext(singular, plural, n)
