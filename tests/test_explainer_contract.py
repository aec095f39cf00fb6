"""Every method of the registry honours the one contract: ``explain(images, targets)`` gives an
Explanation with maps [N, H, W] float32 in [0, 1], the targets and its extras."""

from __future__ import annotations

import numpy as np
import pytest

from flowerdash.explain import defaults, methods
from flowerdash.explain.base import Explanation

OPTIONS = {"ig": {"steps": 8, "chunk_size": 4}}


def test_the_registry_offers_every_method_the_pages_name() -> None:
    assert tuple(methods.METHODS) == defaults.METHODS == tuple(defaults.METHOD_LABELS)


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("method", list(methods.METHODS))
def test_explainer_contract(tiny_cnn, flower_images, method: str, n: int) -> None:
    explainer = methods.build(method, tiny_cnn, **OPTIONS.get(method, {}))
    result = explainer.explain(flower_images[:n])
    assert isinstance(result, Explanation)
    maps = result.maps
    assert maps.shape == (n, 64, 64)
    assert maps.dtype == np.float32
    assert np.isfinite(maps).all()
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert result.targets.shape == (n,) and result.targets.dtype == np.int32
    if result.attributions is not None:
        assert result.attributions.shape == (n, 64, 64, 3)
    for key, value in result.extras.items():
        if isinstance(value, np.ndarray):
            assert value.shape == (n,), key
    traces = explainer.trace_count
    again = explainer.explain(flower_images[:n], targets=result.targets)
    np.testing.assert_allclose(again.maps, maps, atol=1e-5)  # None = predicted class
    assert explainer.trace_count == traces


def test_unknown_methods_are_refused(tiny_cnn) -> None:
    from flowerdash.errors import ExplainError

    with pytest.raises(ExplainError, match="gradcam"):
        methods.build("lime", tiny_cnn)


def test_explaining_and_predicting_never_parse_python_source(monkeypatch, flower_images) -> None:
    """Their tf.functions trace without autograph, which parses each function's source with
    ast.parse: on Python before 3.11.8 two threads parsing at once can fail (cpython#106905),
    and a served app explains in one session while another's page compiles or trains."""
    import ast

    from conftest import make_tiny_cnn

    from flowerdash.inference.predict import predict_batch

    parsed = []
    real_parse = ast.parse

    def recording_parse(*args, **kwargs):
        parsed.append(args[0][:60] if args and isinstance(args[0], str) else args)
        return real_parse(*args, **kwargs)

    model = make_tiny_cnn(seed=3)  # a model no cached function has traced yet
    monkeypatch.setattr(ast, "parse", recording_parse)
    for name in methods.METHODS:
        methods.build(name, model, **OPTIONS.get(name, {})).explain(flower_images[:2])
    predict_batch(model, flower_images[:2])
    assert parsed == []
