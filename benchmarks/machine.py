"""Describe the machine a benchmark ran on, and a hostname-independent slug for its file name."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def _cpu_isa() -> str:
    """The widest x86 vector extension the CPU has ('avx512', 'avx2'), or '' elsewhere.

    Two machines both called "AMD EPYC" here differ by 2x in speed (Zen 3 with AVX2, Zen 5 with
    AVX-512 and bfloat16), so the slug carries it and their result files stay apart.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), "").split()
    for isa in ("avx512f", "avx2"):
        if isa in flags:
            return isa.removesuffix("f")
    return ""


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _gpus() -> list[str]:
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        names.append(str(details.get("device_name", gpu.name)))
    return names


def _slug(text: str) -> str:
    text = re.sub(r"\(.*?\)|@.*$|\b(processor|cpu|core|with|radeon graphics)\b", " ", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "unknown"


def _other_load() -> list[str]:
    """Other heavy processes running now (training runs, test sessions), for the record."""
    try:
        out = subprocess.run(
            ["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()[1:]
    except (OSError, subprocess.SubprocessError):
        return []
    me = os.getpid()
    found = []
    for line in out:
        parts = line.split(None, 2)
        if len(parts) < 3 or int(parts[0]) == me:
            continue
        pcpu, args = float(parts[1]), parts[2]
        if pcpu >= 20.0 and "benchmarks" not in args and not args.startswith("ps "):
            found.append(f"{pcpu:.0f}% {args[:120]}")
    return found[:5]


def describe() -> dict[str, Any]:
    """CPU, cores, memory, GPUs, library versions, date, and what else was using the CPU."""
    import keras
    import numpy as np
    import tensorflow as tf

    cpu = _cpu_model()
    cores = os.cpu_count() or 1
    gpus = _gpus()
    isa = _cpu_isa()
    slug = (
        f"gpu-{_slug(gpus[0])}"
        if gpus
        else f"cpu-{cores}core-{_slug(cpu)}" + (f"-{isa}" if isa else "")
    )
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "slug": slug,
        "cpu": cpu,
        "cpu_isa": isa,
        "cores": cores,
        "memory_gib": _memory_gib(),
        "gpus": gpus,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": load,
        "other_processes_at_start": _other_load(),
    }
