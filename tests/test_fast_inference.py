"""LiteRT inference: same outputs as the Keras model, cached conversion, clear failures."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from conftest import make_tiny_cnn

from flowerdash.errors import ConfigError
from flowerdash.inference import litert
from flowerdash.inference.litert import LiteRTPredictor, batch_predictor


@pytest.fixture(scope="module")
def model():
    return make_tiny_cnn(image_size=32, num_classes=5, seed=1)


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, 32, 32, 3)).astype(np.float32)


def test_litert_gives_the_models_outputs_for_any_batch_size(model, tmp_path):
    predict = batch_predictor(model, "litert")
    assert isinstance(predict, LiteRTPredictor)
    for n in (1, 3, 8, 3):  # resizing back to an earlier batch size works too
        x = _images(n, seed=n)
        got = predict(x)
        assert got.dtype == np.float32 and got.shape == (n, 5)
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)


def test_engine_setting_is_checked(monkeypatch, model):
    monkeypatch.setenv(litert.ENV_ENGINE, "fastest")
    with pytest.raises(ConfigError, match="auto, litert, tensorflow"):
        litert.engine_setting()
    monkeypatch.setenv(litert.ENV_ENGINE, "tensorflow")
    predict = batch_predictor(model)
    assert not isinstance(predict, LiteRTPredictor)
    x = _images(3)
    np.testing.assert_allclose(predict(x), model.predict(x, verbose=0), atol=1e-6)


def test_a_failed_conversion_falls_back_to_tensorflow_in_auto_and_is_an_error_if_required(
    model, monkeypatch, caplog
):
    def broken(_model):
        raise RuntimeError("unsupported op")

    monkeypatch.setattr(litert, "to_litert", broken)
    with caplog.at_level(logging.WARNING, logger=litert.__name__):
        predict = batch_predictor(model, "auto")
    assert not isinstance(predict, LiteRTPredictor)
    assert "unsupported op" in caplog.text
    with pytest.raises(ConfigError, match="cannot run on LiteRT: unsupported op"):
        batch_predictor(model, "litert")


def test_a_converted_model_that_disagrees_is_not_used(model, monkeypatch):
    real = LiteRTPredictor.__call__
    monkeypatch.setattr(LiteRTPredictor, "__call__", lambda self, x: real(self, x) + 0.5)
    with pytest.raises(ConfigError, match="differ"):
        batch_predictor(model, "litert")
    assert not isinstance(batch_predictor(model, "auto"), LiteRTPredictor)
