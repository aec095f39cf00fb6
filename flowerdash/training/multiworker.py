"""Training across processes or machines with ``tf.distribute.MultiWorkerMirroredStrategy``.

Every worker runs the same command with its own ``TF_CONFIG`` (TensorFlow's format:
``{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}``);
worker 0 is the chief. The global batch is split over all workers' devices, and each worker
reads its share of every batch (auto-shard policy DATA: the pipelines here read a list of
files through one ``from_tensor_slices``, which FILE sharding cannot split evenly).

Keras 3.15's ``fit`` does not run under this strategy (its model build reduces a tuple of
per-replica batches, and its step reduces scalar logs along axis 0; both raise), so
:func:`fit` is a small training loop of our own under the strategy: the same loss, optimizer
and Keras callbacks (``BackupAndRestore`` among them), gradients summed across all replicas by
the optimizer.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowerdash.errors import ConfigError, TrainingError
from flowerdash.i18n import _

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


@dataclass(frozen=True)
class Cluster:
    """The cluster of a multi-worker run, and which worker this process is."""

    workers: tuple[str, ...]
    index: int

    @property
    def is_chief(self) -> bool:
        """Worker 0 writes the checkpoint; the others write to a folder that is removed."""
        return self.index == 0

    @property
    def address(self) -> str:
        """This worker's host:port."""
        return self.workers[self.index]


def cluster_from_env(environ: Mapping[str, str] | None = None) -> Cluster:
    """The cluster in ``TF_CONFIG``, checked; a ConfigError in one line when it is unusable."""
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if not raw.strip():
        raise ConfigError(
            _(
                "Strategy 'multiworker' needs the TF_CONFIG environment variable (the cluster "
                "and this worker's task); see the README or use 'launch' on one machine."
            )
        )
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(_("TF_CONFIG is not valid JSON: {error}.").format(error=exc)) from exc
    cluster = config.get("cluster") if isinstance(config, dict) else None
    workers = cluster.get("worker") if isinstance(cluster, dict) else None
    if (
        not isinstance(workers, list)
        or not workers
        or not all(isinstance(w, str) and _split_address(w) for w in workers)
    ):
        raise ConfigError(
            _('TF_CONFIG needs "cluster": {{"worker": ["host:port", ...]}}.').format()
        )
    if set(cluster) - {"worker"}:
        raise ConfigError(
            _("TF_CONFIG may only list workers here (worker 0 is the chief), not {roles}.").format(
                roles=", ".join(sorted(set(cluster) - {"worker"}))
            )
        )
    task = config.get("task")
    index = task.get("index") if isinstance(task, dict) else None
    if not isinstance(task, dict) or task.get("type") != "worker":
        raise ConfigError(_('TF_CONFIG needs "task": {{"type": "worker", "index": i}}.').format())
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(workers):
        raise ConfigError(
            _("TF_CONFIG task index {index} is not one of the {count} workers.").format(
                index=repr(index), count=len(workers)
            )
        )
    if len(set(workers)) != len(workers):
        raise ConfigError(_("TF_CONFIG lists a worker address twice."))
    return Cluster(tuple(workers), index)


def _split_address(address: str) -> tuple[str, int] | None:
    host, _sep, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def check_port_free(cluster: Cluster) -> None:
    """ConfigError when this worker's own port is taken (TensorFlow would abort the process)."""
    host, port = _split_address(cluster.address)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # A restarted worker's port may still linger in TIME_WAIT, which TensorFlow reuses.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("" if host not in ("localhost", "127.0.0.1", "::1") else host, port))
        except OSError as exc:
            raise ConfigError(
                _("Port {port} of worker {index} ({address}) is in use: {error}.").format(
                    port=port, index=cluster.index, address=cluster.address, error=exc.strerror
                )
            ) from exc


