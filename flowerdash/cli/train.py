"""``python -m flowerdash train``: train a classifier and write a checkpoint."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any

from flowerdash.cli.progress import follow
from flowerdash.errors import FlowerdashError
from flowerdash.training.config import TrainConfig, default_of, settings
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
    add_config_flags(t)
    t.add_argument(
        "--resume",
        default=None,
        metavar="RUN_ID",
        help="continue an interrupted run from its last completed epoch",
    )
    t.add_argument("--events", default=None, metavar="FILE", help="also write events as JSON lines")

    t.set_defaults(func=run)
    return t


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, from the field's ``Setting`` (dest: the field's name)."""
    hints = typing.get_type_hints(TrainConfig)
    for f, meta in settings():
        if meta.keys is not None:  # one flag per key of a dict field: --rotation, ...
            for key, kind in meta.keys.items():
                flag = key.replace("_", "-")
                parser.add_argument(
                    f"--{flag}",
                    dest=f"{f.name}.{key}",
                    type=None if kind is str else kind,
                    default=None,
                    metavar=_metavar(flag),
                    help=meta.help.format(name=flag),
                )
            continue
        flag = meta.flag or f.name.replace("_", "-")
        if meta.invert:  # a switch turning a default-on setting off
            parser.add_argument(f"--{flag}", dest=f.name, action="store_false", help=meta.help)
            continue
        parser.add_argument(
            f"--{flag}",
            dest=f.name,
            type=meta.parse or _scalar(hints[f.name]),
            default=default_of(f),
            choices=meta.choices,
            metavar=None if meta.choices else meta.metavar or _metavar(flag),
            help=meta.help,
        )


def _metavar(flag: str) -> str:
    return flag.replace("-", "_").upper()


def _scalar(hint: Any) -> Callable[[str], Any] | None:
    """int or float for a (possibly optional) number field; None (the text itself) otherwise."""
    kinds = [k for k in typing.get_args(hint) or (hint,) if k is not type(None)]
    return kinds[0] if kinds and kinds[0] in (int, float) else None


def given_options(argv: Sequence[str]) -> set[str]:
    """The destinations of the options ``argv`` (``train ...``) gives, whatever their values (even
    a default)."""
    parser = argparse.ArgumentParser()
    train = add_parser(parser.add_subparsers(dest="command"))
    unset = object()
    dests = vars(parser.parse_args(argv))
    train.set_defaults(**dict.fromkeys(dests, unset))
    return {k for k, v in vars(parser.parse_args(argv)).items() if v is not unset}


def config_fields(args: argparse.Namespace, given: set[str] | None = None) -> dict[str, Any]:
    """TrainConfig fields from ``train``'s flags; with --preset, the preset's value for every
    field whose flag was not given (``given``: see ``given_options``)."""
    fields = {}
    for f, meta in settings():
        if meta.keys is None:
            fields[f.name] = getattr(args, f.name)
        else:
            values = {k: getattr(args, f"{f.name}.{k}") for k in meta.keys}
            fields[f.name] = {k: v for k, v in values.items() if v is not None}
    if args.preset:
        chosen = preset_fields(args.preset)
        given = given or set()
        fields = {k: _with_preset(k, v, chosen, given) for k, v in fields.items()}
    return fields


def _with_preset(name: str, value: Any, chosen: dict[str, Any], given: set[str]) -> Any:
    """A field's value under a preset: a given flag wins, key by key for a dict field (one
    ``--zoom`` keeps the preset's other augmentation overrides)."""
    if name not in chosen:
        return value
    if isinstance(value, dict):
        return {**chosen[name], **value}
    return value if name in given else chosen[name]


def config_of(argv: Sequence[str]) -> TrainConfig | None:
    """The TrainConfig ``argv`` (``train ...``) describes; None when it does not parse or is
    unusable (the command itself then says why)."""
    if not argv or argv[0] != "train":
        return None
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            args = parser.parse_args(list(argv))
            return TrainConfig(**config_fields(args, given_options(argv)))
    except (SystemExit, FlowerdashError):
        return None


def run(args: argparse.Namespace) -> int:
    """Train and report the checkpoint."""
    from flowerdash.training.job import TrainingJob
    from flowerdash.training.run_state import check_not_running, interrupted_runs

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
        config = TrainConfig(**config_fields(args, given_options(args._argv)))
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
        kept = " (the last completed epoch is kept)" if config.keep_on_cancel else ""
        print(f"\nCancelling{kept}…", file=sys.stderr)
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
