"""The benchmarks: each takes a :class:`Context` and returns a JSON-able dict of measurements."""

from __future__ import annotations

import gc as pygc
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import ROOT, SHARED, Skip, find_checkpoint, offline_data_dir
from benchmarks.stats import once, rate, repeat, scaled, summarize

TRAIN_IMAGES = 1020
VAL_IMAGES = 1020
TEST_IMAGES = 6149


@dataclass
class Plan:
    """How much to measure: the full plan on real backbones, or a seconds-long quick one."""

    quick: bool
    backbones: tuple[str, ...]
    image_size: int
    batch_size: int
    warmup_batches: int
    timed_batches: int
    head_epochs: int
    eval_limit: int
    eval_full_if_under: float  # run the whole test split when the estimate is below this (s)
    repeats: int
    ig_steps: tuple[int, ...]
    ig_images: int
    ig_images_other: int  # images per step count for backbones other than the first
    naive_steps: int
    naive_repeats: int
    memory_steps: tuple[int, ...]
    naive_memory_steps: tuple[int, ...]
    app: bool
    train_limit: int | None = None  # training images the pipelines draw from (None = all 1,020)
    load_users: tuple[int, ...] = (1, 4, 16)  # concurrent simulated users per level
    load_images: int = 16  # distinct test photos each level serves
    load_ig_steps: int = 32

    @classmethod
    def make(cls, quick: bool) -> Plan:
        """The quick plan (tiny backbone, 64 px) or the full one (real backbones, 224 px)."""
        if quick:
            return cls(True, ("tiny",), 64, 8, 1, 2, 2, 16, 0.0, 3, (4, 8), 2, 1, 8, 2,
                       (8,), (8,), False, train_limit=48, load_users=(1, 2, 4),
                       load_images=4, load_ig_steps=4)  # fmt: skip
        return cls(False, ("mobilenetv2", "efficientnetb0"), 224, 32, 3, 10, 5, 512, 90.0, 15,
                   (16, 32, 64, 128, 256), 5, 1, 64, 3, (16, 32, 64, 128, 256),
                   (16, 64, 128), True)  # fmt: skip


@dataclass
class Context:
    """Shared state of one suite run: the plan, the data, weights and trained checkpoint."""

    plan: Plan
    data_dir: Path | None
    weights_dir: Path | None
    checkpoint: Path | None
    log: Callable[[str], None] = print
    _models: dict[str, Any] = field(default_factory=dict)
    _source: Any = None

    @classmethod
    def create(cls, plan: Plan, log: Callable[[str], None] = print) -> Context:
        """Find the dataset, the offline weights and a trained checkpoint on this machine."""
        from flowerdash.settings import load_settings

        data = offline_data_dir()
        weights = load_settings().weights_dir or SHARED / "weights"
        return cls(
            plan,
            data if (data / "setid.mat").is_file() else None,
            Path(weights) if Path(weights).is_dir() else None,
            find_checkpoint(),
            log,
        )

    @property
    def source(self):
        """The offline dataset (a FolderSource)."""
        from flowerdash.data.sources import FolderSource

        if self.data_dir is None:
            raise Skip("no offline Oxford Flowers102 folder (set FLOWERDASH_DATA_DIR)")
        if self._source is None:
            self._source = FolderSource(self.data_dir)
        return self._source

    def weights(self, backbone: str) -> str | None:
        """Offline ImageNet weights for a backbone, or None (random init, same compute)."""
        from flowerdash.models.backbones import get_backbone

        name = get_backbone(backbone).offline_weights_file
        if name and self.weights_dir and (self.weights_dir / name).is_file():
            return str(self.weights_dir / name)
        return None

    def fresh_model(self, backbone: str):
        """A newly built model (training mutates trainability, so each stage gets its own)."""
        from flowerdash.models.backbones import build_model

        return build_model(backbone, self.weights(backbone), self.plan.image_size)

    def explain_model(self, backbone: str) -> tuple[Any, str]:
        """The model explainers run on: the trained checkpoint when its backbone matches."""
        if backbone not in self._models:
            if self.checkpoint and _checkpoint_backbone(self.checkpoint) == backbone:
                from flowerdash.models.checkpoints import load_model

                model = load_model(self.checkpoint)
                origin = f"trained checkpoint {self.checkpoint}"
                if int(model.inputs[0].shape[1]) != self.plan.image_size:
                    model, origin = self.fresh_model(backbone), "random head (size mismatch)"
            else:
                model = self.fresh_model(backbone)
                weights = "ImageNet backbone" if self.weights(backbone) else "random backbone"
                origin = f"{weights}, random head (no trained checkpoint)"
            self._models[backbone] = (model, origin)
        return self._models[backbone]

    def test_images(self, n: int) -> np.ndarray:
        """``n`` test-split photos prepared for the model: float32 [n, S, S, 3] in 0..255."""
        from flowerdash.data.images import prepare_for_model

        split = self.source.split("test")
        picks = np.linspace(0, len(split) - 1, n).astype(int)
        return np.stack(
            [
                prepare_for_model(self.source.read_image("test", int(i)), self.plan.image_size)
                for i in picks
            ]  # fmt: skip
        )