def run_id(config: Mapping[str, Any], cluster: Cluster) -> str:
    """The same id on every worker and after a restart: the run's config and its cluster."""
    data = json.dumps({"config": dict(config), "workers": cluster.workers}, sort_keys=True)
    return "mw-" + hashlib.sha256(data.encode()).hexdigest()[:10]


def check_cluster() -> Cluster:
    """This worker's cluster from ``TF_CONFIG``, its own port free; else a one-line ConfigError."""
    cluster = cluster_from_env()
    check_port_free(cluster)
    return cluster


@functools.cache
def make_strategy() -> tf.distribute.Strategy:
    """One MultiWorkerMirroredStrategy per process (collectives are numbered per instance)."""
    import tensorflow as tf

    check_cluster()
    return tf.distribute.MultiWorkerMirroredStrategy()


def describe(strategy: tf.distribute.Strategy) -> str:
    """'multiworker (2 workers, 2 replicas)' for events and metadata."""
    workers = strategy.cluster_resolver.cluster_spec().num_tasks("worker")
    replicas = int(strategy.num_replicas_in_sync)
    return f"multiworker ({workers} worker{'s' if workers != 1 else ''}, {replicas} replicas)"


def shard(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The dataset with the DATA auto-shard policy: each worker keeps its part of every batch."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def backup(directory: str) -> keras.callbacks.Callback:
    """Keras's BackupAndRestore in ``directory``, kept until the run removes it.

    Both stages of a run have their own folder; the folders stay until the checkpoint is written
    so a restart during stage 2 also finds stage 1 done. A double copy lets a restart fall back
    to the epoch before when a kill hit the newest file as it was written.
    """
    import keras

    return keras.callbacks.BackupAndRestore(
        directory, save_freq="epoch", double_checkpoint=True, delete_checkpoint=False
    )


def fit(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    dataset: tf.data.Dataset,
    *,
    epochs: int,
    backup_dir: str,
    chief: bool,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    validation_data: tf.data.Dataset | None = None,
    on_resume: Callable[[int], None] | None = None,
) -> None:
    """``model.fit`` for a compiled model under MultiWorkerMirroredStrategy (loss + accuracy).

    The chief backs every epoch up in ``backup_dir`` (Keras's ``BackupAndRestore``); the other
    workers back up to a temporary folder, removed at the end. On a restart every worker takes
    the chief's restored weights, optimizer state and epoch, and skips the epochs done (as
    ``fit`` does): a worker that lost its disk, or was killed between two backups, catches up.
    """
    import tensorflow as tf

    scratch = None if chief else tempfile.mkdtemp(prefix="flowerdash-backup-")
    try:
        _fit(
            model,
            strategy,
            dataset,
            epochs=epochs,
            callbacks=[backup(backup_dir if chief else scratch), *callbacks],
            validation_data=validation_data,
            chief=chief,
            on_resume=on_resume,
        )
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as exc:
        # TensorFlow's message spans lines of op and device names; the remedy is always this.
        lost = sorted(set(re.findall(r"/job:worker/(?:replica:\d+/)?task:(\d+)", str(exc))))
        lost = [w for w in lost if w != str(strategy.cluster_resolver.task_id)]
        raise TrainingError(
            _(
                "Lost contact with worker {workers}; start every worker again with the same "
                "command: the run resumes from the last completed epoch."
            ).format(workers=", ".join(lost) or "?")
        ) from exc
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _fit(model, strategy, dataset, *, epochs, callbacks, validation_data, chief, on_resume):
    import keras
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    loss_fn, optimizer = model.loss, model.optimizer
    with strategy.scope():
        optimizer.build(model.trainable_variables)
    train = strategy.experimental_distribute_dataset(shard(dataset))
    val = (
        strategy.experimental_distribute_dataset(shard(validation_data))
        if validation_data
        else None
    )

    def train_step(x, y):
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            # A Keras loss under a strategy is already divided by the replica count (each
            # replica holds its share of the global batch), so the gradients the optimizer sums
            # over all replicas are those of the global batch's mean loss; extra losses
            # (regularisers) are divided here as Keras's own step does.
            loss = loss_fn(y, pred)
            if model.losses:
                loss += tf.add_n(model.losses) / replicas
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        correct = keras.metrics.categorical_accuracy(y, pred)
        return loss * replicas, tf.reduce_mean(tf.cast(correct, tf.float32))

    def test_step(x, y):
        pred = model(x, training=False)
        n = tf.cast(tf.shape(y)[0], tf.float32)
        correct = tf.reduce_sum(tf.cast(keras.metrics.categorical_accuracy(y, pred), tf.float32))
        return loss_fn(y, pred) * replicas * n, correct, n

    @tf.function
    def train_one(batch):
        loss, acc = strategy.run(train_step, args=batch)
        return strategy.reduce("MEAN", loss, None), strategy.reduce("MEAN", acc, None)

    @tf.function
    def test_one(batch):
        return [strategy.reduce("SUM", v, None) for v in strategy.run(test_step, args=batch)]

    callback_list = keras.callbacks.CallbackList(list(callbacks), model=model)
    model.stop_training = False
    callback_list.on_train_begin()
    # Where BackupAndRestore.on_train_begin leaves the restored epoch (read by fit itself).
    restored = int(getattr(model, "_initial_epoch", None) or 0)
    model._initial_epoch = None
    first = _take_chiefs_state(model, strategy, chief, restored)
    if first and on_resume is not None:
        on_resume(first)
    logs: dict[str, float] = {}
    for epoch in range(first, epochs):
        callback_list.on_epoch_begin(epoch)
        losses, accs = [], []
        for step, batch in enumerate(train):
            callback_list.on_train_batch_begin(step)
            loss, acc = train_one(batch)
            losses.append(float(loss))
            accs.append(float(acc))
            callback_list.on_train_batch_end(step, {"loss": losses[-1], "accuracy": accs[-1]})
        logs = {"loss": sum(losses) / len(losses), "accuracy": sum(accs) / len(accs)}
        if val is not None:
            callback_list.on_test_begin()  # SwapEMAWeights validates the averaged weights
            total = [0.0, 0.0, 0.0]
            for step, batch in enumerate(val):
                callback_list.on_test_batch_begin(step)
                total = [t + float(v) for t, v in zip(total, test_one(batch), strict=True)]
                callback_list.on_test_batch_end(step)
            val_logs = {"loss": total[0] / total[2], "accuracy": total[1] / total[2]}
            callback_list.on_test_end(val_logs)
            logs |= {f"val_{k}": v for k, v in val_logs.items()}
        callback_list.on_epoch_end(epoch, logs)
    optimizer.finalize_variable_values(model.trainable_variables)
    callback_list.on_train_end(logs)


def _take_chiefs_state(
    model: keras.Model, strategy: tf.distribute.Strategy, chief: bool, epoch: int
) -> int:
    """Every worker takes the chief's weights, optimizer state and epoch; the chief's epoch."""
    import tensorflow as tf

    variables = [*model.variables, *model.optimizer.variables]
    local = len(strategy.extended.worker_devices)

    @tf.function
    def from_chief(values):
        # An all-reduce SUM where only the chief's replicas contribute is a broadcast; float64
        # keeps integer counters (the optimizer's step) exact.
        def contribute():
            return [v if chief else tf.zeros_like(v) for v in values]

        summed = strategy.run(contribute)
        return [strategy.reduce("SUM", v, None) / local for v in summed]

    values = [tf.cast(v.value if hasattr(v, "value") else v, tf.float64) for v in variables]
    values.append(tf.constant(float(epoch), tf.float64))
    *weights, chiefs_epoch = from_chief(values)
    for variable, value in zip(variables, weights, strict=True):
        variable.assign(tf.cast(value, variable.dtype))
    return int(round(float(chiefs_epoch)))
