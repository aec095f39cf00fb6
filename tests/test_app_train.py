"""Train page: renders with and without the dataset, a short real run ends in a checkpoint,
a second start is refused while a run is active, and cancel works."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from flowerdash.ui import state

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "train.py")


def fresh_caches() -> None:
    state.dataset_source.clear()
    state.checkpoint_listing.clear()


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def page(monkeypatch, data_dir, tmp_path):
    """The train page in developer mode, checkpoints written to tmp_path."""
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FLOWERDASH_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setenv("FLOWERDASH_DEV", "1")
    fresh_caches()
    yield lambda: no_exception(AppTest.from_file(PAGE, default_timeout=60).run())
    job = state.job_registry().current()
    if job is not None:  # never leave a run going for the next test
        job.cancel()
        job.wait(60)
    fresh_caches()


def fill_tiny(at: AppTest, epochs: int, name: str) -> None:
    at.radio(key="train.preset").set_value("custom").run()
    at.selectbox(key="train.backbone").set_value("tiny")
    at.number_input(key="train.epochs").set_value(epochs)
    for key in ("train_limit", "val_limit", "test_limit"):
        at.number_input(key=f"train.{key}").set_value(16)
    at.select_slider(key="train.batch_size").set_value(8)
    at.text_input(key="train.name").input(name)


def start_new_job(at: AppTest):
    before = state.job_registry().latest()
    no_exception(at.button(key="train.start").click().run())
    job = state.job_registry().latest()
    assert job is not None and job is not before, [e.value for e in at.error]
    return job


def test_without_dataset_explains_and_stops(monkeypatch, tmp_path):
    monkeypatch.delenv("FLOWERDASH_DATA_DIR", raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    fresh_caches()
    try:
        at = no_exception(AppTest.from_file(PAGE, default_timeout=60).run())
        panel = " ".join(m.value for m in at.markdown)  # the dataset panel
        assert "dataset" in panel and "FLOWERDASH_DATA_DIR" in panel
        # no form, nothing to start: only the panel's own buttons
        assert all(b.key.startswith("dataset.") for b in at.button)
    finally:
        fresh_caches()


def test_the_quick_preset_comes_first_and_starts_its_recipe(page, monkeypatch):
    from flowerdash.training.presets import PRESETS, preset_config

    at = page()
    recipe = at.radio(key="train.preset")
    assert recipe.value == "quick" and recipe.options[0].startswith("Quick: about a minute")
    assert any("all 1,020 training photos" in c.value for c in at.caption)
    assert not at.get("number_input"), "the presets hide the custom settings"

    started = []
    registry = state.job_registry()
    monkeypatch.setattr(registry, "start", lambda config, **kw: started.append(config) or None)
    at.text_input(key="train.preset_name").input("my-quick")
    at.button(key="train.preset_start").click().run()
    assert started == [preset_config("quick", name="my-quick")]
    assert started[0].test_limit >= 1000 and started[0].train_limit is None

    at.radio(key="train.preset").set_value("best").run()
    assert any("fine-tuned" in c.value for c in at.caption)
    assert PRESETS["best"].fields["train_on"] == "train+val"


def test_form_widgets_and_tiny_only_in_dev_mode(page, monkeypatch):
    at = page()
    at.radio(key="train.preset").set_value("custom").run()
    keys = [
        ("selectbox", "train.backbone"),
        ("selectbox", "train.augment"),
        ("number_input", "train.epochs"),
        ("number_input", "train.fine_tune_epochs"),
        ("number_input", "train.fine_tune_layers"),
        ("select_slider", "train.batch_size"),
        ("select_slider", "train.learning_rate"),
        ("select_slider", "train.fine_tune_learning_rate"),
        ("slider", "train.label_smoothing"),
        ("checkbox", "train.quick"),
        ("number_input", "train.train_limit"),
        ("text_input", "train.name"),
        ("slider", "train.aug.rotation"),
        ("slider", "train.aug.rand_augment"),
        ("button", "train.start"),
    ]
    for kind, key in keys:
        assert getattr(at, kind)(key=key) is not None
    backbone = at.selectbox(key="train.backbone")
    assert backbone.value == "mobilenetv2"
    assert "tiny" in backbone.options[-1].lower()
    monkeypatch.delenv("FLOWERDASH_DEV")
    at = page()
    at.radio(key="train.preset").set_value("custom").run()
    assert not any("tiny" in o.lower() for o in at.selectbox(key="train.backbone").options)
    # Choosing a preset fills the augmentation details.
    at.selectbox(key="train.augment").set_value("none").run()
    assert at.slider(key="train.aug.rotation").value == 0.0


def test_short_run_shows_progress_and_saves_a_checkpoint(page, tmp_path):
    at = page()
    fill_tiny(at, epochs=1, name="ui-short")
    job = start_new_job(at)
    assert job.config.backbone == "tiny" and job.config.train_limit == 16
    assert at.get("progress") or job.done  # live progress while it runs
    assert job.wait(120), job.describe()
    assert job.status == "succeeded", job.error
    folder = tmp_path / "ui-short"
    assert folder.is_dir() and any(folder.iterdir())
    at.run()
    assert any("ui-short saved, and this session now uses it" in s.value for s in at.success), (
        "the session that trained it is switched to it"
    )
    # applied by the sidebar's picker at the next run (test_app_shell covers that part)
    assert Path(at.session_state[state.SWITCH_KEY]).resolve() == folder.resolve()
    usable, _broken = state.checkpoint_listing()  # the sidebar picker's list sees it at once
    assert str(folder) in [p for p, _label in usable]
    assert at.get("plotly_chart")  # the loss/accuracy curves


def test_second_start_is_refused_and_cancel_works(page, tmp_path):
    at = page()
    fill_tiny(at, epochs=100, name="ui-long")
    job = start_new_job(at)
    # Another browser session presses Start while the run is going.
    other = page()
    fill_tiny(other, epochs=1, name="ui-other")
    other.button(key="train.start").click().run()
    refused = " ".join(e.value for e in other.error)
    assert "already in progress" in refused and job.id in refused
    assert state.job_registry().latest() is job
    at.run()
    at.button(key="train.cancel").click().run()
    assert job.cancel_requested
    assert job.wait(60) and job.status == "cancelled"
    no_exception(at.run())
    warning = " ".join(w.value for w in at.warning)
    assert "cancelled" in warning
    if job.checkpoint:
        assert job.checkpoint.is_dir() and job.checkpoint.name in warning
    else:
        assert "nothing was kept" in warning


def test_combining_two_models_saves_and_measures_an_ensemble(page, tmp_path, monkeypatch):
    from conftest import save_tiny_checkpoint

    from flowerdash.inference import evaluation
    from flowerdash.models.checkpoints import read_meta

    a, b = (save_tiny_checkpoint(tmp_path, n, seed=s) for n, s in (("a", 1), ("b", 2)))
    real = evaluation.measure_test_accuracy
    monkeypatch.setattr(
        evaluation, "measure_test_accuracy", lambda *args, **kw: real(*args, **kw, limit=16)
    )
    at = page()
    at.multiselect(key="train.ensemble.members").set_value([str(a)])
    no_exception(at.button(key="train.ensemble.build").click().run())
    assert [e.value for e in at.error] == [
        "The models could not be combined: An ensemble needs at least 2 models; got 1."
    ]
    at.multiselect(key="train.ensemble.members").set_value([str(a), str(b)])
    at.text_input(key="train.ensemble.name").input("a")
    no_exception(at.button(key="train.ensemble.build").click().run())
    assert "A checkpoint named a already exists" in at.error[0].value
    at.text_input(key="train.ensemble.name").input("ab")
    no_exception(at.button(key="train.ensemble.build").click().run())
    assert not at.error
    assert (
        at.success[0].value.startswith("Saved ab: ") and "on 16 test photos" in at.success[0].value
    )
    meta = read_meta(tmp_path / "ab")
    assert meta["metrics"]["test"]["n"] == 16 and [m["name"] for m in meta["members"]] == ["a", "b"]
    assert meta["averages"] == "scores" and meta["backbone"] == "2 × tiny"
    # the other way: one model of a member's size, whose weights are their mean
    at.radio(key="train.ensemble.average").set_value("weights")
    at.text_input(key="train.ensemble.name").input("ab-weights")
    no_exception(at.button(key="train.ensemble.build").click().run())
    assert not at.error and at.success[0].value.startswith("Saved ab-weights: ")
    meta = read_meta(tmp_path / "ab-weights")
    assert meta["averages"] == "weights" and meta["backbone"] == "tiny"
    assert meta["metrics"]["test"]["n"] == 16


def test_runs_started_from_a_terminal_show_strategy_workers_and_progress(page, tmp_path):
    """Two ``launch`` runs as the chief and the launcher leave them: one ended, one training."""
    import json

    from conftest import save_tiny_checkpoint
    from test_launched_runs import chief_events, write_launch

    from flowerdash.training import launch

    first = save_tiny_checkpoint(tmp_path, "mw-first")
    events = chief_events(6, finished=str(first))
    write_launch(tmp_path, "20261203-170000-aaaaaa", events, "succeeded", checkpoint=str(first))
    live = write_launch(tmp_path, "20261203-170500-bbbbbb", chief_events(2))
    at = page()
    assert "Runs started from a terminal" in [h.value for h in at.subheader]
    metrics = [(m.label, m.value) for m in at.metric]
    strategy = "multiworker (2 workers, 2 replicas)"
    # The newest first: the running one, then the finished one (after an earlier test's
    # in-process run, which this process's registry still shows as the current run).
    assert [v for label, v in metrics if label == "Strategy"] == [strategy, strategy]
    assert [v for label, v in metrics if label == "Status"][-2:] == ["Running", "Succeeded"]
    [bar] = at.get("progress")
    assert bar.proto.value == 33 and "2 of 6 epochs done" in bar.proto.text
    assert any("20261203-170500-bbbbbb" in m.value and "Tiny" in m.value for m in at.markdown)
    assert any("launch --workers 2 train --backbone tiny" in c.value for c in at.caption)
    assert "Checkpoint mw-first saved. Pick it in the sidebar's model list to use it." in [
        s.value for s in at.success
    ]
    charts = [c for c in at.get("plotly_chart") if "terminal" in c.proto.id]
    assert len(charts) == 2, [c.proto.id for c in at.get("plotly_chart")]  # each run's curves
    assert any(strategy in c.value for c in at.code)  # the chief's log

    # The running one ends with a checkpoint of its own: the page shows it, the picker lists it.
    second = save_tiny_checkpoint(tmp_path, "mw-second")
    with (live / launch.EVENTS).open("a") as f:
        for event in chief_events(6, finished=str(second))[6:]:
            f.write(json.dumps(event.to_dict()) + "\n")
    record = json.loads((live / launch.RECORD).read_text())
    record.update(status="succeeded", finished=record["started"] + 65, checkpoint=str(second))
    (live / launch.RECORD).write_text(json.dumps(record))
    listed = {p for p, _label in state.checkpoint_listing()[0]}  # cached for a few seconds
    assert str(second) not in listed
    no_exception(at.run())
    assert not at.get("progress")
    assert [m.value for m in at.metric if m.label == "Status"][-2:] == ["Succeeded"] * 2
    assert [m.value for m in at.metric if m.label == "Time"][-2] == "1:05"
    assert any("Checkpoint mw-second saved" in s.value for s in at.success)
    usable, broken = state.checkpoint_listing()
    assert {str(first), str(second)} <= {p for p, _label in usable} and not broken
