"""The miniature Flowers102 download served on 127.0.0.1, with TFDS pointed at it.

:func:`serve` runs stdlib ``http.server`` in a thread on a free port. :func:`point_tfds_at`
makes the real ``oxford_flowers102`` builder download from that server and registers the
served files' sizes and sha256 with TFDS's own checksum registry (``add_checksums_dir``), so
TFDS verifies them as it verifies the real files; nothing is skipped.

Run as a script, it is the dataset download job's child process pointed at the server
(``python tests/tfds_local.py BASE_URL CHECKSUMS_DIR -- WORKER_ARGS``).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

FILES = ("102flowers.tgz", "imagelabels.mat", "setid.mat")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[http.server.ThreadingHTTPServer]:
    """Serve ``directory`` on 127.0.0.1 (a free port) until the block ends or it is shut down."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()  # returns at once if it was already shut down
        server.server_close()
        thread.join()


def base_url(server: http.server.ThreadingHTTPServer) -> str:
    """The URL of a :func:`serve` server, ending in '/'."""
    return f"http://127.0.0.1:{server.server_port}/"


def write_checksums(download_dir: Path, base_url: str, checksums_dir: Path) -> Path:
    """A TFDS checksums file (url, size, sha256, name) for the served files."""
    from tensorflow_datasets.core.download import checksums

    checksums_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for name in FILES:
        info = checksums.compute_url_info(download_dir / name)
        lines.append(f"{base_url}{name}\t{int(info.size)}\t{info.checksum}\t{name}")
    # TFDS keys checksum files by name: one per server, so two servers never hide each other.
    path = checksums_dir / f"flowerdash_miniature_{urlsplit(base_url).port}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def point_tfds_at(base_url: str, checksums_dir: Path) -> str:
    """Make the builder download from ``base_url``; returns the URL it used before."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.datasets.oxford_flowers102 import (
        oxford_flowers102_dataset_builder as module,
    )

    tfds.download.add_checksums_dir(str(checksums_dir))
    _reread_checksums()  # so the registry includes the new folder
    before = module._BASE_URL
    module._BASE_URL = base_url
    return before


def restore_tfds(base_url: str) -> None:
    """Point the builder back at ``base_url`` (what :func:`point_tfds_at` returned)."""
    from tensorflow_datasets.datasets.oxford_flowers102 import (
        oxford_flowers102_dataset_builder as module,
    )

    module._BASE_URL = base_url


def worker_command(base_url: str, checksums_dir: Path) -> tuple[str, ...]:
    """The download job's child process, pointed at the local server."""
    return (sys.executable, str(Path(__file__).resolve()), base_url, str(checksums_dir), "--")


@dataclass(frozen=True)
class LocalTfds:
    """A served miniature download that TFDS is pointed at."""

    base_url: str
    download_dir: Path
    checksums_dir: Path
    server: http.server.ThreadingHTTPServer

    def worker(self) -> tuple[str, ...]:
        """The download job's child process, pointed at this server."""
        return worker_command(self.base_url, self.checksums_dir)

    def go_offline(self) -> None:
        """Stop serving (TFDS stays pointed at the URL, now unreachable)."""
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def local_tfds(root: Path, seed: int = 0, register: bool = True) -> Iterator[LocalTfds]:
    """Write the miniature download under ``root``, serve it and point TFDS at it (with its
    checksums registered, unless ``register`` is False)."""
    from miniature import write_download

    download = write_download(root / "served", seed)
    with serve(download) as server:
        url = base_url(server)
        (root / "checksums").mkdir(parents=True, exist_ok=True)
        registered = write_checksums(download, url, root / "checksums") if register else None
        before = point_tfds_at(url, root / "checksums")
        try:
            yield LocalTfds(url, download, root / "checksums", server)
        finally:
            restore_tfds(before)
            if registered is not None:
                forget_checksums(registered)


def forget_checksums(path: Path) -> None:
    """Unregister a :func:`write_checksums` file. TFDS keeps every checksums folder it was given
    for the life of the process; a later server on the same port (the OS reuses free ports)
    would otherwise be checked against this one's files."""
    path.unlink(missing_ok=True)
    _reread_checksums()


def _reread_checksums() -> None:
    """TFDS reads its checksum registry once and memoises it; make it read the folders again."""
    from tensorflow_datasets.core.download import checksums

    checksums._checksum_paths.cache_clear()
    checksums.get_all_url_infos.cache_clear()


@pytest.fixture(scope="session")
def tfds_server(tmp_path_factory) -> Iterator[LocalTfds]:
    """The seed-0 miniature download (the images of ``data_dir``) served for the session."""
    with local_tfds(tmp_path_factory.mktemp("tfds-server")) as server:
        yield server


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    url, folder, _sep, *rest = sys.argv[1:]
    point_tfds_at(url, Path(folder))
    from flowerdash.data.download import worker_main

    sys.exit(worker_main(rest))
