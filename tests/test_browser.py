"""End to end in a real browser: `streamlit run` on a free localhost port, driven by Playwright
through the chromium ``benchmarks.chromium`` finds (``FLOWERDASH_CHROMIUM``, Debian's ``chromium``
on PATH, or Playwright's own). Saves the README's screenshots under docs/screenshots/, and those
of a server without a dataset under test-artifacts/ for a person to look at.

The server runs with ``--server.fileWatcherType none``: Streamlit otherwise watches the script's
folder recursively (``.venv``, ``runs/``…), and on a busy machine the inotify overflow storms keep
its event loop so busy that images are served seconds late. A small probe wrapped around
``flowerdash.explain.explanations.explain_image`` prints one line per call to the server log, so the test
can check that moving the overlay slider re-blends the maps without recomputing them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import EXAMPLES, REAL_DATA, ROOT, SUNFLOWER_FRAMING, surest_square, thumbnail

from benchmarks.chromium import ChromiumNotFoundError, find_chromium
from benchmarks.server import free_port, stop_server, streamlit_args, wait_until_healthy
from flowerdash.data.names_es import display_name
from flowerdash.inference.framing import OFFERED, OFFERED_ON_SURE

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"  # gitignored: screenshots for a person, not for the README
# The served app reads the full dataset when it is configured (the data tier's folder), else the
# core tier's miniature; only the full one's screenshots (real photos) become the README's.
SHOTS = ROOT / "docs" / "screenshots" if REAL_DATA else ARTIFACTS
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 240_000  # a generous ceiling for a busy machine, never a timing assertion
TRY_PHOTO = EXAMPLES / "passion_flower.jpg"  # uploads: real photos the repository ships
EXPLAIN_PHOTO = EXAMPLES / "water_lily.jpg"
PROBE_LINE = "FLOWERDASH-PROBE explain_image"
PROBE = f"""
import sys
import flowerdash.explain.explanations as explanations
_explain_image = explanations.explain_image
def _counted(*args, **kwargs):
    print({PROBE_LINE!r}, flush=True)
    return _explain_image(*args, **kwargs)
explanations.explain_image = _counted
from streamlit.web.cli import main
sys.argv = ["streamlit", *sys.argv[1:]]
main()
"""


@dataclass
class App:
    url: str
    log: Path
    checkpoint: Path

    def explain_calls(self) -> int:
        """How many times the server has computed explanations so far."""
        return self.log.read_text(errors="replace").count(PROBE_LINE)


def served_data(data_dir: Path) -> Path:
    """The dataset folder the served app reads (see SHOTS)."""
    return Path(REAL_DATA) if REAL_DATA else data_dir


@contextmanager
def _served(script: str, env: dict[str, str], folder: Path) -> Iterator[tuple[str, Path]]:
    """``streamlit run script`` (with the explain probe) on a free loopback port: (url, log)."""
    log_path = folder / "streamlit.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", PROBE, *streamlit_args(port, script)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_until_healthy(url, proc, poll=0.5):
                pytest.fail(
                    f"streamlit did not start:\n{log_path.read_text()[-3000:]}", pytrace=False
                )
            yield url, log_path
        finally:
            stop_server(proc)


@pytest.fixture(scope="module")
def app(tmp_path_factory, data_dir: Path) -> Iterator[App]:
    """The dashboard served by a real `streamlit run` process on a loopback port."""
    from flowerdash.models.checkpoints import SHIPPED_DEFAULT

    if not (SHIPPED_DEFAULT / "model.keras").is_file():
        pytest.fail(
            f"The shipped default checkpoint is missing at {SHIPPED_DEFAULT}.", pytrace=False
        )
    # A copy of the shipped model in a temporary checkpoint folder: the audit scan saves its
    # predictions next to the checkpoint, and must not write into the repository.
    ckpts = tmp_path_factory.mktemp("ckpts")
    # Another folder name, so the sidebar's label (and the screenshots) stays short: equal
    # labels would get the folder added to tell them apart.
    copy = ckpts / "flowers"
    shutil.copytree(SHIPPED_DEFAULT, copy, ignore=shutil.ignore_patterns("eval"))
    meta = json.loads((copy / "meta.json").read_text())
    meta["created"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    # A hair better than the shipped one (same label), so new sessions start with the copy: a
    # tie would keep the shipped default, and the audit scan would write into the repository.
    meta["metrics"]["test"]["top1"] += 1e-4
    (copy / "meta.json").write_text(json.dumps(meta, indent=2))
    env = {
        **os.environ,
        "FLOWERDASH_DATA_DIR": str(served_data(data_dir)),
        "FLOWERDASH_CHECKPOINT_DIR": str(ckpts),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    with _served("streamlit_app.py", env, tmp_path_factory.mktemp("server")) as (url, log_path):
        yield App(url, log_path, copy)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium to drive; a failure naming the three ways to get one when there is none."""
    try:
        return find_chromium()
    except ChromiumNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    context.close()


