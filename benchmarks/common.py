"""What every benchmark module shares: where things are, and how a benchmark says it cannot run.

It imports no other benchmark module, so suite, app and load can all use it without a cycle.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SHARED = ROOT.parent / "shared"


class Skip(Exception):  # noqa: N818 - a reason, recorded in the results
    """A benchmark that cannot run here; the message is recorded as the reason."""


def offline_data_dir() -> Path:
    """The configured Oxford Flowers102 folder, else the shared one (it may not exist)."""
    from flowerdash.settings import load_settings

    return Path(load_settings().data_dir or SHARED / "datasets" / "oxford_flowers102")


def find_checkpoint() -> Path | None:
    """checkpoints/default, else the newest folder of runs/ with a meta.json."""
    default = ROOT / "checkpoints" / "default"
    if (default / "model.keras").is_file():
        return default
    runs = [
        p.parent
        for p in (ROOT / "runs").glob("*/meta.json")
        if (p.parent / "model.keras").is_file()
    ]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def write_result(path: Path, result: dict) -> None:
    """Save a study's JSON (its folder made if need be), one line per value as the others are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
