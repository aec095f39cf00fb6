"""Oxford Flowers102 through TensorFlow Datasets: is it on this machine, can we reach the
server, and a background download-and-prepare job with progress, cancel and a plain-words error.

The job runs TFDS in a child process (``python -m flowerdash.data.download``): a thread
cannot be stopped mid-download, a process can. Progress is read from disk (the bytes in TFDS's
download folder against the sizes TFDS registers for the files), so the child needs no
channel back other than its exit code and, on failure, a small JSON report. Nothing here
imports Streamlit; the dashboard and ``python -m flowerdash download`` share this job.
"""

from __future__ import annotations

import atexit
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flowerdash.errors import DatasetError
from flowerdash.i18n import _

NAME = "oxford_flowers102"
FILES = ("102flowers.tgz", "imagelabels.mat", "setid.mat")
# The child process that does the work; tests swap in one that points TFDS at a local server.
WORKER: tuple[str, ...] = (sys.executable, "-m", "flowerdash.data.download")

DOWNLOAD = "download"
PREPARE = "prepare"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"


def _tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:  # ModuleNotFoundError included: TFDS or one of its imports
        raise DatasetError(failure_message(*classify(exc))) from exc
    return tfds


def builder(data_dir: str | Path | None = None):
    """The TFDS builder of Oxford Flowers102 (nothing is downloaded)."""
    tfds = _tfds()
    try:
        return tfds.builder(NAME, data_dir=None if data_dir is None else str(data_dir))
    except Exception as exc:  # TFDS imports lazily, so a broken install fails here
        raise DatasetError(failure_message(*classify(exc))) from exc


def is_prepared(data_dir: str | Path | None = None) -> bool:
    """Whether TFDS already holds the prepared dataset (DatasetError if TFDS cannot run)."""
    _tfds()
    from tensorflow_datasets.core.utils.file_utils import list_data_dirs

    # A TFDS builder made for a dataset that is not prepared leaves an empty folder in the temp
    # directory each time (DatasetInfo.initialize_from_bucket), and every page and command
    # that needs the dataset asks: where TFDS would look holds nothing of it, none is made.
    if not any((Path(root) / NAME).is_dir() for root in list_data_dirs(data_dir)):
        return False
    found = builder(data_dir)
    try:
        return bool(found.is_prepared())
    except Exception as exc:  # same lazy imports as above
        raise DatasetError(failure_message(*classify(exc))) from exc


def data_root(data_dir: str | Path | None = None) -> Path:
    """TFDS's data folder (the dataset sits in ``<root>/oxford_flowers102/<version>``)."""
    return Path(builder(data_dir).data_dir).parents[1]


def _builder_module():
    from tensorflow_datasets.datasets.oxford_flowers102 import (
        oxford_flowers102_dataset_builder as module,
    )

    return module


def download_urls() -> list[str]:
    """The URLs the builder downloads (the VGG server's three files)."""
    _tfds()
    base = _builder_module()._BASE_URL
    return [base.rstrip("/") + "/" + name for name in FILES]


def download_size(data_dir: str | Path | None = None) -> int:
    """Total bytes of the files, as TFDS registers them (it verifies each download against it)."""
    found = builder(data_dir)  # first: a plain error if TFDS cannot run
    from tensorflow_datasets.core.download import checksums

    infos = dict(checksums.get_all_url_infos())
    infos.update(found.url_infos or {})
    missing = [u for u in download_urls() if u not in infos]
    if missing:
        raise DatasetError(
            _("TensorFlow Datasets has no registered size and checksum for {urls}.").format(
                urls=", ".join(missing)
            )
        )
    return sum(int(infos[u].size) for u in download_urls())


def is_online(timeout: float = 2.0) -> bool:
    """Whether this computer can open a connection to the server the dataset comes from
    (DatasetError if TFDS cannot run, since then it cannot say which server)."""
    parts = urlsplit(download_urls()[0])
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:  # no route, no DNS, refused or timed out: all mean "cannot download now"
        return False


def offline_message() -> str:
    """Why the download cannot start now, in plain words."""
    host = urlsplit(_first_url()).hostname or _("the dataset's server")
    return _(
        "This computer is offline: it cannot reach {host}, so the dataset cannot be downloaded "
        "now. Connect to the internet, or use a folder with the files."
    ).format(host=host)


