"""The dashboard shell: navigation, sidebar checkpoint picker, broken checkpoints, theme config."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import streamlit as st
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from flowerdash.images import MAX_UPLOAD_BYTES

APP = str(ROOT / "streamlit_app.py")
OWN_PAGES = ["app_pages/home.py", "app_pages/explain.py", "app_pages/audit.py"]


def run_app(monkeypatch, checkpoint_dir: Path, data_dir: Path, page: str | None = None) -> AppTest:
    """Run the app (optionally switch to a page) against a checkpoint folder."""
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(checkpoint_dir))
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    # only the test checkpoints, not a real model that may ship in checkpoints/default
    monkeypatch.setattr("flowerdash.checkpoints.SHIPPED_DEFAULT", ROOT / "no-such-default")
    st.cache_data.clear()  # the checkpoint listing is cached for a few seconds
    at = AppTest.from_file(APP, default_timeout=60).run()
    if page:
        at.switch_page(page).run()
    return at


@pytest.mark.parametrize("page", OWN_PAGES)
def test_every_page_renders(monkeypatch, tiny_checkpoint, data_dir, page):
    at = run_app(monkeypatch, tiny_checkpoint.parent, data_dir, page)
    assert not at.exception
    assert at.title, f"{page} shows no title"


def test_sidebar_picks_and_describes_the_checkpoint(monkeypatch, tiny_checkpoint, data_dir):
    at = run_app(monkeypatch, tiny_checkpoint.parent, data_dir)
    assert not at.exception
    picker = at.sidebar.selectbox(key="app.checkpoint")
    assert picker.value == str(tiny_checkpoint)
    text = " ".join(m.value for m in at.sidebar.markdown)
    assert "tiny" in text and "10.0%" in text and "complete" in text


def test_broken_checkpoints_are_listed_with_reasons(monkeypatch, tmp_path, data_dir):
    from conftest import save_tiny_checkpoint

    save_tiny_checkpoint(tmp_path, "good")
    (tmp_path / "broken").mkdir()
    at = run_app(monkeypatch, tmp_path, data_dir)
    assert not at.exception
    assert at.sidebar.selectbox(key="app.checkpoint").value == str(tmp_path / "good")
    expander = at.sidebar.expander[0]
    assert "1 checkpoint cannot be used" in expander.label
    assert any("broken" in m.value and "meta.json" in m.value for m in expander.markdown)


def test_without_checkpoints_pages_explain_how_to_train(monkeypatch, tmp_path, data_dir):
    from flowerdash import checkpoints

    monkeypatch.setattr(checkpoints, "SHIPPED_DEFAULT", tmp_path / "no-default")
    at = run_app(monkeypatch, tmp_path, data_dir)
    assert not at.exception
    assert any("No trained model yet" in i.value for i in at.sidebar.info)
    assert any("no trained model yet" in i.value for i in at.main.info)


def test_theme_and_server_config():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_BYTES // (1024 * 1024)
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["toolbarMode"] == "minimal"
    assert config["theme"]["primaryColor"].startswith("#")
