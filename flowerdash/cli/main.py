"""``python -m flowerdash``: train, evaluate, predict, explain and manage checkpoints.

Errors end the process with a non-zero exit code and one line on stderr, never a traceback
(set FLOWERDASH_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from flowerdash.cli import robustness
from flowerdash.errors import FlowerdashError
from flowerdash.training.presets import PRESETS, preset_fields

PROG = "python -m flowerdash"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _checkpoint_and_image(
    values: list[str], parser: argparse.ArgumentParser
) -> tuple[str | None, str]:
    if len(values) == 1:
        return None, values[0]
    if len(values) == 2:
        return values[0], values[1]
    parser.error("expected [CHECKPOINT] IMAGE")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    parser = _Parser(
        prog=PROG, description="Oxford Flowers102 classifier: train, evaluate, explain."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser(
        "train",
        help="train a classifier and write a checkpoint",
        description="Train on Oxford Flowers102 and write a checkpoint.",
    )
    t.add_argument(
        "--preset",
        default=None,
        choices=sorted(PRESETS),
        help="start from a named recipe (quick: about a minute; best: the shipped model's "
        "recipe); other flags given override it",
    )
    t.add_argument(
        "--backbone",
        default="efficientnetb0",
        help="efficientnetb0 (default, needs internet for ImageNet weights), mobilenetv2, tiny",
    )
    t.add_argument(
        "--weights",
        default="auto",
        help="auto (offline file if configured, else imagenet), imagenet, none, or a weights file path",
    )
    t.add_argument("--augment", default="basic", help="augmentation preset: none, basic, advanced")
    t.add_argument(
        "--epochs", type=int, default=5, help="epochs of stage 1 (head on frozen backbone)"
    )
    t.add_argument(
        "--fine-tune-epochs", type=int, default=0, help="epochs of stage 2 (fine-tuning)"
    )
    t.add_argument(
        "--fine-tune-layers", type=int, default=30, help="top backbone layers to fine-tune"
    )
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3, help="stage 1 learning rate")
    t.add_argument("--fine-tune-lr", type=float, default=1e-4, help="stage 2 learning rate")
    t.add_argument(
        "--fine-tune-weight-decay",
        type=float,
        default=0.0,
        help="stage 2 decoupled weight decay (AdamW; scaled by the learning rate); 0 = Adam",
    )
    t.add_argument(
        "--fine-tune-ema",
        type=float,
        default=0.0,
        help="stage 2 exponential moving average of the weights with this momentum (e.g. 0.99), "
        "kept as the final weights; 0 = off",
    )
    t.add_argument("--label-smoothing", type=float, default=0.0)
    t.add_argument("--dropout", type=float, default=0.2)
    t.add_argument("--seed", type=int, default=42)
    t.add_argument("--image-size", type=int, default=None)
    t.add_argument(
        "--backbone-size",
        type=int,
        default=None,
        help="upsample the input to this side inside the model before the backbone",
    )
    for name in (
        "rotation",
        "zoom",
        "translation",
        "brightness",
        "contrast",
        "rand-augment",
        "mixup-alpha",
        "cutmix-alpha",
    ):
        t.add_argument(f"--{name}", type=float, default=None, help=f"override the preset's {name}")
    t.add_argument("--flip", default=None, help="override the preset's flip mode")
    t.add_argument(
        "--train-on",
        default="train",
        choices=("train", "val", "train+val"),
        help="train+val for a final run once hyper-parameters were chosen on val; val to train "
        "on val and validate on train (the splits swapped: a second fold for choosing)",
    )
    t.add_argument("--train-limit", type=int, default=None, help="use only N training images")
    t.add_argument("--val-limit", type=int, default=None, help="use only N validation images")
    t.add_argument("--test-limit", type=int, default=None, help="evaluate on only N test images")
    t.add_argument("--no-test", action="store_true", help="skip the final test-split evaluation")
    t.add_argument(
        "--no-feature-cache",
        action="store_true",
        help=(
            "stage 1 through the whole model: no cached backbone features for training "
            "(without augmentation) or for validation (with augmentation)"
        ),
    )
    t.add_argument(
        "--no-head-augment",
        action="store_true",
        help="stage 1 without augmentation (on cached features); stage 2 still augments",
    )
    t.add_argument(
        "--strategy",
        default="auto",
        choices=("auto", "one", "mirrored", "multiworker"),
        help="tf.distribute strategy: one device, or mirrored (data-parallel across the GPUs of "
        "this machine; --batch-size is the global batch, split over the replicas); auto "
        "(default) is mirrored when more than one GPU is visible; multiworker: across the "
        "machines in TF_CONFIG, the same command on each",
    )
    t.add_argument(
        "--devices",
        default=None,
        metavar="LIST",
        help="comma-separated devices for the strategy, e.g. GPU:0,GPU:1 (default: all GPUs)",
    )
    t.add_argument("--name", default=None, help="checkpoint folder name")
    t.add_argument("--checkpoint-dir", default=None)
    t.add_argument(
        "--data-dir", default=None, help="official-layout dataset folder (else settings/TFDS)"
    )
    t.add_argument(
        "--resume",
        default=None,
        metavar="RUN_ID",
        help="continue an interrupted run from its last completed epoch",
    )
    t.add_argument("--events", default=None, metavar="FILE", help="also write events as JSON lines")

    la = sub.add_parser(
        "launch",
        help="run a multi-worker training on this machine",
        description="Start N 'train --strategy multiworker' workers on 127.0.0.1 and follow them.",
    )
    la.add_argument("--workers", type=int, default=2)
    la.add_argument("train", nargs=argparse.REMAINDER, help="train and its options")

    e = sub.add_parser(
        "evaluate",
        help="test top-1/top-5 and per-image predictions",
        description="Evaluate a checkpoint (default: the shipped one) on a split.",
    )
    e.add_argument("checkpoint", nargs="?", default=None)
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument("--limit", type=int, default=None, help="evaluate on only N images")
    e.add_argument("--batch-size", type=int, default=64)
    e.add_argument("--out", default=None, help="per-image predictions file (JSON lines)")
    e.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    e.add_argument("--data-dir", default=None)
    e.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    p = sub.add_parser(
        "predict",
        help="top-5 flower names for an image",
        description="Predict the flower in an image: predict [CHECKPOINT] IMAGE",
    )
    p.add_argument("paths", nargs="+", metavar="[CHECKPOINT] IMAGE")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    x = sub.add_parser(
        "explain",
        help="GradCAM / Integrated Gradients panel for an image",
        description="Explain a prediction: explain [CHECKPOINT] IMAGE",
    )
    x.add_argument("paths", nargs="+", metavar="[CHECKPOINT] IMAGE")
    x.add_argument("--method", default="both", choices=("gradcam", "ig", "both"))
    x.add_argument("--steps", type=int, default=None, help="Integrated Gradients steps (1..512)")
    x.add_argument(
        "--baseline",
        default="blur",
        choices=("blur", "black", "noise"),
        help="Integrated Gradients starting image (default: a blurred copy of the photo)",
    )
    x.add_argument("--target", type=int, default=None, help="class to explain (default: predicted)")
    x.add_argument("--alpha", type=float, default=0.5, help="overlay opacity 0..1")
    x.add_argument("--colormap", default="jet")
    x.add_argument("--out", default="panel.png", help="where to write the PNG panel")
    x.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    n = sub.add_parser(
        "ensemble",
        help="combine checkpoints into one that averages their scores",
        description=(
            "Combine trained checkpoints into one checkpoint whose class scores are the mean of "
            "theirs (one flat model: it can be evaluated and explained like any other), then "
            "evaluate it on the test split."
        ),
    )
    n.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="two or more")
    n.add_argument("--name", default=None, help="name of the new checkpoint")
    n.add_argument("--checkpoint-dir", default=None)
    n.add_argument("--no-test", action="store_true", help="do not evaluate on the test split")
    n.add_argument("--limit", type=int, default=None, help="evaluate on only N test images")
    n.add_argument("--data-dir", default=None)
    n.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    d = sub.add_parser(
        "download",
        help="download and prepare Oxford Flowers102 through TensorFlow Datasets (~345 MB)",
        description=(
            "Download Oxford Flowers102 (8,189 photos of 102 flowers, about 345 MB) through "
            "TensorFlow Datasets, verify it against TFDS's registered checksums and prepare it. "
            "Ctrl-C cancels and removes what was written."
        ),
    )
    d.add_argument(
        "--tfds-dir",
        default=None,
        help="TensorFlow Datasets folder (default: TFDS_DATA_DIR, else ~/tensorflow_datasets)",
    )

    c = sub.add_parser("checkpoints", help="list checkpoints", description="List checkpoints.")
    c.add_argument("--checkpoint-dir", default=None)
    c.add_argument("--json", action="store_true")
    robustness.add_parser(sub)
    parser.train_parser = t  # type: ignore[attr-defined] - for given_options
    return parser


def _progress_line(ev: Any, width: int = 24) -> str:
    frac = (ev.step or 0) / ev.steps if ev.steps else 0.0
    bar = "█" * int(frac * width) + "░" * (width - int(frac * width))
    parts = [f"[{ev.stage}]"]
    if ev.epoch:
        parts.append(f"epoch {ev.epoch}/{ev.epochs}")
    parts.append(f"{bar} {ev.step}/{ev.steps}")
    if ev.loss is not None:
        parts.append(f"loss {ev.loss:.3f} acc {ev.accuracy:.3f}")
    if ev.images_per_sec:
        parts.append(f"{ev.images_per_sec:.0f} img/s")
    if ev.eta_seconds is not None:
        parts.append(f"ETA {_duration(ev.eta_seconds)}")
    return " ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _follow(job: Any) -> None:
    """Print a job's events to stderr until it finishes (a live bar on a terminal)."""
    tty = sys.stderr.isatty()
    cursor = 0
    while True:
        events, cursor = job.channel.read(cursor, timeout=0.5)
        for ev in events:
            if ev.kind == "batch":
                if tty:
                    print(
                        "\r" + _progress_line(ev)[:160].ljust(160),
                        end="",
                        file=sys.stderr,
                        flush=True,
                    )
            elif ev.kind == "epoch":
                val = f" val_acc {ev.val_accuracy:.3f}" if ev.val_accuracy is not None else ""
                print(
                    ("\r" if tty else "")
                    + f"[{ev.stage}] epoch {ev.epoch}/{ev.epochs} "
                    f"loss {ev.loss:.3f} acc {ev.accuracy:.3f}{val}".ljust(160 if tty else 0),
                    file=sys.stderr,
                    flush=True,
                )
            elif ev.message:
                print(
                    ("\r" if tty else "") + ev.message.ljust(160 if tty else 0),
                    file=sys.stderr,
                    flush=True,
                )
        if job.done and job.channel.closed and not events:
            return


