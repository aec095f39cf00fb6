"""No dataset on this machine: every page that needs it shows the dataset panel (what it is, a
Download button or a plain "offline", the folder setting) and never a traceback; the Download
button runs the real TFDS job (against the local server) with progress, cancel and a finish
after which the page uses the data without a restart.
"""

from __future__ import annotations

import sys
import time

import pytest
import streamlit as st
from conftest import ROOT
from streamlit.testing.v1 import AppTest
from tfds_local import local_tfds, tfds_server  # noqa: F401 - a fixture

from flowerdash.data import download
from flowerdash.ui import state

APP = str(ROOT / "streamlit_app.py")
PANEL_TITLE = "This needs the Oxford Flowers102 dataset"
NEEDS_DATA = ("app_pages/audit.py", "app_pages/robustness.py", "app_pages/train.py")


def _texts(at: AppTest) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "text", "code"):
        out += [str(e.value) for e in at.get(kind)]
    return out


def assert_no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not [t for t in _texts(at) if "Traceback" in t or 'File "' in t]


def has_panel(at: AppTest) -> bool:
    return any(PANEL_TITLE in t for t in _texts(at))


@pytest.fixture
def no_dataset(monkeypatch, tmp_path, tiny_checkpoint):
    """No folder configured, an empty TFDS folder of this test's own, the tiny checkpoint."""
    from tensorflow_datasets.core import constants

    monkeypatch.delenv("FLOWERDASH_DATA_DIR", raising=False)
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(tiny_checkpoint.parent))
    monkeypatch.setattr("flowerdash.models.checkpoints.SHIPPED_DEFAULT", ROOT / "no-such-default")
    monkeypatch.setattr(constants, "DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.chdir(tmp_path)  # no flowerdash.toml
    forget()
    yield tmp_path / "tfds"
    forget()


def forget() -> None:
    state.dataset_source.clear()
    state.download_slot.clear()
    st.cache_data.clear()


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(page).run()
    assert_no_traceback(at)
    return at


@pytest.mark.parametrize("page", NEEDS_DATA)
def test_pages_that_need_the_dataset_show_the_panel(no_dataset, tfds_server, page):  # noqa: F811
    at = open_page(page)
    assert has_panel(at)
    assert any(b.label.startswith("Download (") for b in at.button)
    assert any("FLOWERDASH_DATA_DIR" in t for t in _texts(at))


def test_explain_offers_upload_but_no_test_set_without_data(no_dataset, tfds_server):  # noqa: F811
    at = open_page("app_pages/explain.py")
    assert at.radio(key="explain.source").options == ["Upload"]
    assert any("once the Oxford Flowers102 dataset" in c.value for c in at.caption)


def test_augmentation_lab_shows_the_panel_beside_the_upload(no_dataset, tfds_server):  # noqa: F811
    at = open_page("app_pages/augment_lab.py")
    assert has_panel(at)
    assert at.get("file_uploader")


def test_offline_says_so_instead_of_a_download_button(no_dataset, tmp_path):
    with local_tfds(tmp_path / "srv") as server:
        server.go_offline()
        at = open_page("app_pages/audit.py")
    assert has_panel(at)
    assert any("This computer is offline" in w.value for w in at.warning)
    assert not any(b.label.startswith("Download (") for b in at.button)


@pytest.mark.parametrize("page", [*NEEDS_DATA, "app_pages/explain.py", "app_pages/augment_lab.py"])
def test_a_tfds_that_cannot_run_gives_the_panel_and_a_plain_reason(no_dataset, monkeypatch, page):
    # what a fresh machine hit: TFDS importable only in part
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    at = open_page(page)
    if page != "app_pages/explain.py":
        assert has_panel(at)
        assert any("the Python package tensorflow_datasets is missing" in t for t in _texts(at))


def _run_until(at: AppTest, done, timeout: float = 120.0) -> AppTest:
    deadline = time.monotonic() + timeout
    while not done(at):
        assert time.monotonic() < deadline, _texts(at)
        time.sleep(0.3)
        at.run()
        assert_no_traceback(at)
    return at


def test_download_shows_progress_then_the_page_uses_the_data(
    no_dataset,
    tfds_server,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr(download, "WORKER", tfds_server.worker())
    at = open_page("app_pages/audit.py")
    next(b for b in at.button if b.label.startswith("Download (")).click().run()
    assert_no_traceback(at)
    assert at.button(key="dataset.cancel")  # running: the cancel button is there
    assert at.get("progress")
    _run_until(at, lambda a: not has_panel(a))
    assert any(b.label == "Scan the test set" for b in at.button)
    assert download.is_prepared(no_dataset)
    at.switch_page("app_pages/explain.py").run()  # the test set is offered now
    assert_no_traceback(at)
    assert at.radio(key="explain.source").options == ["Test set", "Upload"]


def test_cancel_from_the_page_stops_and_keeps_nothing(no_dataset, tfds_server, monkeypatch):  # noqa: F811
    monkeypatch.setattr(download, "WORKER", tfds_server.worker())
    at = open_page("app_pages/robustness.py")
    next(b for b in at.button if b.label.startswith("Download (")).click().run()
    at.button(key="dataset.cancel").click().run()
    _run_until(at, lambda a: any(b.label.startswith("Download (") for b in a.button))
    assert any("cancelled" in c.value for c in at.caption)
    assert not download.is_prepared(no_dataset)
    assert not (no_dataset / "downloads").exists()


def test_a_failed_download_is_explained_in_the_panel(no_dataset, tmp_path, monkeypatch):
    with local_tfds(tmp_path / "srv") as server:
        tgz = server.download_dir / "102flowers.tgz"
        tgz.write_bytes(tgz.read_bytes()[:-10])
        monkeypatch.setattr(download, "WORKER", server.worker())
        at = open_page("app_pages/audit.py")
        next(b for b in at.button if b.label.startswith("Download (")).click().run()
        _run_until(
            at, lambda a: any(e.value.startswith("The last download failed") for e in a.error)
        )
    assert has_panel(at)
    assert any("checksum" in e.value for e in at.error)


def test_a_folder_set_while_the_app_runs_is_found_without_a_restart(no_dataset, data_dir):
    at = open_page("app_pages/audit.py")
    assert has_panel(at)
    (no_dataset.parent / "flowerdash.toml").write_text(f'data_dir = "{data_dir}"\n')
    at.button(key="dataset.recheck").click().run()
    assert_no_traceback(at)
    assert not has_panel(at)
    assert any(b.label == "Scan the test set" for b in at.button)
