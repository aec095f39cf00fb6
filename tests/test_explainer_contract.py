"""Every explainer honours the shared contract: maps [N, H, W], float32, finite, in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from flowerdash.explain.gradcam import GradCAM
from flowerdash.explain.integrated_gradients import IntegratedGradients

FACTORIES = {
    "gradcam": lambda m: GradCAM(m),
    "gradcam++": lambda m: GradCAM(m, plus_plus=True),
    "ig": lambda m: IntegratedGradients(m, steps=8, chunk_size=4),
}


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("method", list(FACTORIES))
def test_explainer_contract(tiny_cnn, flower_images, method: str, n: int) -> None:
    explainer = FACTORIES[method](tiny_cnn)
    maps = explainer(flower_images[:n])
    assert maps.shape == (n, 64, 64)
    assert maps.dtype == np.float32
    assert np.isfinite(maps).all()
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    traces = explainer.trace_count
    again = explainer(
        flower_images[:n],
        targets=explainer.resolve_targets(explainer.prepare_images(flower_images[:n]), None),
    )
    np.testing.assert_allclose(again, maps, atol=1e-5)  # None = predicted class
    assert explainer.trace_count == traces
