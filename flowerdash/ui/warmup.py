"""Warm-up: the selected checkpoint's model, predictor and explainers prepared in the background.

A server's first explanation otherwise pays for loading the model, tracing the compiled
functions and building Integrated Gradients' rewritten copy of the model, and shows that cost as
the method's time. ``start`` makes the pages' calls once per server process, in a background
thread, on a dummy image (Integrated Gradients only traced and compiled, not run in full),
through the same caches (``state.load_checkpoint`` and the per-model cache of
``flowerdash.models.cache``: explainers, compiled prediction), so the pages find everything
ready. ``serve.py`` (what ``make run`` serves) starts it when the server starts; under a plain
``streamlit run streamlit_app.py``, which runs no app code before the first visitor, it starts
with the first page opened. ``state.wait_for_warmup`` lets a request that arrives meanwhile wait for the
warm-up instead of competing with it for the cores; everything it needs is then prepared.

A failure is logged and otherwise ignored: the pages load the checkpoint themselves and show
what is wrong with it. ``FLOWERDASH_WARMUP=0`` turns the warm-up off (the app benchmark's
"before").
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from flowerdash.errors import FlowerdashError

ENV_VAR = "FLOWERDASH_WARMUP"
log = logging.getLogger(__name__)


@dataclass
class Warmup:
    """One background warm-up of a checkpoint."""

    checkpoint: str
    done: threading.Event = field(default_factory=threading.Event)
    seconds: float | None = None  # how long it took, once done
    error: BaseException | None = None  # why it failed, if it did

    def run(self) -> None:
        """Load the checkpoint and explain a dummy image the way the pages do; never raises."""
        start = time.perf_counter()
        try:
            prepare(self.checkpoint)
        except FlowerdashError as exc:
            log.warning("Warm-up of %s skipped: %s", self.checkpoint, exc)
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - a background thread must not die unseen
            log.exception("Warm-up of %s failed", self.checkpoint)
            self.error = exc
        finally:
            self.seconds = time.perf_counter() - start
            self.done.set()
        if self.error is None:
            log.info("Warm-up of %s done in %.1f s", self.checkpoint, self.seconds)


def prepare(checkpoint: str) -> None:
    """What a first Explain or Try it request prepares: model, prediction, both explainers."""
    from flowerdash.explain import defaults
    from flowerdash.explain.explanations import explain_image, get_explainer
    from flowerdash.models.backbones import input_size
    from flowerdash.ui import state

    model, _meta = state.load_checkpoint(checkpoint)
    # Every page asks whether the dataset is here on its first run; finding out imports TFDS.
    state.dataset_source()
    size = input_size(model)
    # A textured image: on a flat one IG's path has no length and skips work a photo needs.
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    # Prediction and Grad-CAM as Try it and Explain run them (both cheap once traced); IG, with
    # the Explain page's defaults, only traced and compiled, since a visitor may be waiting for
    # the cores. Faithfulness reuses the prediction's compiled function: nothing to prepare.
    explain_image(model, image, methods=("gradcam",))
    get_explainer(model, "ig", steps=defaults.STEPS, baseline=defaults.BASELINE).prepare(image)


def enabled() -> bool:
    """Whether warm-ups run: in a served app, unless ``FLOWERDASH_WARMUP=0``.

    Not under AppTest, which runs many apps in one process (a background thread would compete
    with the tests and be counted by their probes) and serves them with a stand-in Runtime.
    """
    from streamlit import runtime

    if os.environ.get(ENV_VAR, "1").strip() in ("0", "false", "no", "off"):
        return False
    return runtime.exists() and type(runtime.get_instance()) is runtime.Runtime


def start(checkpoint: str | None) -> Warmup | None:
    """Start the process's warm-up of ``checkpoint`` in a background thread, once per process.

    Returns the warm-up (the first one started, whatever ``checkpoint`` later calls pass), or
    None when warm-ups are off or there is no checkpoint.
    """
    from flowerdash.ui import state

    if checkpoint is None or not enabled():
        return None
    slot = state.warmup_slot()
    with slot.lock:
        if slot.warmup is None:
            slot.warmup = Warmup(str(checkpoint))
            threading.Thread(target=slot.warmup.run, name="flowerdash-warmup", daemon=True).start()
        return slot.warmup


def start_at_server_start() -> None:
    """Start the warm-up of the checkpoint a new session would get, without blocking the caller.

    Finding that checkpoint imports TensorFlow and lists the checkpoint folder, so it happens in
    the background thread too.
    """

    def find_and_start() -> None:
        from flowerdash.ui import state

        try:
            checkpoint = state.default_checkpoint()
        except FlowerdashError as exc:
            log.warning("No warm-up at server start: %s", exc)
            return
        start(checkpoint)

    threading.Thread(target=find_and_start, name="flowerdash-warmup-start", daemon=True).start()


def current() -> Warmup | None:
    """The warm-up started in this process, if any."""
    from flowerdash.ui import state

    return state.warmup_slot().warmup