# TrainConfig fields whose flag has another name; the others share theirs.
_FLAG_OF = {
    "learning_rate": "lr",
    "fine_tune_learning_rate": "fine_tune_lr",
    "evaluate_test": "no_test",
    "cache_features": "no_feature_cache",
    "head_augment": "no_head_augment",
}


def given_options(argv: Sequence[str]) -> set[str]:
    """The destinations of the options ``argv`` gives, whatever their values (even a default)."""
    parser = build_parser()
    unset = object()
    dests = vars(parser.parse_args(argv))
    parser.train_parser.set_defaults(**dict.fromkeys(dests, unset))
    return {k for k, v in vars(parser.parse_args(argv)).items() if v is not unset}


def _train_fields(args: argparse.Namespace, given: set[str] | None = None) -> dict[str, Any]:
    """TrainConfig fields from ``train``'s flags; with --preset, the preset's value for every
    field whose flag was not given (``given``: see ``given_options``)."""
    fields = _flag_fields(args)
    if args.preset:
        chosen = preset_fields(args.preset)
        given = given or set()
        fields = {
            k: chosen[k] if k in chosen and _FLAG_OF.get(k, k) not in given else v
            for k, v in fields.items()
        }
    return fields


def _flag_fields(args: argparse.Namespace) -> dict[str, Any]:
    overrides = {
        k: getattr(args, k)
        for k in (
            "rotation",
            "zoom",
            "translation",
            "brightness",
            "contrast",
            "rand_augment",
            "mixup_alpha",
            "cutmix_alpha",
            "flip",
        )
        if getattr(args, k) is not None
    }
    return dict(
        backbone=args.backbone,
        weights=None if args.weights == "none" else args.weights,
        image_size=args.image_size,
        backbone_size=args.backbone_size,
        augment=args.augment,
        augment_overrides=overrides,
        epochs=args.epochs,
        fine_tune_epochs=args.fine_tune_epochs,
        fine_tune_layers=args.fine_tune_layers,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        fine_tune_learning_rate=args.fine_tune_lr,
        fine_tune_weight_decay=args.fine_tune_weight_decay,
        fine_tune_ema=args.fine_tune_ema,
        label_smoothing=args.label_smoothing,
        dropout=args.dropout,
        seed=args.seed,
        train_on=args.train_on,
        train_limit=args.train_limit,
        val_limit=args.val_limit,
        test_limit=args.test_limit,
        evaluate_test=not args.no_test,
        cache_features=not args.no_feature_cache,
        head_augment=not args.no_head_augment,
        strategy=args.strategy,
        devices=[d.strip() for d in args.devices.split(",") if d.strip()] if args.devices else None,
        data_dir=args.data_dir,
        checkpoint_dir=args.checkpoint_dir,
        name=args.name,
    )


