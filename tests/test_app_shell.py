"""The dashboard shell: navigation, sidebar checkpoint picker, broken checkpoints, theme config."""

from __future__ import annotations

import ast
import contextlib
import gc
import sys
import threading
import tomllib
from pathlib import Path

import pytest
import streamlit as st
from conftest import ROOT
from streamlit import config as st_config
from streamlit.runtime.scriptrunner import magic
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest

from flowerdash.data.images import MAX_UPLOAD_BYTES

APP = str(ROOT / "streamlit_app.py")
CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
OWN_PAGES = ["app_pages/home.py", "app_pages/explain.py", "app_pages/audit.py"]
SCRIPTS = [
    "streamlit_app.py",
    "serve.py",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "app_pages").glob("*.py")),
]


def run_app(
    monkeypatch,
    checkpoint_dir: Path,
    data_dir: Path,
    page: str | None = None,
    shipped: Path | None = None,
) -> AppTest:
    """Run the app (optionally switch to a page) against a checkpoint folder."""
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(checkpoint_dir))
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    # only the test checkpoints, not a real model that may ship in checkpoints/default
    monkeypatch.setattr(
        "flowerdash.models.checkpoints.SHIPPED_DEFAULT", shipped or ROOT / "no-such-default"
    )
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


def test_checkpoints_with_the_same_label_can_each_be_picked(monkeypatch, tmp_path, data_dir):
    """A copy of the shipped default in the checkpoint folder: same name, backbone and accuracy.

    Streamlit's selectbox selects by the shown label, so equal labels used to send every pick
    to the last of them; the labels now tell the two apart and the page loads the picked one.
    """
    from conftest import save_tiny_checkpoint

    from flowerdash.models.checkpoints import update_meta
    from flowerdash.ui import state

    copy = save_tiny_checkpoint(tmp_path / "checkpoints", "default", seed=0)
    shipped = save_tiny_checkpoint(tmp_path / "shipped", "default", seed=1)
    update_meta(copy, created="2025-02-01T00:00:00+00:00")  # newest first: the copy, then shipped
    update_meta(shipped, created="2025-01-01T00:00:00+00:00")
    loaded: list[str] = []
    real_load = state.load_checkpoint

    def spy(path: str):
        loaded.append(str(path))
        return real_load(path)

    monkeypatch.setattr(state, "load_checkpoint", spy)
    at = run_app(monkeypatch, copy.parent, data_dir, shipped=shipped)
    assert not at.exception
    picker = at.sidebar.selectbox(key="app.checkpoint")
    same = "default · test top-1 10.0% · tiny"
    assert picker.options == [f"{same} · checkpoints/", f"{same} · shipped/"]
    # neither was scored on a whole test split: a new session starts with the shipped one
    assert picker.value == str(shipped) and loaded[-1] == str(shipped)

    for wanted in (copy, shipped, copy):  # the other one, back to the first, and again
        loaded.clear()
        at.sidebar.selectbox(key="app.checkpoint").set_value(str(wanted)).run()
        assert not at.exception
        assert at.sidebar.selectbox(key="app.checkpoint").value == str(wanted)
        assert at.session_state["app.checkpoint"] == str(wanted)
        assert loaded and set(loaded) == {str(wanted)}, "the Try it page used another checkpoint"


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
    from flowerdash.models import checkpoints

    monkeypatch.setattr(checkpoints, "SHIPPED_DEFAULT", tmp_path / "no-default")
    at = run_app(monkeypatch, tmp_path, data_dir)
    assert not at.exception
    assert any("No trained model yet" in i.value for i in at.sidebar.info)
    assert any("no trained model yet" in i.value for i in at.main.info)


def test_theme_and_server_config():
    config = CONFIG
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_BYTES // (1024 * 1024)
    assert config["server"]["fileWatcherType"] == "none"  # inotify storms starved the media
    assert config["browser"]["gatherUsageStats"] is False
    assert config["runner"]["postScriptGC"] is False  # a full collection slowed every rerun
    assert config["runner"]["magicEnabled"] is False  # see the next two tests
    assert config["client"]["toolbarMode"] == "minimal"
    assert config["theme"]["primaryColor"].startswith("#")


