"""TensorFlow's CPU work with the oneDNN kernels on or off, in this fresh process (one JSON line).

``TF_ENABLE_ONEDNN_OPTS=0 python -m benchmarks.onednn --backbone mobilenetv2 --size 224``

The setting is read once, when TensorFlow is imported, so the suite runs this script twice,
once per value, and compares. Timed: batch-64 inference, one fine-tuning step of batch 32 with
every backbone layer trainable, Grad-CAM with the target given, and IG with 32 steps (one
chunk), all on random pixels, warm (first call excluded), median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def _median_seconds(fn, repeats: int) -> dict[str, float]:
    fn()  # warm-up: traces and allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return {"median": times[len(times) // 2], "min": times[0], "max": times[-1], "n": repeats}


def main(argv: list[str] | None = None) -> None:
    """Time the four workloads and print them as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="mobilenetv2")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--weights")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from flowerdash.explain.gradcam import GradCAM
    from flowerdash.explain.integrated_gradients import IntegratedGradients
    from flowerdash.inference.predict import predict_batch
    from flowerdash.models.backbones import build_model, set_trainable

    rng = np.random.default_rng(0)
    s = args.size
    model = build_model(args.backbone, args.weights, s)
    batch = rng.uniform(0, 255, (64, s, s, 3)).astype(np.float32)
    one = batch[:1]
    out: dict[str, object] = {"onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}
    out["inference_b64"] = _median_seconds(lambda: predict_batch(model, batch), args.repeats)
    gradcam = GradCAM(model)
    out["gradcam"] = _median_seconds(lambda: gradcam(one, [0]), args.repeats)
    ig = IntegratedGradients(model, steps=32, chunk_size=32)
    out["ig_32_steps"] = _median_seconds(lambda: ig(one, [0]), max(args.repeats // 2, 2))
    set_trainable(model, 10_000)
    model.compile(keras.optimizers.Adam(1e-5), keras.losses.CategoricalCrossentropy())
    n = int(model.outputs[0].shape[-1])
    y = keras.utils.to_categorical(np.arange(32) % n, n)
    out["fine_tune_step_b32"] = _median_seconds(
        lambda: model.train_on_batch(batch[:32], y), args.repeats
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
