"""A training run as a job: a ``TrainConfig`` becomes a run that streams events and ends in a
checkpoint, in a background thread or in this one.

Runs are cancellable within one batch; an exception ends the run as failed with its message
kept. Every completed epoch is saved (``run_state.py``) so an interrupted run, even of a killed
process, can be resumed. The stages themselves are in ``stages.py``.
"""

from __future__ import annotations

import shutil
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flowerdash.errors import DatasetError, FlowerdashError, TrainingError
from flowerdash.i18n import _, get_language, ngettext, set_language
from flowerdash.models.checkpoints import save_checkpoint
from flowerdash.training import run_state, stages
from flowerdash.training.config import TrainConfig, status_word
from flowerdash.training.events import EventChannel, TrainingEvent

if TYPE_CHECKING:
    import keras

    from flowerdash.data.sources import DatasetSource


class Cancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the run to unwind promptly after a cancel request."""


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
        self.total_epochs = config.total_epochs
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._model: keras.Model | None = None
        self._best_weights: list[np.ndarray] | None = None
        # The run's thread speaks the language of whoever created the job (English in the CLI),
        # so the errors it records read like the rest of that person's dashboard.
        self.language = get_language()
        self._resume_from = Path(resume_from) if resume_from else None
        self._resume_state: dict[str, Any] | None = None
        if self._resume_from is not None:
            self._resume_state = run_state.read_state(self._resume_from)
            self.id = str(self._resume_state["run_id"])
            run_state.check_not_running_elsewhere(self._resume_state)
        self._run_dir: Path | None = None
        self._cluster = None  # a multiworker.Cluster on a multi-worker run
        self._policy: str | None = None  # the mixed-precision policy before this run set one

    # -- public API -------------------------------------------------------------------
    def start(self) -> TrainingJob:
        """Run in a daemon thread; returns immediately."""
        if self._thread is not None:
            raise TrainingError(_("This job was already started."))
        run_state.claim(self)  # at once: its run folder is not offered as interrupted meanwhile
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
            status=status_word(self.status),
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
            state = {
                "run_id": self.id,
                "config": self.config.to_dict(),
                "epochs_done": self.epoch_counter,
                "stage": stage,
                "history": self.history,
            }
            run_state.save_run_state(self._run_dir, self._model, state)

    def _run_in_thread(self) -> None:
        set_language(self.language)
        self.run()

    def run(self) -> Path | None:
        """Execute the run synchronously; never raises (the outcome is in ``status``)."""
        run_state.claim(self)
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
            run_state.release(self)
        return self.checkpoint

    def _name_undecodable(self, exc: Exception) -> DatasetError | None:
        """For a decoding error of tf.data (which names no file): the error naming the images.

        Decodes the images the run reads (its train split(s) and val), so it is slow; None when
        ``exc`` is no such error or no image of the run fails to decode.
        """
        import tensorflow as tf

        if not isinstance(exc, tf.errors.InvalidArgumentError | tf.errors.NotFoundError):
            return None
        from flowerdash.data.pipelines import raise_if_undecodable
        from flowerdash.data.sources import get_source

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

        from flowerdash.data.sources import get_source
        from flowerdash.models.backbones import build_model
        from flowerdash.training.distribute import (
            describe_device,
            describe_strategy,
            make_strategy,
            runs_on_gpu,
        )

        cfg = self.config
        if cfg.strategy == "multiworker":
            from flowerdash.training.multiworker import cluster_from_env, run_id

            self._cluster = cluster_from_env()
            self.id = run_id(cfg.to_dict(), self._cluster)
        strategy = make_strategy(cfg.strategy, cfg.devices)
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
        cfg.augment_config()  # a bad augmentation fails before the model is built
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
        self._run_dir = run_state.run_folder(self.id, cfg.checkpoint_dir)
        self.emit("message", message=_("Data: {source}.").format(source=source.description))
        fitting = stages.Stages(self, model, source, strategy, self._cluster, self._run_dir)
        head_epochs = max(cfg.epochs - start_epoch, 0)
        if head_epochs:
            fitting.head(head_epochs)
        ft_epochs = cfg.fine_tune_epochs - max(start_epoch - cfg.epochs, 0)
        if ft_epochs > 0:
            fitting.fine_tune(ft_epochs)
        return self._finish(model, source)

    def _finish(self, model: keras.Model, source: DatasetSource) -> Path | None:
        from flowerdash.inference.evaluation import store_predictions

        cfg = self.config
        preds = None
        metrics = stages.last_val_metrics(self.history)
        chief = self._cluster is None or self._cluster.is_chief
        if cfg.evaluate_test and chief:
            test, preds = stages.evaluate(self, model, source)
            metrics.update(test)
        meta = stages.checkpoint_meta(
            self, self._model, source, "complete", metrics, workers=self._workers()
        )
        if not chief:  # the same weights as the chief's: written aside, then removed
            import tempfile

            with tempfile.TemporaryDirectory(prefix="flowerdash-worker-") as scratch:
                save_checkpoint(model, meta, root=scratch)
            return None
        path = save_checkpoint(model, meta, root=cfg.checkpoint_dir, name=cfg.name)
        if preds is not None:
            store_predictions(path, preds, source, cfg.test_limit)  # the audit page starts warm
        self._cleanup_run_dir()
        return path

    def _workers(self) -> int:
        return len(self._cluster.workers) if self._cluster else 1

    def _save_partial(self) -> Path | None:
        if not (self.config.keep_on_cancel and self._best_weights is not None and self._model):
            return None
        from flowerdash.data.sources import get_source

        self._model.set_weights(self._best_weights)
        metrics = stages.last_val_metrics(self.history)
        name = f"{self.config.name or time.strftime('%Y%m%d-%H%M%S')}-partial-epoch{self.epoch_counter}"
        source = get_source(self.config.data_dir)
        meta = stages.checkpoint_meta(
            self, self._model, source, "cancelled", metrics, workers=self._workers()
        )
        meta["note"] = f"Cancelled run: weights of the last completed epoch ({self.epoch_counter})."
        path = save_checkpoint(self._model, meta, root=self.config.checkpoint_dir, name=name)
        self._cleanup_run_dir()
        return path

    def _restore(self, model: keras.Model) -> int:
        state = self._resume_state
        if state is None or self._resume_from is None:
            return 0
        model.load_weights(run_state.weights_file(self._resume_from, state))
        self.history = state["history"]
        self.epoch_counter = state["epochs_done"]
        # Claim the run at once, so other processes do not offer it as interrupted meanwhile.
        run_state.claim_on_disk(self._resume_from, state)
        self.emit(
            "message", message=_("Resumed from epoch {epoch}.").format(epoch=self.epoch_counter)
        )
        return self.epoch_counter

    def _cleanup_run_dir(self) -> None:
        if self._run_dir is None:
            return
        if self._cluster is None or self._cluster.is_chief:  # other workers back up elsewhere
            shutil.rmtree(self._run_dir, ignore_errors=True)


def _s(path: Path | None) -> str | None:
    return None if path is None else str(path)


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
