"""``python -m flowerdash train``: train a classifier and write a checkpoint."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from flowerdash.cli.progress import follow
from flowerdash.errors import FlowerdashError
from flowerdash.training.presets import PRESETS, preset_fields


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``train`` sub-command."""
    t = subparsers.add_parser(
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

    t.set_defaults(func=run)
    return t


# TrainConfig fields whose flag has another name; the others share theirs.
_FLAG_OF = {
    "learning_rate": "lr",
    "fine_tune_learning_rate": "fine_tune_lr",
    "evaluate_test": "no_test",
    "cache_features": "no_feature_cache",
    "head_augment": "no_head_augment",
}


def given_options(argv: Sequence[str]) -> set[str]:
    """The destinations of the options ``argv`` (``train ...``) gives, whatever their values (even
    a default)."""
    parser = argparse.ArgumentParser()
    train = add_parser(parser.add_subparsers(dest="command"))
    unset = object()
    dests = vars(parser.parse_args(argv))
    train.set_defaults(**dict.fromkeys(dests, unset))
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


def run(args: argparse.Namespace) -> int:
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
        config = TrainConfig(**_train_fields(args, given_options(args._argv)))
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
        follow(job)
    except KeyboardInterrupt:
        print("\nCancelling (the last completed epoch is kept)…", file=sys.stderr)
        job.cancel()
        job.wait()
        follow(job)
    if args.events:
        writer.join()
        events_out.close()
    if job.status == "failed":
        raise FlowerdashError(job.error or "training failed")
    if job.checkpoint:
        print(job.checkpoint)
    return 0 if job.status == "succeeded" else 130
