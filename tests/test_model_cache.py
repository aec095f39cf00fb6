"""The one per-model cache: built once, weakly keyed, bounded where asked, rebuilt when stale."""

from __future__ import annotations

import gc
import weakref

from conftest import make_tiny_cnn

from flowerdash.models.cache import per_model


class _Model:
    """Anything weakly referenceable stands in for a model."""


def test_a_value_is_built_once_and_goes_with_its_model():
    model, built = _Model(), []
    first = per_model(model, "x", lambda: built.append(1) or _Model())
    assert per_model(model, "x", lambda: built.append(1) or _Model()) is first
    assert built == [1]
    alive = weakref.ref(first)
    del model, first
    gc.collect()
    assert alive() is None


def test_keep_drops_the_least_recently_used_of_a_group_and_fresh_rebuilds():
    model = _Model()
    for i in range(3):
        per_model(model, ("group", i), lambda i=i: i, keep=2)
    per_model(model, "other", lambda: "kept")
    built = []
    assert per_model(model, ("group", 0), lambda: built.append(0) or 0, keep=2) == 0
    assert built == [0]  # evicted, so built again
    assert per_model(model, "other", lambda: "new") == "kept"
    assert per_model(model, "other", lambda: "new", fresh=lambda v: v != "kept") == "new"


def test_cached_explainers_and_compiled_functions_do_not_keep_a_model_alive(flower_images):
    from flowerdash.explain.explanations import explain_image, get_explainer

    model = make_tiny_cnn(seed=11)
    explain_image(model, flower_images[0], steps=2)
    assert get_explainer(model, "ig", steps=2, baseline="blur").model is model
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_threads_build_a_value_once_and_a_slow_build_holds_up_no_other_key():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    model, built, release = _Model(), [], threading.Event()

    def slow():
        built.append("slow")
        assert release.wait(30)
        return "slow"

    with ThreadPoolExecutor(4) as pool:
        waiting = [pool.submit(per_model, model, "slow", slow) for _ in range(3)]
        assert per_model(model, "quick", lambda: "quick") == "quick"  # not held up
        release.set()
        assert [f.result(timeout=30) for f in waiting] == ["slow"] * 3
    assert built == ["slow"]
