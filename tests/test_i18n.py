"""Translations: catalogs complete and up to date, placeholders kept, per-thread language."""

from __future__ import annotations

import gettext
import re
import threading

import pytest
from babel.messages.pofile import read_po

from flowerdash import i18n
from flowerdash.flower_names_es import SPANISH_NAMES, display_name
from flowerdash.locales import update

PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def catalog(lang: str):
    with update.po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def source_messages() -> set:
    """Every message marked in the sources right now."""
    return {m.id for m in update.extract() if m.id}


def test_every_marked_message_is_in_the_spanish_catalog():
    missing = source_messages() - {m.id for m in catalog("es") if m.id}
    assert not missing, f"run python -m flowerdash.locales.update; missing: {sorted(missing)[:5]}"


def test_every_spanish_message_is_translated_and_not_fuzzy():
    untranslated = [
        m.id
        for m in catalog("es")
        if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))
    ]
    assert not untranslated, f"untranslated or fuzzy: {untranslated[:5]}"


def test_placeholders_are_identical():
    bad = []
    for m in catalog("es"):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        want = sorted(PLACEHOLDER.findall(ids[-1]))
        bad += [m.id for s in strings if sorted(PLACEHOLDER.findall(s)) != want]
    assert not bad, f"placeholders differ: {bad[:5]}"


def test_committed_catalogs_are_up_to_date():
    stale = [
        str(p.relative_to(update.ROOT))
        for p, data in update.build().items()
        if not update.same_content(p, data)
    ]
    assert not stale, f"stale (run python -m flowerdash.locales.update): {stale}"


def test_compiled_mo_matches_the_po():
    with update.mo_path("es").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for m in catalog("es"):
        if m.id and not isinstance(m.id, tuple):
            assert compiled.gettext(m.id) == m.string


def test_translations_and_plurals_per_thread():
    assert i18n.set_language("es") == "es"
    assert i18n._("Try it") == "Pruébalo"
    text = i18n.ngettext("{n} checkpoint cannot be used", "{n} checkpoints cannot be used", 1)
    assert text.format(n=1) == "No se puede usar 1 punto de control"
    seen = {}
    thread = threading.Thread(target=lambda: seen.update(lang=i18n.get_language()))
    thread.start()
    thread.join()
    assert seen["lang"] == "en"  # another thread (another browser session) is not affected
    assert i18n.set_language("klingon") == "en"
    assert i18n._("Try it") == "Try it"


@pytest.mark.parametrize(
    ("raw", "code"), [("es", "es"), ("ES", "es"), ("es-MX", "es"), ("en_GB", "en"), ("fr", None)]
)
def test_normalize(raw, code):
    assert i18n.normalize(raw) == code


def test_display_name_adds_only_reviewed_spanish_names():
    assert display_name("sunflower", "es") == "Sunflower (girasol)"
    assert display_name("sunflower", "en") == "Sunflower"
    assert display_name("pink primrose", "es") == "Pink Primrose"  # not in the reviewed list
    i18n.set_language("es")
    assert display_name("water lily") == "Water Lily (nenúfar)"
    i18n.set_language("en")
    names = set(update_names())
    assert set(SPANISH_NAMES) <= names, "every Spanish entry must be a real class name"


def update_names() -> list[str]:
    from flowerdash.classes import CLASS_NAMES

    return list(CLASS_NAMES)
