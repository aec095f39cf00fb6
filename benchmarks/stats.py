"""Timing helpers: repeated measurements summarised as median with min/max and quartiles."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def summarize(samples: list[float], unit: str = "s") -> dict[str, Any]:
    """Median, quartiles, min, max and count of raw samples (warm-up already excluded)."""
    arr = np.asarray(samples, dtype=np.float64)
    if arr.size == 0:
        return {"n": 0, "unit": unit}
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return {
        "median": float(med),
        "q1": float(q1),
        "q3": float(q3),
        "min": float(arr.min()),
        "max": float(arr.max()),
        "n": int(arr.size),
        "unit": unit,
    }


def repeat(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> dict[str, Any]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed; seconds per call."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return summarize(samples)


def once(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call takes, and its result."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def scaled(stat: dict[str, Any], factor: float, unit: str) -> dict[str, Any]:
    """The same summary with every value multiplied by ``factor`` (e.g. per batch -> per epoch)."""
    out = {
        k: (v * factor if k in ("median", "q1", "q3", "min", "max") else v) for k, v in stat.items()
    }
    out["unit"] = unit
    return out


def rate(stat: dict[str, Any], items: float, unit: str = "images/s") -> dict[str, Any]:
    """Throughput ``items / seconds`` from a seconds summary (min and max swap places)."""
    out = {"n": stat.get("n", 0), "unit": unit}
    for key, src in (
        ("median", "median"),
        ("q1", "q3"),
        ("q3", "q1"),
        ("min", "max"),
        ("max", "min"),
    ):
        if stat.get(src):
            out[key] = items / stat[src]
    return out
