"""The two fitting stages of a run, its evaluation and its checkpoint metadata.

Stage 1 trains the new head on a frozen backbone: on backbone features computed once when the
photos are not augmented (so an epoch costs almost nothing), else batch by batch, the frozen
backbone on LiteRT where that is faster. Stage 2 optionally fine-tunes the backbone's top
layers at a lower learning rate, BatchNormalization kept in inference mode. Models are built
and compiled inside the run's ``tf.distribute`` strategy (``distribute.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from flowerdash.i18n import _
from flowerdash.models.checkpoints import now_iso
from flowerdash.training.config import TrainConfig

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from flowerdash.data.sources import DatasetSource
    from flowerdash.training.multiworker import Cluster


class Run(Protocol):
    """What the stages need of the job they train for (``TrainingJob``)."""

    id: str
    config: TrainConfig
    history: list[dict[str, Any]]
    epoch_counter: int
    total_epochs: int
    device: str | None
    strategy: str | None
    replicas: int | None
    started_at: float | None

    def emit(self, kind: str, **fields: Any) -> None: ...

    def check_cancel(self) -> None: ...

    def epoch_completed(self, stage: str) -> None: ...


class _Progress:
    """Keras callback that turns batches and epochs into events and honours cancel."""

    def __init__(
        self,
        run: Run,
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
                run.check_cancel()

            def on_epoch_end(self, epoch, logs=None):
                outer.epoch_end(logs or {})

        self.callback = _Callback()
        self.run, self.stage, self.epochs = run, stage, epochs
        self.steps, self.batch_size = steps, batch
        self.validate = validate
        self.epoch_start = time.perf_counter()
        self.stage_start = time.perf_counter()
        self.steps_done = 0
        self.last_emit = 0.0

    def batch(self, step: int, logs: dict[str, float]) -> None:
        self.run.check_cancel()
        self.steps_done += 1
        now = time.perf_counter()
        if now - self.last_emit < 0.25 and step + 1 < self.steps:
            return
        self.last_emit = now
        elapsed = now - self.stage_start
        rate = self.steps_done / elapsed if elapsed > 0 else 0.0
        remaining = self.epochs * self.steps - self.steps_done
        self.run.emit(
            "batch",
            stage=self.stage,
            epoch=self.run.epoch_counter + 1,
            epochs=self.run.total_epochs,
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
        self.run.epoch_counter += 1
        record = {
            "epoch": self.run.epoch_counter,
            "stage": self.stage,
            "loss": _f(logs.get("loss")),
            "accuracy": _f(logs.get("accuracy")),
            "val_loss": _f(logs.get("val_loss")),
            "val_accuracy": _f(logs.get("val_accuracy")),
            "seconds": round(seconds, 3),
        }
        self.run.history.append(record)
        self.run.epoch_completed(self.stage)
        self.run.emit(
            "epoch",
            stage=self.stage,
            epoch=self.run.epoch_counter,
            epochs=self.run.total_epochs,
            loss=record["loss"],
            accuracy=record["accuracy"],
            val_loss=record["val_loss"],
            val_accuracy=record["val_accuracy"],
            images_per_sec=self.steps * self.batch_size / seconds if seconds > 0 else None,
        )


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


class Stages:
    """The fitting stages of one run: its model, data pipelines, strategy and loss."""

    def __init__(
        self,
        run: Run,
        model: keras.Model,
        source: DatasetSource,
        strategy: tf.distribute.Strategy,
        cluster: Cluster | None,
        backup_dir: Any,
    ) -> None:
        import keras

        from flowerdash.data.pipelines import split_size

        cfg = run.config
        self.run, self.cfg, self.model, self.source = run, cfg, model, source
        self.strategy, self.cluster, self.backup_dir = strategy, cluster, backup_dir
        self.size = int(model.inputs[0].shape[1])
        self.augment = cfg.augment_config()
        n = split_size(source, cfg.train_on)
        n_train = min(n, cfg.train_limit) if cfg.train_limit else n
        self.steps = math.ceil(n_train / cfg.batch_size)
        self.loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
        self.teacher = None
        if cfg.distill:
            from flowerdash.training.distill import load_teacher

            classes = int(model.outputs[0].shape[-1])
            self.teacher = load_teacher(cfg.teacher, classes, self.size)
        # Hyper-parameters are chosen on val; a final run may then also learn from val.
        held_out = cfg.validation_split
        self.val = self.pipeline(held_out, False, cfg.val_limit) if held_out else None
        self._extract: Callable[[np.ndarray], np.ndarray] | None = None

    def pipeline(self, split: str, training: bool, limit: int | None) -> tf.data.Dataset:
        """A split's batches at the model's size, augmented when ``training``."""
        from flowerdash.data.pipelines import make_pipeline, without_autotune
        from flowerdash.training.distill import with_teacher

        cfg = self.cfg
        ds = make_pipeline(
            self.source,
            split,
            image_size=self.size,
            batch_size=cfg.batch_size,
            training=training,
            augment=self.augment if training else None,
            seed=cfg.seed,
            limit=limit,
        )
        if training and self.teacher is not None:
            ds = with_teacher(ds, self.teacher, cfg.distill)
        # Autotuning off: Keras makes a new iterator each epoch, and tearing one down waits
        # for the autotuner's thread, whose sleep grows as the run goes on.
        return without_autotune(ds)

    def head(self, epochs: int) -> None:
        """Stage 1: the new head on the frozen backbone for ``epochs`` epochs."""
        import keras

        from flowerdash.models.backbones import set_trainable

        cfg, model = self.cfg, self.model
        set_trainable(model, 0)
        with self.strategy.scope():
            model.compile(keras.optimizers.Adam(cfg.learning_rate), self.loss, metrics=["accuracy"])
        self.run.emit(
            "stage",
            stage="head",
            epochs=cfg.epochs,
            message=_("Stage 1: training the new head on a frozen backbone."),
        )
        # Multi-worker runs train on images: cached features are per-process arrays.
        cache = cfg.cache_features and self.cluster is None
        if (self.augment.is_identity or not cfg.head_augment) and cache:
            self._fit_head_on_features(epochs)
        else:
            # The frozen backbone gives every val image the same features each epoch, so
            # validation runs the head on features computed once instead of the backbone.
            validate = self._validate_on_features() if self.val is not None and cache else None
            cb = _Progress(self.run, "head", epochs, self.steps, cfg.batch_size, validate)
            train_ds = self.pipeline(cfg.train_on, True, cfg.train_limit)
            # On the CPU the frozen backbone runs faster on LiteRT; only the head trains.
            fast = self._fast_extractor() if cache else None
            trained = self._head() if fast else model
            self._fit(
                trained,
                backbone_features(train_ds, *fast) if fast else train_ds,
                "head",
                epochs,
                [cb.callback],
                None if validate else self.val,
            )
        self._extract = None  # the frozen backbone's function; fine-tuning changes the backbone

    def fine_tune(self, epochs: int) -> None:
        """Stage 2: the top backbone layers too, for ``epochs`` (the rest of the stage)."""
        import keras

        from flowerdash.models.backbones import set_trainable

        cfg, model = self.cfg, self.model
        count = set_trainable(model, cfg.fine_tune_layers)
        schedule = keras.optimizers.schedules.CosineDecay(
            cfg.fine_tune_learning_rate, decay_steps=max(epochs * self.steps, 1), alpha=0.05
        )
        with self.strategy.scope():
            model.compile(fine_tune_optimizer(cfg, schedule), self.loss, metrics=["accuracy"])
        self.run.emit(
            "stage",
            stage="fine_tune",
            epochs=cfg.fine_tune_epochs,
            message=_("Stage 2: fine-tuning the top {count} backbone layers.").format(count=count),
        )
        cb = _Progress(self.run, "fine_tune", epochs, self.steps, cfg.batch_size)
        # Validation sees the averaged weights, which are what the run ends with.
        swap = [keras.callbacks.SwapEMAWeights()] if cfg.fine_tune_ema else []
        self._fit(
            model,
            self.pipeline(cfg.train_on, True, cfg.train_limit),
            "fine_tune",
            epochs,
            [*swap, cb.callback],
            self.val,
        )

    def _fit(self, model, data, stage: str, epochs: int, callbacks: list, val) -> None:
        """``model.fit``, or on several workers the loop of ``multiworker.fit`` with a backup."""
        if self.cluster is None:
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

        offset = self.cfg.epochs if stage == "fine_tune" else 0

        def resumed(epoch: int) -> None:
            self.run.epoch_counter = offset + epoch
            self.run.emit(
                "message", message=_("Resumed from epoch {epoch}.").format(epoch=offset + epoch)
            )

        multiworker.fit(
            model,
            self.strategy,
            data,
            epochs=epochs,
            validation_data=val,
            callbacks=callbacks,
            backup_dir=str(self.backup_dir / stage),
            chief=self.cluster.is_chief,
            on_resume=resumed,
        )

    def _extractor(self) -> Callable[[np.ndarray], np.ndarray]:
        """The backbone's feature function on the fastest engine here (converted once a run)."""
        from flowerdash.inference.litert import LiteRTPredictor, batch_predictor
        from flowerdash.models.backbones import feature_model

        if self._extract is None:
            self._extract = batch_predictor(feature_model(self.model))
            if isinstance(self._extract, LiteRTPredictor):
                self.run.emit(
                    "message",
                    message=_("The frozen backbone runs on LiteRT (XNNPACK, {n} threads).").format(
                        n=self._extract.num_threads
                    ),
                )
        return self._extract

    def _fast_extractor(self) -> tuple[Callable[[np.ndarray], np.ndarray], int] | None:
        """(feature function, feature size) when the backbone runs outside TensorFlow, else None."""
        from flowerdash.inference.litert import LiteRTPredictor

        extract = self._extractor() if self.run.replicas == 1 else None
        if not isinstance(extract, LiteRTPredictor):
            return None
        return extract, int(self.model.get_layer("pool").output.shape[-1])

    def _features(self, split: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Backbone features and labels of a split (no augmentation), computed in batches."""
        extract = self._extractor()
        xs, ys = [], []
        ds = self.pipeline(split, False, limit)
        for images, labels in ds:
            self.run.check_cancel()
            xs.append(extract(images.numpy()))
            ys.append(labels.numpy())
            self.run.emit(
                "batch",
                stage="features",
                step=len(xs),
                steps=len(ds),
                message=_("Computing backbone features once ({split}).").format(split=split),
            )
        return np.concatenate(xs), np.concatenate(ys)

    def _head(self) -> keras.Model:
        """The model's own head on feature input (:func:`head_model`), compiled."""
        import keras

        from flowerdash.models.backbones import head_model

        with self.strategy.scope():
            head = head_model(self.model)
            head.compile(
                keras.optimizers.Adam(self.cfg.learning_rate), self.loss, metrics=["accuracy"]
            )
        return head

    def _validate_on_features(self) -> Callable[[], dict[str, float]]:
        """A function giving val loss and accuracy of the current head on cached val features."""
        x, y = self._features(self.cfg.validation_split, self.cfg.val_limit)
        head = self._head()

        def validate() -> dict[str, float]:
            logs = head.evaluate(x, y, batch_size=256, verbose=0, return_dict=True)
            return {"val_loss": logs["loss"], "val_accuracy": logs["accuracy"]}

        return validate

    def _fit_head_on_features(self, epochs: int) -> None:
        cfg = self.cfg
        feats = {"train": self._features(cfg.train_on, cfg.train_limit)}
        if cfg.validation_split:
            feats["val"] = self._features(cfg.validation_split, cfg.val_limit)
        head = self._head()
        steps = math.ceil(len(feats["train"][0]) / cfg.batch_size)
        # The head shares its layers with the full model, so epoch snapshots (taken of the full
        # model) include what the head learned.
        cb = _Progress(self.run, "head", epochs, steps, cfg.batch_size)
        head.fit(
            *feats["train"],
            batch_size=cfg.batch_size,
            epochs=epochs,
            shuffle=True,
            validation_data=feats.get("val"),
            verbose=0,
            callbacks=[cb.callback],
        )


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

    from flowerdash.data.pipelines import without_autotune

    def features(images, labels):
        feats = tf.numpy_function(extract, [images], tf.float32, stateful=False)
        return tf.ensure_shape(feats, [None, dim]), labels

    return without_autotune(dataset.map(features).prefetch(1))


def last_val_metrics(history: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"val": {"top1": ...}}`` from the last epoch, when it was validated."""
    if history and history[-1].get("val_accuracy") is not None:
        return {"val": {"top1": history[-1]["val_accuracy"]}}
    return {}


def evaluate(run: Run, model: keras.Model, source: DatasetSource) -> tuple[dict[str, Any], Any]:
    """Test metrics (``{"test": {n, top1, top5}}``) and the per-image predictions."""
    from flowerdash.inference.evaluation import compute_metrics, predict_split

    cfg = run.config
    run.emit("stage", stage="evaluate", message=_("Measuring accuracy on the test split."))

    def progress(done: int, total: int) -> None:
        run.check_cancel()
        run.emit("batch", stage="evaluate", step=done, steps=total)

    preds = predict_split(model, source, "test", limit=cfg.test_limit, progress=progress)
    m = compute_metrics(preds.labels, preds.top_k, len(source.class_names))
    run.emit(
        "message",
        message=_("Test top-1 {top1:.1%}, top-5 {top5:.1%}.").format(
            top1=m["top1"], top5=m["top5"]
        ),
    )
    return {"test": {"n": m["n"], "top1": m["top1"], "top5": m["top5"]}}, preds


def checkpoint_meta(
    run: Run,
    model: keras.Model | None,
    source: DatasetSource,
    status: str,
    metrics: dict[str, Any],
    workers: int = 1,
) -> dict[str, Any]:
    """The ``meta.json`` of a run's checkpoint."""
    cfg = run.config
    return {
        "status": status,
        "backbone": cfg.backbone,
        "image_size": int(model.inputs[0].shape[1]) if model else None,
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
        "history": run.history,
        "metrics": metrics,
        "device": run.device,
        "strategy": run.strategy,
        "replicas": run.replicas,
        "workers": workers,
        "started": _iso(run.started_at),
        "finished": now_iso(),
        "seconds": round(time.time() - (run.started_at or time.time()), 1),
        "run_id": run.id,
    }


def _iso(ts: float | None) -> str | None:
    from datetime import UTC, datetime

    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