def cmd_train(args: argparse.Namespace) -> int:
    """Train and report the checkpoint."""
    from flowerdash.training.job import (
        TrainConfig,
        TrainingJob,
        check_not_running,
        interrupted_runs,
    )

    resume_path = None
    if args.resume:
        runs = {r.run_id: r for r in interrupted_runs(args.checkpoint_dir)}
        if args.resume not in runs:
            check_not_running(args.resume, args.checkpoint_dir)  # live elsewhere: say so
            known = ", ".join(runs) or "none"
            raise FlowerdashError(
                f"No interrupted run {args.resume!r} to resume (interrupted runs: {known})."
            )
        config, resume_path = runs[args.resume].config, runs[args.resume].path
    else:
        config = TrainConfig(**_train_fields(args, getattr(args, "_given", None)))
        config.augment_config()  # validate before starting
    if config.strategy == "multiworker":
        from flowerdash.training.multiworker import check_cluster

        check_cluster()  # a bad TF_CONFIG: one line, before anything starts or is written
    job = TrainingJob(config, resume_from=resume_path).start()
    if args.events:
        from flowerdash.training.launch import write_events

        events_out = open(args.events, "a", encoding="utf-8")  # noqa: SIM115 - closed below
        writer = write_events(job.channel, events_out)
    try:
        _follow(job)
    except KeyboardInterrupt:
        print("\nCancelling (the last completed epoch is kept)…", file=sys.stderr)
        job.cancel()
        job.wait()
        _follow(job)
    if args.events:
        writer.join()
        events_out.close()
    if job.status == "failed":
        raise FlowerdashError(job.error or "training failed")
    if job.checkpoint:
        print(job.checkpoint)
    return 0 if job.status == "succeeded" else 130