def _checkpoint_backbone(path: Path) -> str | None:
    try:
        return json.loads((path / "meta.json").read_text()).get("backbone")
    except (OSError, ValueError):
        return None


def _sync_logs(logs: dict | None) -> None:
    # Reading a value forces the step to finish, so batch timestamps are real.
    for value in (logs or {}).values():
        float(value)
        break


def _fit_batch_times(model, ds, batches: int, warmup: int) -> list[float]:
    """Seconds per training batch for ``batches`` batches after ``warmup`` untimed ones."""
    import keras

    stamps: list[float] = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            _sync_logs(logs)
            stamps.append(time.perf_counter())

    start = time.perf_counter()
    model.fit(ds.take(warmup + batches), epochs=1, verbose=0, callbacks=[Stamp()])
    return list(np.diff([start, *stamps])[warmup:])


def _epoch_timer_class():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall seconds of each epoch."""

        def __init__(self):
            super().__init__()
            self.times: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    return EpochTimer


def _EpochTimer():  # noqa: N802 - a factory that reads like the class it builds
    return _epoch_timer_class()()


def _train_pipeline(ctx: Context, augmented: bool = True):
    from flowerdash.data.augment_config import preset
    from flowerdash.data.pipelines import make_pipeline

    p = ctx.plan
    return make_pipeline(
        ctx.source,
        "train",
        image_size=p.image_size,
        batch_size=p.batch_size,
        training=augmented,
        augment=preset("basic") if augmented else None,
        seed=0,
        limit=p.train_limit,
    )


def bench_pipeline(ctx: Context) -> dict[str, Any]:
    """Input pipeline alone: decode + resize + augment ('basic'), no model."""
    p = ctx.plan
    out = {
        "note": f"train split, preset 'basic', batch {p.batch_size}, {p.warmup_batches} warm-up batches excluded"
    }
    for augmented in (True, False):
        ds = _train_pipeline(ctx, augmented)
        times, last = [], time.perf_counter()
        for i, (images, _labels) in enumerate(ds.take(p.warmup_batches + p.timed_batches)):
            images.numpy()
            now = time.perf_counter()
            if i >= p.warmup_batches:
                times.append(now - last)
            last = now
        stat = summarize(times)
        key = "augmented" if augmented else "decode_resize_only"
        out[key] = {"seconds_per_batch": stat, "images_per_sec": rate(stat, p.batch_size)}
    return out


def bench_training(ctx: Context) -> dict[str, Any]:
    """Frozen-backbone and fine-tuning throughput on the augmented pipeline, per backbone."""
    import keras

    from flowerdash.models.backbones import set_trainable
    from flowerdash.training.config import TrainConfig

    p = ctx.plan
    steps = math.ceil(TRAIN_IMAGES / p.batch_size)
    out: dict[str, Any] = {
        "note": (
            f"{p.timed_batches} batches of {p.batch_size} timed after {p.warmup_batches} warm-up "
            f"batches; the {TRAIN_IMAGES}-image epoch ({steps} steps) is extrapolated from the "
            "median batch time; the validation pass is not included here"
        )
    }
    ft_layers = TrainConfig().fine_tune_layers
    for backbone in p.backbones:
        res: dict[str, Any] = {
            "weights": "offline ImageNet" if ctx.weights(backbone) else "random (same compute)"
        }
        for stage, layers, lr in (("frozen", 0, 1e-3), ("fine_tune", ft_layers, 1e-4)):
            model = ctx.fresh_model(backbone)
            set_trainable(model, layers)
            model.compile(
                keras.optimizers.Adam(lr),
                keras.losses.CategoricalCrossentropy(),
                metrics=["accuracy"],
            )
            ctx.log(f"  training {backbone} {stage}")
            times = _fit_batch_times(model, _train_pipeline(ctx), p.timed_batches, p.warmup_batches)
            stat = summarize(times)
            res[stage] = {
                "seconds_per_batch": stat,
                "images_per_sec": rate(stat, p.batch_size),
                "epoch_seconds_est": scaled(stat, TRAIN_IMAGES / p.batch_size, "s"),
                "trainable_layers": layers,
            }
            del model
            pygc.collect()
        ctx.log(f"  training {backbone} frozen, backbone on LiteRT")
        res["frozen_litert"] = _frozen_on_litert(ctx, backbone)
        out[backbone] = res
    return out


def _frozen_on_litert(ctx: Context, backbone: str) -> dict[str, Any]:
    """The engine's frozen stage on a CPU: the backbone on LiteRT, only the head in Keras."""
    import keras

    from flowerdash.inference.litert import LiteRTPredictor, to_litert, usable_cores
    from flowerdash.models.backbones import feature_model, head_model
    from flowerdash.training.stages import backbone_features

    p = ctx.plan
    model = ctx.fresh_model(backbone)
    extractor = feature_model(model)
    start = time.perf_counter()
    predictor = LiteRTPredictor(to_litert(extractor))
    conversion = time.perf_counter() - start
    head = head_model(model)
    head.compile(
        keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy(), metrics=["accuracy"]
    )
    dim = int(extractor.outputs[0].shape[-1])
    ds = backbone_features(_train_pipeline(ctx), predictor, dim)
    stat = summarize(_fit_batch_times(head, ds, p.timed_batches, p.warmup_batches))
    del model, extractor, head, predictor
    pygc.collect()
    return {
        "seconds_per_batch": stat,
        "images_per_sec": rate(stat, p.batch_size),
        "epoch_seconds_est": scaled(stat, TRAIN_IMAGES / p.batch_size, "s"),
        "conversion_seconds": conversion,
        "threads": usable_cores(),
    }


