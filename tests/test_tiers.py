"""The two tiers: a data-tier test without its folder is skipped with the reason in the summary,
and under FLOWERDASH_REQUIRE_DATA (CI) it fails instead, so CI can never pass by skipping."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

# The cheapest data-tier test: it only checks where the weights file is found.
DATA_TEST = "tests/test_models.py::test_weights_resolution"


def _run(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWERDASH_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", DATA_TEST],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_data_the_data_tier_is_skipped_with_its_reason():
    run = _run()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout
    assert "data tier: the backbone weights folder not configured" in run.stdout
    assert "FLOWERDASH_WEIGHTS_DIR" in run.stdout


@pytest.mark.parametrize("where", ["unset", "missing folder"])
def test_required_data_that_is_missing_fails(where, tmp_path):
    env = {"FLOWERDASH_REQUIRE_DATA": "1"}
    if where == "missing folder":
        env["FLOWERDASH_WEIGHTS_DIR"] = str(tmp_path / "nowhere")
    run = _run(**env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 error" in run.stdout and "skipped" not in run.stdout  # the fixture fails the test
    assert "data tier: the backbone weights folder" in run.stdout


def test_data_tier_is_marked():
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", "-m", "data", "-p",
         "no:cacheprovider", "tests/test_models.py", "tests/test_learning.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    collected = [line for line in run.stdout.splitlines() if "::" in line]
    assert DATA_TEST in collected
    assert any("test_short_real_run_beats_chance" in line for line in collected)
    assert not any("test_tiny_model_on_generated_data" in line for line in collected)
