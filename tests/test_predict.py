"""Compiled inference: one traced function per model, shared by every inference path."""

from __future__ import annotations

import numpy as np

from flowerdash.inference import predict
from flowerdash.models.backbones import build_model


def test_one_compiled_predict_per_model_and_it_does_not_keep_the_model_alive():
    import gc
    import weakref

    model = build_model("tiny", weights=None, image_size=32)
    fn = predict.compiled_predict(model)
    assert predict.compiled_predict(model) is fn
    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(fn(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    alive = weakref.ref(model)
    del model, fn
    gc.collect()
    assert alive() is None


def test_predict_batch_matches_the_model_for_any_batch_size_without_retracing():
    model = build_model("tiny", weights=None, image_size=32)
    x = np.random.default_rng(1).uniform(0, 255, (7, 32, 32, 3)).astype("float32")
    expected = model(x).numpy()
    for batch_size in (1, 3, 64):
        np.testing.assert_allclose(
            predict.predict_batch(model, x, batch_size), expected, rtol=1e-5, atol=1e-6
        )
    assert predict.compiled_predict(model).experimental_get_tracing_count() == 1


def test_single_image_prediction_goes_through_the_compiled_function():
    model = build_model("tiny", weights=None, image_size=32)
    image = np.random.default_rng(2).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    probs = predict.predict_probabilities(model, image)
    assert probs.shape == (102,) and abs(probs.sum() - 1) < 1e-4
    assert predict.compiled_predict(model).experimental_get_tracing_count() == 1