def bench_cached_features(ctx: Context) -> dict[str, Any]:
    """Frozen stage on cached backbone features: one-time extraction + per-epoch head time."""
    import keras

    from flowerdash.inference.litert import batch_predictor
    from flowerdash.inference.predict import compiled_predict
    from flowerdash.models.backbones import feature_model, head_model

    p = ctx.plan
    out: dict[str, Any] = {
        "note": (
            f"extraction timed on {p.timed_batches} batches of {p.batch_size} (non-augmented "
            f"pipeline) after {p.warmup_batches} warm-up and extrapolated to train+val "
            f"({TRAIN_IMAGES + VAL_IMAGES} images); head epochs timed for real on "
            f"{TRAIN_IMAGES} feature rows with a {VAL_IMAGES}-row validation pass, first epoch "
            f"excluded; the {VAL_IMAGES}-row validation pass alone (head.evaluate) timed apart"
        )
    }
    for backbone in p.backbones:
        model = ctx.fresh_model(backbone)
        extractor = feature_model(model)
        extract = compiled_predict(extractor)  # what TrainingJob uses
        ds = _train_pipeline(ctx, augmented=False)
        times, eager_times, feats, last = [], [], [], time.perf_counter()
        for i, (images, _labels) in enumerate(ds.take(p.warmup_batches + p.timed_batches)):
            feats.append(extract(images).numpy())
            now = time.perf_counter()
            if i >= p.warmup_batches:
                times.append(now - last)
                # The straightforward way, on the same batch: calling the Keras model (eager).
                eager = once(lambda b=images, e=extractor: e(b, training=False).numpy())[0]
                eager_times.append(eager)
            last = time.perf_counter()
        stat = summarize(times)
        # The engine's way on a CPU: the same batches through the backbone on LiteRT.
        litert = batch_predictor(extractor, "litert")
        litert_times = []
        for i, (images, _labels) in enumerate(ds.take(p.warmup_batches + p.timed_batches)):
            batch = images.numpy()
            if i >= p.warmup_batches:
                litert_times.append(once(lambda b=batch, f=litert: f(b))[0])
            else:
                litert(batch)
        x = np.concatenate(feats)
        x = np.resize(x, (TRAIN_IMAGES, x.shape[1])).astype(np.float32)
        rng = np.random.default_rng(0)
        y = keras.utils.to_categorical(rng.integers(0, 102, TRAIN_IMAGES), 102)
        head = head_model(model)
        head.compile(
            keras.optimizers.Adam(1e-3),
            keras.losses.CategoricalCrossentropy(),
            metrics=["accuracy"],
        )
        epochs = _EpochTimer()

        head.fit(
            x,
            y,
            batch_size=32,
            epochs=p.head_epochs + 1,
            validation_data=(x, y),
            verbose=0,
            callbacks=[epochs],
        )
        # What an augmented frozen epoch now spends on validation: the head on cached val features.
        xv, yv = np.resize(x, (VAL_IMAGES, x.shape[1])), y[:VAL_IMAGES]
        val_pass = repeat(
            lambda h=head, xv=xv, yv=yv: h.evaluate(xv, yv, batch_size=256, verbose=0), p.repeats
        )
        out[backbone] = {
            "extraction_seconds_per_batch": stat,
            "extraction_eager_seconds_per_batch": summarize(eager_times),
            "extraction_litert_seconds_per_batch": summarize(litert_times),
            "extraction_seconds_est": scaled(
                summarize(litert_times), (TRAIN_IMAGES + VAL_IMAGES) / p.batch_size, "s"
            ),
            "val_extraction_seconds_est": scaled(
                summarize(litert_times), VAL_IMAGES / p.batch_size, "s"
            ),
            "val_pass_on_features_seconds": val_pass,
            "head_epoch_seconds": summarize(epochs.times[1:]),
            "feature_dim": int(x.shape[1]),
        }
        del model, extractor, head, litert
        pygc.collect()
    return out


