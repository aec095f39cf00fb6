"""The Explain page: URL settings, the test-set browser, cached maps, faithfulness and download."""

from __future__ import annotations

import pytest
import streamlit as st
from conftest import ROOT, surest_square
from miniature import split_files
from streamlit.testing.v1 import AppTest

import flowerdash.explain.explanations as explanations
from flowerdash.data.names_es import display_name
from flowerdash.data.sources import FolderSource
from flowerdash.ui import state

APP = str(ROOT / "streamlit_app.py")
FILE = split_files("test")[1]


@pytest.fixture
def calls(monkeypatch) -> list[dict]:
    """Every call to explain_image, recorded (the real function still runs)."""
    recorded: list[dict] = []
    real = explanations.explain_image

    def counting(*args, **kwargs):
        recorded.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(explanations, "explain_image", counting)
    return recorded


def open_explain(monkeypatch, checkpoint, data_dir, query: dict[str, str]) -> AppTest:
    """The Explain page opened from a URL with ``query``."""
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(checkpoint.parent))
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    # only the test checkpoints, not a real model that may ship in checkpoints/default
    monkeypatch.setattr("flowerdash.models.checkpoints.SHIPPED_DEFAULT", ROOT / "no-such-default")
    st.cache_data.clear()
    state.dataset_source.clear()  # another test may have looked for the dataset elsewhere
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    at.switch_page("app_pages/explain.py").run()
    assert not at.exception
    return at


def true_name(data_dir, file_name: str) -> str:
    source = FolderSource(data_dir)
    index = source.split("test")
    return source.class_names[int(index.labels[index.files.index(file_name)])].title()


def test_query_params_load_the_image_and_settings(monkeypatch, tiny_checkpoint, data_dir, calls):
    query = {"split": "test", "file": FILE, "target": "true", "steps": "8", "baseline": "blur"}
    at = open_explain(monkeypatch, tiny_checkpoint, data_dir, query)
    assert at.radio(key="explain.source").value == "test"
    assert at.text_input(key="explain.file_text").value == FILE
    assert at.slider(key="explain.steps").value == 8
    assert at.selectbox(key="explain.baseline").value == "blur"
    assert at.radio(key="explain.target_mode").value == "true"
    name = true_name(data_dir, FILE)
    assert any(f"The true flower is **{name}**" in m.value for m in at.markdown)
    assert any(f"Explaining **{name}**" in c.value for c in at.caption)
    assert at.image[0].captions == [f"What the model sees: {FILE}"]
    assert [c for img in at.image[1:] for c in img.captions] == ["Grad-CAM", "Integrated Gradients"]
    assert len(calls) == 1
    assert calls[0]["steps"] == 8 and calls[0]["baseline"] == "blur"
    # the settings are written back to the URL, so the view can be shared
    assert at.query_params["file"] == FILE and at.query_params["steps"] == "8"


def test_alpha_and_colormap_reblend_without_recomputing(
    monkeypatch, tiny_checkpoint, data_dir, calls
):
    at = open_explain(monkeypatch, tiny_checkpoint, data_dir, {"file": FILE, "steps": "4"})
    assert len(calls) == 1
    before = at.image[1].value
    at.slider(key="explain.alpha").set_value(0.9).run()
    at.selectbox(key="explain.cmap").set_value("viridis").run()
    assert not at.exception
    assert len(calls) == 1, "changing the overlay must only re-blend the cached maps"
    assert at.image[1].value != before  # the overlay did change
    at.slider(key="explain.steps").set_value(6).run()
    assert len(calls) == 2 and calls[-1]["steps"] == 6
    assert at.query_params["steps"] == "6"


