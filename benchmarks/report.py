"""Markdown tables for docs/PERFORMANCE.md from every results file; targets marked met / not met."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BEGIN = "<!-- BEGIN GENERATED: python -m benchmarks rewrites everything up to END -->"
END = "<!-- END GENERATED -->"
TARGET_BACKBONE = "mobilenetv2"


def _get(data: dict, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def fmt(stat: Any, scale: float = 1.0, digits: int = 2, spread: bool = True) -> str:
    """'median (min–max)' of a summary, or a plain number; '–' when missing."""
    if stat is None:
        return "–"
    if isinstance(stat, (int, float)):
        return f"{stat * scale:.{digits}f}"
    if "error" in stat:
        return "error"
    if "median" not in stat:
        return "–"
    text = f"{stat['median'] * scale:.{digits}f}"
    if spread and stat.get("n", 0) > 1 and "min" in stat and "max" in stat:
        text += f" ({stat['min'] * scale:.{digits}f}–{stat['max'] * scale:.{digits}f})"
    return text


def _median(stat: Any) -> float | None:
    if isinstance(stat, (int, float)):
        return float(stat)
    if isinstance(stat, dict) and "median" in stat:
        return float(stat["median"])
    return None


def frozen_epoch_with_val(res: dict, backbone: str, stage: str = "frozen_litert") -> float | None:
    """Extrapolated frozen augmented epoch as the engine runs it: train steps (backbone on
    LiteRT; ``stage="frozen"``: all in TensorFlow) + the head on cached val features."""
    train = _median(_get(res, f"training.{backbone}.{stage}.epoch_seconds_est"))
    if train is None and stage == "frozen_litert":  # results from before LiteRT
        return frozen_epoch_with_val(res, backbone, "frozen")
    val = _median(_get(res, f"cached_features.{backbone}.val_pass_on_features_seconds"))
    if train is None:
        return None
    return train + val if val is not None else frozen_epoch_with_backbone_val(res, backbone)


def frozen_epoch_with_backbone_val(res: dict, backbone: str) -> float | None:
    """The straightforward frozen augmented epoch, all in TensorFlow: train steps + 1,020 val
    images through the whole model at the measured TensorFlow evaluation speed."""
    train = _median(_get(res, f"training.{backbone}.frozen.epoch_seconds_est"))
    per_image = _median(_get(res, f"evaluation.{backbone}.seconds_per_image_tensorflow"))
    if per_image is None:  # results from before LiteRT, where evaluation was TensorFlow
        per_image = _median(_get(res, f"evaluation.{backbone}.seconds_per_image"))
    if train is None or per_image is None:
        return None
    return train + 1020 * per_image


def targets(res: dict) -> list[tuple[str, str, float | None, float, str]]:
    """(target, measured text, value, limit, unit) for the MobileNetV2 targets."""
    b = TARGET_BACKBONE
    gc = _median(_get(res, f"gradcam.{b}.target_given"))
    rule = "adaptive" if _get(res, f"ig.{b}.adaptive/64") else "gauss_legendre"  # older files
    ig64 = _median(_get(res, f"ig.{b}.{rule}/64.seconds"))
    ig128 = _median(_get(res, f"ig.{b}.{rule}/128.seconds"))
    epoch = frozen_epoch_with_val(res, b)
    head = _median(_get(res, f"cached_features.{b}.head_epoch_seconds"))
    full = _get(res, f"evaluation.{b}.full_test_seconds_measured")
    full = full if full is not None else _get(res, f"evaluation.{b}.full_test_seconds_est")
    upload = _median(_get(res, "app.engine.upload_to_prediction_and_gradcam"))
    alpha = _median(_get(res, "app.engine.alpha_change_overlay"))
    first = _median(_get(res, "first_explain.warmup_server_start_later"))
    return [
        ("GradCAM per image (warm)", "ms", None if gc is None else gc * 1000, 40.0, "ms"),
        (f"IG {rule} 64 steps per image", "s", ig64, 1.0, "s"),
        (f"IG {rule} 128 steps per image", "s", ig128, 2.0, "s"),
        ("Frozen-stage augmented epoch (train + val, extrapolated)", "s", epoch, 15.0, "s"),
        ("Cached-features head epoch", "s", head, 1.0, "s"),
        ("Full test evaluation (6,149 images)", "s", full, 60.0, "s"),
        ("Upload → prediction + GradCAM (engine, warm)", "s", upload, 1.5, "s"),
        ("Alpha change → new overlay", "ms", None if alpha is None else alpha * 1000, 100.0, "ms"),
        ("Fresh `make run` server: open Explain 20 s after start → both maps", "s", first, 5.0, "s"),
    ]  # fmt: skip


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def render_machine(res: dict) -> list[str]:
    """The section of one results file."""
    m = res.get("machine", {})
    backbones = res.get("backbones", [])
    title = m.get("slug", "?") + (
        " — QUICK (tiny backbone, not comparable)" if res.get("quick") else ""
    )
    out = [f"### {title}", ""]
    gpus = ", ".join(m.get("gpus") or []) or "none"
    out.append(
        f"{m.get('cpu')}{' (' + m['cpu_isa'].upper() + ')' if m.get('cpu_isa') else ''} · "
        f"{m.get('cores')} cores · {m.get('memory_gib')} GiB · GPU: {gpus} · "
        f"Python {m.get('python')} · TensorFlow {m.get('tensorflow')} · Keras {m.get('keras')} · "
        f"NumPy {m.get('numpy')} · {m.get('date')} · {res.get('image_size')} px · "
        f"load average at start {m.get('load_average_at_start')}"
    )
    others = m.get("other_processes_at_start") or []
    out += [
        "",
        "Other processes using the CPU at start: "
        + ("; ".join(f"`{o}`" for o in others) or "none"),
        "",
    ]
    out.append("Numbers are median (min–max) over repeated runs with warm-up excluded.")
    out.append("")
    if TARGET_BACKBONE in backbones:
        rows = []
        for name, _u, value, limit, unit in targets(res):
            verdict = "–" if value is None else ("**met**" if value <= limit else "**not met**")
            shown = "–" if value is None else f"{value:.2f} {unit}"
            rows.append([name, f"≤ {limit:g} {unit}", shown, verdict])
        out += ["Targets (MobileNetV2, 224 px):", ""]
        out += _table(["target", "limit", "measured", "verdict"], rows) + [""]

    def col(path_fmt: str, **kw: Any) -> list[str]:
        return [fmt(_get(res, path_fmt.format(b=b)), **kw) for b in backbones]

    rows = [
        ["input pipeline alone, augmented (images/s)", *[fmt(_get(res, "pipeline.augmented.images_per_sec"), digits=0)] * len(backbones)],
        ["input pipeline alone, decode+resize (images/s)", *[fmt(_get(res, "pipeline.decode_resize_only.images_per_sec"), digits=0)] * len(backbones)],
        ["frozen stage, augmented, all in TensorFlow (images/s)", *col("training.{b}.frozen.images_per_sec", digits=1)],
        ["frozen stage, augmented, backbone on LiteRT (images/s)", *col("training.{b}.frozen_litert.images_per_sec", digits=1)],
        ["frozen stage epoch, train steps, TensorFlow (s, extrapolated)", *col("training.{b}.frozen.epoch_seconds_est", digits=1)],
        ["frozen stage epoch, train steps, LiteRT backbone (s, extrapolated)", *col("training.{b}.frozen_litert.epoch_seconds_est", digits=1)],
        ["frozen stage epoch + val through the backbone, TensorFlow (s, extrapolated; before)", *[fmt(frozen_epoch_with_backbone_val(res, b), digits=1) for b in backbones]],
        ["frozen stage epoch, TensorFlow + val on cached features (s, extrapolated)", *[fmt(frozen_epoch_with_val(res, b, "frozen"), digits=1) for b in backbones]],
        ["frozen stage epoch, LiteRT backbone + val on cached features (s, extrapolated; flowerdash)", *[fmt(frozen_epoch_with_val(res, b), digits=1) for b in backbones]],
        ["frozen epoch: before / flowerdash", *[_ratio(frozen_epoch_with_backbone_val(res, b), frozen_epoch_with_val(res, b)) for b in backbones]],
        ["frozen stage: one-time LiteRT conversion of the backbone (s)", *col("training.{b}.frozen_litert.conversion_seconds", digits=1)],
        ["frozen stage: one-time val feature extraction (s, extrapolated)", *col("cached_features.{b}.val_extraction_seconds_est", digits=1)],
        ["fine-tune stage, augmented (images/s)", *col("training.{b}.fine_tune.images_per_sec", digits=1)],
        ["fine-tune epoch, train steps (s, extrapolated)", *col("training.{b}.fine_tune.epoch_seconds_est", digits=1)],
        ["bottleneck (frozen stage)", *[_bottleneck(res, b) for b in backbones]],
        ["cached features: one-time extraction, train+val (s, extrapolated)", *col("cached_features.{b}.extraction_seconds_est", digits=1)],
        ["cached features: extraction per batch, eager Keras call (s, before)", *col("cached_features.{b}.extraction_eager_seconds_per_batch", digits=2)],
        ["cached features: extraction per batch, compiled TensorFlow (s)", *col("cached_features.{b}.extraction_seconds_per_batch", digits=2)],
        ["cached features: extraction per batch, LiteRT (s, flowerdash)", *col("cached_features.{b}.extraction_litert_seconds_per_batch", digits=2)],
        ["cached features: extraction, eager / compiled TensorFlow", *[_ratio(_get(res, f"cached_features.{b}.extraction_eager_seconds_per_batch"), _get(res, f"cached_features.{b}.extraction_seconds_per_batch")) for b in backbones]],
        ["cached features: extraction, compiled TensorFlow / LiteRT", *[_ratio(_get(res, f"cached_features.{b}.extraction_seconds_per_batch"), _get(res, f"cached_features.{b}.extraction_litert_seconds_per_batch")) for b in backbones]],
        ["cached features: head epoch (s)", *col("cached_features.{b}.head_epoch_seconds", digits=3)],
        ["augmented frozen epoch / cached epoch", *[_ratio(frozen_epoch_with_val(res, b), _get(res, f"cached_features.{b}.head_epoch_seconds")) for b in backbones]],
        ["evaluation, compiled TensorFlow (images/s; before)", *col("evaluation.{b}.images_per_sec_tensorflow", digits=0)],
        ["evaluation, engine's choice (images/s; flowerdash)", *[f"{fmt(_get(res, f'evaluation.{b}.images_per_sec'), digits=0)} ({_engine(res, b)})" for b in backbones]],
        ["evaluation: TensorFlow / flowerdash", *[_ratio(_get(res, f"evaluation.{b}.seconds_per_image_tensorflow"), _get(res, f"evaluation.{b}.seconds_per_image")) for b in backbones]],
        ["evaluation: one-time model conversion (s)", *col("evaluation.{b}.setup_seconds", digits=1)],
        ["full test split (s)", *[_full_eval(res, b) for b in backbones]],
        ["GradCAM, target given (ms)", *col("gradcam.{b}.target_given", scale=1000, digits=1)],
        ["GradCAM, target predicted (ms)", *col("gradcam.{b}.target_predicted", scale=1000, digits=1)],
    ]  # fmt: skip
    out += ["Training, data and inference:", ""]
    out += _table(["measurement", *backbones], rows) + [""]

    steps = sorted(
        {int(k.split("/")[1]) for b in backbones for k in (_get(res, f"ig.{b}") or {}) if "/" in k}
    )
    if steps:
        rows = []
        for b in backbones:
            for rule in ("adaptive", "gauss_legendre", "trapezoid"):
                if _get(res, f"ig.{b}.{rule}/{steps[0]}") is None:
                    continue
                rows.append(
                    [
                        f"{b} {rule} s/image",
                        *[fmt(_get(res, f"ig.{b}.{rule}/{s}.seconds")) for s in steps],
                    ]
                )
                rows.append(
                    [
                        f"{b} {rule} completeness gap (median, min–max)",
                        *[fmt(_get(res, f"ig.{b}.{rule}/{s}.gap"), digits=3) for s in steps],
                    ]
                )
            mem = _get(res, f"ig_memory.{b}") or {}
            for mode in ("chunked", "naive"):
                if any(k.startswith(mode) for k in mem):
                    rows.append(
                        [
                            f"{b} {mode} IG peak memory (MiB)",
                            *[_mem(mem.get(f"{mode}/{s}")) for s in steps],
                        ]
                    )
        out += [f"Integrated Gradients ({_get(res, 'ig.note') or ''}; models: "
                + "; ".join(f"{b}: {_get(res, f'ig.{b}.model')}" for b in backbones) + "):", ""]  # fmt: skip
        out += _table(["steps", *map(str, steps)], rows) + [""]

    rewrites = {
        b: _get(res, f"ig_rewrites.{b}") for b in backbones if _get(res, f"ig_rewrites.{b}")
    }
    if rewrites:
        rows = []
        for b, f in rewrites.items():
            for steps in sorted((k for k in f if k.isdigit()), key=int):
                c = f[steps]
                rows.append([b, steps, fmt(_get(c, "none.seconds")),
                             fmt(_get(c, "batchnorm.seconds")), fmt(_get(c, "all.seconds")),
                             f"{c.get('speedup_vs_batchnorm', 0):.2f}×",
                             f"{c.get('speedup_vs_none', 0):.2f}×"])  # fmt: skip
        out += [f"IG on the model as it is, with BatchNormalization folded (the default until "
                f"2026-12-02) and with every gradient rewrite (the default since), from the same "
                f"run ({_get(res, 'ig_rewrites.note') or ''}; images: "
                + "; ".join(f"{b}: {f.get('images')}" for b, f in rewrites.items()) + "):", ""]  # fmt: skip
        out += _table(["backbone", "steps", "as is s/image", "BN folded s/image",
                       "all rewrites s/image", "speed-up vs BN folded", "vs as is"], rows)  # fmt: skip
        out += [""]

    naive = {b: _get(res, f"naive.{b}") for b in backbones if _get(res, f"naive.{b}")}
    if naive:
        rows = []
        for b, n in naive.items():
            rows.append(
                [
                    f"{b} GradCAM",
                    fmt(n.get("gradcam_naive"), 1000, 1),
                    fmt(n.get("gradcam_cached"), 1000, 1),
                    "ms",
                    f"{n.get('gradcam_speedup', 0):.1f}×",
                ]
            )
            rows.append(
                [
                    f"{b} IG",
                    fmt(n.get("ig_naive")),
                    fmt(n.get("ig_flowerdash_trapezoid")),
                    "s",
                    f"{n.get('ig_speedup', 0):.1f}×",
                ]
            )
        out += [f"Naive (course notebook) vs flowerdash ({_get(res, 'naive.note')}):", ""]
        out += _table(["", "naive", "flowerdash", "unit", "speed-up"], rows) + [""]  # fmt: skip

    xla = {b: _get(res, f"xla.{b}") for b in backbones if _get(res, f"xla.{b}")}
    if xla:
        rows = []
        for b, cases in xla.items():
            for name, c in cases.items():
                if "error" in c:
                    rows.append([b, name, "error", "", "", c["error"][:80]])
                    continue
                rows.append(
                    [
                        b,
                        name,
                        fmt(c["plain"], 1000, 1),
                        fmt(c["xla"], 1000, 1),
                        f"{c['xla_compile_seconds']:.1f}",
                        f"{c['ratio']:.2f}×",
                    ]
                )
        out += [
            "XLA (`jit_compile=True`) vs plain `tf.function`, warm ms per call (ratio > 1: XLA faster):",
            "",
        ]
        out += _table(["backbone", "function", "plain (ms)", "XLA (ms)", "XLA compile (s)", "ratio"], rows) + [""]  # fmt: skip

    onednn = res.get("onednn")
    if onednn:
        rows = []
        for b in backbones:
            entry = onednn.get(b) or {}
            off, on = entry.get("off") or {}, entry.get("on") or {}
            for key, label, scale in (
                ("inference_b64", "inference, batch of 64 (s)", 1.0),
                ("fine_tune_step_b32", "fine-tuning step, batch of 32, all layers (s)", 1.0),
                ("gradcam", "Grad-CAM, one image (ms)", 1000.0),
                ("ig_32_steps", "IG 32 steps, one image (s)", 1.0),
            ):
                if "error" in off or "error" in on:
                    rows.append([b, label, "error", "error", "–"])
                    continue
                rows.append(
                    [
                        b,
                        label,
                        fmt(off.get(key), scale=scale),
                        fmt(on.get(key), scale=scale),
                        _ratio(off.get(key), on.get(key)),
                    ]
                )
        out += [
            "TensorFlow's oneDNN CPU kernels off (TensorFlow's default on CPUs without AVX-512 "
            "VNNI/BF16 or AMX) vs on (flowerdash sets `TF_ENABLE_ONEDNN_OPTS=1`), warm, "
            "random pixels (ratio > 1: oneDNN faster):",
            "",
        ]
        out += _table(["backbone", "workload", "off", "on", "off / on"], rows) + [""]

    app = res.get("app")
    if app:
        out += ["Dashboard:", ""]
        if "skipped" in app:
            out += [f"skipped: {app['skipped']}", ""]
        else:
            e, br = app.get("engine", {}), app.get("browser", {})
            rows = [
                ["model load (s, once)", fmt(e.get("model_load_seconds"))],
                ["engine: first upload → prediction + GradCAM (s, cold, traces)", fmt(e.get("first_upload_seconds_cold"))],
                ["engine: load_image (ms)", fmt(e.get("load_image"), 1000, 1)],
                ["engine: upload → prediction + GradCAM (ms, warm)", fmt(e.get("upload_to_prediction_and_gradcam"), 1000, 1)],
                ["engine: Streamlit's Keras clean-up after a rerun (ms, before; now skipped)", fmt(e.get("clear_session"), 1000, 1)],
                ["engine: upload → prediction + GradCAM right after that clean-up (ms, before)", fmt(e.get("upload_after_clear_session"), 1000, 1)],
                ["engine: one prediction, Keras model called eagerly (ms, before)", fmt(e.get("prediction_eager"), 1000, 1)],
                ["engine: one prediction, compiled (ms, flowerdash)", fmt(e.get("prediction_compiled"), 1000, 1)],
                ["engine: prediction, eager / compiled", _ratio(e.get("prediction_eager"), e.get("prediction_compiled"))],
                ["engine: alpha change → overlay (ms)", fmt(e.get("alpha_change_overlay"), 1000, 2)],
            ]  # fmt: skip
            if "skipped" in br:
                rows.append(["browser", f"skipped: {br['skipped']}"])
            else:
                rows += [
                    ["browser: cold start → server healthy (s)", fmt(br.get("server_healthy_seconds"))],
                    ["browser: cold start → first rendered page (s)", fmt(br.get("cold_start_to_first_page_seconds"))],
                    ["browser: cold start → page idle (s)", fmt(br.get("cold_start_to_idle_page_seconds"))],
                    ["browser: warm page reload → idle (s)", fmt(br.get("page_reload_warm"))],
                    ["browser: first upload → GradCAM on page (s)", fmt(br.get("upload_to_gradcam_first_seconds"))],
                    ["browser: upload → GradCAM on page (s, warm)", fmt(br.get("upload_to_gradcam_warm"))],
                    ["browser: alpha slider step → new overlay (s)", _alpha_browser(br.get("alpha"))],
                ]  # fmt: skip
            out += _table(["measurement", "value"], rows) + [""]
    out += _first_explain(res.get("first_explain"))
    load = res.get("load")
    if load and "levels" in load:
        from benchmarks.load import TABLE_HEADER, table_rows

        out += [
            f"Concurrent users (`load`: {load.get('note')}; model: {load.get('model')}; first "
            f"request, cold: {fmt(load.get('first_request_seconds_cold'))} s):",
            "",
        ]
        out += _table(TABLE_HEADER, table_rows(load)) + [""]
    elif load:
        out += [f"Concurrent users (`load`): error: {load.get('error', '?')[:120]}", ""]
    skipped = res.get("skipped") or {}
    if skipped:
        out += ["Skipped: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()), ""]
    return out


def _first_explain(fe: Any) -> list[str]:
    """The first Explain on a fresh server: warm-up off (before), from the first visit, from
    server start (``serve.py``, what ``make run`` serves)."""
    if not fe:
        return []
    if "error" in fe:
        return ["First Explain on a fresh server: error: " + str(fe["error"])[:200], ""]
    out = [
        f"First Explain on a fresh server (`first_explain`: {fe.get('note')}; load average "
        f"{fe.get('load_average_at_start', 0):.2f} at start, {fe.get('load_average_at_end', 0):.2f}"
        " at end), seconds until both maps show, and the times the page showed on the first run:",
        "",
    ]
    modes = ("off", "first_visit", "server_start")
    rows = []
    for visitor, label in (
        ("at_once", "opens at once, uploads at once: open → maps"),
        ("thinking", "opens at once, uploads 20 s later: upload → maps"),
        ("later", "opens 20 s after start, uploads at once: open → maps"),
    ):
        if not any(fe.get(f"warmup_{m}_{visitor}") for m in modes):
            continue
        rows.append([label, *(fmt(fe.get(f"warmup_{m}_{visitor}")) for m in modes)])
        rows.append(
            [
                "times shown",
                *(
                    "; ".join(fe.get(f"warmup_{m}_{visitor}_times_shown") or []) or "–"
                    for m in modes
                ),
            ]
        )
    header = [
        "visitor",
        "warm-up off (before)",
        "`streamlit run streamlit_app.py` (from first visit)",
        "`make run` (serve.py, from server start)",
    ]
    return out + _table(header, rows) + [""]


def _alpha_browser(a: Any) -> str:
    if not a:
        return "–"
    if "error" in a:
        return "error: " + a["error"][:80]
    return fmt(a.get("slider_step_to_new_overlay"))


def _mem(entry: Any) -> str:
    if not entry:
        return "–"
    if "error" in entry:
        return "error"
    return f"{entry['peak_delta_mib']:.0f}"


def _ratio(a: Any, b: Any) -> str:
    a, b = _median(a), _median(b)
    if a is None or not b:
        return "–"
    return f"{a / b:.1f}×" if a / b < 10 else f"{a / b:.0f}×"


def _full_eval(res: dict, b: str) -> str:
    measured = _get(res, f"evaluation.{b}.full_test_seconds_measured")
    if measured is not None:
        return f"{measured:.1f} (measured, whole split)"
    est = _get(res, f"evaluation.{b}.full_test_seconds_est")
    n = _get(res, f"evaluation.{b}.subset")
    return "–" if est is None else f"{est:.1f} (extrapolated from {n} images)"


def _engine(res: dict, b: str) -> str:
    name = _get(res, f"evaluation.{b}.engine")
    return {"LiteRTPredictor": "LiteRT"}.get(name, "TensorFlow" if name else "?")


def _bottleneck(res: dict, b: str) -> str:
    data = _median(_get(res, "pipeline.augmented.images_per_sec"))
    model = _median(_get(res, f"training.{b}.frozen_litert.images_per_sec"))
    model = model or _median(_get(res, f"training.{b}.frozen.images_per_sec"))
    if data is None or model is None:
        return "–"
    who = "model" if data > model else "data"
    return f"{who} (data {data:.0f} vs training {model:.0f} images/s)"


def render(results_dir: Path) -> str:
    """The generated block for every machine's ``*.json`` in ``results_dir`` (full runs first).

    Other result files there (the explanation study, robustness runs, the ensemble's timing)
    are not suite runs (no ``machine`` and ``backbones`` entries) and are left to docs/RESULTS.md.
    """
    files = sorted(Path(results_dir).glob("*.json"))
    results = []
    for f in files:
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "machine" in data and "backbones" in data:
            results.append(data)
    results.sort(key=lambda r: (bool(r.get("quick")), r.get("machine", {}).get("slug", "")))
    lines = [BEGIN, "", "## Results", ""]
    if not results:
        lines += ["No results yet: run `python -m benchmarks`.", ""]
    for res in results:
        lines += render_machine(res)
    lines.append(END)
    return "\n".join(lines) + "\n"


TEMPLATE = """# Performance

How fast flowerdash trains, evaluates and explains, measured by `python -m benchmarks`
(`make benchmark`). The tables below are generated from `benchmarks/results/*.json`.

"""


def update_doc(doc: Path, results_dir: Path) -> None:
    """Replace the generated block of ``doc`` (created if missing), keeping the prose around it."""
    doc = Path(doc)
    text = doc.read_text() if doc.is_file() else TEMPLATE
    block = render(results_dir)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