# --- Failures in plain words ------------------------------------------------------------------


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def classify(exc: BaseException) -> tuple[str, str]:
    """(kind, detail) of a TFDS failure: module, checksum, disk, network, server or other
    (:func:`failure_message` words them; the job adds "stopped" for a child that died)."""
    for e in _chain(exc):
        name = type(e).__name__
        if isinstance(e, ImportError):
            return "module", e.name or str(e)
        if name == "NonMatchingChecksumError":
            return "checksum", ""
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return "disk", e.strerror or str(e)
        if name == "DownloadError":  # TFDS: the server answered with an HTTP error
            return "server", str(e)
        if isinstance(e, ConnectionError | TimeoutError | socket.gaierror) or name in (
            "ConnectionError",
            "Timeout",
            "ConnectTimeout",
            "ReadTimeout",
            "NewConnectionError",
            "MaxRetryError",
            "URLError",
        ):
            return "network", urlsplit(_first_url()).hostname or ""
    # name the underlying error, not flowerdash's wrapper around it
    cause = next((e for e in _chain(exc) if not isinstance(e, DatasetError)), exc)
    return "other", f"{type(cause).__name__}: {cause}"


def _first_url() -> str:
    # '' when TFDS cannot even say it (the message then names no host)
    try:
        return download_urls()[0]
    except (DatasetError, ImportError):
        return ""


def failure_message(kind: str, detail: str) -> str:
    """A failure of :func:`classify` in plain words, in the current language."""
    if kind == "module":
        return _(
            "TensorFlow Datasets cannot run on this computer: the Python package {module} is "
            "missing. Install the requirements again (make run does it), then retry."
        ).format(module=detail)
    if kind == "checksum":
        return _(
            "The downloaded files are not the ones TensorFlow Datasets expects (their size or "
            "checksum differs), so they were not used. Try again later."
        )
    if kind == "disk":
        return _("There is not enough disk space for the dataset ({error}).").format(error=detail)
    if kind == "network":
        return _(
            "The download stopped: this computer could not reach {host}. Check the internet "
            "connection and try again."
        ).format(host=detail or _("the dataset's server"))
    if kind == "server":
        return _("The dataset's server refused the download ({error}). Try again later.").format(
            error=detail
        )
    if kind == "stopped":
        return _("The download stopped unexpectedly (exit code {code}).").format(code=detail)
    return _("TensorFlow Datasets could not prepare the dataset ({error}).").format(error=detail)


# --- Doing it (in this process) ---------------------------------------------------------------


def prepare(data_dir: str | Path | None = None) -> None:
    """Download, verify and prepare the dataset here (blocks; DatasetError in plain words)."""
    tfds = _tfds()
    found = builder(data_dir)
    try:
        # Verify every file against TFDS's registered size and checksum, never skip it.
        found.download_and_prepare(
            download_config=tfds.download.DownloadConfig(force_checksums_validation=True)
        )
    except Exception as exc:  # network, HTTP, checksum and disk errors have many types
        raise DatasetError(failure_message(*classify(exc))) from exc


