"""Typed exceptions: every failure a user can cause has its own class and a plain-words message."""

from __future__ import annotations


class FlowerdashError(Exception):
    """Base class for errors whose message is meant for the user, not a traceback."""


class ConfigError(FlowerdashError):
    """A setting, option or argument has a value the product cannot use."""


class DatasetError(FlowerdashError):
    """The dataset is missing, incomplete or unreadable."""


class DatasetNotHere(DatasetError):
    """Nothing is wrong, the dataset is just not on this machine yet (no folder configured, and
    TensorFlow Datasets has not downloaded it)."""


class WeightsError(FlowerdashError):
    """Requested backbone weights cannot be obtained on this machine."""


class CheckpointError(FlowerdashError):
    """A checkpoint is missing, corrupt, foreign or cannot be written."""


class ImageError(FlowerdashError):
    """An image (upload, file or camera) cannot be decoded or is refused."""


class TrainingError(FlowerdashError):
    """A training run cannot start or failed."""


class ExplainError(FlowerdashError):
    """An explanation cannot be computed with the given model, layer or options."""
