"""Dashboard latency: the engine path in-process, and the real app in headless chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.stats import once, repeat, summarize

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DISPLAY_SIZE = 384  # what the Try it page shows


def engine_timings(checkpoint: Path, photo: Path, repeats: int) -> dict[str, Any]:
    """What the Try it page runs on an upload (load_image -> model crop -> predict + GradCAM)."""
    from flowerdash.checkpoints import load_model
    from flowerdash.explanations import explain_image
    from flowerdash.images import load_image, prepare_for_model
    from flowerdash.models import input_size
    from flowerdash.overlays import overlay
    from flowerdash.predict import predict_batch

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
    return {
        "model_load_seconds": load_s,
        "first_upload_seconds_cold": first_s,
        "note": f"photo {photo.name}; overlay at {DISPLAY_SIZE} px from the cached {size} px map",
        **parts,
    }


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def streamlit_args(port: int) -> list[str]:
    """``streamlit`` arguments serving the app headless on ``port``, loopback only."""
    return [
        "run", "streamlit_app.py", "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def wait_until_healthy(
    url: str, proc: subprocess.Popen, timeout: float = 120.0, poll: float = 0.1
) -> bool:
    """Wait for the server's health endpoint; False if the process ended or time ran out."""
    deadline = time.perf_counter() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        if proc.poll() is not None or time.perf_counter() > deadline:
            return False
        time.sleep(poll)


def _wait_idle(page, timeout_ms: int = 120_000) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )


def browser_timings(ctx: Any, photo: Path) -> dict[str, Any]:
    """Cold start to first page, upload -> Grad-CAM on the page, alpha slider -> new overlay."""
    from benchmarks.suite import Skip

    if not Path(CHROMIUM).exists():
        raise Skip(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise Skip("playwright is not installed") from exc
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FLOWERDASH_DATA_DIR": str(ctx.data_dir),
        "FLOWERDASH_CHECKPOINT_DIR": tempfile.mkdtemp(prefix="bench-ckpt-"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    out: dict[str, Any] = {"note": "loopback only; chromium headless via Playwright"}
    with sync_playwright() as p, tempfile.TemporaryFile("w+") as log:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        page.set_default_timeout(120_000)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", *streamlit_args(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            if not wait_until_healthy(url, proc):
                log.seek(0)
                raise Skip(f"streamlit did not start: {log.read()[-500:]}")
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
                page.locator('[class*="st-key-home-upload"] input[type="file"]').set_input_files(
                    str(photo)
                )
                page.get_by_text("Where it looked (Grad-CAM)").first.wait_for()
                uploads.append(time.perf_counter() - t0)
                _wait_idle(page)
            out["upload_to_gradcam_first_seconds"] = uploads[0]
            out["upload_to_gradcam_warm"] = summarize(uploads[1:])
            out["page_reload_warm"] = summarize(loads[1:])
            out["alpha"] = _alpha_in_browser(page, url, photo)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            browser.close()
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