def bench_evaluation(ctx: Context) -> dict[str, Any]:
    """predict_split over the test split: a subset extrapolated, or the whole split when fast.

    A predict_split call first converts the model to LiteRT (on a CPU); timed apart as
    ``setup_seconds`` and included in the whole-split measurement."""
    from flowerdash.inference.evaluation import predict_split
    from flowerdash.inference.litert import batch_predictor

    p = ctx.plan
    out: dict[str, Any] = {}
    for backbone in p.backbones:
        model, origin = ctx.explain_model(backbone)
        start = time.perf_counter()
        fast = batch_predictor(model)  # what predict_split makes per call: LiteRT on a CPU
        conversion = time.perf_counter() - start
        predict_split(model, ctx.source, "test", limit=min(64, p.eval_limit), predict=fast)  # warm
        samples = []
        for seed in range(2 if p.quick else 3):
            preds = predict_split(
                model, ctx.source, "test", limit=p.eval_limit, seed=seed + 1, predict=fast
            )
            samples.append(preds.seconds / len(preds.labels))
        per_image = summarize(samples, "s/image")
        # The straightforward way, same subsets: the compiled TensorFlow model (the engine's way
        # before LiteRT, itself 13x faster than calling the Keras model).
        predict_split(model, ctx.source, "test", limit=64, engine="tensorflow")  # trace
        tf_samples = []
        for seed in range(2 if p.quick else 3):
            preds = predict_split(
                model, ctx.source, "test", limit=p.eval_limit, seed=seed + 1, engine="tensorflow"
            )
            tf_samples.append(preds.seconds / len(preds.labels))
        est = per_image["median"] * TEST_IMAGES
        res = {
            "model": origin,
            "subset": p.eval_limit,
            "seconds_per_image": per_image,
            "images_per_sec": 1.0 / per_image["median"],
            "seconds_per_image_tensorflow": summarize(tf_samples, "s/image"),
            "images_per_sec_tensorflow": 1.0 / float(np.median(tf_samples)),
            "engine": type(fast).__name__,
            "setup_seconds": conversion,
            "full_test_seconds_est": est,
        }
        if est <= p.eval_full_if_under:
            ctx.log(f"  evaluating the whole test split with {backbone}")
            preds = predict_split(model, ctx.source, "test")  # as a user runs it: converts too
            res["full_test_seconds_measured"] = preds.seconds
            res["full_test_images"] = len(preds.labels)
            res["full_test_top1"] = float(np.mean(preds.correct))
        out[backbone] = res
    return out


