"""``python -m flowerdash``: train, evaluate, predict, explain and manage checkpoints.

Errors end the process with a non-zero exit code and one line on stderr, never a traceback
(set FLOWERDASH_DEBUG=1 to see one). Each command is a module of this package with
``add_parser(subparsers)`` and ``run(args) -> exit code``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from flowerdash.cli import (
    checkpoints,
    download,
    ensemble,
    evaluate,
    explain,
    launch,
    predict,
    robustness,
    train,
)
from flowerdash.errors import FlowerdashError

PROG = "python -m flowerdash"
COMMANDS = (train, launch, evaluate, predict, explain, checkpoints, download, ensemble, robustness)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    parser = _Parser(
        prog=PROG, description="Oxford Flowers102 classifier: train, evaluate, explain."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    args._parser = parser
    args._argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
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
