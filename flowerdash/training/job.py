"""The training engine: a ``TrainConfig`` becomes a run that streams events and ends in a checkpoint.

Stages: (1) the head on a frozen backbone (on cached backbone features when there is no
augmentation, so epochs are near-instant); (2) optional fine-tuning of the top N backbone layers
at a lower learning rate, BatchNormalization kept in inference mode. Both stages build and
compile their models inside the run's ``tf.distribute`` strategy (``distribute.py``): one device,
or MirroredStrategy across several GPUs, each batch (the global batch) split over the replicas.
Runs are cancellable within one batch; an exception ends the run as failed with its message
kept. Every completed epoch is saved to a hidden run folder so an interrupted run (even a killed
process) can be resumed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flowerdash.errors import ConfigError, DatasetError, FlowerdashError, TrainingError
from flowerdash.i18n import N_, _, get_language, ngettext, set_language
from flowerdash.models.checkpoints import check_name, checkpoint_root, now_iso, save_checkpoint
from flowerdash.training.events import EventChannel, TrainingEvent

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from flowerdash.data.datasets import DatasetSource

RUNS_DIR = ".runs"
LEGACY_WEIGHTS = "last.weights.h5"  # the weights of a run folder whose state names none
#: What a run trains on: ``val`` swaps the official splits (a second fold for choosing recipes).
TRAIN_ON = ("train", "val", "train+val")
STATUSES = ("pending", "running", "succeeded", "cancelled", "failed")
# How a status reads inside a message (``TrainingJob.describe``); translated where used.
STATUS_WORDS = {
    "pending": N_("pending"),
    "running": N_("running"),
    "succeeded": N_("succeeded"),
    "cancelled": N_("cancelled"),
    "failed": N_("failed"),
}


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in the checkpoint)."""

    backbone: str = "efficientnetb0"
    weights: str | None = "auto"
    image_size: int | None = None
    backbone_size: int | None = None
    augment: str = "basic"
    augment_overrides: dict[str, Any] = field(default_factory=dict)
    epochs: int = 5
    fine_tune_epochs: int = 0
    fine_tune_layers: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-4
    fine_tune_weight_decay: float = 0.0
    fine_tune_ema: float = 0.0
    label_smoothing: float = 0.0
    dropout: float = 0.2
    seed: int = 42
    train_on: str = "train"
    train_limit: int | None = None
    val_limit: int | None = None
    test_limit: int | None = None
    evaluate_test: bool = True
    cache_features: bool = True
    head_augment: bool = True
    keep_on_cancel: bool = True
    strategy: str = "auto"
    devices: list[str] | None = None
    data_dir: str | None = None
    checkpoint_dir: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, N_("Epochs must be at least 1.")),
            (self.fine_tune_epochs >= 0, N_("Fine-tuning epochs cannot be negative.")),
            (self.fine_tune_layers >= 0, N_("Fine-tuning depth cannot be negative.")),
            (self.batch_size >= 1, N_("Batch size must be at least 1.")),
            (
                self.learning_rate > 0 and self.fine_tune_learning_rate > 0,
                N_("Learning rates must be positive."),
            ),
            (self.fine_tune_weight_decay >= 0, N_("Weight decay cannot be negative.")),
            (
                0.0 <= self.fine_tune_ema < 1.0,
                N_("The weight-averaging momentum must be in [0, 1) (0 turns it off)."),
            ),
            (0.0 <= self.label_smoothing < 1.0, N_("Label smoothing must be in [0, 1).")),
            (0.0 <= self.dropout < 1.0, N_("Dropout must be in [0, 1).")),
            (
                self.train_on in TRAIN_ON,
                N_("Train on 'train', 'val' (the two splits swapped) or 'train+val'."),
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(_(message))
        if self.name is not None:
            check_name(self.name)
        from flowerdash.training.distribute import check_strategy_name

        self.strategy = check_strategy_name(self.strategy)
        self.devices = list(self.devices) if self.devices else None

    @property
    def validation_split(self) -> str | None:
        """The split that validates the run: the other one of train and val, none for both."""
        return {"train": "val", "val": "train"}.get(self.train_on)

    def augment_config(self):
        """The resolved augmentation: the preset with overrides applied."""
        from flowerdash.data.augment import AugmentConfig, preset

        base = preset(self.augment).to_dict()
        base.update(self.augment_overrides)
        return AugmentConfig.from_dict(base)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from plain data, ignoring unknown keys from other versions."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Cancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the run to unwind promptly after a cancel request."""


def describe_device() -> str:
    """'GPU (name)' or 'CPU (n cores)' for the device training will use."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})"
    return f"CPU ({os.cpu_count()} cores)"


class _Progress:
    """Keras callback that turns batches and epochs into events and honours cancel."""

    def __init__(
        self,
        job: TrainingJob,
        stage: str,
        epochs: int,
        steps: int,
        batch: int,
        validate: Callable[[], dict[str, float]] | None = None,
    ):
        import keras

        outer = self

        class _Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                outer.epoch_start = time.perf_counter()

            def on_train_batch_end(self, step, logs=None):
                outer.batch(step, logs or {})

            def on_test_batch_end(self, step, logs=None):
                job.check_cancel()

            def on_epoch_end(self, epoch, logs=None):
                outer.epoch_end(logs or {})

        self.callback = _Callback()
        self.job, self.stage, self.epochs, self.steps, self.batch_size = (
            job,
            stage,
            epochs,
            steps,
            batch,
        )
        self.validate = validate
        self.epoch_start = time.perf_counter()
        self.stage_start = time.perf_counter()
        self.steps_done = 0
        self.last_emit = 0.0

    def batch(self, step: int, logs: dict[str, float]) -> None:
        self.job.check_cancel()
        self.steps_done += 1
        now = time.perf_counter()
        if now - self.last_emit < 0.25 and step + 1 < self.steps:
            return
        self.last_emit = now
        elapsed = now - self.stage_start
        rate = self.steps_done / elapsed if elapsed > 0 else 0.0
        remaining = self.epochs * self.steps - self.steps_done
        self.job.emit(
            "batch",
            stage=self.stage,
            epoch=self.job.epoch_counter + 1,
            epochs=self.job.total_epochs,
            step=step + 1,
            steps=self.steps,
            loss=_f(logs.get("loss")),
            accuracy=_f(logs.get("accuracy")),
            images_per_sec=rate * self.batch_size,
            eta_seconds=remaining / rate if rate > 0 else None,
        )

    def epoch_end(self, logs: dict[str, float]) -> None:
        if self.validate is not None:
            logs = {**logs, **self.validate()}
        seconds = time.perf_counter() - self.epoch_start
        self.job.epoch_counter += 1
        record = {
            "epoch": self.job.epoch_counter,
            "stage": self.stage,
            "loss": _f(logs.get("loss")),
            "accuracy": _f(logs.get("accuracy")),
            "val_loss": _f(logs.get("val_loss")),
            "val_accuracy": _f(logs.get("val_accuracy")),
            "seconds": round(seconds, 3),
        }
        self.job.history.append(record)
        self.job.epoch_completed(self.stage)
        self.job.emit(
            "epoch",
            stage=self.stage,
            epoch=self.job.epoch_counter,
            epochs=self.job.total_epochs,
            loss=record["loss"],
            accuracy=record["accuracy"],
            val_loss=record["val_loss"],
            val_accuracy=record["val_accuracy"],
            images_per_sec=self.steps * self.batch_size / seconds if seconds > 0 else None,
        )


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


class TrainingJob:
    """One training run; ``start()`` runs it in a background thread, ``run()`` in this one."""

    def __init__(self, config: TrainConfig, resume_from: str | Path | None = None) -> None:
        self.config = config
        self.id = uuid.uuid4().hex[:10]
        self.channel = EventChannel()
        self.status = "pending"
        self.error: str | None = None
        self.error_details: str | None = None
        self.checkpoint: Path | None = None
        self.history: list[dict[str, Any]] = []
        self.device: str | None = None
        self.strategy: str | None = None
        self.replicas: int | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.epoch_counter = 0
        self.total_epochs = config.epochs + config.fine_tune_epochs
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._model: keras.Model | None = None
        self._best_weights: list[np.ndarray] | None = None
        self._extract: Callable[[np.ndarray], np.ndarray] | None = None
        # The run's thread speaks the language of whoever created the job (English in the CLI),
        # so the errors it records read like the rest of that person's dashboard.
        self.language = get_language()
        self._resume_from = Path(resume_from) if resume_from else None
        self._resume_state: dict[str, Any] | None = None
        if self._resume_from is not None:
            try:
                self._resume_state = json.loads((self._resume_from / "state.json").read_text())
            except (OSError, ValueError) as exc:
                raise TrainingError(
                    _("The interrupted run at {path} cannot be read: {error}").format(
                        path=self._resume_from, error=exc
                    )
                ) from exc
            self.id = str(self._resume_state["run_id"])
            _check_not_running_elsewhere(self._resume_state)
        self._run_dir: Path | None = None
        self._strategy: tf.distribute.Strategy | None = None
        self._cluster = None  # a multiworker.Cluster on a multi-worker run
        self._policy: str | None = None  # the mixed-precision policy before this run set one

    # -- public API -------------------------------------------------------------------
    def start(self) -> TrainingJob:
        """Run in a daemon thread; returns immediately."""
        if self._thread is not None:
            raise TrainingError(_("This job was already started."))
        self._thread = threading.Thread(
            target=self._run_in_thread, name=f"train-{self.id}", daemon=True
        )
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the run to stop; it does within one batch."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a started job; True when it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done

    @property
    def done(self) -> bool:
        """True once the run ended (succeeded, cancelled or failed)."""
        return self.status in ("succeeded", "cancelled", "failed")

    @property
    def cancel_requested(self) -> bool:
        """True after :meth:`cancel`."""
        return self._cancel.is_set()

    def describe(self) -> str:
        """One line for messages: backbone, epochs, status and progress (current language)."""
        return ngettext(
            "run {id} ({backbone}, {epochs} epoch, {status}, epoch {done}/{total})",
            "run {id} ({backbone}, {epochs} epochs, {status}, epoch {done}/{total})",
            self.total_epochs,
        ).format(
            id=self.id,
            backbone=self.config.backbone,
            epochs=self.total_epochs,
            status=_(STATUS_WORDS.get(self.status, self.status)),
            done=self.epoch_counter,
            total=self.total_epochs,
        )

    # -- inside the run ---------------------------------------------------------------
    def emit(self, kind: str, **fields_: Any) -> None:
        """Put an event on the channel."""
        self.channel.put(TrainingEvent(kind=kind, **fields_))

    def check_cancel(self) -> None:
        """Unwind the run if a cancel was requested."""
        if self._cancel.is_set():
            raise Cancelled()

    def epoch_completed(self, stage: str) -> None:
        """Remember the weights of the last completed epoch and persist resumable state."""
        self._best_weights = [w.copy() for w in self._model.get_weights()]
        if self._run_dir is not None and self._cluster is None:  # multi-worker: BackupAndRestore
            _save_run_state(self._run_dir, self, stage)

    def _run_in_thread(self) -> None:
        set_language(self.language)
        self.run()

    def run(self) -> Path | None:
        """Execute the run synchronously; never raises (the outcome is in ``status``)."""
        self.status = "running"
        self.started_at = time.time()
        try:
            self.checkpoint = self._run()
            self.status = "succeeded"
            self.emit(
                "finished",
                status="succeeded",
                checkpoint=_s(self.checkpoint),
                message=_("Saved checkpoint {name}.").format(name=self.checkpoint.name)
                if self.checkpoint
                else _("Done; the chief (worker 0) saved the checkpoint."),
            )
        except Cancelled:
            self.status = "cancelled"
            self.checkpoint = self._save_partial()
            note = (
                _("Kept the last completed epoch as {name}.").format(name=self.checkpoint.name)
                if self.checkpoint
                else _("No epoch had completed, so nothing was kept.")
            )
            self.emit(
                "finished",
                status="cancelled",
                checkpoint=_s(self.checkpoint),
                message=_("Training was cancelled. {note}").format(note=note),
            )
        except FlowerdashError as exc:
            self._fail(str(exc))
        except Exception as exc:  # the process must stay healthy whatever the run raises
            details = traceback.format_exc()
            named = self._name_undecodable(exc)
            if named is not None:
                self._fail(str(named), details)
            else:
                self._fail(f"{type(exc).__name__}: {exc}", details)
        finally:
            if self._policy is not None:  # the app's other models stay in their own precision
                import keras

                keras.mixed_precision.set_global_policy(self._policy)
            self.finished_at = time.time()
        return self.checkpoint

    def _name_undecodable(self, exc: Exception) -> DatasetError | None:
        """For a decoding error of tf.data (which names no file): the error naming the images.

        Decodes the images the run reads (its train split(s) and val), so it is slow; None when
        ``exc`` is no such error or no image of the run fails to decode.
        """
        import tensorflow as tf

        if not isinstance(exc, tf.errors.InvalidArgumentError | tf.errors.NotFoundError):
            return None
        from flowerdash.data.datasets import get_source, raise_if_undecodable

        cfg = self.config
        splits = [(cfg.train_on, cfg.train_limit)]
        if cfg.validation_split:
            splits.append((cfg.validation_split, cfg.val_limit))
        self.emit("message", message=_("Looking for the image that could not be read…"))
        try:
            source = get_source(cfg.data_dir)
            for split, limit in splits:
                raise_if_undecodable(source, split, limit=limit, seed=cfg.seed)
        except DatasetError as named:
            return named
        except Exception:  # the search must not hide the run's own error
            return None
        return None

    def _fail(self, message: str, details: str | None = None) -> None:
        self.status = "failed"
        self.error = message
        self.error_details = details
        self.emit(
            "finished",
            status="failed",
            message=_("Training failed: {error}").format(error=message),
        )

    def _run(self) -> Path | None:
        import keras

        from flowerdash.data.datasets import get_source, make_pipeline, without_autotune
        from flowerdash.models.backbones import build_model, set_trainable
        from flowerdash.training.distribute import describe_strategy, make_strategy, runs_on_gpu

        cfg = self.config
        if cfg.strategy == "multiworker":
            from flowerdash.training.multiworker import cluster_from_env, run_id

            self._cluster = cluster_from_env()
            self.id = run_id(cfg.to_dict(), self._cluster)
        strategy = make_strategy(cfg.strategy, cfg.devices)
        self._strategy = strategy
        self.device = describe_device()
        self.strategy = describe_strategy(strategy)
        self.replicas = int(strategy.num_replicas_in_sync)
        if self.device.startswith("GPU") and runs_on_gpu(strategy):
            self._policy = keras.mixed_precision.global_policy().name
            keras.mixed_precision.set_global_policy("mixed_float16")
        self.emit(
            "started",
            message=_("Training {backbone} on {device}, {strategy}.").format(
                backbone=cfg.backbone, device=self.device, strategy=self.strategy
            ),
        )
        keras.utils.set_random_seed(cfg.seed)
        source = get_source(cfg.data_dir)
        augment = cfg.augment_config()
        self.check_cancel()
        # Variables (model, optimizer, metrics) must be created under the strategy's scope.
        with strategy.scope():
            model = build_model(
                cfg.backbone,
                cfg.weights,
                cfg.image_size,
                dropout=cfg.dropout,
                backbone_size=cfg.backbone_size,
            )
            self._model = model
            start_epoch = self._restore(model)
        size = int(model.inputs[0].shape[1])
        root = checkpoint_root(cfg.checkpoint_dir)
        self._run_dir = root / RUNS_DIR / self.id
        self.emit("message", message=_("Data: {source}.").format(source=source.description))

        def pipeline(split: str, training: bool, limit: int | None) -> tf.data.Dataset:
            # Autotuning off: Keras makes a new iterator each epoch, and tearing one down waits
            # for the autotuner's thread, whose sleep grows to a minute as the run goes on.
            return without_autotune(
                make_pipeline(
                    source,
                    split,
                    image_size=size,
                    batch_size=cfg.batch_size,
                    training=training,
                    augment=augment if training else None,
                    seed=cfg.seed,
                    limit=limit,
                )
            )

        n_train = _count(source, cfg.train_on, cfg.train_limit)
        steps = math.ceil(n_train / cfg.batch_size)
        # Hyper-parameters are chosen on val; a final run may then also learn from val.
        held_out = cfg.validation_split
        val = pipeline(held_out, False, cfg.val_limit) if held_out else None
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)

        head_epochs = max(cfg.epochs - start_epoch, 0)
        if head_epochs:
            set_trainable(model, 0)
            with strategy.scope():
                model.compile(keras.optimizers.Adam(cfg.learning_rate), loss, metrics=["accuracy"])
            self.emit(
                "stage",
                stage="head",
                epochs=cfg.epochs,
                message=_("Stage 1: training the new head on a frozen backbone."),
            )
            # Multi-worker runs train on images: cached features are per-process arrays.
            cache = cfg.cache_features and self._cluster is None
            if (augment.is_identity or not cfg.head_augment) and cache:
                self._fit_head_on_features(model, pipeline, cfg, head_epochs, loss)
            else:
                # The frozen backbone gives every val image the same features each epoch, so
                # validation runs the head on features computed once instead of the backbone.
                validate = None
                if val is not None and cache:
                    validate = self._validate_on_features(model, pipeline, cfg, loss)
                cb = _Progress(self, "head", head_epochs, steps, cfg.batch_size, validate)
                train_ds = pipeline(cfg.train_on, True, cfg.train_limit)
                # On the CPU the frozen backbone runs faster on LiteRT; only the head trains.
                fast = self._fast_extractor(model) if cache else None
                trained = self._head(model, cfg, loss) if fast else model
                self._fit(
                    trained,
                    backbone_features(train_ds, *fast) if fast else train_ds,
                    "head",
                    head_epochs,
                    [cb.callback],
                    None if validate else val,
                )
        self._extract = None  # the frozen backbone's function; fine-tuning changes the backbone
        ft_done = max(start_epoch - cfg.epochs, 0)
        ft_epochs = cfg.fine_tune_epochs - ft_done
        if ft_epochs > 0:
            count = set_trainable(model, cfg.fine_tune_layers)
            schedule = keras.optimizers.schedules.CosineDecay(
                cfg.fine_tune_learning_rate, decay_steps=max(ft_epochs * steps, 1), alpha=0.05
            )
            with strategy.scope():
                model.compile(fine_tune_optimizer(cfg, schedule), loss, metrics=["accuracy"])
            self.emit(
                "stage",
                stage="fine_tune",
                epochs=cfg.fine_tune_epochs,
                message=_("Stage 2: fine-tuning the top {count} backbone layers.").format(
                    count=count
                ),
            )
            cb = _Progress(self, "fine_tune", ft_epochs, steps, cfg.batch_size)
            # Validation sees the averaged weights, which are what the run ends with.
            swap = [keras.callbacks.SwapEMAWeights()] if cfg.fine_tune_ema else []
            self._fit(
                model,
                pipeline(cfg.train_on, True, cfg.train_limit),
                "fine_tune",
                ft_epochs,
                [*swap, cb.callback],
                val,
            )
        return self._finish(model, source)

    def _fit(self, model, data, stage: str, epochs: int, callbacks: list, val) -> None:
        """``model.fit``, or on several workers the loop of ``multiworker.fit`` with a backup."""
        if self._cluster is None:
            model.fit(
                data,
                validation_data=val,
                epochs=epochs,
                verbose=0,
                callbacks=callbacks,
                shuffle=False,
            )
            return
        from flowerdash.training import multiworker

        offset = self.config.epochs if stage == "fine_tune" else 0

        def resumed(epoch: int) -> None:
            self.epoch_counter = offset + epoch
            self.emit(
                "message", message=_("Resumed from epoch {epoch}.").format(epoch=offset + epoch)
            )

        multiworker.fit(
            model,
            self._strategy,
            data,
            epochs=epochs,
            validation_data=val,
            callbacks=callbacks,
            backup_dir=str(self._run_dir / stage),
            chief=self._cluster.is_chief,
            on_resume=resumed,
        )

    def _extractor(self, model) -> Callable[[np.ndarray], np.ndarray]:
        """The backbone's feature function on the fastest engine here (converted once a run)."""
        from flowerdash.inference.litert import LiteRTPredictor, batch_predictor
        from flowerdash.models.backbones import feature_model

        if self._extract is None:
            self._extract = batch_predictor(feature_model(model))
            if isinstance(self._extract, LiteRTPredictor):
                self.emit(
                    "message",
                    message=_("The frozen backbone runs on LiteRT (XNNPACK, {n} threads).").format(
                        n=self._extract.num_threads
                    ),
                )
        return self._extract

    def _fast_extractor(self, model) -> tuple[Callable[[np.ndarray], np.ndarray], int] | None:
        """(feature function, feature size) when the backbone runs outside TensorFlow, else None."""
        from flowerdash.inference.litert import LiteRTPredictor

        extract = self._extractor(model) if self.replicas == 1 else None
        if not isinstance(extract, LiteRTPredictor):
            return None
        return extract, int(model.get_layer("pool").output.shape[-1])

    def _features(self, model, pipeline, split: str, limit: int | None):
        """Backbone features and labels of a split (no augmentation), computed in batches."""
        extract = self._extractor(model)
        xs, ys = [], []
        ds = pipeline(split, False, limit)  # autotuner already off
        for images, labels in ds:
            self.check_cancel()
            xs.append(extract(images.numpy()))
            ys.append(labels.numpy())
            self.emit(
                "batch",
                stage="features",
                step=len(xs),
                steps=len(ds),
                message=_("Computing backbone features once ({split}).").format(split=split),
            )
        return np.concatenate(xs), np.concatenate(ys)

    def _head(self, model, cfg, loss):
        """The model's own head on feature input (:func:`head_model`), compiled."""
        import keras

        from flowerdash.models.backbones import head_model

        with self._strategy.scope():
            head = head_model(model)
            head.compile(keras.optimizers.Adam(cfg.learning_rate), loss, metrics=["accuracy"])
        return head

    def _validate_on_features(self, model, pipeline, cfg, loss) -> Callable[[], dict[str, float]]:
        """A function giving val loss and accuracy of the current head on cached val features."""
        x, y = self._features(model, pipeline, cfg.validation_split, cfg.val_limit)
        head = self._head(model, cfg, loss)

        def validate() -> dict[str, float]:
            logs = head.evaluate(x, y, batch_size=256, verbose=0, return_dict=True)
            return {"val_loss": logs["loss"], "val_accuracy": logs["accuracy"]}

        return validate

    def _fit_head_on_features(self, model, pipeline, cfg, epochs, loss) -> None:
        feats = {"train": self._features(model, pipeline, cfg.train_on, cfg.train_limit)}
        if cfg.validation_split:
            feats["val"] = self._features(model, pipeline, cfg.validation_split, cfg.val_limit)
        head = self._head(model, cfg, loss)
        steps = math.ceil(len(feats["train"][0]) / cfg.batch_size)
        # The head shares its layers with the full model, so epoch snapshots (taken of the full
        # model) include what the head learned.
        cb = _Progress(self, "head", epochs, steps, cfg.batch_size)
        head.fit(
            *feats["train"],
            batch_size=cfg.batch_size,
            epochs=epochs,
            shuffle=True,
            validation_data=feats.get("val"),
            verbose=0,
            callbacks=[cb.callback],
        )

    def _finish(self, model: keras.Model, source: DatasetSource) -> Path | None:
        from flowerdash.inference.evaluation import (
            compute_metrics,
            predict_split,
            store_predictions,
        )

        cfg = self.config
        preds = None
        metrics: dict[str, Any] = {}
        if self.history and self.history[-1].get("val_accuracy") is not None:
            metrics["val"] = {"top1": self.history[-1]["val_accuracy"]}
        chief = self._cluster is None or self._cluster.is_chief
        if cfg.evaluate_test and chief:
            self.emit("stage", stage="evaluate", message=_("Measuring accuracy on the test split."))

            def progress(done: int, total: int) -> None:
                self.check_cancel()
                self.emit("batch", stage="evaluate", step=done, steps=total)

            preds = predict_split(model, source, "test", limit=cfg.test_limit, progress=progress)
            m = compute_metrics(preds.labels, preds.top_k, len(source.class_names))
            metrics["test"] = {"n": m["n"], "top1": m["top1"], "top5": m["top5"]}
            self.emit(
                "message",
                message=_("Test top-1 {top1:.1%}, top-5 {top5:.1%}.").format(
                    top1=m["top1"], top5=m["top5"]
                ),
            )
        if not chief:  # the same weights as the chief's: written aside, then removed
            import tempfile

            with tempfile.TemporaryDirectory(prefix="flowerdash-worker-") as scratch:
                save_checkpoint(model, self._meta(source, "complete", metrics), root=scratch)
            return None
        path = save_checkpoint(
            model, self._meta(source, "complete", metrics), root=cfg.checkpoint_dir, name=cfg.name
        )
        if preds is not None:
            store_predictions(path, preds, source, cfg.test_limit)  # the audit page starts warm
        self._cleanup_run_dir()
        return path

    def _meta(self, source: DatasetSource, status: str, metrics: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        return {
            "status": status,
            "backbone": cfg.backbone,
            "image_size": int(self._model.inputs[0].shape[1]) if self._model else None,
            "class_names": list(source.class_names),
            "config": cfg.to_dict(),
            "augmentation": cfg.augment_config().to_dict(),
            "seed": cfg.seed,
            "dataset": {
                "source": source.kind,
                "description": source.description,
                "split_sizes": source.sizes(),
                "used": {"train": cfg.train_limit, "val": cfg.val_limit, "test": cfg.test_limit},
                "trained_on": cfg.train_on,
                "validated_on": cfg.validation_split,
            },
            "history": self.history,
            "metrics": metrics,
            "device": self.device,
            "strategy": self.strategy,
            "replicas": self.replicas,
            "workers": len(self._cluster.workers) if self._cluster else 1,
            "started": _iso(self.started_at),
            "finished": now_iso(),
            "seconds": round(time.time() - (self.started_at or time.time()), 1),
            "run_id": self.id,
        }

    def _save_partial(self) -> Path | None:
        if not (self.config.keep_on_cancel and self._best_weights is not None and self._model):
            return None
        from flowerdash.data.datasets import get_source

        self._model.set_weights(self._best_weights)
        metrics = {}
        if self.history and self.history[-1].get("val_accuracy") is not None:
            metrics["val"] = {"top1": self.history[-1]["val_accuracy"]}
        name = f"{self.config.name or time.strftime('%Y%m%d-%H%M%S')}-partial-epoch{self.epoch_counter}"
        meta = self._meta(get_source(self.config.data_dir), "cancelled", metrics)
        meta["note"] = f"Cancelled run: weights of the last completed epoch ({self.epoch_counter})."
        path = save_checkpoint(self._model, meta, root=self.config.checkpoint_dir, name=name)
        self._cleanup_run_dir()
        return path

    def _restore(self, model: keras.Model) -> int:
        state = self._resume_state
        if state is None or self._resume_from is None:
            return 0
        model.load_weights(_weights_file(self._resume_from, state))
        self.history = state["history"]
        self.epoch_counter = state["epochs_done"]
        # Claim the run at once, so other processes do not offer it as interrupted meanwhile.
        _write_state(self._resume_from, {**state, **_process_identity(), "updated": time.time()})
        self.emit(
            "message", message=_("Resumed from epoch {epoch}.").format(epoch=self.epoch_counter)
        )
        return self.epoch_counter

    def _cleanup_run_dir(self) -> None:
        if self._run_dir is None:
            return
        if self._cluster is None or self._cluster.is_chief:  # other workers back up elsewhere
            shutil.rmtree(self._run_dir, ignore_errors=True)


def fine_tune_optimizer(
    cfg: TrainConfig, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule
) -> keras.optimizers.Optimizer:
    """Adam for fine-tuning; AdamW (decoupled decay, biases exempt) when weight decay is set.

    With ``fine_tune_ema`` the optimizer also keeps an exponential moving average of the weights,
    which Keras copies into the model when ``fit`` ends.
    """
    import keras

    ema = {"use_ema": True, "ema_momentum": cfg.fine_tune_ema} if cfg.fine_tune_ema else {}
    if cfg.fine_tune_weight_decay == 0:
        return keras.optimizers.Adam(learning_rate, **ema)
    optimizer = keras.optimizers.AdamW(
        learning_rate, weight_decay=cfg.fine_tune_weight_decay, **ema
    )
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


def backbone_features(dataset: tf.data.Dataset, extract: Callable, dim: int) -> tf.data.Dataset:
    """The (images, labels) batches with images replaced by ``extract(images)`` [N, dim]."""
    import tensorflow as tf

    from flowerdash.data.datasets import without_autotune

    def features(images, labels):
        feats = tf.numpy_function(extract, [images], tf.float32, stateful=False)
        return tf.ensure_shape(feats, [None, dim]), labels

    return without_autotune(dataset.map(features).prefetch(1))


def _count(source: DatasetSource, split: str, limit: int | None) -> int:
    from flowerdash.data.datasets import split_size

    n = split_size(source, split)
    return min(n, limit) if limit else n


def _s(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _iso(ts: float | None) -> str | None:
    from datetime import UTC, datetime

    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _save_run_state(run_dir: Path, job: TrainingJob, stage: str) -> None:
    """Persist weights and progress of the last completed epoch (atomically, as one).

    The weights go to a file of their own epoch, then ``state.json`` is replaced by one naming
    that file, then older weights are deleted: a kill at any point leaves a state whose epoch
    count matches the weights it names.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    weights = f"epoch{job.epoch_counter:04d}.weights.h5"
    weights_tmp = run_dir / "epoch.tmp.weights.h5"
    job._model.save_weights(weights_tmp)
    os.replace(weights_tmp, run_dir / weights)
    state = {
        "run_id": job.id,
        "config": job.config.to_dict(),
        "epochs_done": job.epoch_counter,
        "stage": stage,
        "history": job.history,
        "weights": weights,
        **_process_identity(),
        "updated": time.time(),
    }
    _write_state(run_dir, state)
    for old in run_dir.glob("*.weights.h5"):
        if old.name != weights:
            old.unlink(missing_ok=True)


def _weights_file(run_dir: Path, state: dict[str, Any]) -> Path:
    """The weights file a run's state names (run folders of older versions: last.weights.h5)."""
    return run_dir / Path(str(state.get("weights") or LEGACY_WEIGHTS)).name


def _write_state(run_dir: Path, state: dict[str, Any]) -> None:
    """Replace ``state.json`` atomically: readers see the old state or the new one."""
    tmp = run_dir / "state.tmp.json"
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, run_dir / "state.json")


def _process_start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, /proc/<pid>/stat field 22).

    None where /proc is absent, or when the process does not exist or is a zombie.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Field 2 (the command name) is in parentheses and may hold spaces or ')' itself.
        rest = stat[stat.rindex(")") + 2 :].split()
        return None if rest[0] in ("Z", "X") else int(rest[19])  # rest[0] is field 3
    except (OSError, ValueError, IndexError):
        return None


def _process_identity() -> dict[str, Any]:
    """What identifies this process in a run's state: its pid and, on Linux, its start time."""
    pid = os.getpid()
    return {"pid": pid, "pid_started": _process_start_time(pid)}


def running_elsewhere(state: dict[str, Any]) -> int | None:
    """The pid of another live process that is still training the run of ``state``, else None.

    The pid must be alive and, where /proc tells (Linux), have the recorded start time: a pid
    reused by an unrelated process after a kill does not count. Runs of this process are not
    covered here (the in-process registry knows them).
    """
    pid = state.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    except OSError:
        return None
    if Path("/proc/self/stat").exists():
        started = _process_start_time(pid)
        if started is None:  # gone, or a zombie: it trains nothing any more
            return None
        recorded = state.get("pid_started")
        if recorded is not None and recorded != started:
            return None  # the pid now belongs to another process
    return pid


def _check_not_running_elsewhere(state: dict[str, Any]) -> None:
    pid = running_elsewhere(state)
    if pid is not None:
        raise TrainingError(
            _("Run {id} is still training in process {pid}; it cannot be resumed.").format(
                id=state.get("run_id"), pid=pid
            )
        )


def check_not_running(run_id: str, checkpoint_dir: str | Path | None = None) -> None:
    """Refuse (TrainingError) when run ``run_id`` is still being trained by another process."""
    state_file = checkpoint_root(checkpoint_dir) / RUNS_DIR / run_id / "state.json"
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return
    if isinstance(state, dict):
        _check_not_running_elsewhere(state)


@dataclass(frozen=True)
class InterruptedRun:
    """A run whose process died after completing some epochs; it can be resumed."""

    path: Path
    run_id: str
    config: TrainConfig
    epochs_done: int


def interrupted_runs(checkpoint_dir: str | Path | None = None) -> list[InterruptedRun]:
    """Runs left behind by a killed process (not the ones still running, here or elsewhere)."""
    root = checkpoint_root(checkpoint_dir) / RUNS_DIR
    live = {j.id for j in REGISTRY.jobs() if not j.done}
    found = []
    for state_file in sorted(root.glob("*/state.json")) if root.is_dir() else []:
        try:
            state = json.loads(state_file.read_text())
            if state["run_id"] in live or not _weights_file(state_file.parent, state).is_file():
                continue
            if running_elsewhere(state) is not None:  # a live run of another process
                continue
            found.append(
                InterruptedRun(
                    state_file.parent,
                    state["run_id"],
                    TrainConfig.from_dict(state["config"]),
                    state["epochs_done"],
                )
            )
        except (OSError, ValueError, KeyError, ConfigError):
            continue
    return found


class JobRegistry:
    """Process-wide registry allowing one training run at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[TrainingJob] = []

    def start(self, config: TrainConfig, resume_from: str | Path | None = None) -> TrainingJob:
        """Start a run in the background, or refuse if one is already running."""
        with self._lock:
            running = self.current_locked()
            if running is not None:
                raise TrainingError(
                    _("A training run is already in progress: {run}.").format(
                        run=running.describe()
                    )
                )
            job = TrainingJob(config, resume_from=resume_from)
            self._jobs.append(job)
            return job.start()

    def current_locked(self) -> TrainingJob | None:
        for job in reversed(self._jobs):
            if not job.done:
                return job
        return None

    def current(self) -> TrainingJob | None:
        """The running job, if any."""
        with self._lock:
            return self.current_locked()

    def latest(self) -> TrainingJob | None:
        """The most recent job, running or not."""
        with self._lock:
            return self._jobs[-1] if self._jobs else None

    def jobs(self) -> list[TrainingJob]:
        """All jobs started in this process, oldest first."""
        with self._lock:
            return list(self._jobs)


REGISTRY = JobRegistry()


def train(config: TrainConfig) -> TrainingJob:
    """Run training synchronously in this thread and return the finished job."""
    job = TrainingJob(config)
    job.run()
    return job
