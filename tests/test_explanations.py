"""explain_image / result_to_json: the high-level entry point used by the CLI and dashboard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flowerdash.errors import ExplainError
from flowerdash.explain import defaults
from flowerdash.explain.explanations import explain_image, get_explainer, result_to_json
from flowerdash.explain.gradcam import GradCAM


def test_explain_image_with_faithfulness(tiny_cnn, flower_images) -> None:
    image = flower_images[0]
    result = explain_image(
        tiny_cnn, image, methods=("gradcam", "gradcam++", "ig"), steps=8, with_faithfulness=True
    )
    probs = np.asarray(tiny_cnn(image[None].astype(np.float32)))[0]
    assert result.target == int(probs.argmax())
    np.testing.assert_allclose(result.probabilities, probs, rtol=1e-5)
    assert set(result.maps) == set(result.seconds) == {"gradcam", "gradcam++", "ig"}
    for m in result.maps.values():
        assert m.shape == (64, 64) and m.dtype == np.float32 and 0 <= m.min() <= m.max() <= 1
    ig = result.extras["ig"]
    assert ig["steps"] == 8 and np.isfinite(ig["completeness_gap"]) and ig["baseline"] == "blur"
    assert result.extras["gradcam"] == result.extras["gradcam++"] == {"layers": ("conv2",)}
    assert set(result.faithfulness) == set(result.maps)

    summary = result_to_json(result)
    json.dumps(summary)  # JSON-ready
    assert summary["target"] == result.target
    # the CLI's --json keys, unchanged
    assert list(summary["methods"]["ig"]) == [
        "seconds",
        "includes_preparation",
        "steps",
        "rule",
        "completeness_gap",
        "deletion_auc",
        "insertion_auc",
    ]
    assert summary["methods"]["ig"]["steps"] == 8
    assert summary["methods"]["ig"]["rule"] == "adaptive"
    assert summary["methods"]["ig"]["completeness_gap"] == pytest.approx(ig["completeness_gap"])
    assert summary["methods"]["gradcam"]["layer"] == "conv2"
    assert "deletion_auc" in summary["methods"]["gradcam"]
    assert summary["top"][0]["class"] == result.target


def test_explicit_target_and_no_faithfulness(tiny_cnn, flower_images) -> None:
    result = explain_image(tiny_cnn, flower_images[1], methods=("gradcam",), target=3)
    assert result.target == 3 and result.faithfulness is None and "ig" not in result.extras
    expected = GradCAM(tiny_cnn)(flower_images[1], 3)[0]
    np.testing.assert_allclose(result.maps["gradcam"], expected, atol=1e-5)
    with pytest.raises(ExplainError, match="out of range"):
        explain_image(tiny_cnn, flower_images[1], methods=("gradcam",), target=99)


def test_explainers_are_reused_without_retracing(tiny_cnn, flower_images) -> None:
    explain_image(tiny_cnn, flower_images[0], steps=4)
    settings = {"steps": 4, "baseline": defaults.BASELINE}
    ig = get_explainer(tiny_cnn, "ig", **settings)
    cam = get_explainer(tiny_cnn, "gradcam", layers=None)
    assert get_explainer(tiny_cnn, "gradcam", layers="conv2") is cam  # the default, by name
    traces = (ig.trace_count, cam.trace_count)
    explain_image(tiny_cnn, flower_images[2], steps=4)
    assert get_explainer(tiny_cnn, "ig", **settings) is ig
    assert (ig.trace_count, cam.trace_count) == traces


def test_bad_requests_are_refused(tiny_cnn, flower_images) -> None:
    with pytest.raises(ExplainError, match="gradcam"):
        explain_image(tiny_cnn, flower_images[0], methods=("lime",))
    with pytest.raises(ExplainError, match="64"):
        explain_image(tiny_cnn, np.zeros((32, 32, 3), np.uint8), methods=("gradcam",))
    with pytest.raises(ExplainError, match="steps"):
        explain_image(tiny_cnn, flower_images[0], methods=("ig",), steps=1000)


def test_concurrent_sessions_get_the_same_results_as_alone(flower_images, monkeypatch):
    """8 threads (browser sessions) explain different images with one shared, freshly loaded model.

    Each explainer is built once however many sessions ask for it at the same moment, and every
    result equals the one the same request gets alone.
    """
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from conftest import make_tiny_cnn

    from flowerdash.explain import methods
    from flowerdash.explain.integrated_gradients import IntegratedGradients

    built: Counter = Counter()

    class CountedGradCAM(GradCAM):
        def __init__(self, model, **options):
            built["gradcam", options.get("layers")] += 1
            super().__init__(model, **options)

    class CountedIG(IntegratedGradients):
        def __init__(self, model, **options):
            built["ig", options.get("steps")] += 1
            super().__init__(model, **options)

    monkeypatch.setitem(methods.METHODS, "gradcam", CountedGradCAM)
    monkeypatch.setitem(methods.METHODS, "ig", CountedIG)
    model = make_tiny_cnn(seed=7)  # cold: no explainer, logits model or trace exists yet
    images = np.concatenate([flower_images, flower_images[:, ::-1], flower_images[:, :, ::-1]])
    requests = [
        dict(image=i, methods=("gradcam", "ig"), steps=(4, 6, 8)[i % 3],
             layers=("conv2", None, ("conv1",))[i % 3] if i % 2 else None,
             target=None if i % 4 else i % 5)
        for i in range(len(images))
    ]  # fmt: skip
    start = Barrier(8)  # the first 8 requests hit the cold caches at the same moment
    asked = requests + requests[:8]  # the repeats find warm explainers

    def ask(n: int, together: bool = True):
        if together and n < 8:
            start.wait(timeout=120)
        options = {k: v for k, v in asked[n].items() if k != "image"}
        return explain_image(model, images[asked[n]["image"]], **options)

    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(ask, range(len(asked))))
    # conv2, the default layer, and None are one explainer: 2 Grad-CAMs and 3 IGs, once each
    assert len(built) == 5 and set(built.values()) == {1}, built  # not once per thread
    alone = [ask(n, together=False) for n in range(len(asked))]
    for req, got, want in zip(asked, together, alone, strict=True):
        assert got.target == want.target, req
        np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=1e-5, atol=1e-7)
        assert set(got.maps) == {"gradcam", "ig"}
        for method in got.maps:
            np.testing.assert_allclose(
                got.maps[method], want.maps[method], atol=1e-5, err_msg=f"{method} of {req}"
            )
        gaps = got.extras["ig"]["completeness_gap"], want.extras["ig"]["completeness_gap"]
        assert gaps[0] == pytest.approx(gaps[1], rel=1e-4, abs=1e-6)
        assert got.extras["gradcam"] == want.extras["gradcam"]
