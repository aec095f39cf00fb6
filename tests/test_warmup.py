"""The server's background warm-up, and timings that say when they include one-time preparation."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from conftest import make_tiny_cnn, save_tiny_checkpoint

from flowerdash.errors import FlowerdashError
from flowerdash.explain import defaults
from flowerdash.explain.explanations import explain_image, get_explainer, result_to_json
from flowerdash.ui import state, warmup


@pytest.fixture
def fresh(monkeypatch):
    """No warm-up started and no model cached yet; warm-ups allowed outside a served app."""
    monkeypatch.setattr(warmup, "enabled", lambda: True)
    state.warmup_slot.clear()
    state.load_checkpoint.clear()
    state.explain_cached.clear()
    yield
    started = warmup.current()
    if started is not None:
        started.done.wait(120)  # no thread left running into the next test
    state.warmup_slot.clear()
    state.load_checkpoint.clear()
    state.explain_cached.clear()
    state.dataset_source.clear()  # the warm-up looked for the dataset with this test's settings


def test_a_first_call_says_it_includes_preparation_and_later_ones_do_not(flower_images):
    model = make_tiny_cnn(seed=7)  # its own model: no explainer of it is warm yet
    first = explain_image(model, flower_images[0], steps=4)
    assert first.prepared == {"gradcam": True, "ig": True}
    assert {m["includes_preparation"] for m in result_to_json(first)["methods"].values()} == {True}
    again = explain_image(model, flower_images[1], steps=4)
    assert again.prepared == {"gradcam": False, "ig": False}
    assert {m["includes_preparation"] for m in result_to_json(again)["methods"].values()} == {False}


def test_a_call_that_traces_again_says_so(flower_images):
    """A warm explainer that traces again (say, for a new shape) pays for it in that call."""
    model = make_tiny_cnn(seed=8)
    explain_image(model, flower_images[0], methods=("gradcam",))
    explainer = get_explainer(model, "gradcam", layers=None)
    original = explainer._cam_fn

    def retraced(*args):
        explainer.trace_count += 1
        return original(*args)

    explainer._cam_fn = retraced
    assert explain_image(model, flower_images[1], methods=("gradcam",)).prepared == {
        "gradcam": True
    }


def test_the_default_layer_by_name_or_none_is_one_explainer(tiny_cnn):
    assert get_explainer(tiny_cnn, "gradcam", layers=None) is get_explainer(
        tiny_cnn, "gradcam", layers="conv2"
    )


def test_warm_up_fills_the_caches_the_pages_use(fresh, tmp_path, flower_images, monkeypatch):
    from flowerdash.models import checkpoints
    from flowerdash.models.backbones import input_size

    path = str(save_tiny_checkpoint(tmp_path))
    state.dataset_source.clear()
    lookups = []
    real_find = state._find_source
    monkeypatch.setattr(state, "_find_source", lambda: lookups.append(1) or real_find())
    loads = []
    real_load = checkpoints.load_model
    monkeypatch.setattr(checkpoints, "load_model", lambda p: loads.append(p) or real_load(p))

    started = warmup.start(path)
    assert started is not None and started.done.wait(120)
    assert started.error is None and started.seconds is not None
    assert len(loads) == 1
    assert lookups, "every page's first run asks for the dataset: the warm-up asks first"

    model, _meta = state.load_checkpoint(path)  # the page's call: cached, not loaded again
    assert len(loads) == 1
    ig = get_explainer(model, "ig", steps=defaults.STEPS, baseline=defaults.BASELINE)
    assert ig.warm and get_explainer(model, "gradcam", layers=None).warm

    # The Explain page's first request (the last layer named, faithfulness on) prepares nothing.
    image = state.model_image(path, flower_images[2])
    assert image.shape[:2] == (input_size(model),) * 2
    result = state.explain_cached(
        path,
        state.image_key(image),
        image,
        ("gradcam", "ig"),
        None,
        defaults.STEPS,
        defaults.BASELINE,
        state.gradcam_layers(path)[-1],
        True,
    )
    assert result.prepared == {"gradcam": False, "ig": False}
    assert len(loads) == 1


def test_warm_up_runs_once_per_process(fresh, monkeypatch):
    runs = []
    monkeypatch.setattr(warmup, "prepare", runs.append)
    barrier = threading.Barrier(4)
    found = []

    def visit(path: str) -> None:  # four sessions open their first page at once
        barrier.wait()
        found.append(warmup.start(path))

    threads = [threading.Thread(target=visit, args=(f"ckpt-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(w) for w in found}) == 1
    assert found[0].done.wait(30)
    assert warmup.start("another") is found[0]
    assert runs == [found[0].checkpoint]


def test_a_broken_checkpoint_is_logged_not_raised(fresh, tmp_path, caplog):
    broken = save_tiny_checkpoint(tmp_path, name="broken")
    (Path(broken) / "model.keras").write_bytes(b"not a keras file")
    with caplog.at_level(logging.WARNING, logger=warmup.__name__):
        started = warmup.start(str(broken))
        assert started.done.wait(120)
    assert isinstance(started.error, FlowerdashError)
    assert any(str(broken) in r.getMessage() for r in caplog.records)
    # the page still gets the error itself, to show it
    with pytest.raises(FlowerdashError):
        state.load_checkpoint(str(broken))


def test_an_unexpected_failure_is_logged_with_its_traceback(fresh, monkeypatch, caplog):
    def boom(path: str) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(warmup, "prepare", boom)
    with caplog.at_level(logging.WARNING, logger=warmup.__name__):
        started = warmup.start("somewhere")
        assert started.done.wait(30)
    assert isinstance(started.error, RuntimeError)
    assert [r.exc_info is not None for r in caplog.records if r.name == warmup.__name__] == [True]


def test_a_request_waits_for_the_warm_up_of_its_checkpoint(fresh, monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(warmup, "prepare", lambda path: release.wait(30))
    warmup.start("ckpt")
    returned = threading.Event()
    waiter = threading.Thread(target=lambda: (state.wait_for_warmup("ckpt"), returned.set()))
    waiter.start()
    assert not returned.wait(0.3)  # still preparing: the request waits
    state.wait_for_warmup("other")  # another checkpoint does not wait
    release.set()
    assert returned.wait(30)
    waiter.join()


def test_off_by_switch_and_outside_a_served_app(monkeypatch):
    monkeypatch.setenv(warmup.ENV_VAR, "0")
    assert not warmup.enabled()
    monkeypatch.delenv(warmup.ENV_VAR)
    assert not warmup.enabled()  # pytest is not a served app
    assert warmup.start(None) is None


def test_a_time_with_preparation_is_marked_on_the_page():
    from streamlit.testing.v1 import AppTest

    def page() -> None:
        import streamlit as st

        from flowerdash.ui import widgets

        widgets.timing_metric(st, "Grad-CAM time", 2.391, True, "How long it took.")
        widgets.timing_metric(st, "Integrated Gradients time", 0.612, False, "How long it took.")

    at = AppTest.from_function(page).run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["2.39 s", "0.61 s"]
    assert at.metric[0].delta == "includes one-time preparation"
    assert not at.metric[1].delta


@pytest.mark.parametrize("steps", [64, 7, 1])
def test_ig_prepare_traces_what_a_call_runs(flower_images, steps):
    """IG's warm-up traces once per gradient batch size a real call uses; the call then traces
    nothing more and says it includes no preparation."""
    from flowerdash.explain.integrated_gradients import IntegratedGradients

    model = make_tiny_cnn(seed=9)
    probe = IntegratedGradients(model, steps=steps)
    real, used = probe._points_fn, set()

    def recording(x, base, alphas, *rest):
        used.add(int(alphas.shape[0]))
        return real(x, base, alphas, *rest)

    probe._points_fn = recording
    probe.explain(flower_images[0])
    assert probe.chunk_sizes() == used

    ig = get_explainer(model, "ig", steps=steps, baseline="blur")
    ig.prepare(flower_images[1])
    assert ig.warm
    traces = ig.trace_count
    result = explain_image(model, flower_images[2], methods=("ig",), steps=steps)
    assert result.prepared == {"ig": False} and ig.trace_count == traces


def test_server_start_warms_up_the_checkpoint_a_new_session_gets(fresh, tmp_path, monkeypatch):
    """serve.py's lifespan: the default checkpoint, found and prepared in the background."""
    path = str(save_tiny_checkpoint(tmp_path))
    found = threading.Event()

    def default_checkpoint():
        found.set()
        return path

    monkeypatch.setattr(state, "default_checkpoint", default_checkpoint)
    warmup.start_at_server_start()  # returns at once: the search runs in the thread too
    assert found.wait(60)
    for _ in range(600):
        if warmup.current() is not None:
            break
        threading.Event().wait(0.1)
    started = warmup.current()
    assert started is not None and started.checkpoint == path
    assert started.done.wait(120) and started.error is None


def test_serve_py_is_the_app_with_a_server_start_lifespan():
    import ast

    tree = ast.parse((Path(__file__).resolve().parent.parent / "serve.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    app = next(c for c in calls if ast.unparse(c.func) == "st.App")
    assert ast.literal_eval(app.args[0]) == "streamlit_app.py"
    assert [k.arg for k in app.keywords] == ["lifespan"]
    assert any(ast.unparse(c.func) == "warmup.start_at_server_start" for c in calls)
