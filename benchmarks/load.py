"""Concurrent users against the engine behind the dashboard: latency, errors and correct results.

``python -m benchmarks.load [--users 1,4,16] [--images 16] [--ig-steps 32] [--smoke]``

Each simulated user is a thread of this process (no network: the dashboard's sessions are
threads of one Streamlit process sharing one loaded model, and this is the code they run on a
cache miss). A request is what the Explain page computes for a new photo: the prediction,
Grad-CAM and Integrated Gradients (``explain_image(model, crop, ("gradcam", "ig"), steps=ig_steps)``
on the uint8 model-sized crop). Every level serves the same pool of distinct test photos, user
``u`` of ``N`` taking photos ``u, u + N, u + 2N, ...``, so each level does the same work and only
the concurrency changes. The 1-user level runs first and its results are the references: every
result of the other levels must equal the single-user result for the same photo (same target,
probabilities and maps within float tolerance). The run is bounded: at most 64 users and 64
photos, and a level stops handing out requests after ``--max-seconds`` (requests already
running finish; the ones never started are counted as not run).

Without ``--smoke`` it uses the trained checkpoint (``checkpoints/default``) and the offline
dataset, and prints a markdown table; ``python -m benchmarks --only load`` runs the same
measurement through the suite, which records it in the machine's results file and regenerates
the table in docs/PERFORMANCE.md. ``--smoke`` uses a tiny random model at 64 px, 1/2/4 users,
4 photos and 4 IG steps: it checks the plumbing in seconds (tests/test_benchmarks.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MAX_USERS = 64
MAX_IMAGES = 64
MAP_ATOL = 1e-4  # maps are scaled to [0, 1]
PROB_ATOL = 1e-5


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def _difference(a: Any, b: Any) -> float:
    """Largest absolute difference between two explanation results (inf if targets differ)."""
    if a.target != b.target or set(a.maps) != set(b.maps):
        return float("inf")
    diffs = [float(np.max(np.abs(a.probabilities - b.probabilities)))]
    diffs += [float(np.max(np.abs(a.maps[m] - b.maps[m]))) for m in a.maps]
    return max(diffs)


def _matches(a: Any, b: Any) -> bool:
    if a.target != b.target or set(a.maps) != set(b.maps):
        return False
    return bool(
        np.allclose(a.probabilities, b.probabilities, rtol=1e-4, atol=PROB_ATOL)
        and all(np.allclose(a.maps[m], b.maps[m], rtol=0, atol=MAP_ATOL) for m in a.maps)
    )


def run_level(
    request: Callable[[int], Any], n_images: int, users: int, max_seconds: float
) -> tuple[dict[str, Any], dict[int, Any]]:
    """``users`` threads share photos 0..n_images-1; returns the statistics and results by photo."""
    latencies: list[float] = []
    errors: list[str] = []
    results: dict[int, Any] = {}
    not_run = 0
    lock = threading.Lock()
    start = threading.Barrier(users)  # every user sends its first request at the same moment
    deadline = time.perf_counter() + max_seconds

    def user(u: int) -> None:
        nonlocal not_run
        start.wait()
        for i in range(u, n_images, users):
            if time.perf_counter() > deadline:
                with lock:
                    not_run += 1
                continue
            began = time.perf_counter()
            try:
                out = request(i)
            except Exception as exc:  # noqa: BLE001 - an error is a result of the load test
                with lock:
                    errors.append(f"photo {i}: {type(exc).__name__}: {exc}"[:300])
                continue
            seconds = time.perf_counter() - began
            with lock:
                latencies.append(seconds)
                results[i] = out

    began = time.perf_counter()
    threads = [threading.Thread(target=user, args=(u,), name=f"user-{u}") for u in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    stats = {
        "users": users,
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "error_messages": errors[:5],
        "not_run": not_run,
        "p50_seconds": _percentile(latencies, 50),
        "p95_seconds": _percentile(latencies, 95),
        "max_seconds": max(latencies) if latencies else None,
        "wall_seconds": wall,
        "requests_per_second": len(latencies) / wall if wall > 0 else None,
    }
    return stats, results


def run_load(
    model: Any,
    images: np.ndarray,
    users: Sequence[int] = (1, 4, 16),
    ig_steps: int = 32,
    max_seconds: float = 300.0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Serve ``images`` to each number of concurrent ``users``; the 1-user results are the references.

    ``images`` are photos prepared for the model (any float or uint8 [N, S, S, 3] in 0..255);
    they are rounded to uint8 as the dashboard does. The first request (tracing the compiled
    functions) is made once beforehand on a separate copy of photo 0 and reported on its own.
    """
    from flowerdash.explain.explanations import explain_image

    images = np.clip(np.round(np.asarray(images, np.float32)), 0, 255).astype(np.uint8)
    if not 1 <= len(images) <= MAX_IMAGES:
        raise ValueError(f"between 1 and {MAX_IMAGES} photos, not {len(images)}")
    levels = sorted({1, *(int(u) for u in users)})
    if levels[0] < 1 or levels[-1] > MAX_USERS:
        raise ValueError(f"between 1 and {MAX_USERS} users per level, not {levels}")

    def request(i: int) -> Any:
        return explain_image(model, images[i], methods=("gradcam", "ig"), steps=ig_steps)

    from flowerdash.explain.defaults import BASELINE as DEFAULT_BASELINE
    from flowerdash.explain.defaults import RULE as DEFAULT_RULE

    began = time.perf_counter()
    explain_image(model, images[0].copy(), methods=("gradcam", "ig"), steps=ig_steps)
    out: dict[str, Any] = {
        "note": (
            f"each request: prediction + Grad-CAM + IG ({ig_steps} steps, {DEFAULT_RULE}, "
            f"{DEFAULT_BASELINE} baseline) through explain_image on one shared model, {len(images)} distinct test "
            f"photos per level; the 1-user results are the references"
        ),
        "photos": len(images),
        "ig_steps": ig_steps,
        "first_request_seconds_cold": time.perf_counter() - began,
        "levels": {},
    }
    references: dict[int, Any] = {}
    for n in levels:
        log(f"  {n} concurrent user(s), {len(images)} requests")
        stats, results = run_level(request, len(images), n, max_seconds)
        if n == 1:
            references = results
        compared = [i for i in results if i in references] if n > 1 else []
        wrong = [i for i in compared if not _matches(results[i], references[i])]
        stats["checked"] = len(compared)
        stats["wrong_results"] = len(wrong)
        stats["max_difference"] = max(
            (_difference(results[i], references[i]) for i in compared), default=None
        )
        out["levels"][str(n)] = stats
        log("  " + _summary_line(stats))
    return out


