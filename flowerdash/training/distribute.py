"""Which ``tf.distribute`` strategy a training run uses, chosen by name.

``"one"``: the default single-device strategy (or one named device); ``"mirrored"``: synchronous
data parallelism with ``tf.distribute.MirroredStrategy`` across the GPUs of one machine (or the
devices given); ``"multiworker"``: ``tf.distribute.MultiWorkerMirroredStrategy`` across the
processes (machines) listed in ``TF_CONFIG`` (``multiworker.py``); ``"auto"``: mirrored when more
than one GPU is visible, else one device.
Models are built and compiled inside ``strategy.scope()``; Keras ``fit`` then splits every
(global) batch across the replicas and sums their gradients. Under a strategy Keras reads the
training data once more at the start of ``fit`` (to build the model), which advances a reshuffling
tf.data pipeline: a mirrored run is repeatable but shuffles differently from a one-device run.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowerdash.errors import ConfigError
from flowerdash.i18n import _

if TYPE_CHECKING:
    import tensorflow as tf

STRATEGIES = ("auto", "one", "mirrored", "multiworker")


def check_strategy_name(name: str) -> str:
    """The lower-cased strategy name, or a ConfigError listing the choices."""
    key = str(name).lower()
    if key not in STRATEGIES:
        raise ConfigError(
            _("Unknown strategy {name}; choose one of {choices}.").format(
                name=repr(name), choices=", ".join(STRATEGIES)
            )
        )
    return key


def _key(device: str) -> tuple[str, int]:
    import tensorflow as tf

    try:
        spec = tf.DeviceSpec.from_string(device if "/" in device else f"/device:{device}")
    except ValueError:
        spec = None
    if spec is None or spec.device_type is None:
        raise ConfigError(
            _("{device} is not a device name (examples: GPU:0, /gpu:1, CPU:0).").format(
                device=repr(device)
            )
        )
    return spec.device_type.upper(), spec.device_index or 0


def _logical_devices() -> dict[tuple[str, int], str]:
    import tensorflow as tf

    return {_key(d.name): d.name for d in tf.config.list_logical_devices()}


def _resolve(devices: Sequence[str]) -> list[str]:
    visible = _logical_devices()
    out = []
    for device in devices:
        key = _key(device)
        if key not in visible:
            names = ", ".join(f"{t}:{i}" for t, i in sorted(visible))
            message = (
                _("Device {device} is not visible here (visible: {names}).")
                if names
                else _("Device {device} is not visible here (visible: none).")
            )
            raise ConfigError(message.format(device=repr(device), names=names))
        out.append(visible[key])
    if len(set(out)) != len(out):
        raise ConfigError(_("A device is listed twice."))
    return out


def make_strategy(
    name: str = "auto", devices: Sequence[str] | None = None
) -> tf.distribute.Strategy:
    """The strategy for a run; see the module docstring. ``devices`` default to all GPUs."""
    import tensorflow as tf

    key = check_strategy_name(name)
    if key == "multiworker":
        if devices:
            raise ConfigError(
                _("Strategy 'multiworker' uses every device of each worker; do not name devices.")
            )
        from flowerdash.training.multiworker import make_strategy as multiworker_strategy

        return multiworker_strategy()
    chosen = _resolve(devices) if devices else None
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if key == "auto":
        if chosen is not None:
            key = "mirrored" if len(chosen) > 1 else "one"
        else:
            key = "mirrored" if len(gpus) > 1 else "one"
    if key == "one":
        if chosen is None:
            return tf.distribute.get_strategy()
        if len(chosen) != 1:
            raise ConfigError(
                _(
                    "Strategy 'one' trains on one device, but {count} were given; "
                    "use strategy 'mirrored' for several ({choices})."
                ).format(count=len(chosen), choices=", ".join(STRATEGIES))
            )
        return tf.distribute.OneDeviceStrategy(chosen[0])
    chosen = chosen or gpus
    if not chosen:
        raise ConfigError(
            _(
                "Strategy 'mirrored' needs devices to mirror across, and no GPU is visible; "
                "choose one of {choices} ('auto' and 'one' train on this device) "
                "or name the devices to mirror across."
            ).format(choices=", ".join(STRATEGIES))
        )
    return _mirrored(tuple(chosen))


@functools.cache
def _mirrored(devices: tuple[str, ...]) -> tf.distribute.Strategy:
    """One MirroredStrategy per device set for the whole process.

    Every strategy instance numbers its collective operations from the same start, so a second
    instance over the same devices collides with the first one's all-reduces (a "shape mismatch
    in the collective instance" error on the next run); reusing the instance avoids that.
    """
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(devices))


def strategy_devices(strategy: tf.distribute.Strategy) -> list[str]:
    """The devices a strategy computes on ([] for the default strategy: TF's own placement)."""
    try:
        return list(strategy.extended.worker_devices)
    except (AttributeError, RuntimeError):
        return []


def describe_strategy(strategy: tf.distribute.Strategy) -> str:
    """'one device', 'one device (GPU:1)' or 'mirrored (2 replicas)' for events and metadata."""
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        from flowerdash.training.multiworker import describe

        return describe(strategy)
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return f"mirrored ({replicas} replica{'s' if replicas != 1 else ''})"
    devices = strategy_devices(strategy)
    if isinstance(strategy, tf.distribute.OneDeviceStrategy) and devices:
        spec = tf.DeviceSpec.from_string(devices[0])
        return f"one device ({spec.device_type}:{spec.device_index})"
    return "one device"


def runs_on_gpu(strategy: tf.distribute.Strategy) -> bool:
    """True when the strategy computes on GPUs (the default strategy: when a GPU is visible)."""
    import tensorflow as tf

    devices = strategy_devices(strategy)
    if not devices:
        return bool(tf.config.list_physical_devices("GPU"))
    return all(_key(d)[0] == "GPU" for d in devices)


def describe_device() -> str:
    """'GPU (name)' or 'CPU (n cores)' for the device training will use."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})"
    return f"CPU ({os.cpu_count()} cores)"