def test_faithfulness_verdict_curves_and_download(monkeypatch, tiny_checkpoint, data_dir, calls):
    at = open_explain(monkeypatch, tiny_checkpoint, data_dir, {"file": FILE, "steps": "4"})
    assert at.subheader[0].value == "Which explanation is more faithful here?"
    assert any(
        m.value.startswith("**Grad-CAM looks")
        or m.value.startswith("**Integrated Gradients looks")
        or m.value.startswith("**The two tests disagree")
        or m.value.startswith("**About equally")
        for m in at.markdown
    )
    assert len(at.get("plotly_chart")) == 1
    assert len(at.get("download_button")) == 1
    assert len(calls) == 1 and not calls[0].get("with_faithfulness")  # tested after the maps
    at.toggle(key="explain.faithfulness").set_value(False).run()
    assert not at.exception and not at.main.subheader


def test_browse_by_flower_and_explain_another_class(monkeypatch, tiny_checkpoint, data_dir, calls):
    at = open_explain(monkeypatch, tiny_checkpoint, data_dir, {"file": FILE, "steps": "4"})
    at.radio(key="explain.browse").set_value("flower").run()
    at.radio(key="explain.target_mode").set_value("other").run()
    at.selectbox(key="explain.target_class").set_value(5).run()
    assert not at.exception
    assert calls[-1]["target"] == 5
    assert at.query_params["target"] == "5"
    assert at.query_params["file"] != FILE  # the flower browser picked another image


def test_bad_upload_and_unknown_file_are_explained(monkeypatch, tiny_checkpoint, data_dir, calls):
    at = open_explain(monkeypatch, tiny_checkpoint, data_dir, {"file": "image_99999.jpg"})
    assert any("There is no test image named" in w.value for w in at.warning)
    at.radio(key="explain.source").set_value("upload").run()
    at.file_uploader(key="explain.upload").set_value(("x.jpg", b"not a photo", "image/jpeg")).run()
    assert not at.exception
    assert "We could not use that file" in at.error[0].value
    assert not calls


def test_an_ensemble_is_explained_with_every_members_layer(monkeypatch, data_dir, tmp_path, calls):
    from conftest import save_tiny_checkpoint

    from flowerdash.models.ensemble import ensemble_checkpoint

    members = [
        save_tiny_checkpoint(tmp_path / "members", n, seed=s) for n, s in (("a", 1), ("b", 2))
    ]
    ensemble = ensemble_checkpoint(members, name="ab", root=tmp_path / "listed")
    at = open_explain(monkeypatch, ensemble, data_dir, {"file": FILE, "steps": "4"})
    layer = at.selectbox(key="explain.layer")
    assert layer.value == ("m1_relu3", "m2_relu3")
    assert layer.format_func(layer.value) == "All 2 members"
    assert calls and not at.error


def test_an_uploaded_photo_can_be_framed_and_each_square_is_explained_once(
    monkeypatch, tiny_checkpoint, data_dir, calls, flower_paths
):
    from pathlib import Path

    at = open_explain(monkeypatch, tiny_checkpoint, data_dir, {})
    at.radio(key="explain.source").set_value("upload").run()
    photo = Path(flower_paths[0]).read_bytes()
    at.file_uploader(key="explain.upload").set_value(("f.jpg", photo, "image/jpeg")).run()
    assert not at.exception
    before = len(calls)
    at.slider(key="explain.zoom").set_value(2.0).run()
    assert not at.exception and len(calls) == before + 1  # another square, explained anew
    at.button(key="explain.frame_reset").click().run()
    assert at.slider(key="explain.zoom").value == 1.0
    assert len(calls) == before + 1  # the whole photo again: its maps are cached


@pytest.mark.parametrize("offered", [False, True])
def test_an_upload_gets_the_find_button_only_where_the_app_offers_it(
    monkeypatch, tiny_checkpoint, data_dir, flower_paths, offered
):
    from pathlib import Path

    monkeypatch.setattr("flowerdash.inference.framing.OFFERED", offered)
    at = open_explain(monkeypatch, tiny_checkpoint, data_dir, {})
    at.radio(key="explain.source").set_value("upload").run()
    photo = Path(flower_paths[0]).read_bytes()
    at.file_uploader(key="explain.upload").set_value(("f.jpg", photo, "image/jpeg")).run()
    assert not at.exception and not at.error
    keys = [b.key for b in at.button]
    assert "explain.frame_reset" in keys and ("explain.frame_find" in keys) is offered
    (frame,) = (e for e in at.expander if e.label == "Frame the flower")
    assert any(c.value.startswith("The model sees one square") for c in frame.caption)
    assert any("let the model try" in c.value for c in frame.caption) is offered