def _summary_line(s: dict[str, Any]) -> str:
    return (
        f"users {s['users']}: {s['requests']} requests, {s['errors']} errors, "
        f"{s['wrong_results']} wrong, p50 {_num(s['p50_seconds'])} s, "
        f"p95 {_num(s['p95_seconds'])} s, {_num(s['requests_per_second'], 3)} requests/s"
    )


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


TABLE_HEADER = ["users", "requests", "errors", "wrong results", "not run", "p50 latency (s)",
                "p95 latency (s)", "max (s)", "requests/s", "wall (s)"]  # fmt: skip


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row per level of a :func:`run_load` result (columns of ``TABLE_HEADER``)."""
    return [
        [
            str(s["users"]),
            str(s["requests"]),
            str(s["errors"]),
            "reference" if s["users"] == 1 else f"{s['wrong_results']} of {s['checked']}",
            str(s["not_run"]),
            _num(s["p50_seconds"]),
            _num(s["p95_seconds"]),
            _num(s["max_seconds"]),
            _num(s["requests_per_second"], 3),
            _num(s["wall_seconds"], 1),
        ]
        for s in result["levels"].values()
    ]


def markdown_table(result: dict[str, Any]) -> str:
    """The levels of a :func:`run_load` result as a markdown table."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(result)]
    return "\n".join(lines)


def _test_photos(n: int, size: int, data_dir: Path) -> np.ndarray:
    """``n`` evenly spaced test-split photos, centre-cropped to the model's size."""
    from flowerdash.data.images import prepare_for_model
    from flowerdash.data.sources import FolderSource

    source = FolderSource(data_dir)
    picks = np.linspace(0, len(source.split("test")) - 1, n).astype(int)
    return np.stack([prepare_for_model(source.read_image("test", int(i)), size) for i in picks])


def main(argv: list[str] | None = None) -> int:
    """Run the load test and print a markdown table (and the JSON with ``--json``)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", default=None, help="comma-separated levels (default 1,4,16)")
    parser.add_argument("--images", type=int, default=None, help="distinct photos (default 16)")
    parser.add_argument("--ig-steps", type=int, default=None, help="IG steps (default 32)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=600.0,
        help="stop handing out requests of a level after this long",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="default: checkpoints/default (the shipped model)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny random model at 64 px, 1/2/4 users, 4 photos, 4 IG steps",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)

    from benchmarks.common import find_checkpoint, offline_data_dir
    from flowerdash.models.backbones import input_size

    data_dir = offline_data_dir()
    if not (data_dir / "setid.mat").is_file():
        print("No offline Oxford Flowers102 folder: set FLOWERDASH_DATA_DIR.", file=sys.stderr)
        return 2
    if args.smoke:
        from flowerdash.models.backbones import build_model

        model, origin = build_model("tiny", None, 64), "tiny random model, 64 px (smoke)"
        users, n_images, steps = (1, 2, 4), 4, 4
    else:
        from flowerdash.models.checkpoints import load_model

        checkpoint = args.checkpoint or find_checkpoint()
        if checkpoint is None:
            print("No trained checkpoint: train one or pass --checkpoint.", file=sys.stderr)
            return 2
        model, origin = load_model(checkpoint), f"checkpoint {checkpoint}"
        users, n_images, steps = (1, 4, 16), 16, 32
    if args.users:
        users = tuple(int(u) for u in args.users.split(","))
    n_images = args.images or n_images
    steps = args.ig_steps or steps
    print(
        f"Load test on {origin}: users {','.join(map(str, users))}, {n_images} photos, "
        f"IG {steps} steps",
        flush=True,
    )
    photos = _test_photos(n_images, input_size(model), data_dir)
    result = run_load(
        model, photos, users, steps, args.max_seconds, log=lambda m: print(m, flush=True)
    )
    result["model"] = origin
    print(f"\nFirst request (cold, traces): {result['first_request_seconds_cold']:.1f} s\n")
    print(markdown_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    bad = sum(s["errors"] + s["wrong_results"] for s in result["levels"].values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
