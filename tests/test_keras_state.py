"""Streamlit's post-run clean-up leaves Keras alone once keep_keras_state is in place."""

from __future__ import annotations

import keras
import pytest
from conftest import ROOT
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from flowerdash.ui import keras_state

SCRIPT = """
import streamlit as st
st.write("hello")
"""


@pytest.fixture
def clear_calls(monkeypatch):
    """Calls of keras.backend.clear_session; Streamlit's clean-up restored after the test."""
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(script_runner, "_clean_problem_modules", keras_state._original)
    return calls


def test_streamlit_clears_keras_after_a_run_unless_told_not_to(clear_calls):
    # Without the patch Streamlit still clears Keras after each run: if this ever fails,
    # Streamlit stopped doing it and keras_state can go.
    AppTest.from_string(SCRIPT).run()
    assert clear_calls, "Streamlit no longer clears Keras after a run"

    clear_calls.clear()
    assert keras_state.keep_keras_state()
    at = AppTest.from_string(SCRIPT).run()
    at.run()
    assert not at.exception
    assert clear_calls == []


def test_the_app_keeps_keras_state_between_reruns(clear_calls, monkeypatch, tmp_path):
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setattr("flowerdash.models.checkpoints.SHIPPED_DEFAULT", tmp_path / "none")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    at.run()
    assert not at.exception
    assert clear_calls == []