# --- The background job -----------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where a download job is: phase, bytes so far of the total, and the error if it failed."""

    phase: str
    done_bytes: int
    total_bytes: int
    error: DatasetError | None = None

    @property
    def fraction(self) -> float:
        """Share of the bytes downloaded (0..1)."""
        return min(self.done_bytes / self.total_bytes, 1.0) if self.total_bytes else 0.0

    @property
    def running(self) -> bool:
        """True while downloading or preparing."""
        return self.phase in (DOWNLOAD, PREPARE)


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _bytes_in(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if name.endswith(".INFO"):
                continue
            try:
                total += (Path(dirpath) / name).stat().st_size
            except FileNotFoundError:  # renamed or removed while we counted
                continue
    return total


class DownloadJob:
    """Download and prepare the dataset in a child process; poll :meth:`progress`, or cancel.

    What the job adds to TFDS's folders (downloads, extracted files, an unfinished dataset
    folder) is removed when it ends, whether it succeeded (the prepared dataset is all that is
    read afterwards), failed or was cancelled; folders that existed before are left alone.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        worker: Sequence[str] | None = None,
    ) -> None:
        self.data_dir = None if data_dir is None else str(data_dir)
        self.worker = tuple(worker or WORKER)
        self.total_bytes = download_size(self.data_dir)
        self.root = data_root(self.data_dir)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._phase = DOWNLOAD
        self._failure: tuple[str, str] | None = None
        self._done_bytes = 0
        self._scratch = Path()  # the child's report and log, made at start
        self._before: dict[Path, set[str] | None] = {}

    # TFDS keeps this dataset's downloads, every extracted archive and the unfinished
    # dataset in these folders.
    def _watched(self) -> list[Path]:
        return [
            self.root / "downloads" / NAME,
            self.root / "downloads" / "extracted",
            self.root / NAME,
            self.root / "downloads",
        ]

    def start(self) -> DownloadJob:
        """Start the child process (once)."""
        with self._lock:
            if self._proc is not None:
                return self
            self._before = {
                folder: (_entries(folder) if folder.is_dir() else None)
                for folder in self._watched()
            }
            self._scratch = Path(tempfile.mkdtemp(prefix="flowerdash-download-"))
            # the resolved folder, so the child prepares exactly where this process looks
            command = [
                *self.worker,
                "--report",
                str(self._scratch / "report.json"),
                "--data-dir",
                str(self.root),
            ]
            # TFDS's progress bars go to a file: an unread pipe would fill up and stall the child
            log = (self._scratch / "log.txt").open("wb")
            try:
                self._proc = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            finally:
                log.close()
        # the download must not outlive the app (or CLI) that started it
        atexit.register(self.cancel)
        return self

    def progress(self) -> Progress:
        """The current phase and bytes; the error is worded in the caller's language."""
        with self._lock:
            self._update()
            error = None if self._failure is None else DatasetError(failure_message(*self._failure))
            return Progress(self._phase, self._done_bytes, self.total_bytes, error)

    def _update(self) -> None:
        if self._proc is None or self._phase not in (DOWNLOAD, PREPARE):
            return
        self._done_bytes = min(
            max(self._done_bytes, _bytes_in(self.root / "downloads" / NAME)), self.total_bytes
        )
        code = self._proc.poll()
        if code is None:
            if self._done_bytes >= self.total_bytes:
                self._phase = PREPARE  # all files are in; TFDS extracts and writes records
            return
        if code == 0:
            self._phase, self._done_bytes = DONE, self.total_bytes
        else:
            self._phase, self._failure = FAILED, self._read_report(code)
        self._clean_up(keep_dataset=code == 0)

    def _read_report(self, code: int) -> tuple[str, str]:
        path = self._scratch / "report.json"
        if path.is_file():
            report = json.loads(path.read_text(encoding="utf-8"))
            return str(report["kind"]), str(report["detail"])
        return "stopped", str(code)

    def cancel(self, timeout: float = 10.0) -> Progress:
        """Stop the child and remove what it had written so far."""
        with self._lock:
            if self._proc is not None and self._phase in (DOWNLOAD, PREPARE):
                self._proc.terminate()
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                self._phase = CANCELLED
                self._clean_up(keep_dataset=False)
            atexit.unregister(self.cancel)
        return self.progress()

    def wait(self, timeout: float | None = None, poll: float = 0.2) -> Progress:
        """Block until the job ends (or ``timeout`` seconds pass); returns its progress."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            now = self.progress()
            if not now.running or (deadline is not None and time.monotonic() > deadline):
                return now
            time.sleep(poll)

    def _clean_up(self, keep_dataset: bool) -> None:
        for folder, before in self._before.items():
            for name in _entries(folder) - (before or set()):
                path = folder / name
                if keep_dataset and folder == self.root / NAME and "incomplete" not in name:
                    continue  # the prepared dataset itself
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            if before is None and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()  # the job made it
        shutil.rmtree(self._scratch, ignore_errors=True)


# --- The child process --------------------------------------------------------------------------


def worker_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the child: prepare, and on failure write (kind, detail) as JSON."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m flowerdash.data.download")
    parser.add_argument("--report", required=True)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    try:
        prepare(args.data_dir)
    except DatasetError as exc:
        kind, detail = classify(exc.__cause__ or exc)
        Path(args.report).write_text(json.dumps({"kind": kind, "detail": detail}), encoding="utf-8")
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
