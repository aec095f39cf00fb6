"""Accuracy of an ensemble of trained runs: their softmax outputs averaged (docs/RESULTS.md).

``python -m benchmarks.ensemble [--split S] RUN RUN ...``: each run's top-1 and top-5 on the
split, then those of the ensembles of its first 2, 3, ... runs in the order given (probabilities
averaged, and top-1 with logits averaged, as the product's ensembles do). Each run's
probabilities are kept in its ``eval/`` folder, keyed by a hash of the model file.
Example: ``python -m benchmarks.ensemble --split val runs/fullft-lr3-long runs/fullft-lr3-long-ema``
(choose on val, or on train for runs trained on val; report on test).

``--timing N``: instead, the per-image time of an answer (the LiteRT predictor Try it uses),
Grad-CAM and Integrated Gradients (the app's defaults) for each run on N test photos, the runs
alternating on every photo, after one warm-up call each; into
``benchmarks/results/ensemble-timing.json``, or ``--out FILE``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from flowerdash.data.pipelines import scan_pipeline
from flowerdash.data.sources import get_source
from flowerdash.inference.evaluation import EVAL_DIR, file_hash
from flowerdash.inference.litert import batch_predictor
from flowerdash.models.backbones import input_size
from flowerdash.models.checkpoints import MODEL_FILE, load_model


def ensemble_scores(
    probs: list[np.ndarray], labels: np.ndarray, average: str = "probabilities"
) -> dict[str, float]:
    """Top-1 and top-5 accuracy of several [N, C] probability arrays averaged.

    ``average="logits"`` averages log-probabilities, which ranks classes exactly as the mean of
    the logits does (what ``python -m flowerdash ensemble`` builds): per image and model, a
    log-probability is the logit minus one constant.
    """
    stacked = np.stack(probs)
    if average == "logits":
        stacked = np.log(np.maximum(stacked, np.finfo(np.float32).tiny))
    top5 = np.argsort(-np.mean(stacked, axis=0), axis=1)[:, :5]
    return {
        "top1": float(np.mean(top5[:, 0] == labels)),
        "top5": float(np.mean((top5 == labels[:, None]).any(axis=1))),
    }


def split_probabilities(
    run: str | Path, split: str, limit: int | None = None, data_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The run's softmax outputs [N, C] on a split and the labels [N], cached in its folder."""
    run = Path(run)
    part = split if limit is None else f"{split}{limit}"
    cache = run / EVAL_DIR / f"probs-{part}-{file_hash(run / MODEL_FILE)[:16]}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return z["probs"], z["labels"]
    model = load_model(run)
    predict = batch_predictor(model)
    ds = scan_pipeline(
        get_source(data_dir), split, image_size=input_size(model), batch_size=64, limit=limit
    )
    probs, labels = [], []
    for images, batch_labels in ds:
        probs.append(predict(images.numpy()).astype(np.float32))
        labels.append(batch_labels.numpy())
    out = np.concatenate(probs), np.concatenate(labels).astype(np.int64)
    cache.parent.mkdir(exist_ok=True)
    np.savez(cache, probs=out[0], labels=out[1])
    return out


TIMING_OUT = Path(__file__).resolve().parent / "results" / "ensemble-timing.json"


def explanation_timing(runs: list[str], n_images: int) -> dict[str, dict[str, dict]]:
    """Seconds per image of an answer, Grad-CAM and IG for each run, the runs alternating on
    each photo."""
    from benchmarks.stats import summarize
    from flowerdash.data.images import load_image, prepare_for_model
    from flowerdash.explain.gradcam import GradCAM
    from flowerdash.explain.integrated_gradients import IntegratedGradients

    source = get_source()
    files = source.split("test").files[:n_images]
    models = {run: load_model(run) for run in runs}
    explainers = {
        run: {"predict": batch_predictor(m), "gradcam": GradCAM(m), "ig": IntegratedGradients(m)}
        for run, m in models.items()
    }
    samples: dict[str, dict[str, list[float]]] = {
        r: {m: [] for m in methods} for r, methods in explainers.items()
    }
    for i, name in enumerate(files):
        for run, methods in explainers.items():
            image = prepare_for_model(load_image(source.image_path(name)), input_size(models[run]))
            for method, explain in methods.items():
                if i == 0:
                    explain(image[None])  # warm-up: traces the compiled functions
                start = time.perf_counter()
                explain(image[None])
                samples[run][method].append(time.perf_counter() - start)
    return {r: {m: summarize(v) for m, v in by.items()} for r, by in samples.items()}


def main(argv: list[str] | None = None) -> None:
    """Print one table row per run, then one per ensemble of the first k runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--timing", type=int, default=0, metavar="N")
    parser.add_argument("--out", type=Path, default=TIMING_OUT, help="where --timing writes")
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args(argv)
    if args.timing:
        from benchmarks.machine import describe

        timing = explanation_timing(args.runs, args.timing)
        args.out.write_text(json.dumps({"machine": describe(), "runs": timing}, indent=1))
        from flowerdash.explain.defaults import STEPS as DEFAULT_STEPS

        print(
            "| run | answer, ms per image | Grad-CAM, ms per image "
            f"| IG ({DEFAULT_STEPS} steps), s per image |"
        )
        print("|---|---|---|---|")
        for run, t in timing.items():
            answer, cam, ig = t["predict"], t["gradcam"], t["ig"]
            print(
                f"| `{Path(run).name}` | {1000 * answer['median']:.1f} "
                f"({1000 * answer['min']:.1f}–{1000 * answer['max']:.1f}) "
                f"| {1000 * cam['median']:.0f} "
                f"({1000 * cam['min']:.0f}–{1000 * cam['max']:.0f}) "
                f"| {ig['median']:.2f} ({ig['min']:.2f}–{ig['max']:.2f}) |"
            )
        return
    probs, labels = [], None
    print(f"| {args.split} | top-1 | top-5 | top-1, logits averaged |")
    print("|---|---|---|---|")
    for run in args.runs:
        p, y = split_probabilities(run, args.split)
        if labels is not None and not np.array_equal(y, labels):
            raise SystemExit(f"{run}: its {args.split} labels differ from the first run's")
        labels = y
        probs.append(p)
        s = ensemble_scores([p], y)
        print(f"| `{Path(run).name}` | {s['top1']:.1%} | {s['top5']:.1%} | |")
    for k in range(2, len(probs) + 1):
        s = ensemble_scores(probs[:k], labels)
        by_logits = ensemble_scores(probs[:k], labels, average="logits")["top1"]
        print(
            f"| **ensemble of the first {k}** | {s['top1']:.1%} | {s['top5']:.1%} "
            f"| {by_logits:.1%} |"
        )


if __name__ == "__main__":
    main()
