"""``python -m flowerdash download``: Oxford Flowers102 through TensorFlow Datasets."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from flowerdash.errors import FlowerdashError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``download`` sub-command."""
    d = subparsers.add_parser(
        "download",
        help="download and prepare Oxford Flowers102 through TensorFlow Datasets (~345 MB)",
        description=(
            "Download Oxford Flowers102 (8,189 photos of 102 flowers, about 345 MB) through "
            "TensorFlow Datasets, verify it against TFDS's registered checksums and prepare it. "
            "Ctrl-C cancels and removes what was written."
        ),
    )
    d.add_argument(
        "--tfds-dir",
        default=None,
        help="TensorFlow Datasets folder (default: TFDS_DATA_DIR, else ~/tensorflow_datasets)",
    )

    d.set_defaults(func=run)
    return d


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 10e6 else f"{n / 1e6:,.1f} MB"


def run(args: argparse.Namespace) -> int:
    """Download and prepare the dataset with a progress line; Ctrl-C cancels."""
    from flowerdash.data import download

    if download.is_prepared(args.tfds_dir):
        print(f"Oxford Flowers102 is already in {download.data_root(args.tfds_dir)}.")
        return 0
    if not download.is_online():
        raise FlowerdashError(download.offline_message())
    job = download.DownloadJob(args.tfds_dir).start()
    tty = sys.stderr.isatty()
    shown = None
    try:
        while True:
            now = job.wait(timeout=1.0)
            if now.phase == download.PREPARE:
                line = "preparing (extracting and writing TensorFlow Datasets records)…"
            else:
                line = f"downloading {_megabytes(now.done_bytes)} of {_megabytes(now.total_bytes)}"
            # a terminal redraws one line; a log gets a line per phase
            key = line if tty else now.phase
            if key != shown:
                print(
                    ("\r" if tty else "") + line.ljust(72 if tty else 0),
                    end="" if tty else "\n",
                    file=sys.stderr,
                    flush=True,
                )
                shown = key
            if not now.running:
                break
    except KeyboardInterrupt:
        job.cancel()
        raise
    if tty:
        print(file=sys.stderr)
    if now.error is not None:
        raise now.error
    print(f"Oxford Flowers102 is ready in {job.root}.")
    return 0