def bench_gradcam(ctx: Context) -> dict[str, Any]:
    """Warm GradCAM latency per image with the cached explainer."""
    from flowerdash.explain.gradcam import GradCAM

    p = ctx.plan
    out: dict[str, Any] = {}
    x = ctx.test_images(1)
    for backbone in p.backbones:
        model, origin = ctx.explain_model(backbone)
        gc = GradCAM(model)
        target = int(gc.predict_logits(x).argmax())
        out[backbone] = {
            "model": origin,
            "layer": " + ".join(gc.layers),
            "target_given": repeat(lambda gc=gc, t=target: gc(x, [t]), p.repeats, warmup=2),
            "target_predicted": repeat(lambda gc=gc: gc(x), p.repeats, warmup=1),
            "traces": gc.trace_count,
        }
    return out


def bench_ig(ctx: Context) -> dict[str, Any]:
    """IG latency per image and completeness gaps per step count: the default rule and two others."""
    from benchmarks.ig_research import ResearchIG
    from flowerdash.explain.defaults import BASELINE as DEFAULT_BASELINE
    from flowerdash.explain.defaults import RULE as DEFAULT_RULE

    p = ctx.plan
    out: dict[str, Any] = {
        "note": (
            f"default chunk size and baseline ({DEFAULT_BASELINE}), predicted class; compiled "
            "functions traced before timing"
        )
    }
    for b_index, backbone in enumerate(p.backbones):
        model, origin = ctx.explain_model(backbone)
        n = p.ig_images if b_index == 0 else p.ig_images_other
        rules = (DEFAULT_RULE, "gauss_legendre", "trapezoid") if b_index == 0 else (DEFAULT_RULE,)
        images = ctx.test_images(n)
        res: dict[str, Any] = {"model": origin, "images": n}
        for rule in rules:
            for steps in p.ig_steps:
                ctx.log(f"  IG {backbone} {rule} {steps} steps")
                ig = ResearchIG(model, steps=steps, rule=rule)
                ig.explain(images[0][None])  # trace
                times, gaps = [], []
                for img in images:
                    seconds, r = once(lambda ig=ig, img=img: ig.explain(img[None]))
                    times.append(seconds)
                    gaps.append(float(r.extras["completeness_gap"][0]))
                res[f"{rule}/{steps}"] = {
                    "seconds": summarize(times),
                    "gap": summarize(gaps, "relative"),
                    "gaps": gaps,
                    "traces": ig.trace_count,
                }
        out[backbone] = res
    return out


def _ig_with_rewrites(rewrites: tuple[str, ...], *args: Any, **kwargs: Any):
    """IntegratedGradients on the logits model with only ``rewrites`` (see explain.rewrites)."""
    from flowerdash.explain.integrated_gradients import IntegratedGradients

    return IntegratedGradients(*args, rewrites=rewrites, **kwargs)


