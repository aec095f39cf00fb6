"""The background download job: completes, reports progress, cancels cleanly, fails in words.

Every job runs the real TFDS builder in a child process against the local server of
:mod:`tfds_local` (the miniature download, with its checksums registered).
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import pytest
from tfds_local import local_tfds, tfds_server  # noqa: F401 - a fixture

from flowerdash.cli.main import main as cli_main
from flowerdash.data import download
from flowerdash.data.download import CANCELLED, DONE, FAILED, DownloadJob
from flowerdash.data.sources import FolderSource, TfdsSource
from flowerdash.errors import DatasetError
from flowerdash.i18n import set_language


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def test_the_job_downloads_and_prepares_with_progress(tfds_server, tmp_path, data_dir):  # noqa: F811
    job = DownloadJob(tmp_path, worker=tfds_server.worker())
    assert job.total_bytes == download.download_size()
    first = job.progress()
    assert first.running and first.done_bytes == 0
    job.start()
    errors = []

    def reader():  # every browser session polls the one shared job
        try:
            while job.progress().running:
                time.sleep(0.01)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for t in readers:
        t.start()
    seen = []
    while (now := job.progress()).running:
        seen.append(now)
        time.sleep(0.05)
    for t in readers:
        t.join(30)
    assert errors == []
    assert now.phase == DONE and now.error is None and now.fraction == 1.0
    assert all(a.done_bytes <= b.done_bytes for a, b in zip(seen, seen[1:], strict=False))
    assert {p.phase for p in seen} <= {"download", "prepare"}
    assert download.is_prepared(tmp_path)
    # only the prepared dataset stays: the downloads and extracted files are gone
    assert not (tmp_path / "downloads").exists()
    assert (
        TfdsSource(str(tmp_path)).split("test").files == FolderSource(data_dir).split("test").files
    )


def test_asking_whether_it_is_here_leaves_nothing_in_the_temp_folder(tmp_path):
    """Pages and commands ask often; TFDS's builder would leave an empty folder each time."""
    temp = Path(tempfile.gettempdir())
    before = set(temp.iterdir())
    for folder in (tmp_path, tmp_path / "nothing-yet"):
        assert not download.is_prepared(folder)
    assert set(temp.iterdir()) == before


def test_cancel_stops_the_child_and_leaves_nothing_half_prepared(tfds_server, tmp_path):  # noqa: F811
    (tmp_path / "mine.txt").write_text("not the job's")
    job = DownloadJob(tmp_path, worker=tfds_server.worker()).start()
    time.sleep(3.0)  # the child is importing TensorFlow or downloading
    now = job.cancel()
    assert now.phase == CANCELLED and not now.running
    assert job._proc.poll() is not None
    assert not download.is_prepared(tmp_path)
    assert _files(tmp_path) == {"mine.txt"}
    assert job.progress().phase == CANCELLED  # stays cancelled


def test_cancel_during_prepare_removes_the_unfinished_dataset(tfds_server, tmp_path):  # noqa: F811
    job = DownloadJob(tmp_path, worker=tfds_server.worker()).start()
    deadline = time.monotonic() + 60
    while job.progress().phase == "download" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.progress().phase == "prepare"
    job.cancel()
    assert not download.is_prepared(tmp_path)
    assert _files(tmp_path) == set()


def test_a_failed_job_says_why_in_plain_words_in_the_readers_language(tmp_path):
    with local_tfds(tmp_path / "srv") as server:
        tgz = server.download_dir / "102flowers.tgz"
        tgz.write_bytes(tgz.read_bytes()[:-10])  # served, but not the registered file
        job = DownloadJob(tmp_path / "data", worker=server.worker()).start()
        now = job.wait(timeout=120)
    assert now.phase == FAILED and isinstance(now.error, DatasetError)
    assert "checksum" in str(now.error) and "Traceback" not in str(now.error)
    set_language("es")
    try:
        assert "suma de comprobación" in str(job.progress().error)
    finally:
        set_language("en")
    assert not download.is_prepared(tmp_path / "data")
    assert _files(tmp_path / "data") == set()


def test_a_child_that_dies_gives_a_plain_message(tmp_path, tfds_server):  # noqa: F811
    job = DownloadJob(tmp_path, worker=("false",)).start()
    now = job.wait(timeout=30)
    assert now.phase == FAILED and "exit code 1" in str(now.error)


def test_cli_download_prepares_and_says_where(tfds_server, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setattr(download, "WORKER", tfds_server.worker())
    assert cli_main(["download", "--tfds-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert f"ready in {tmp_path}" in out and "downloading" in err
    assert download.is_prepared(tmp_path)
    assert cli_main(["download", "--tfds-dir", str(tmp_path)]) == 0
    assert "already in" in capsys.readouterr().out


def test_cli_download_offline_is_one_line_and_nonzero(tmp_path, monkeypatch, capsys):
    with local_tfds(tmp_path / "srv") as server:
        server.go_offline()
        assert cli_main(["download", "--tfds-dir", str(tmp_path / "data")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: This computer is offline")


def test_cli_download_ctrl_c_cancels(tfds_server, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(download, "WORKER", tfds_server.worker())
    real_wait = DownloadJob.wait
    calls = []

    def interrupted_wait(self, timeout=None, poll=0.2):
        calls.append(self)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_wait(self, timeout, poll)

    monkeypatch.setattr(DownloadJob, "wait", interrupted_wait)
    assert cli_main(["download", "--tfds-dir", str(tmp_path)]) == 130
    assert calls[0].progress().phase == CANCELLED
    assert _files(tmp_path) == set()


def test_is_online_is_quick_when_the_host_does_not_answer(monkeypatch):
    import socket

    def no_answer(address, timeout):
        time.sleep(timeout)
        raise TimeoutError

    monkeypatch.setattr(socket, "create_connection", no_answer)
    start = time.monotonic()
    assert not download.is_online(timeout=0.3)
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (
            ModuleNotFoundError(
                "No module named 'importlib_resources'", name="importlib_resources"
            ),
            "module",
            "package importlib_resources is missing",
        ),
        (OSError(28, "No space left on device"), "disk", "not enough disk space"),
        (ConnectionRefusedError(111, "refused"), "network", "could not reach"),
        (RuntimeError("something odd"), "other", "RuntimeError: something odd"),
    ],
)
def test_failures_are_classified_and_worded(error, kind, words):
    wrapped = DatasetError("outer")
    wrapped.__cause__ = error  # the kind is found along the chain of causes
    found = download.classify(wrapped)
    assert found[0] == kind
    assert words in download.failure_message(*found)


def test_an_http_error_from_the_server_is_worded():
    from tensorflow_datasets.core.download.util import DownloadError

    kind, detail = download.classify(DownloadError("Failed to get url x. HTTP code: 404."))
    assert kind == "server" and "HTTP code: 404" in download.failure_message(kind, detail)


@pytest.fixture(autouse=True)
def _english():
    set_language("en")
    yield
    set_language("en")
