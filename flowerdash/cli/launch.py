"""``python -m flowerdash launch``: N local workers of a multi-worker training."""

from __future__ import annotations

import argparse
from typing import Any

from flowerdash.cli.progress import follow
from flowerdash.errors import FlowerdashError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``launch`` sub-command."""
    la = subparsers.add_parser(
        "launch",
        help="run a multi-worker training on this machine",
        description="Start N 'train --strategy multiworker' workers on 127.0.0.1 and follow them.",
    )
    la.add_argument("--workers", type=int, default=2)
    la.add_argument("train", nargs=argparse.REMAINDER, help="train and its options")

    la.set_defaults(func=run)
    return la


def run(args: argparse.Namespace) -> int:
    """Run N local workers of a multi-worker training; the chief's progress on stderr."""
    from flowerdash.cli.train import config_of
    from flowerdash.training.launch import Launch

    launch = Launch(args.workers, args.train, config_of(args.train)).start()
    try:
        follow(launch)
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