def bench_ig_rewrites(ctx: Context) -> dict[str, Any]:
    """IG per image on the model as it is, BatchNorm-folded, and with every rewrite; interleaved."""
    from flowerdash.explain.rewrites import REWRITES

    # The model as it is, BatchNorm folding alone, and every rewrite (the default).
    variants = {"none": (), "batchnorm": ("batchnorm",), "all": REWRITES}
    p = ctx.plan
    out: dict[str, Any] = {
        "note": "default rule, baseline and chunk size; the three explainers alternate on each "
        "image",
        "variants": {name: list(r) for name, r in variants.items()},
    }
    for backbone in p.backbones:
        model, origin = ctx.explain_model(backbone)
        images = ctx.test_images(max(p.ig_images_other, min(5, p.ig_images)))
        res: dict[str, Any] = {"model": origin, "images": len(images)}
        for steps in p.ig_steps:
            ctx.log(f"  IG rewrites {backbone} {steps} steps")
            explainers = {
                name: _ig_with_rewrites(rewrites, model, steps=steps)
                for name, rewrites in variants.items()
            }
            times: dict[str, list[float]] = {name: [] for name in explainers}
            gaps: dict[str, list[float]] = {name: [] for name in explainers}
            for ig in explainers.values():
                ig.explain(images[0][None])  # trace
            for img in images:
                for name, ig in explainers.items():
                    seconds, r = once(lambda ig=ig, img=img: ig.explain(img[None]))
                    times[name].append(seconds)
                    gaps[name].append(float(r.extras["completeness_gap"][0]))
            median = {name: float(np.median(t)) for name, t in times.items()}
            res[str(steps)] = {
                **{
                    name: {
                        "seconds": summarize(times[name]),
                        "gap": summarize(gaps[name], "relative"),
                    }
                    for name in explainers
                },  # fmt: skip
                "speedup_vs_none": round(median["none"] / median["all"], 3),
                "speedup_vs_batchnorm": round(median["batchnorm"] / median["all"], 3),
            }
        out[backbone] = res
    return out


def _memory_run(ctx: Context, backbone: str, steps: int, mode: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.ig_memory", "--backbone", backbone,
           "--size", str(ctx.plan.image_size), "--steps", str(steps), "--mode", mode]  # fmt: skip
    model_origin = "random head"
    if ctx.checkpoint and _checkpoint_backbone(ctx.checkpoint) == backbone and not ctx.plan.quick:
        cmd += ["--checkpoint", str(ctx.checkpoint)]
        model_origin = "trained checkpoint"
    elif ctx.weights(backbone):
        cmd += ["--weights", str(ctx.weights(backbone))]
    result = _run_json(cmd, timeout=900)
    if "error" not in result:
        result["model"] = model_origin
    return result


def _run_json(cmd: list[str], timeout: int, **env: str) -> dict[str, Any]:
    """Run a benchmark script in a fresh process: its last JSON line, or {"error": output tail}."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-500:]}
    return json.loads(lines[-1])


def bench_ig_memory(ctx: Context) -> dict[str, Any]:
    """Peak memory of one IG explanation per step count, chunked vs all-steps-in-one-batch."""
    p = ctx.plan
    out: dict[str, Any] = {
        "note": (
            "one fresh process per configuration; peak = VmHWM after the explanation minus VmHWM "
            "after building the model and one forward pass "
            "(tf.config.experimental.get_memory_info('CPU:0') is not available on CPU)"
        )
    }
    for backbone in p.backbones:
        res: dict[str, Any] = {}
        steps_list = p.memory_steps if backbone == p.backbones[0] else p.memory_steps[::2]
        for steps in steps_list:
            ctx.log(f"  IG memory {backbone} chunked {steps}")
            res[f"chunked/{steps}"] = _memory_run(ctx, backbone, steps, "chunked")
        if backbone == p.backbones[0]:
            for steps in p.naive_memory_steps:
                ctx.log(f"  IG memory {backbone} naive {steps}")
                res[f"naive/{steps}"] = _memory_run(ctx, backbone, steps, "naive")
        out[backbone] = res
    return out


def bench_naive(ctx: Context) -> dict[str, Any]:
    """The course notebooks' way (new tf.function per call, all steps in one batch) vs flowerdash."""
    from benchmarks.ig_research import ResearchIG
    from benchmarks.naive import naive_gradcam, naive_ig
    from flowerdash.explain.gradcam import GradCAM
    from flowerdash.explain.integrated_gradients import IntegratedGradients

    p = ctx.plan
    out: dict[str, Any] = {
        "note": (
            f"naive IG: trapezoid with {p.naive_steps} steps ({p.naive_steps + 1} points in one "
            f"batch), a new tf.function each call; flowerdash: the same rule and steps, chunks of "
            f"32, compiled once, warm. Naive GradCAM: a new sub-model and tf.function each call"
        )
    }
    x = ctx.test_images(1)
    backbone = p.backbones[0]
    model, origin = ctx.explain_model(backbone)
    gc = GradCAM(model)
    target = int(gc.predict_logits(x).argmax())
    ig = ResearchIG(model, steps=p.naive_steps, rule="trapezoid", chunk_size=32)
    ig_default = IntegratedGradients(model, steps=p.naive_steps, chunk_size=32)
    ctx.log(f"  naive vs cached {backbone}")
    res = {
        "model": origin,
        "gradcam_naive": repeat(
            lambda: naive_gradcam(model, gc.layers[0], x[0], target), p.naive_repeats, 1
        ),
        "gradcam_cached": repeat(lambda: gc(x, [target]), p.repeats, 2),
        "ig_naive": repeat(
            lambda: naive_ig(model, x[0], target, p.naive_steps), p.naive_repeats, 1
        ),
        "ig_flowerdash_trapezoid": repeat(lambda: ig.explain(x, [target]), p.naive_repeats, 1),
        "ig_flowerdash_default": repeat(
            lambda: ig_default.explain(x, [target]), p.naive_repeats, 1
        ),
    }
    res["gradcam_speedup"] = res["gradcam_naive"]["median"] / res["gradcam_cached"]["median"]
    res["ig_speedup"] = res["ig_naive"]["median"] / res["ig_flowerdash_trapezoid"]["median"]
    out[backbone] = res
    return out


