"""Bulk inference on the CPU through LiteRT (XNNPACK), faster than TensorFlow's CPU kernels.

TensorFlow's CPU kernels are slow on MobileNet-style depthwise convolutions; the same graph,
converted to LiteRT and run by its XNNPACK delegate, gives the same outputs (float32, up to
rounding) in less time (figures: docs/PERFORMANCE.md). Paths that only run a model forward
over many images (the test-split scan, the frozen training stage, robustness) use
:func:`batch_predictor`; gradients (Grad-CAM, IG, fine-tuning) stay in
TensorFlow. With a GPU, or when LiteRT is not installed, the compiled TensorFlow function is
used. ``FLOWERDASH_INFERENCE=tensorflow`` forces TensorFlow, ``=litert`` requires LiteRT.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from flowerdash.errors import ConfigError
from flowerdash.i18n import _
from flowerdash.inference.predict import predict_batch

if TYPE_CHECKING:
    import keras

ENV_ENGINE = "FLOWERDASH_INFERENCE"
ENGINES = ("auto", "litert", "tensorflow")
# LiteRT and TensorFlow sum in different orders, so outputs differ by rounding; this leaves room.
AGREEMENT_ATOL = 1e-3

log = logging.getLogger(__name__)

Predictor = Callable[[np.ndarray], np.ndarray]


def engine_setting() -> str:
    """The configured engine: ``auto`` (default), ``litert`` or ``tensorflow``."""
    value = os.environ.get(ENV_ENGINE, "auto").strip().lower() or "auto"
    if value not in ENGINES:
        raise ConfigError(
            _("{var} must be one of {choices}, not {value!r}.").format(
                var=ENV_ENGINE, choices=", ".join(ENGINES), value=value
            )
        )
    return value


def litert_installed() -> bool:
    """Whether the LiteRT interpreter package (ai-edge-litert) can be imported."""
    return importlib.util.find_spec("ai_edge_litert") is not None


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def to_litert(model: keras.Model) -> bytes:
    """The model as a LiteRT flatbuffer (float32; batch size left free)."""
    import tensorflow as tf

    shape = [None, *(int(d) for d in model.inputs[0].shape[1:])]
    fn = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec(shape, tf.float32)],
        autograph=False,
    )
    # The tf.function tracks the model's variables, so the converter can freeze them.
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [fn.get_concrete_function()], trackable_obj=fn
    )
    return converter.convert()


class LiteRTPredictor:
    """Runs a converted model on float32 batches; safe to call from several threads."""

    def __init__(self, flatbuffer: bytes, num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.num_threads = num_threads or usable_cores()
        self._interpreter = Interpreter(model_content=flatbuffer, num_threads=self.num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._shape: tuple[int, ...] | None = None
        self._lock = threading.Lock()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Outputs for a batch [N, H, W, 3] (float32 pixels 0..255)."""
        x = np.ascontiguousarray(images, dtype=np.float32)
        with self._lock:
            if x.shape != self._shape:
                self._interpreter.resize_tensor_input(self._input["index"], list(x.shape))
                self._interpreter.allocate_tensors()
                self._shape = x.shape
            self._interpreter.set_tensor(self._input["index"], x)
            self._interpreter.invoke()
            return np.array(self._interpreter.get_tensor(self._output))


def _tensorflow_predictor(model: keras.Model) -> Predictor:
    # The partial keeps the model alive as long as the predictor (compiled_predict's cache holds
    # it weakly).
    return functools.partial(predict_batch, model)


def batch_predictor(model: keras.Model, engine: str | None = None) -> Predictor:
    """A function giving the model's outputs for float32 batches, on the fastest engine here.

    ``engine`` overrides :func:`engine_setting`. In ``auto`` mode a model LiteRT cannot convert,
    or whose converted outputs disagree with TensorFlow's, is run by TensorFlow (logged).
    """
    engine = engine or engine_setting()
    if engine not in ENGINES:
        raise ConfigError(
            _("Unknown inference engine {value!r}; use one of {choices}.").format(
                value=engine, choices=", ".join(ENGINES)
            )
        )
    if engine == "tensorflow" or (engine == "auto" and (_has_gpu() or not litert_installed())):
        return _tensorflow_predictor(model)
    if not litert_installed():
        raise ConfigError(
            _(
                "{var}=litert needs the ai-edge-litert package: pip install -r requirements.txt"
            ).format(var=ENV_ENGINE)
        )
    try:
        predictor = LiteRTPredictor(to_litert(model))
        _check_agreement(model, predictor)
    except Exception as exc:  # noqa: BLE001 - any conversion failure has the same remedy
        if engine == "litert":
            raise ConfigError(
                _("This model cannot run on LiteRT: {error}").format(error=exc)
            ) from exc
        log.warning("LiteRT unavailable for %s, using TensorFlow: %s", model.name, exc)
        return _tensorflow_predictor(model)
    return predictor


def _check_agreement(model: keras.Model, predictor: LiteRTPredictor) -> None:
    """Raise ValueError when the converted model does not compute what the Keras model does."""
    size = tuple(int(d) for d in model.inputs[0].shape[1:])
    probe = np.random.default_rng(0).uniform(0, 255, (1, *size)).astype(np.float32)
    with warnings.catch_warnings():  # models differ in how they name their one input
        warnings.filterwarnings("ignore", message="The structure of `inputs`")
        expected = np.asarray(model(probe, training=False))
    got = predictor(probe)
    if got.shape != expected.shape or not np.allclose(got, expected, atol=AGREEMENT_ATOL, rtol=0):
        diff = np.max(np.abs(got - expected)) if got.shape == expected.shape else "shape"
        raise ValueError(f"converted outputs differ from the model's (max difference {diff})")