def _settled(page) -> None:
    """Wait until the script run is over, nothing is stale and every image has loaded.

    Call it after waiting for content that the action produces, so an old idle state can't pass.
    """
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
        '[data-test-script-state="notRunning"]'
    )
    page.wait_for_function(
        """() => !document.querySelector('[data-stale="true"]')
             && [...document.querySelectorAll('[data-testid="stSkeleton"]')]
                  .every(s => s.closest('details:not([open])'))
             && [...document.querySelectorAll('[data-testid="stMain"] img')]
                  .every(i => i.complete && i.naturalWidth > 0)"""
    )


def _no_errors(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "a traceback reached the page"
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0, page.locator(
        '[data-testid="stAlertContentError"]'
    ).first.inner_text()


def _open(page, url: str) -> None:
    """Open a page of the app and wait until its first run is complete."""
    page.goto(url)
    page.locator('[data-testid="stMain"] h1').first.wait_for()
    _settled(page)


def _upload(page, key: str, path: Path) -> None:
    page.locator(f'[class~="st-key-{key}"] input[type="file"]').set_input_files(str(path))


def _shot(page, name: str, folder: Path = SHOTS) -> None:
    """Save the whole page as <folder>/<name> (docs/screenshots/ unless told otherwise).

    Streamlit scrolls inside its main area, so ``full_page`` alone stops at the window's height
    (cutting text in half): the window is made as tall as the content for the screenshot.
    """
    folder.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    # no hover effects (heading anchors, tooltips, the sidebar's collapse button) in the picture:
    # the mouse rests in the empty margin at the top left of the main area
    box = page.locator('[data-testid="stMain"]').bounding_box()
    page.mouse.move(box["x"] + 8, box["y"] + 8)
    for _ in range(3):  # a taller window can re-flow the page; a few rounds settle it
        height = page.evaluate(
            "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
        )
        if height <= page.viewport_size["height"]:
            break
        page.set_viewport_size({"width": size["width"], "height": height})
        _settled(page)
    page.screenshot(path=str(folder / name), full_page=True)
    page.set_viewport_size(size)


def _overlay_sources(page) -> list[str]:
    return page.eval_on_selector_all(
        '[data-testid="stMain"] [data-testid="stImage"] img', "els => els.map(e => e.src)"
    )


def test_a_shared_link_opens_the_whole_app(page, app):
    """The first visit of a fresh server may be a link to a page, not the home page."""
    _open(page, f"{app.url}/explain")
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text("Checkpoint").count() == 1, (
        "the page ran without streamlit_app.py (no checkpoint picker): Streamlit treats the "
        "pages/ folder as a legacy multipage app until st.navigation has run once (keep pages in app_pages/)"
    )
    links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert [t.split("\n")[-1].strip() for t in links][:3] == ["Try it", "Explain", "Audit"]
    _no_errors(page)


def test_try_it_predicts_an_uploaded_photo(page, app):
    """A photo the shipped model is sure of: "Find the flower for me" is offered for it only
    where the benchmark's rules let it be offered on sure answers too."""
    _open(page, app.url)
    _upload(page, "home-upload", TRY_PHOTO)
    page.get_by_text("Most likely:").wait_for()
    page.get_by_text("Where it looked (Grad-CAM)").wait_for()
    _settled(page)
    assert page.locator('[data-testid="stMain"] [data-testid="stImage"] img').count() >= 2
    _no_errors(page)
    _shot(page, "try-it.png")
    frame = page.locator('[data-testid="stExpander"]').filter(has_text="Frame the flower")
    frame.locator("summary").click()
    frame.get_by_role("button", name="Whole photo again").wait_for()
    find = frame.get_by_role("button", name="Find the flower for me")
    assert find.count() == (1 if OFFERED and OFFERED_ON_SURE else 0)


def test_try_it_reads_an_iphone_photo(page, app, tmp_path):
    """The upload field takes HEIC (what iPhones save), named as a phone names it, and the model
    answers it as it answers the same photo as a JPEG."""
    import pillow_heif
    from PIL import Image

    heic = tmp_path / "IMG_0001.HEIC"
    pillow_heif.from_pillow(Image.open(TRY_PHOTO)).save(heic, quality=-1, chroma=444)
    answers = []
    for photo in (TRY_PHOTO, heic):
        _open(page, app.url)
        _upload(page, "home-upload", photo)
        page.get_by_text("Where it looked (Grad-CAM)").wait_for()
        _settled(page)
        _no_errors(page)
        answers.append(page.locator('[data-testid="stMain"] h3').first.inner_text())
    assert answers[0].startswith("Most likely:") and answers[1] == answers[0]


def test_try_it_says_when_it_is_not_sure(page, app, tmp_path):
    """A blurry, low-resolution photo: three guesses, each with a training photo to compare."""
    from PIL import Image

    # A 24-px thumbnail blown up: the shipped model's top answer stays far under the unsure
    # threshold (about 14%). Other sizes are no safer: at 28 and 32 px the model is sure of a
    # wrong flower, as models can be of what they never saw, and from 36 px its top answer is
    # the right one.
    with Image.open(EXPLAIN_PHOTO) as im:
        small = im.convert("RGB").resize((24, 24)).resize(im.size)
    small.save(tmp_path / "tiny-water-lily.jpg", quality=90)
    _open(page, app.url)
    _upload(page, "home-upload", tmp_path / "tiny-water-lily.jpg")
    page.get_by_text("Not sure: it may be one of these").wait_for()
    page.get_by_text("Where it looked (Grad-CAM)").wait_for()
    _settled(page)
    captions = page.locator('[data-testid="stMain"] [data-testid="stImageCaption"]')
    guesses = [t for t in captions.all_inner_texts() if re.fullmatch(r"[^:]+: \d+%", t.strip())]
    assert len(guesses) == 3, captions.all_inner_texts()
    _no_errors(page)
    _shot(page, "try-it-unsure.png")


def test_try_it_says_a_thumbnail_is_small_and_answers_it_less_surely(page, app, tmp_path):
    """A real 40-px thumbnail (not blown up): the note under the answer says its percentages
    are lowered for its size."""
    small, side = thumbnail(EXPLAIN_PHOTO, 40, tmp_path / "thumbnail.jpg")
    _open(page, app.url)
    _upload(page, "home-upload", small)
    page.get_by_text(f"The model sees this flower in only {side} × {side} pixels").wait_for()
    page.get_by_text("Where it looked (Grad-CAM)").wait_for()
    _settled(page)
    _no_errors(page)
    _shot(page, "try-it-small.png")


def test_framing_a_small_flower_at_the_side_lets_the_model_see_it(page, app, sunflower_field):
    """A wide field with a small sunflower near a corner: zoomed onto it by hand, the model names
    it; "Find the flower for me" is there only while the app offers it (``framing.OFFERED``)."""
    _open(page, app.url)
    _upload(page, "home-upload", sunflower_field)
    page.get_by_text("Where it looked (Grad-CAM)").wait_for()
    _settled(page)
    page.locator("summary").filter(has_text="Frame the flower").click()
    # the sliders start at 1x and the centre and move in steps of 0.25x and 5%
    zoom, x, y = SUNFLOWER_FRAMING
    for key, steps in (
        ("zoom", round((zoom - 1) / 0.25)),
        ("frame_x", round((x - 0.5) / 0.05)),
        ("frame_y", round((y - 0.5) / 0.05)),
    ):
        slider = page.locator(f".st-key-home-{key}").get_by_role("slider")
        slider.focus()
        for _ in range(abs(steps)):
            slider.press("ArrowRight" if steps > 0 else "ArrowLeft")
        _settled(page)
    page.get_by_text("Most likely: Sunflower").wait_for()
    _settled(page)
    _no_errors(page)
    _shot(page, "try-it-framed.png")
    # whole again, then the button where offered: the square find_flower picks, whichever flower
    # it names
    page.get_by_role("button", name="Whole photo again").click()
    page.get_by_text("Not sure: it may be one of these").wait_for()
    _settled(page)
    # the served app reads framing.OFFERED itself (another process): this follows, not patches it
    frame = page.locator('[data-testid="stExpander"]').filter(has_text="Frame the flower")
    find = frame.get_by_role("button", name="Find the flower for me")
    if OFFERED:
        find.click()
        _expected, name = surest_square(sunflower_field)
        page.get_by_text(f"Most likely: {display_name(name, 'en')}").wait_for()
        page.get_by_text("Framed where the model is surest").wait_for()
    else:  # framing by hand only, and the hint says how
        assert frame.get_by_role("button", name="Whole photo again").count() == 1
        assert find.count() == 0
        page.get_by_text(
            "Under “Frame the flower”, zoom in and move the square onto it."
        ).wait_for()
    _settled(page)
    _no_errors(page)


# Key English texts of the Try it page (its Spanish link must show none of them).
TRY_IT_ENGLISH = [
    "Which flower is this?",
    "Most likely:",
    "Where it looked",
    "What the model sees",
    "Other possibilities",
    "Upload my photo",
    "Show me",
    "accuracy on the test set",
]


def _english_of(script: str) -> set[str]:
    """English messages of a page script whose Spanish differs, without placeholders."""
    from babel.messages.pofile import read_po

    from flowerdash.locales import update

    with update.po_path("es").open("rb") as f:
        catalog = read_po(f, locale="es")
    return {
        m.id
        for m in catalog
        if isinstance(m.id, str)
        and m.id
        and m.string != m.id
        and "{" not in m.id
        and any(where == script for where, _line in m.locations)
    }


def test_try_it_in_spanish_from_a_shared_link(page, app):
    """The demo's Spanish link: the examples gallery, a prediction and its map, all in Spanish."""
    _open(page, f"{app.url}/?lang=es")
    page.locator('[data-testid="stMain"] h1', has_text="¿Qué flor es esta?").wait_for()
    # the landing page offers the examples gallery; its first button loads that photo
    page.get_by_text("haz clic en un ejemplo de abajo").wait_for()
    assert page.get_by_text("Lo más probable:").count() == 0
    first = page.locator('[class~="st-key-home-example_0"] button:visible')  # + a hidden twin
    assert first.count() == 1 and first.inner_text().strip() == "Probar"
    first.click()
    page.get_by_text("Lo más probable:").wait_for()
    heat = page.locator(
        '[data-testid="stMain"] [data-testid="stImage"]', has_text="Dónde miró (Grad-CAM)"
    )
    heat.wait_for()
    _settled(page)
    assert heat.locator("img").evaluate("i => i.complete && i.naturalWidth > 0")
    _no_errors(page)
    source = page.locator('[class~="st-key-home-source"] label:has(input:checked)')
    assert source.inner_text().strip() == "Ejemplos"
    assert "lang=es" in page.url.split("?", 1)[-1]
    links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert links[0].split("\n")[-1].strip() == "Pruébalo"

    main = page.locator('[data-testid="stMain"]').inner_text()
    leaks = [t for t in TRY_IT_ENGLISH if t in main]
    lines = {line.strip() for line in main.splitlines()}
    leaks += sorted(lines & _english_of("app_pages/home.py"))
    assert not leaks, f"English left on the Spanish Try it page: {leaks}"
    checkpoint = page.locator('[class~="st-key-app-checkpoint"] input').input_value()
    assert "precisión en la prueba" in checkpoint and "test top-1" not in checkpoint
    _shot(page, "try-it-es.png")


def test_explain_shows_both_maps_and_reblends_without_recomputing(page, app):
    _open(page, f"{app.url}/explain")  # first run explains test image 1
    page.locator(".st-key-app-view").get_by_text("Expert").click()  # every setting in view
    page.locator(".st-key-explain-alpha").wait_for()
    _settled(page)
    page.locator('[class~="st-key-explain-source"]').get_by_text("Upload").click()
    page.locator('[class~="st-key-explain-upload"] input[type="file"]').wait_for(state="attached")
    _settled(page)
    calls = app.explain_calls()
    _upload(page, "explain-upload", EXPLAIN_PHOTO)
    caption = f"What the model sees: {EXPLAIN_PHOTO.name}"
    page.locator('[data-testid="stImageCaption"]', has_text=caption).wait_for()
    _settled(page)
    assert app.explain_calls() == calls + 1
    captions = page.locator(
        '[data-testid="stMain"] [data-testid="stImageCaption"]'
    ).all_inner_texts()
    assert captions == [caption, "Grad-CAM", "Integrated Gradients"]
    page.get_by_text("Which explanation is more faithful here?").wait_for()
    _no_errors(page)

    before = _overlay_sources(page)
    slider = page.locator(".st-key-explain-alpha").get_by_role("slider")
    assert slider.input_value() == "0.5"
    slider.focus()
    for _ in range(5):
        slider.press("ArrowRight")
    page.wait_for_function(
        """([sel, old]) => { const now = [...document.querySelectorAll(sel)].map(e => e.src);
             return now.length === old.length && now[1] !== old[1] && now[2] !== old[2]; }""",
        arg=['[data-testid="stMain"] [data-testid="stImage"] img', before],
    )
    _settled(page)
    assert slider.input_value() == "0.75"
    after = _overlay_sources(page)
    assert after[1:] != before[1:]  # Grad-CAM and IG re-blended
    assert app.explain_calls() == calls + 1  # ... from the cached maps
    _no_errors(page)
    _shot(page, "explain.png")


def test_audit_scans_a_sample_and_shows_the_mistakes(page, app, data_dir):
    from flowerdash.models.checkpoints import SHIPPED_DEFAULT

    shipped = sorted(p.name for p in SHIPPED_DEFAULT.rglob("*"))
    _open(page, f"{app.url}/audit")
    page.get_by_text("has not been run over the test set yet").wait_for()
    limit = page.locator('[class~="st-key-audit-limit"] input')
    limit.fill("60")
    limit.press("Enter")
    _settled(page)
    page.get_by_role("button", name="Scan the test set").click()
    page.get_by_text("Top-1 accuracy").wait_for()
    page.get_by_text(re.compile(r"^\d+ mistakes?[.,] ")).wait_for()  # "1 mistake." or "n mistakes,"
    _settled(page)
    from flowerdash.data.sources import FolderSource

    total = FolderSource(served_data(data_dir)).sizes()["test"]
    assert f"60 / {total}" in page.locator('[data-testid="stMetric"]').all_inner_texts()[2]
    _no_errors(page)
    assert list((app.checkpoint / "eval").glob("test-*.npz"))  # saved beside the copy...
    assert sorted(p.name for p in SHIPPED_DEFAULT.rglob("*")) == shipped  # not the repository
    _shot(page, "audit.png")


@pytest.mark.parametrize(
    ("path", "title", "shot"),
    [("augment", "Augmentation lab", "augment-lab.png"), ("train", "Train a model", "train.png")],
)
def test_lab_and_train_pages_render(page, app, path, title, shot):
    _open(page, f"{app.url}/{path}")
    assert title in page.locator('[data-testid="stMain"] h1').first.inner_text()
    _no_errors(page)
    _shot(page, shot)


def test_bad_upload_shows_a_friendly_error(page, app, tmp_path):
    fake = tmp_path / "not-a-photo.jpg"
    fake.write_text("this is text, not a JPEG")
    friendly = page.locator('[data-testid="stAlertContentError"]', has_text="We could not use")

    _open(page, app.url)
    _upload(page, "home-upload", fake)
    friendly.wait_for()
    _settled(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Most likely:").count() == 0

    _open(page, f"{app.url}/explain")
    page.locator('[class~="st-key-explain-source"]').get_by_text("Upload").click()
    page.locator('[class~="st-key-explain-upload"] input[type="file"]').wait_for(state="attached")
    _settled(page)
    _upload(page, "explain-upload", fake)
    friendly.wait_for()
    _settled(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Technical details").count() == 0
    assert page.get_by_text("Choose an image on the left.").count() == 1


def test_the_chromium_found_runs(chromium):
    out = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Chromium" in out.stdout, out.stdout + out.stderr


# --- a stranger's machine: no dataset configured, only what the repository ships ---------------

NO_DATASET_PAGES = [
    ("", "try-it"),
    ("explain", "explain"),
    ("audit", "audit"),
    ("augment", "augment-lab"),
    ("train", "train"),
    ("robustness", "robustness"),
]


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory) -> Iterator[App]:
    """A fresh ``make run`` server (serve.py: warm-up from server start) with no dataset
    configured and only the shipped checkpoint.

    conftest takes FLOWERDASH_DATA_DIR out of the environment and gives TensorFlow Datasets an
    empty folder, so the server finds no dataset anywhere; the empty checkpoint folder leaves
    checkpoints/default as the only model.
    """
    from flowerdash.models.checkpoints import SHIPPED_DEFAULT

    if not (SHIPPED_DEFAULT / "model.keras").is_file():
        pytest.fail(
            f"The shipped default checkpoint is missing at {SHIPPED_DEFAULT}.", pytrace=False
        )
    assert "FLOWERDASH_DATA_DIR" not in os.environ
    env = {
        **os.environ,
        "FLOWERDASH_CHECKPOINT_DIR": str(tmp_path_factory.mktemp("no-ckpts")),
        "FLOWERDASH_WARMUP": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    with _served("serve.py", env, tmp_path_factory.mktemp("bare-server")) as (url, log_path):
        yield App(url, log_path, SHIPPED_DEFAULT)


def _no_traceback(page, where: str) -> None:
    """The contract of every page without a dataset: no exception box, no traceback text."""
    assert page.locator('[data-testid="stException"]').count() == 0, f"{where}: an exception box"
    text = page.locator('[data-testid="stApp"]').inner_text()
    assert "Traceback" not in text, f"{where}: traceback text on the page"


def test_every_page_works_without_a_dataset(page, bare_app):
    """A fresh server with no dataset: every page opens without a traceback (screenshots in
    test-artifacts/), and Explain explains an uploaded example photo with both maps."""
    from flowerdash.examples import EXAMPLES

    for path, name in NO_DATASET_PAGES:
        _open(page, f"{bare_app.url}/{path}")
        _no_traceback(page, f"/{path}")
        _shot(page, f"no-dataset-{name}.png", ARTIFACTS)

    _open(page, f"{bare_app.url}/explain")
    page.locator('[class~="st-key-explain-source"]').get_by_text("Upload").click()
    page.locator('[class~="st-key-explain-upload"] input[type="file"]').wait_for(state="attached")
    _settled(page)
    _upload(page, "explain-upload", EXAMPLES[0].path)
    for caption in ("Grad-CAM", "Integrated Gradients"):
        page.locator('[data-testid="stImageCaption"]', has_text=caption).first.wait_for()
    _settled(page)
    images = page.locator('[data-testid="stMain"] [data-testid="stImage"] img')
    assert images.count() == 3 and all(
        images.nth(i).evaluate("i => i.complete && i.naturalWidth > 0") for i in range(3)
    )
    _no_traceback(page, "/explain after an upload")
    # the server's warm-up prepared everything before this first explanation (it waited for it)
    times = page.locator('[data-testid="stMetric"]').all_inner_texts()[:2]
    assert len(times) == 2 and not any("one-time preparation" in t for t in times), times
    _shot(page, "no-dataset-explain-upload.png", ARTIFACTS)
