"""The Audit page: scan a few test images, metrics, per-flower table, confusion, mistakes gallery."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
import streamlit as st
from conftest import ROOT, save_tiny_checkpoint
from miniature import SIZES
from streamlit.testing.v1 import AppTest

APP = str(ROOT / "streamlit_app.py")
LIMIT = 12


@pytest.fixture(scope="module")
def own_checkpoint(tmp_path_factory):
    """A tiny checkpoint this module may write scan results into."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("audit-checkpoints"))


def open_audit(monkeypatch, checkpoint, data_dir) -> AppTest:
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(checkpoint.parent))
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    # only the test checkpoints, not a real model that may ship in checkpoints/default
    monkeypatch.setattr("flowerdash.models.checkpoints.SHIPPED_DEFAULT", ROOT / "no-such-default")
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/audit.py").run()
    assert not at.exception
    return at


def reading_order(values: list, columns: int = 4) -> list:
    """Cards fill the gallery's columns left to right, but the element tree lists them column by
    column: put them back in reading order."""
    layout = [j for c in range(columns) for j in range(c, len(values), columns)]
    out = [None] * len(values)
    for k, j in enumerate(layout):
        out[j] = values[k]
    return out


def check_results(at: AppTest) -> None:
    """Metrics, gallery with links to Explain, table and confusion matrix are all there."""
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images scanned"] == f"{LIMIT} / {SIZES['test']}"
    assert metrics["Top-1 accuracy"].endswith("%")
    links = at.get("page_link")
    assert 0 < len(links) <= LIMIT
    for link in links:
        assert link.proto.page == "explain"
        query = parse_qs(link.proto.query_string)
        assert query["split"] == ["test"] and query["file"][0].startswith("image_")
    cards = [m.value for m in at.markdown if m.value.startswith("**True:**")]
    assert len(cards) == len(links)
    assert sum(c.value.startswith("Focus on the centre: ") for c in at.caption) == len(links)
    # "1 mistake." or "n mistakes, the ones ... first."
    (count,) = (c.value for c in at.caption if re.match(r"\d+ mistakes?[.,] ", c.value))
    n = int(count.split()[0])
    assert count.startswith(f"{n} mistake. " if n == 1 else f"{n} mistakes, the ones the model")
    # highest-confidence mistakes first
    confidences = reading_order([int(c.rsplit("(", 1)[1].rstrip("%)")) for c in cards])
    assert confidences == sorted(confidences, reverse=True)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) <= LIMIT
    # the confusion matrix and the reliability diagram
    assert len(at.get("plotly_chart")) == 2
    assert float(metrics["Calibration error"]) >= 0.0
    assert metrics["Mean confidence"].endswith("%") and metrics["Right answers"].endswith("%")
    assert any(
        m.value.startswith(("**Too modest", "**Too sure", "**Its percentages")) for m in at.markdown
    )


def test_scan_a_sample_then_reuse_the_saved_results(monkeypatch, own_checkpoint, data_dir):
    at = open_audit(monkeypatch, own_checkpoint, data_dir)
    assert any("has not been run over the test set" in i.value for i in at.info)
    at.number_input(key="audit.limit").set_value(LIMIT)
    at.button(key="audit.scan").click().run()
    assert not at.exception
    check_results(at)

    # a new session finds the predictions saved next to the checkpoint: no scan needed
    again = open_audit(monkeypatch, own_checkpoint, data_dir)
    assert not any("has not been run" in i.value for i in again.info)
    check_results(again)


def test_filter_by_flower(monkeypatch, own_checkpoint, data_dir):
    at = open_audit(monkeypatch, own_checkpoint, data_dir)
    if not at.metric:  # this test also runs alone: scan first
        at.number_input(key="audit.limit").set_value(LIMIT)
        at.button(key="audit.scan").click().run()
    box = at.selectbox(key="audit.class")
    flower = box.options[1]
    at = box.select_index(1).run()
    assert not at.exception
    cards = [m.value for m in at.markdown if m.value.startswith("**True:**")]
    assert cards and all(flower in c for c in cards)


def test_order_by_focus_puts_the_least_focused_mistakes_first(
    monkeypatch, own_checkpoint, data_dir
):
    at = open_audit(monkeypatch, own_checkpoint, data_dir)
    if not at.metric:  # this test also runs alone: scan first
        at.number_input(key="audit.limit").set_value(LIMIT)
        at.button(key="audit.scan").click().run()
    at.toggle(key="audit.focus").set_value(False).run()
    assert not any(c.value.startswith("Focus on the centre: ") for c in at.caption)
    at = at.selectbox(key="audit.order").set_value("focus").run()
    assert not at.exception
    scores = [
        int(c.value.removeprefix("Focus on the centre: ").rstrip("%"))
        for c in at.caption
        if c.value.startswith("Focus on the centre: ")
    ]
    in_order = reading_order(scores)
    assert scores and in_order == sorted(in_order)  # focus forced on, ascending
    assert any("looked least at the centre first" in c.value for c in at.caption)