@pytest.mark.parametrize("script", SCRIPTS)
def test_no_script_relies_on_magic(script):
    """Magic is off (config.toml), so a bare expression would silently show nothing."""
    tree = magic.add_magic((ROOT / script).read_text(encoding="utf-8"), script)
    written = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "transparent_write"
    ]
    assert written == []


def test_pages_compile_while_another_thread_parses_python():
    """A page opened while another session's autograph parses code must still compile.

    Python before 3.11.8 shares ast.parse's depth counter between threads (cpython#106905);
    the other thread's parsing is made to switch threads often, as TensorFlow's garbage does.
    With magic on, Streamlit parses each page with ast.parse and some compiles fail here on
    3.11.7; with this repo's config it compiles from source, which that bug cannot reach.
    """
    magic_enabled = CONFIG["runner"]["magicEnabled"]
    other_source = (ROOT / "flowerdash" / "ui" / "state.py").read_text(encoding="utf-8")
    stop = threading.Event()

    def parse_elsewhere():
        while not stop.is_set():
            # this thread stands for autograph, which falls back on its own parse errors
            with contextlib.suppress(SystemError):
                ast.parse(other_source)

    def some_python(phase, info):
        sum(range(50))  # Python code inside the collector lets the interpreter switch threads

    before = (st_config.get_option("runner.magicEnabled"), sys.getswitchinterval())
    threshold = gc.get_threshold()
    st_config.set_option("runner.magicEnabled", magic_enabled)
    sys.setswitchinterval(1e-6)
    gc.set_threshold(50, 1, 1)
    gc.callbacks.append(some_python)
    other = threading.Thread(target=parse_elsewhere, daemon=True)
    other.start()
    failures = []
    try:
        for _ in range(10):
            for script in SCRIPTS:
                try:
                    ScriptCache().get_bytecode(str(ROOT / script))  # a fresh cache compiles
                except Exception as error:  # noqa: BLE001 - what a visitor would see instead
                    failures.append(f"{script}: {error}")
    finally:
        stop.set()
        other.join()
        gc.callbacks.remove(some_python)
        gc.set_threshold(*threshold)
        sys.setswitchinterval(before[1])
        st_config.set_option("runner.magicEnabled", before[0])
    assert failures == []


def test_a_run_trained_here_is_offered_to_its_session_not_imposed(monkeypatch, tmp_path, data_dir):
    """The session that trained a checkpoint is switched to it and told it is new; a new
    visitor still starts with the best-measured one."""
    from conftest import save_tiny_checkpoint

    from flowerdash.models.checkpoints import update_meta
    from flowerdash.ui import state

    shipped = save_tiny_checkpoint(tmp_path / "shipped", "default", seed=1)
    update_meta(shipped, created="2025-01-01T00:00:00+00:00")
    trained = save_tiny_checkpoint(tmp_path / "checkpoints", "quick-run", seed=0)
    update_meta(trained, created="2025-02-01T00:00:00+00:00")  # newer, yet not picked for all

    at = run_app(monkeypatch, trained.parent, data_dir, shipped=shipped)
    assert at.sidebar.selectbox(key="app.checkpoint").value == str(shipped)
    at.session_state[state.SWITCH_KEY] = str(trained)  # what the Train page sets when it ends
    at.run()
    assert not at.exception
    assert at.sidebar.selectbox(key="app.checkpoint").value == str(trained)
    assert any("New: the model you just trained" in c.value for c in at.sidebar.caption)
    at.sidebar.selectbox(key="app.checkpoint").set_value(str(shipped)).run()
    assert not any("New: the model you just trained" in c.value for c in at.sidebar.caption)

    visitor = AppTest.from_file(APP, default_timeout=60).run()
    assert not visitor.exception
    assert visitor.sidebar.selectbox(key="app.checkpoint").value == str(shipped)
    assert not any("New:" in c.value for c in visitor.sidebar.caption)
