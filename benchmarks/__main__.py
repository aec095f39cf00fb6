"""``python -m benchmarks [--quick] [--only NAME,...]``: run, save the results, rewrite the docs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks.common import RESULTS, ROOT

DOC = ROOT / "docs" / "PERFORMANCE.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    from benchmarks.suite import BENCHMARKS

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny backbone at 64 px, a few repeats: checks the plumbing in seconds; results go to "
        "a temporary folder unless --results-dir is given, and the docs are left alone unless "
        "--doc is given",
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of {','.join(BENCHMARKS)}"
    )
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--doc", type=Path, default=None)
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the markdown")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; merge into this machine's result file; regenerate the doc."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)

    from benchmarks import machine, report
    from benchmarks.common import Skip
    from benchmarks.suite import BENCHMARKS, Context, Plan

    names = [n.strip() for n in args.only.split(",") if n.strip()]
    # The browser benchmarks load the real checkpoint: only when asked for in quick mode.
    browser = ("app", "first_explain")
    names = names or [n for n in BENCHMARKS if not (args.quick and n in browser)]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"Unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}.")
        return 2
    plan = Plan.make(args.quick)
    if args.quick and "app" in names and args.only:
        plan.app = True  # asked for explicitly
    results_dir = args.results_dir or (
        Path(tempfile.gettempdir()) / "flowerdash-benchmarks-quick" if args.quick else RESULTS
    )
    doc = args.doc or (None if args.quick else DOC)
    results_dir.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(msg, flush=True)

    info = machine.describe()
    path = results_dir / f"{info['slug']}{'-quick' if args.quick else ''}.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    if data.get("quick", args.quick) != args.quick:
        data = {}
    data.update(
        {
            "machine": info,
            "quick": args.quick,
            "backbones": list(plan.backbones),
            "image_size": plan.image_size,
        }
    )
    data.setdefault("skipped", {})
    ctx = Context.create(plan, log)
    log(f"Machine {info['slug']}; data {ctx.data_dir}; checkpoint {ctx.checkpoint}")
    failures = 0
    for name in names:
        log(f"[{name}]")
        start = time.perf_counter()
        data["skipped"].pop(name, None)
        try:
            data[name] = BENCHMARKS[name](ctx)
            data[name]["wall_seconds"] = round(time.perf_counter() - start, 1)
        except Skip as exc:
            data.pop(name, None)
            data["skipped"][name] = str(exc)
            log(f"  skipped: {exc}")
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not lose the others
            failures += 1
            data[name] = {"error": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
        path.write_text(json.dumps(data, indent=1, default=float) + "\n")
        log(f"  done in {time.perf_counter() - start:.1f} s")
    log(f"Results: {path}")
    if doc is not None and not args.no_doc:
        report.update_doc(doc, results_dir)
        log(f"Tables: {doc}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
