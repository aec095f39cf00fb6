"""The Robustness page: pick two checkpoints, run on a few images, chart, table and summary."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from conftest import ROOT, save_tiny_checkpoint
from streamlit.testing.v1 import AppTest

PAGE = str(ROOT / "app_pages" / "robustness.py")
LIMIT = 6


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    """Two tiny checkpoints (different weights) this module may write results into."""
    root = tmp_path_factory.mktemp("robust-app-checkpoints")
    save_tiny_checkpoint(root, "plain", seed=0)
    save_tiny_checkpoint(root, "augmented", seed=1)
    return root


def open_page(monkeypatch, checkpoint_dir, data_dir, shipped=None) -> AppTest:
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(checkpoint_dir))
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    monkeypatch.setattr(
        "flowerdash.models.checkpoints.SHIPPED_DEFAULT", shipped or ROOT / "no-such-default"
    )
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    return at


def test_run_two_checkpoints_then_show_saved_results(monkeypatch, checkpoint_dir, data_dir):
    at = open_page(monkeypatch, checkpoint_dir, data_dir)
    a, b = at.selectbox(key="robustness.a"), at.selectbox(key="robustness.b")
    assert {a.value, b.value} == {str(checkpoint_dir / "plain"), str(checkpoint_dir / "augmented")}
    assert at.number_input(key="robustness.limit").value == 100
    assert any("Not measured yet" in i.value for i in at.info)
    assert not at.get("plotly_chart")

    at.number_input(key="robustness.limit").set_value(LIMIT)
    at.multiselect(key="robustness.corruptions").set_value(["rotation", "blur"])
    at.run()
    assert any(f"{LIMIT} photos in 7 versions" in i.value for i in at.info)
    at.button(key="robustness.run").click().run()
    assert not at.exception
    assert not at.error

    charts = at.get("plotly_chart")
    assert len(charts) == 1
    figure = json.loads(charts[0].proto.spec)
    bars = [t for t in figure["data"] if t["type"] == "bar"]
    assert len(bars) == 2 * 3  # two models x three severities
    assert bars[0]["x"] == ["Rotation", "Blur"]
    assert bars[0]["name"] == a.value.rsplit("/", 1)[1]
    clean_lines = [s for s in figure["layout"]["shapes"] if s["line"]["dash"] == "dash"]
    assert len(clean_lines) == 2 * 3
    metrics = [m.label for m in at.metric]
    assert metrics == ["Clean photos", "Under variations"] * 2
    summary = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert summary and "On clean photos" in summary[0]
    table = at.dataframe[0].value
    assert len(table) == 1 + 2 * 3
    assert "B − A (points)" in table.columns

    # a new session finds the saved results at once: no run button, chart straight away
    again = open_page(monkeypatch, checkpoint_dir, data_dir)
    again.number_input(key="robustness.limit").set_value(LIMIT)
    again.multiselect(key="robustness.corruptions").set_value(["rotation", "blur"])
    again.run()
    assert not again.exception
    assert not again.get("button") or not any(bt.key == "robustness.run" for bt in again.button)
    assert len(again.get("plotly_chart")) == 1


def test_without_dataset_the_page_explains_how_to_configure_it(
    monkeypatch, checkpoint_dir, tmp_path
):
    at = open_page(monkeypatch, checkpoint_dir, tmp_path / "no-dataset")
    # the dataset panel
    assert any("needs the Oxford Flowers102 dataset" in m.value for m in at.markdown)
    assert any("FLOWERDASH_DATA_DIR" in m.value for m in at.markdown)
    assert not at.get("selectbox")
    # ... and still answers its question with the team's committed measurement
    assert [h.value for h in at.header] == ["What we measured"]
    assert len(at.get("plotly_chart")) == 1
    labels = [m.label for m in at.metric]
    assert labels == ["Clean photos", "Under variations"] * 2
    assert [m.value for m in at.metric][::2] == ["77.0%", "71.5%"]  # notebook-{noaug,aug}.json
    assert any("Trained with augmentation" in m.value for m in at.markdown)
    assert not any("saved next to each checkpoint" in c.value for c in at.caption)


def test_two_checkpoints_of_the_same_name_can_be_compared(monkeypatch, tmp_path, data_dir):
    """A copy of the shipped default is named like it: the pickers still tell them apart."""
    copy = save_tiny_checkpoint(tmp_path / "checkpoints", "default", seed=0)
    shipped = save_tiny_checkpoint(tmp_path / "shipped", "default", seed=1)
    at = open_page(monkeypatch, copy.parent, data_dir, shipped=shipped)
    a, b = at.selectbox(key="robustness.a"), at.selectbox(key="robustness.b")
    assert len(set(a.options)) == 2 and a.options == b.options
    assert {a.value, b.value} == {str(copy), str(shipped)}
    for first, second in ((copy, shipped), (shipped, copy)):
        at.selectbox(key="robustness.a").set_value(str(first))
        at.selectbox(key="robustness.b").set_value(str(second)).run()
        assert not at.exception
        assert at.selectbox(key="robustness.a").value == str(first)
        assert at.selectbox(key="robustness.b").value == str(second)
