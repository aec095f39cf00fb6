"""Dashboard latency: the engine path in-process, and the real app in headless chromium."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Skip
from benchmarks.server import streamlit_server
from benchmarks.stats import once, repeat, summarize

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DISPLAY_SIZE = 384  # what the Try it page shows


def engine_timings(checkpoint: Path, photo: Path, repeats: int) -> dict[str, Any]:
    """What the Try it page runs on an upload (load_image -> model crop -> predict + GradCAM)."""
    from flowerdash.data.images import load_image, prepare_for_model
    from flowerdash.explain.explanations import explain_image
    from flowerdash.explain.overlays import overlay
    from flowerdash.inference.predict import predict_batch
    from flowerdash.models.backbones import input_size
    from flowerdash.models.checkpoints import load_model

    data = photo.read_bytes()
    load_s, model = once(lambda: load_model(checkpoint))
    size = input_size(model)

    def upload() -> Any:
        image = load_image(data)
        small = prepare_for_model(image, size).round().astype(np.uint8)
        return image, explain_image(model, small, methods=("gradcam",))

    first_s, (image, result) = once(upload)
    parts = {
        "load_image": repeat(lambda: load_image(data), repeats, 1),
        "prepare_for_model": repeat(lambda: prepare_for_model(image, size), repeats, 1),
        "upload_to_prediction_and_gradcam": repeat(upload, repeats, 1),
    }
    # The prediction inside it, compiled (flowerdash) vs calling the Keras model (eager, before).
    x = prepare_for_model(image, size)[None].astype(np.float32)
    parts["prediction_compiled"] = repeat(lambda: predict_batch(model, x), repeats, 1)
    parts["prediction_eager"] = repeat(lambda: model(x, training=False).numpy(), repeats, 1)
    shown = prepare_for_model(image, DISPLAY_SIZE).round().astype(np.uint8)
    heat = result.maps["gradcam"]
    alphas = iter(np.linspace(0.05, 0.95, 10_000))
    parts["alpha_change_overlay"] = repeat(
        lambda: overlay(shown, heat, alpha=float(next(alphas)), cmap="jet"), max(repeats, 50), 2
    )
    # What Streamlit's post-run clean-up did on every rerun before ui/keras_state.py: clear Keras
    # (TensorFlow's kernel cache and a full collection), then the next upload's work.
    import keras

    cleared, after = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.backend.clear_session()
        cleared.append(time.perf_counter() - start)
        start = time.perf_counter()
        upload()
        after.append(time.perf_counter() - start)
    parts["clear_session"] = summarize(cleared)
    parts["upload_after_clear_session"] = summarize(after)
    return {
        "model_load_seconds": load_s,
        "first_upload_seconds_cold": first_s,
        "note": f"photo {photo.name}; overlay at {DISPLAY_SIZE} px from the cached {size} px map",
        **parts,
    }


def chromium_or_skip() -> str:
    """The chromium to drive (benchmarks.chromium), or Skip with the reason."""
    from benchmarks.chromium import ChromiumNotFoundError, find_chromium

    try:
        import playwright  # noqa: F401
    except ImportError as exc:
        raise Skip("playwright is not installed") from exc
    try:
        return find_chromium()
    except ChromiumNotFoundError as exc:
        raise Skip(str(exc)) from exc


def _wait_idle(page, timeout_ms: int = 120_000) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )


def browser_timings(ctx: Any, photo: Path) -> dict[str, Any]:
    """Cold start to first page, upload -> Grad-CAM on the page, alpha slider -> new overlay."""
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    env = {
        **os.environ,
        "FLOWERDASH_DATA_DIR": str(ctx.data_dir),
        "FLOWERDASH_CHECKPOINT_DIR": tempfile.mkdtemp(prefix="bench-ckpt-"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    out: dict[str, Any] = {"note": "loopback only; chromium headless via Playwright"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        page.set_default_timeout(120_000)
        start = time.perf_counter()
        try:
            with streamlit_server(env) as url:
                out.update(_browser_session(page, url, photo, start))
        finally:
            browser.close()
    return out


def _browser_session(page, url: str, photo: Path, start: float) -> dict[str, Any]:
    """The timed visits of :func:`browser_timings` on a healthy server."""
    out: dict[str, Any] = {}
    out["server_healthy_seconds"] = time.perf_counter() - start
    page.goto(url)
    page.locator('[data-testid="stSidebar"]').first.wait_for()
    page.get_by_text("Flower photo").first.wait_for()
    out["cold_start_to_first_page_seconds"] = time.perf_counter() - start
    _wait_idle(page)
    out["cold_start_to_idle_page_seconds"] = time.perf_counter() - start
    uploads, loads = [], []
    for _ in range(4):
        t0 = time.perf_counter()
        page.goto(url)
        page.get_by_text("Flower photo").first.wait_for()
        _wait_idle(page)
        loads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        page.locator('[class*="st-key-home-upload"] input[type="file"]').set_input_files(str(photo))
        page.get_by_text("Where it looked (Grad-CAM)").first.wait_for()
        uploads.append(time.perf_counter() - t0)
        _wait_idle(page)
    out["upload_to_gradcam_first_seconds"] = uploads[0]
    out["upload_to_gradcam_warm"] = summarize(uploads[1:])
    out["page_reload_warm"] = summarize(loads[1:])
    out["alpha"] = _alpha_in_browser(page, url, photo)
    return out


def _alpha_in_browser(page, url: str, photo: Path) -> dict[str, Any]:
    """Explain page: after the maps exist, one slider step until an overlay image changes."""
    try:
        page.goto(f"{url}/explain")
        page.locator(".st-key-app-view").get_by_text("Expert").click()  # the simple view hides it
        page.locator(".st-key-explain-alpha").wait_for()
        _wait_idle(page)
        page.locator('[class*="st-key-explain-source"]').get_by_text("Upload").click()
        page.locator('[class*="st-key-explain-upload"] input[type="file"]').set_input_files(
            str(photo)
        )
        page.locator('[data-testid="stImageCaption"]', has_text="Integrated Gradients").wait_for(
            timeout=240_000
        )
        _wait_idle(page, 240_000)
        imgs = page.locator('[data-testid="stMain"] [data-testid="stImage"] img')
        slider = page.locator(".st-key-explain-alpha").get_by_role("slider")
        times = []
        for _ in range(4):
            before = imgs.nth(1).get_attribute("src")
            slider.focus()
            t0 = time.perf_counter()
            slider.press("ArrowRight")
            page.wait_for_function(
                "([sel, old]) => { const e = document.querySelectorAll(sel)[1];"
                " return e && e.getAttribute('src') !== old; }",
                arg=['[data-testid="stMain"] [data-testid="stImage"] img', before],
                timeout=30_000,
            )
            times.append(time.perf_counter() - t0)
            _wait_idle(page)
        return {"slider_step_to_new_overlay": summarize(times[1:]), "first": times[0]}
    except Exception as exc:  # noqa: BLE001 - a page change must not lose the other numbers
        return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}


THINK_SECONDS = 20.0  # a visitor who reads the page and picks a photo before uploading
# visitor -> (seconds after the server answers that they open Explain, seconds before uploading)
VISITORS = {
    "at_once": (0.0, 0.0),  # open -> maps
    "thinking": (0.0, THINK_SECONDS),  # upload -> maps
    "later": (THINK_SECONDS, 0.0),  # opens the page a little after the server started: open -> maps
}


def first_explain_timings(photo: Path, rounds: int = 2) -> dict[str, Any]:
    """A fresh server per run, no dataset: open Explain, upload ``photo``, time until both maps.

    Three visitors: one who opens the page as soon as the server answers and uploads at once
    (open -> maps), one who then takes THINK_SECONDS to choose (upload -> maps), and one who
    opens the page THINK_SECONDS after the server answered and uploads at once (open -> maps). Three servers alternate, so all see the same
    machine: warm-up off (``FLOWERDASH_WARMUP=0``, before), ``streamlit run streamlit_app.py``
    (warm-up from the first visit) and ``serve.py`` (what ``make run`` serves: warm-up from server
    start). The times the page shows are kept.
    """
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {
        "note": f"photo {photo.name}; no dataset; shipped checkpoint; a fresh server per run; "
        f"the thinking visitor uploads {THINK_SECONDS:g} s after opening the page, the later one "
        f"opens it {THINK_SECONDS:g} s after the server answered",
        "rounds": rounds,
        "load_average_at_start": os.getloadavg()[0],
    }
    runs: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            for _ in range(rounds):
                for mode in WARMUP_MODES:
                    for visitor, (arrive, think) in VISITORS.items():
                        name = f"warmup_{mode}_{visitor}"
                        seconds, shown = _first_explain(browser, photo, mode, think, arrive)
                        runs.setdefault(name, []).append(seconds)
                        out.setdefault(f"{name}_times_shown", shown)
        finally:
            browser.close()
    for name, values in runs.items():
        out[name] = summarize(values)
    out["runs"] = runs
    out["load_average_at_end"] = os.getloadavg()[0]
    return out


# mode -> (script served, FLOWERDASH_WARMUP)
WARMUP_MODES = {
    "off": ("streamlit_app.py", "0"),
    "first_visit": ("streamlit_app.py", "1"),
    "server_start": ("serve.py", "1"),
}


def _first_explain(
    browser: Any, photo: Path, mode: str, think: float, arrive: float = 0.0
) -> tuple[float, list[str]]:
    """Seconds until both maps show on a fresh server's Explain page, and the times it shows.

    Counted from opening the page when ``think`` is 0, else from the upload ``think`` seconds
    after opening it.
    """
    env = {
        **{k: v for k, v in os.environ.items() if k != "FLOWERDASH_DATA_DIR"},
        "FLOWERDASH_CHECKPOINT_DIR": tempfile.mkdtemp(prefix="bench-ckpt-"),
        "TFDS_DATA_DIR": tempfile.mkdtemp(prefix="bench-tfds-"),
        "FLOWERDASH_WARMUP": WARMUP_MODES[mode][1],
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(240_000)
    try:
        with streamlit_server(env, WARMUP_MODES[mode][0]) as url:
            time.sleep(arrive)
            start = time.perf_counter()
            page.goto(f"{url}/explain")
            page.locator('[class*="st-key-explain-source"]').get_by_text("Upload").click()
            uploader = page.locator('[class*="st-key-explain-upload"] input[type="file"]')
            uploader.wait_for(state="attached")
            if think:
                page.wait_for_timeout(max(0.0, think - (time.perf_counter() - start)) * 1000)
                start = time.perf_counter()
            uploader.set_input_files(str(photo))
            page.wait_for_function(
                """() => { const imgs = [...document.querySelectorAll(
                         '[data-testid="stMain"] [data-testid="stImage"]')];
                       const map = name => imgs.find(e => e.innerText.trim() === name);
                       return ["Grad-CAM", "Integrated Gradients"].every(name => {
                         const img = map(name) && map(name).querySelector("img");
                         return img && img.complete && img.naturalWidth > 0; }); }"""
            )
            seconds = time.perf_counter() - start
            metrics = page.locator('[data-testid="stMetric"]')
            metrics.nth(1).wait_for()
            return seconds, [" ".join(m.split()) for m in metrics.all_inner_texts()[:2]]
    finally:
        context.close()