def bench_onednn(ctx: Context) -> dict[str, Any]:
    """TensorFlow's oneDNN CPU kernels off (TensorFlow's default here) vs on (flowerdash's)."""
    p = ctx.plan
    out: dict[str, Any] = {
        "note": (
            "benchmarks/onednn.py in a fresh process per setting (TensorFlow reads it at import); "
            "random pixels, warm, median of repeats; fine-tuning step with every layer trainable"
        )
    }
    for backbone in p.backbones:
        res: dict[str, Any] = {}
        for value in ("0", "1"):
            cmd = [sys.executable, "-m", "benchmarks.onednn", "--backbone", backbone,
                   "--size", str(p.image_size), "--repeats", "3" if p.quick else "7"]  # fmt: skip
            if ctx.weights(backbone):
                cmd += ["--weights", str(ctx.weights(backbone))]
            ctx.log(f"  {backbone} with TF_ENABLE_ONEDNN_OPTS={value}")
            side = "off" if value == "0" else "on"
            res[side] = _run_json(cmd, timeout=1800, TF_ENABLE_ONEDNN_OPTS=value)
        out[backbone] = res
    return out


def bench_xla(ctx: Context) -> dict[str, Any]:
    """The same compiled functions with jit_compile=True (XLA) vs without: warm time ratio."""
    import tensorflow as tf

    from benchmarks.ig_research import ResearchIG
    from flowerdash.explain.gradcam import GradCAM

    p = ctx.plan
    out: dict[str, Any] = {
        "note": "ratio = plain / XLA (>1 means XLA is faster); compile = first XLA call"
    }
    x = ctx.test_images(1)
    batch = np.repeat(x, 64 if not p.quick else 8, axis=0)
    for backbone in p.backbones:
        model, _origin = ctx.explain_model(backbone)
        gc = GradCAM(model)
        ig = ResearchIG(model, steps=32, rule="gauss_legendre", chunk_size=32)
        t = tf.constant([int(gc.predict_logits(x).argmax())], tf.int32)
        xt, bt = tf.constant(x), tf.constant(batch)
        alphas = tf.constant(ig.alphas.astype(np.float32))
        weights = tf.constant(ig.weights.astype(np.float32))
        base = tf.zeros_like(xt[0])
        infer = lambda v, m=model: m(v, training=False)  # noqa: E731
        plain_infer = tf.function(infer, reduce_retracing=True)
        cases = {
            "gradcam": (
                gc._cam,
                [gc.image_spec(), tf.TensorSpec([None], tf.int32)],
                (xt, t),
                gc._cam_fn,
            ),
            "ig_chunk32": (ig._chunk, None, (xt[0], base, alphas, weights, t[0]), ig._chunk_fn),
            "inference_b1": (infer, None, (xt,), plain_infer),
            f"inference_b{len(batch)}": (
                infer,
                None,
                (bt,),
                plain_infer,
            ),
        }
        res: dict[str, Any] = {}
        for name, (fn, signature, args, plain) in cases.items():
            ctx.log(f"  XLA {backbone} {name}")
            try:
                xla = tf.function(fn, input_signature=signature, jit_compile=True)
                compile_s, _ = once(lambda xla=xla, args=args: xla(*args))
                reps = max(3, p.repeats // (4 if "ig" in name or "b64" in name else 1))
                plain_t = repeat(lambda plain=plain, args=args: plain(*args).numpy(), reps, 1)
                xla_t = repeat(lambda xla=xla, args=args: xla(*args).numpy(), reps, 1)
                res[name] = {
                    "plain": plain_t,
                    "xla": xla_t,
                    "xla_compile_seconds": compile_s,
                    "ratio": plain_t["median"] / xla_t["median"],
                }
            except Exception as exc:  # noqa: BLE001 - XLA failures are a result, not a crash
                res[name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        out[backbone] = res
    return out


def bench_app(ctx: Context) -> dict[str, Any]:
    """Dashboard: engine path (upload -> prediction + GradCAM), overlay re-blend, and the browser."""
    from benchmarks.app import browser_timings, engine_timings

    if not (ROOT / "streamlit_app.py").is_file():
        raise Skip("streamlit_app.py is not there yet")
    if ctx.checkpoint is None:
        raise Skip("no trained checkpoint to serve")
    photo = ctx.data_dir / "jpg" / "image_06734.jpg" if ctx.data_dir else None
    if photo is None or not photo.is_file():
        raise Skip("no test photo to upload")
    # The browser first: the server's cold start competes for the cores with whatever this
    # process ran just before (the engine timings' eager calls cost it about 1.5 s).
    out: dict[str, Any] = {"browser": {"skipped": "quick mode"}}
    if ctx.plan.app:
        try:
            out["browser"] = browser_timings(ctx, photo)
        except Skip as exc:
            out["browser"] = {"skipped": str(exc)}
    out["engine"] = engine_timings(ctx.checkpoint, photo, ctx.plan.repeats)
    return out


def bench_first_explain(ctx: Context) -> dict[str, Any]:
    """A fresh server's first Explain of an uploaded photo: warm-up off, from the first visit,
    from server start."""
    from benchmarks.app import first_explain_timings

    if not (ROOT / "streamlit_app.py").is_file():
        raise Skip("streamlit_app.py is not there yet")
    photo = ROOT / "flowerdash" / "examples" / "sunflower.jpg"
    return first_explain_timings(photo, rounds=1 if ctx.plan.quick else 2)


def bench_load(ctx: Context) -> dict[str, Any]:
    """Concurrent simulated users, each asking for prediction + Grad-CAM + IG (benchmarks/load.py)."""
    from benchmarks.load import run_load

    p = ctx.plan
    model, origin = ctx.explain_model(p.backbones[0])
    images = ctx.test_images(p.load_images)
    result = run_load(model, images, p.load_users, p.load_ig_steps, log=ctx.log)
    result["model"] = origin
    return result


BENCHMARKS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "pipeline": bench_pipeline,
    "training": bench_training,
    "cached_features": bench_cached_features,
    "evaluation": bench_evaluation,
    "gradcam": bench_gradcam,
    "ig": bench_ig,
    "ig_rewrites": bench_ig_rewrites,
    "ig_memory": bench_ig_memory,
    "naive": bench_naive,
    "onednn": bench_onednn,
    "xla": bench_xla,
    "app": bench_app,
    "first_explain": bench_first_explain,
    "load": bench_load,
}
