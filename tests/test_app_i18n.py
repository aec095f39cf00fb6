"""The dashboard in Spanish, the camera path, the simple view, the example gallery and the help."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import streamlit as st
from babel.messages.pofile import read_po
from conftest import ROOT
from miniature import split_files
from streamlit.testing.v1 import AppTest

from flowerdash import i18n
from flowerdash.explain.reading import UNSURE_BELOW
from flowerdash.locales import update
from flowerdash.ui import state

APP = str(ROOT / "streamlit_app.py")
PAGES = [
    "app_pages/home.py",
    "app_pages/explain.py",
    "app_pages/audit.py",
    "app_pages/augment_lab.py",
    "app_pages/train.py",
    "app_pages/robustness.py",
]


@pytest.fixture
def app_env(monkeypatch, tiny_checkpoint, data_dir):
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(tiny_checkpoint.parent))
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    monkeypatch.setattr("flowerdash.models.checkpoints.SHIPPED_DEFAULT", ROOT / "no-such-default")
    # the tiny model's random answers are all unsure; most tests look at a plain answer
    monkeypatch.setattr("flowerdash.explain.reading.UNSURE_BELOW", 0.0)
    st.cache_data.clear()
    yield
    i18n.set_language("en")


def start(lang: str | None = None) -> AppTest:
    # AppTest calls the widgets' format_func in the test thread: speak the page's language there
    i18n.set_language(lang or "en")
    at = AppTest.from_file(APP, default_timeout=60)
    if lang:
        at.query_params["lang"] = lang
    return at.run()


def texts(at: AppTest) -> list[str]:
    """Visible text of the main area and the sidebar (values, labels, captions)."""
    out = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "button", "radio"):
        for el in at.get(kind):
            for attr in ("value", "label"):
                v = getattr(el, attr, None)
                if isinstance(v, str):
                    out.append(v)
    return out


def english_ids_with_other_spanish() -> set[str]:
    """English messages whose Spanish translation differs (so showing them means a miss)."""
    with update.po_path("es").open("rb") as f:
        cat = read_po(f, locale="es")
    return {m.id for m in cat if isinstance(m.id, str) and m.id and m.string != m.id}


def open_page(page: str, lang: str, query: dict[str, str] | None = None) -> AppTest:
    """One page script on its own, in a session whose language is ``lang``.

    (AppTest's switch_page loses the sidebar's session state with st.navigation, so pages are
    opened directly; this also covers the session fallback that fragment reruns rely on.)
    """
    i18n.set_language(lang)
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    at.session_state["app.lang"] = lang
    at.query_params.update(query or {})
    return at.run()


def test_spanish_link_sets_the_language_and_keeps_it_in_the_url(app_env):
    at = start("es")
    assert not at.exception
    assert at.sidebar.radio(key="app.lang").value == "es"
    assert at.title[0].value == "🌸 ¿Qué flor es esta?"
    assert at.query_params["lang"] in ("es", ["es"])


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_both_languages(app_env, page, lang):
    at = open_page(page, lang)
    assert not at.exception, at.exception
    assert at.title
    english = english_ids_with_other_spanish()
    if lang == "es":
        assert at.title[0].value not in english


def test_sidebar_selector_switches_language_and_url(app_env):
    at = start()
    assert at.title[0].value == "🌸 Which flower is this?"
    at.sidebar.radio(key="app.lang").set_value("es").run()  # widgets on screen are still English
    i18n.set_language("es")
    assert not at.exception
    assert at.title[0].value == "🌸 ¿Qué flor es esta?"


def test_checkpoint_picker_labels_follow_the_language(app_env):
    at = start("es")
    assert at.sidebar.selectbox(key="app.checkpoint").options == [
        "tiny · precisión en la prueba 10.0% · tiny"
    ]
    at.sidebar.radio(key="app.lang").set_value("en").run()  # the listing is cached: not its labels
    i18n.set_language("en")
    assert not at.exception
    assert at.sidebar.selectbox(key="app.checkpoint").options == ["tiny · test top-1 10.0% · tiny"]


def test_try_it_in_spanish_shows_no_english_message(app_env, flower_paths):
    at = start("es")
    at.file_uploader(key="home.upload").set_value(
        ("flor.jpg", Path(flower_paths[0]).read_bytes(), "image/jpeg")
    ).run()
    assert not at.exception
    assert at.subheader[0].value.startswith("Lo más probable: ")
    english = english_ids_with_other_spanish()
    leaks = [t for t in texts(at) if t in english]
    assert not leaks, f"English left in Spanish mode: {leaks}"


def test_an_unsure_answer_in_spanish(app_env, flower_paths, monkeypatch):
    monkeypatch.setattr("flowerdash.explain.reading.UNSURE_BELOW", UNSURE_BELOW)
    at = start("es")
    at.file_uploader(key="home.upload").set_value(
        ("flor.jpg", Path(flower_paths[0]).read_bytes(), "image/jpeg")
    ).run()
    assert not at.exception
    assert at.subheader[0].value == "No está seguro: puede ser una de estas"
    assert any("**no está seguro**" in m.value for m in at.markdown)
    guesses = [c for img in at.image for c in img.captions][:3]
    assert len(guesses) == 3 and all(re.fullmatch(r".+: \d+\s?%", g) for g in guesses)
    english = english_ids_with_other_spanish()
    assert not [t for t in texts(at) if t in english]


def test_camera_photo_goes_through_the_same_checks(app_env, flower_paths):
    at = start()
    at.radio(key="home.source").set_value("camera").run()
    at.camera_input(key="home.camera").set_value(("image.jpg", b"not a photo", "image/jpeg"))
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    assert at.error[0].value.startswith("We could not use that file:")
    assert "not an image" in at.error[0].value
    at.camera_input(key="home.camera").set_value(
        ("image.jpg", Path(flower_paths[0]).read_bytes(), "image/jpeg")
    )
    at.run()
    assert not at.error
    assert at.subheader[0].value.startswith("Most likely: ")
    assert at.image[0].captions == ["What the model sees: your photo"]


def test_simple_view_answers_in_words_and_expert_view_adds_controls(app_env, flower_paths):
    at = start()
    assert at.sidebar.radio(key="app.view").value == "simple"
    at.file_uploader(key="home.upload").set_value(
        ("flower.jpg", Path(flower_paths[0]).read_bytes(), "image/jpeg")
    ).run()
    said = [m.value for m in at.markdown]
    assert any(
        s.startswith("The model is **") and ("sure" in s) and s.endswith("%).") for s in said
    )
    assert any(s.startswith("👀 The model looked") for s in said)
    assert not at.get("metric")
    # AppTest drops the st.navigation sidebar on reruns, so switch through the session state
    at.session_state["app.view"] = "expert"
    at.run()
    assert not at.exception
    assert [m.label for m in at.get("metric")] == [
        "Confidence",
        "Focus on the centre",
        "Grad-CAM time",
    ]
    assert at.slider(key="home.alpha").value == 0.45
    assert at.subheader[0].value.endswith("%)")


def test_gallery_click_loads_an_example_and_predicts(app_env):
    at = start()
    assert len(at.get("button")) >= 6  # the gallery fills the empty page
    assert "Daffodil" in [c for img in at.image for c in img.captions]
    at.button(key="home.example_2").click().run()
    assert not at.exception
    assert at.radio(key="home.source").value == "example"
    assert at.subheader[0].value.startswith("Most likely: ")
    captions = [c for img in at.image for c in img.captions if c]
    assert "What the model sees: example: Daffodil" in captions


def test_gallery_falls_back_to_shipped_photos_without_a_dataset(app_env, monkeypatch, tmp_path):
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(tmp_path))
    st.cache_resource.clear()
    try:
        at = start("es")
        at.button(key="home.example_0").click().run()
        assert not at.exception
        assert at.subheader[0].value.startswith("Lo más probable: ")
        assert any("Sunflower (girasol)" in c for img in at.image for c in img.captions)
    finally:
        st.cache_resource.clear()


def test_colour_help_can_be_dismissed(app_env):
    at = start()
    at.button(key="home.example_0").click().run()
    assert any(m.value.startswith("**How to read the colours.**") for m in at.markdown)
    assert any("(on the Explain page)" in m.value for m in at.markdown)
    at.button(key="app.help_dismiss").click().run()
    assert at.session_state["app.help_dismissed"] is True
    assert not any(m.value.startswith("**How to read the colours.**") for m in at.markdown)
    at.button(key="home.example_1").click().run()
    assert not any(m.value.startswith("**How to read the colours.**") for m in at.markdown)


def test_explain_keeps_the_language_in_the_url(app_env):
    file = split_files("test")[1]
    at = open_page("app_pages/explain.py", "es", {"lang": "es", "file": file, "steps": "4"})
    assert not at.exception
    assert at.title[0].value == "🔍 Explicar una predicción"
    help_box = [m.value for m in at.markdown if m.value.startswith("**Cómo leer los colores.**")]
    assert help_box and "página Explicar" not in help_box[0]  # not sent to the page it is on
    assert at.text_input(key="explain.file_text").value == file
    assert at.query_params["lang"] in ("es", ["es"])
    assert at.expander(key="explain.more") is not None  # simple view: settings tucked away


def english_fragments() -> set[str]:
    """Runs of at least three words from English messages that Spanish words differently."""
    pieces = set()
    for message in english_ids_with_other_spanish():
        for piece in re.split(r"\{[^{}]*\}", message):
            piece = piece.strip(" .,;:()")
            if len(piece.split()) >= 3:
                pieces.add(piece)
    return pieces


def test_a_text_file_renamed_jpg_is_refused_in_spanish(app_env):
    at = start("es")
    shopping_list = b"Milk, eggs, bread, tulip bulbs.\n" * 20
    at.file_uploader(key="home.upload").set_value(("lista.jpg", shopping_list, "image/jpeg")).run()
    assert not at.exception
    assert len(at.error) == 1
    box = at.error[0].value
    assert box == (
        "No pudimos usar ese archivo: Este archivo no es una imagen que podamos leer. "
        "Usa una foto JPEG, PNG, HEIC, WebP, AVIF, GIF, BMP o TIFF."
    )
    leaks = [piece for piece in english_fragments() if piece in box]
    assert not leaks, f"English left in the Spanish error box: {leaks}"
    assert not re.search(r"\b(Please|image|file|could|not)\b", box)


def test_broken_checkpoint_reasons_in_the_sidebar_speak_spanish(
    app_env, monkeypatch, tmp_path, tiny_checkpoint
):
    shutil.copytree(tiny_checkpoint, tmp_path / "tiny")
    (tmp_path / "foreign").mkdir()
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(tmp_path))
    state.checkpoint_listing.clear()
    try:
        at = start("es")
        assert not at.exception
        said = [m.value for m in at.sidebar.markdown]
        reason = "foreign no tiene meta.json; no es un punto de control de flowerdash."
        assert f"**foreign**: {reason}" in said
        at.sidebar.radio(key="app.lang").set_value("en").run()
        i18n.set_language("en")
        said = [m.value for m in at.sidebar.markdown]
        assert "**foreign**: foreign has no meta.json; it is not a flowerdash checkpoint." in said
    finally:
        state.checkpoint_listing.clear()
