"""``python -m flowerdash robustness``: accuracy of a checkpoint under image corruptions."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from flowerdash.errors import ConfigError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``robustness`` sub-command."""
    from flowerdash.inference.corruptions import CORRUPTIONS

    r = subparsers.add_parser(
        "robustness",
        help="accuracy under rotation, blur, noise and other corruptions",
        description=(
            "Measure a checkpoint's test accuracy on clean images and under each corruption at "
            "severities 1 (mild) to 3 (strong). Results are cached next to the checkpoint."
        ),
    )
    r.add_argument("checkpoint", nargs="?", default=None, help="checkpoint folder or name")
    r.add_argument("--limit", type=int, default=None, help="use a fixed random subset of N images")
    r.add_argument(
        "--corruptions",
        default=None,
        help=f"comma-separated subset of: {','.join(CORRUPTIONS)} (default: all)",
    )
    r.add_argument(
        "--severities", default="1,2,3", help="comma-separated severities 1..3 (default: 1,2,3)"
    )
    r.add_argument(
        "--split",
        default="test",
        choices=("test", "val", "train"),
        help="test reports; val (or train, for a model trained on val) is for choosing models",
    )
    r.add_argument("--batch-size", type=int, default=64)
    r.add_argument("--seed", type=int, default=0, help="seed of the subset and of the noise")
    r.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    r.add_argument("--data-dir", default=None, help="official-layout dataset folder")
    r.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    r.set_defaults(func=run)
    return r


def _split_list(text: str | None, what: str) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError(f"--{what} needs at least one value.")
    return items


def _severities(text: str) -> tuple[int, ...]:
    values = _split_list(text, "severities") or []
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise ConfigError(f"--severities takes numbers from 1 to 3, got {text!r}.") from None


def format_table(result: Any, title: str) -> str:
    """A fixed-width text table: corruption rows, severity columns, mean and drop."""
    from flowerdash.inference.corruptions import describe

    sev = result.severities
    head = f"{'variation':<13}" + "".join(f"{'sev ' + str(s):>9}" for s in sev)
    head += f"{'mean':>9}{'drop':>9}"
    lines = [title, head, "-" * len(head)]
    for row in result.table():
        cells = "".join(
            f"{'':>9}" if row[f"severity_{s}"] is None else f"{row[f'severity_{s}']:>9.1%}"
            for s in sev
        )
        drop = "" if row["corruption"] == "clean" else f"{row['drop'] * 100:.1f} pts"
        lines.append(f"{row['corruption']:<13}{cells}{row['mean']:>9.1%}{drop:>9}")
    lines.append("")
    lines.append("Severities:")
    for name in result.corruptions:
        lines.append(f"  {name:<12} " + " / ".join(describe(name, s) for s in sev))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Evaluate, then print a table (or JSON) on stdout."""
    from flowerdash.data.sources import get_source
    from flowerdash.inference.robustness import evaluate_robustness
    from flowerdash.models import checkpoints

    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit must be at least 1.")
    folder = checkpoints.resolve(args.checkpoint)
    checkpoints.read_meta(folder)
    source = get_source(args.data_dir)
    tty = sys.stderr.isatty() and not args.json

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\rTesting {done}/{total} image variations", end="", file=sys.stderr, flush=True)

    result = evaluate_robustness(
        folder,
        source=source,
        limit=args.limit,
        corruptions=_split_list(args.corruptions, "corruptions"),
        severities=_severities(args.severities),
        batch_size=args.batch_size,
        seed=args.seed,
        progress=progress,
        use_cache=not args.no_cache,
        split=args.split,
    )
    if tty:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps({"checkpoint": str(folder), **result.to_dict()}))
    else:
        title = f"{folder.name}: top-1 accuracy on {result.n} {args.split} images ({result.seconds:.0f}s)"
        print(format_table(result, title))
    return 0