@pytest.mark.parametrize("unsure", [False, True])
def test_an_upload_the_model_is_sure_of_gets_no_button_where_it_is_offered_for_unsure_only(
    monkeypatch, tiny_checkpoint, data_dir, flower_paths, unsure
):
    from pathlib import Path

    from flowerdash.explain.reading import UNSURE_BELOW

    monkeypatch.setattr("flowerdash.inference.framing.OFFERED", True)
    monkeypatch.setattr("flowerdash.inference.framing.OFFERED_ON_SURE", False)
    # the tiny model's answers are all far below the real threshold, and above 0
    monkeypatch.setattr("flowerdash.explain.reading.UNSURE_BELOW", UNSURE_BELOW if unsure else 0.0)
    at = open_explain(monkeypatch, tiny_checkpoint, data_dir, {})
    at.radio(key="explain.source").set_value("upload").run()
    photo = Path(flower_paths[0]).read_bytes()
    at.file_uploader(key="explain.upload").set_value(("f.jpg", photo, "image/jpeg")).run()
    assert not at.exception and not at.error
    assert ("explain.frame_find" in [b.key for b in at.button]) is unsure


def test_the_square_found_for_an_upload_gets_the_tempered_percentage(
    monkeypatch, tmp_path, sunflower_field
):
    """As on Try it: the button's square reads lower than the same square picked by hand."""
    import re

    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(tmp_path))  # the shipped model alone
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(tmp_path / "no-dataset"))
    # the button as a model that passed benchmarks/find_flower.py's rule would offer it
    monkeypatch.setattr("flowerdash.inference.framing.OFFERED", True)
    square = ("zoom", "frame_x", "frame_y")

    def uploaded() -> AppTest:
        st.cache_data.clear()
        state.dataset_source.clear()
        at = AppTest.from_file(APP, default_timeout=120).run()
        at.switch_page("app_pages/explain.py").run()
        at.radio(key="explain.source").set_value("upload").run()
        photo = ("field.jpg", sunflower_field.read_bytes(), "image/jpeg")
        return at.file_uploader(key="explain.upload").set_value(photo).run()

    def explaining(at: AppTest) -> float:
        (p,) = (
            m.group(1)
            for c in at.caption
            if (
                m := re.search(rf"Explaining \*\*{flower}\*\* \(probability (>?[\d.]+)%\)", c.value)
            )
        )
        return 100.0 if p.startswith(">") else float(p)

    expected, name = surest_square(sunflower_field)
    flower = display_name(name, "en")
    at = uploaded().button(key="explain.frame_find").click().run()
    assert not at.exception and not at.error
    found = [at.slider(key=f"explain.{k}").value for k in square]
    assert found == pytest.approx(expected)
    assert any("the best of about twenty" in c.value for c in at.caption)
    found_p = explaining(at)

    at = uploaded()
    for key, value in zip(square, found, strict=True):
        at = at.slider(key=f"explain.{key}").set_value(value).run()
    assert not at.exception and explaining(at) > found_p
    state.dataset_source.clear()  # it found no dataset: later tests look again


def test_a_small_test_photo_is_said_to_be_small(monkeypatch, tiny_checkpoint, data_dir, calls):
    """The miniature's photos are 40 to 64 px: the note says how small the model sees them."""
    from PIL import Image

    from flowerdash.explain.reading import small_photo_note

    at = open_explain(monkeypatch, tiny_checkpoint, data_dir, {"file": FILE, "steps": "4"})
    with Image.open(data_dir / "jpg" / FILE) as im:
        side = min(im.size)
    assert any(c.value == "📏 " + small_photo_note(side) for c in at.caption)
