"""One IG explanation in a fresh process; prints its peak memory (VmHWM delta) as one JSON line.

``python -m benchmarks.ig_memory --backbone mobilenetv2 --size 224 --steps 64 --mode chunked``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} is not in /proc/self/status")


def main(argv: list[str] | None = None) -> None:
    """Build the model, record the memory high-water mark, run IG once, print the delta."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="mobilenetv2")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--mode", choices=("chunked", "naive"), default="chunked")
    parser.add_argument("--checkpoint")
    parser.add_argument("--weights")
    args = parser.parse_args(argv)

    import numpy as np

    from benchmarks.naive import naive_ig
    from flowerdash.explain.integrated_gradients import IntegratedGradients

    if args.checkpoint:
        from flowerdash.models.checkpoints import load_model

        model = load_model(args.checkpoint)
    else:
        from flowerdash.models.backbones import build_model

        model = build_model(args.backbone, args.weights, args.size)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (1, args.size, args.size, 3)).astype(np.float32)
    model(x, training=False)
    before = _status_kib("VmHWM")
    start = time.perf_counter()
    if args.mode == "chunked":
        IntegratedGradients(model, steps=args.steps).explain(x, [0])  # the default rule
    else:
        naive_ig(model, x[0], 0, args.steps)
    seconds = time.perf_counter() - start
    after = _status_kib("VmHWM")
    print(
        json.dumps(
            {
                "steps": args.steps,
                "mode": args.mode,
                "hwm_before_mib": round(before / 1024, 1),
                "hwm_after_mib": round(after / 1024, 1),
                "peak_delta_mib": round((after - before) / 1024, 1),
                "seconds_cold": round(seconds, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