def cmd_launch(args: argparse.Namespace) -> int:
    """Run N local workers of a multi-worker training; the chief's progress on stderr."""
    from flowerdash.training.launch import Launch

    launch = Launch(args.workers, args.train).start()
    try:
        _follow(launch)
    except KeyboardInterrupt:
        launch.stop()
        launch.wait()
        raise
    launch.wait()
    if launch.status == "failed":
        raise FlowerdashError(launch.error or "a worker failed")
    if launch.checkpoint:
        print(launch.checkpoint)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint and print metrics."""
    from flowerdash.data.datasets import get_source
    from flowerdash.inference.evaluation import evaluate_checkpoint, predictions_to_json
    from flowerdash.models import checkpoints

    folder = checkpoints.resolve(args.checkpoint)
    meta = checkpoints.read_meta(folder)
    source = get_source(args.data_dir)
    tty = sys.stderr.isatty() and not args.json

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\rEvaluating {done}/{total}", end="", file=sys.stderr, flush=True)

    start = time.perf_counter()
    preds, metrics = evaluate_checkpoint(
        folder,
        args.split,
        source=source,
        limit=args.limit,
        batch_size=args.batch_size,
        use_cache=not args.no_cache,
        progress=progress,
    )
    if tty:
        print(file=sys.stderr)
    out = Path(args.out) if args.out else folder / "eval" / f"{args.split}-predictions.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(predictions_to_json(preds, meta["class_names"]), encoding="utf-8")
    result = {
        "checkpoint": str(folder),
        "split": args.split,
        "n": metrics["n"],
        "top1": metrics["top1"],
        "top5": metrics["top5"],
        "seconds": round(time.perf_counter() - start, 2),
        "predictions": str(out),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{folder.name} on {args.split} ({metrics['n']} images): "
            f"top-1 {metrics['top1']:.2%}, top-5 {metrics['top5']:.2%}"
        )
        print(f"Per-image predictions: {out}")
    return 0


def _load(checkpoint: str | None) -> tuple[Any, dict[str, Any], Path]:
    from flowerdash.models import checkpoints

    folder = checkpoints.resolve(checkpoint)
    meta = checkpoints.read_meta(folder)
    return checkpoints.load_model(folder), meta, folder


def cmd_predict(args: argparse.Namespace) -> int:
    """Print the top-k flower names for an image."""
    from flowerdash.data.images import load_image
    from flowerdash.inference.predict import predict_image

    ckpt, image_path = _checkpoint_and_image(args.paths, args._parser)
    image = load_image(Path(image_path))
    model, meta, folder = _load(ckpt)
    top = predict_image(model, image, meta["class_names"], top=args.top)
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoint": str(folder),
                    "image": image_path,
                    "top": [{"label": k, "name": n, "probability": p} for k, n, p in top],
                }
            )
        )
    else:
        for k, name, p in top:
            print(f"{p:7.2%}  {name} (label {k})")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """Write a GradCAM / IG panel for an image."""
    from flowerdash.data.images import load_image, prepare_for_model
    from flowerdash.explain.explanations import explain_image, result_to_json
    from flowerdash.explain.overlays import make_panel, overlay, to_png_bytes
    from flowerdash.models.backbones import input_size

    ckpt, image_path = _checkpoint_and_image(args.paths, args._parser)
    image = load_image(Path(image_path))
    model, meta, folder = _load(ckpt)
    x = prepare_for_model(image, input_size(model)).astype("uint8")
    methods = ("gradcam", "ig") if args.method == "both" else (args.method,)
    kwargs: dict[str, Any] = {
        "methods": methods,
        "target": args.target,
        "ig_baseline": args.baseline,
    }
    if args.steps is not None:
        kwargs["ig_steps"] = args.steps
    result = explain_image(model, x, **kwargs)
    names = meta["class_names"]
    overlays = {
        ("GradCAM" if m == "gradcam" else "Integrated Gradients"): overlay(
            x, result.maps[m], alpha=args.alpha, cmap=args.colormap
        )
        for m in methods
    }
    pred = int(result.probabilities.argmax())
    panel = make_panel(
        x,
        overlays,
        [
            f"Predicted: {names[pred]} ({result.probabilities[pred]:.1%})",
            f"Explained class: {names[result.target]}",
        ],
    )
    Path(args.out).write_bytes(to_png_bytes(panel))
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoint": str(folder),
                    "image": image_path,
                    "out": args.out,
                    "predicted": pred,
                    "predicted_name": names[pred],
                    **result_to_json(result),
                }
            )
        )
    else:
        print(
            f"Predicted {names[pred]} ({result.probabilities[pred]:.1%}); panel written to {args.out}"
        )
    return 0


def cmd_ensemble(args: argparse.Namespace) -> int:
    """Save the ensemble of checkpoints as a checkpoint and record its test accuracy."""
    from flowerdash.models import checkpoints
    from flowerdash.models.ensemble import ensemble_checkpoint, measure_test_accuracy

    members = [checkpoints.resolve(c, args.checkpoint_dir) for c in args.checkpoints]
    source = None
    if not args.no_test:  # a missing dataset is reported before anything is written
        from flowerdash.data.datasets import get_source

        source = get_source(args.data_dir)
    folder = ensemble_checkpoint(members, name=args.name, root=args.checkpoint_dir)
    result: dict[str, Any] = {"checkpoint": str(folder), "members": [str(m) for m in members]}
    if source is not None:
        result["test"] = measure_test_accuracy(folder, source, limit=args.limit)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"Ensemble of {len(members)} checkpoints: {folder}")
        if "test" in result:
            test = result["test"]
            print(f"test ({test['n']} images): top-1 {test['top1']:.2%}, top-5 {test['top5']:.2%}")
    return 0


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 10e6 else f"{n / 1e6:,.1f} MB"


def cmd_download(args: argparse.Namespace) -> int:
    """Download and prepare the dataset with a progress line; Ctrl-C cancels."""
    from flowerdash.data import download

    if download.is_prepared(args.tfds_dir):
        print(f"Oxford Flowers102 is already in {download.data_root(args.tfds_dir)}.")
        return 0
    if not download.is_online():
        raise FlowerdashError(download.offline_message())
    job = download.DownloadJob(args.tfds_dir).start()
    tty = sys.stderr.isatty()
    shown = None
    try:
        while True:
            now = job.wait(timeout=1.0)
            if now.phase == download.PREPARE:
                line = "preparing (extracting and writing TensorFlow Datasets records)…"
            else:
                line = f"downloading {_megabytes(now.done_bytes)} of {_megabytes(now.total_bytes)}"
            # a terminal redraws one line; a log gets a line per phase
            key = line if tty else now.phase
            if key != shown:
                print(
                    ("\r" if tty else "") + line.ljust(72 if tty else 0),
                    end="" if tty else "\n",
                    file=sys.stderr,
                    flush=True,
                )
                shown = key
            if not now.running:
                break
    except KeyboardInterrupt:
        job.cancel()
        raise
    if tty:
        print(file=sys.stderr)
    if now.error is not None:
        raise now.error
    print(f"Oxford Flowers102 is ready in {job.root}.")
    return 0


def cmd_checkpoints(args: argparse.Namespace) -> int:
    """List usable and broken checkpoints."""
    from flowerdash.models.checkpoints import list_checkpoints

    listing = list_checkpoints(args.checkpoint_dir)
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoints": [
                        {"path": str(c.path), "label": c.label} for c in listing.checkpoints
                    ],
                    "broken": [{"path": str(b.path), "reason": b.reason} for b in listing.broken],
                }
            )
        )
        return 0
    for c in listing.checkpoints:
        print(f"{c.label}  ({c.path})")
    for b in listing.broken:
        print(f"unusable: {b.path.name}: {b.reason}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "launch": cmd_launch,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "explain": cmd_explain,
    "checkpoints": cmd_checkpoints,
    "download": cmd_download,
    "ensemble": cmd_ensemble,
    "robustness": robustness.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    args._parser = parser
    if args.command == "train":
        args._given = given_options(sys.argv[1:] if argv is None else argv)
    try:
        return COMMANDS[args.command](args)
    except FlowerdashError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("FLOWERDASH_DEBUG"):
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (set FLOWERDASH_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 1
