"""explain_image / result_to_json: the high-level entry point used by the CLI and dashboard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flowerdash.errors import ExplainError
from flowerdash.explanations import explain_image, get_explainer, result_to_json
from flowerdash.gradcam import GradCAM


def test_explain_image_with_faithfulness(tiny_cnn, flower_images) -> None:
    image = flower_images[0]
    result = explain_image(
        tiny_cnn, image, methods=("gradcam", "gradcam++", "ig"), ig_steps=8, with_faithfulness=True
    )
    probs = np.asarray(tiny_cnn(image[None].astype(np.float32)))[0]
    assert result.target == int(probs.argmax())
    np.testing.assert_allclose(result.probabilities, probs, rtol=1e-5)
    assert set(result.maps) == set(result.seconds) == {"gradcam", "gradcam++", "ig"}
    for m in result.maps.values():
        assert m.shape == (64, 64) and m.dtype == np.float32 and 0 <= m.min() <= m.max() <= 1
    assert result.ig_steps == 8 and np.isfinite(result.ig_gap)
    assert result.layer == "conv2"
    assert set(result.faithfulness) == set(result.maps)

    summary = result_to_json(result)
    json.dumps(summary)  # JSON-ready
    assert summary["target"] == result.target
    assert summary["methods"]["ig"]["steps"] == 8
    assert summary["methods"]["ig"]["completeness_gap"] == pytest.approx(result.ig_gap)
    assert "deletion_auc" in summary["methods"]["gradcam"]
    assert summary["top"][0]["class"] == result.target


def test_explicit_target_and_no_faithfulness(tiny_cnn, flower_images) -> None:
    result = explain_image(tiny_cnn, flower_images[1], methods=("gradcam",), target=3)
    assert result.target == 3 and result.faithfulness is None and result.ig_gap is None
    expected = GradCAM(tiny_cnn)(flower_images[1], 3)[0]
    np.testing.assert_allclose(result.maps["gradcam"], expected, atol=1e-5)
    with pytest.raises(ExplainError, match="out of range"):
        explain_image(tiny_cnn, flower_images[1], methods=("gradcam",), target=99)


def test_explainers_are_reused_without_retracing(tiny_cnn, flower_images) -> None:
    explain_image(tiny_cnn, flower_images[0], ig_steps=4)
    ig = get_explainer(tiny_cnn, "ig", steps=4, baseline="black", rule="gauss_legendre")
    cam = get_explainer(tiny_cnn, "gradcam", layer=None)
    traces = (ig.trace_count, cam.trace_count)
    explain_image(tiny_cnn, flower_images[2], ig_steps=4)
    assert get_explainer(tiny_cnn, "ig", steps=4, baseline="black", rule="gauss_legendre") is ig
    assert (ig.trace_count, cam.trace_count) == traces


def test_bad_requests_are_refused(tiny_cnn, flower_images) -> None:
    with pytest.raises(ExplainError, match="gradcam"):
        explain_image(tiny_cnn, flower_images[0], methods=("lime",))
    with pytest.raises(ExplainError, match="64"):
        explain_image(tiny_cnn, np.zeros((32, 32, 3), np.uint8), methods=("gradcam",))
    with pytest.raises(ExplainError, match="steps"):
        explain_image(tiny_cnn, flower_images[0], methods=("ig",), ig_steps=1000)
