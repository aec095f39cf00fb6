"""The one panel every page shows when it needs Oxford Flowers102 and the dataset is not here:
what the dataset is, a Download button (a background job with progress and cancel, or a plain
"this computer is offline"), and the folder setting for people who have the files.
"""

from __future__ import annotations

import streamlit as st

from flowerdash.errors import DatasetNotHere, FlowerdashError
from flowerdash.i18n import _
from flowerdash.settings import ENV_DATA_DIR
from flowerdash.ui import state

REFRESH_SECONDS = 1.0


def _megabytes(n: int) -> str:
    return (
        _("{mb:,.0f} MB").format(mb=n / 1e6) if n >= 10e6 else _("{mb:,.1f} MB").format(mb=n / 1e6)
    )


def require_dataset():
    """The dataset source; without one, this panel (how to get it) and a stop."""
    source = state.dataset_source()
    if isinstance(source, FlowerdashError):
        show(source)
        st.stop()
    return source


def show(reason: BaseException | None = None, key: str = "dataset", stacked: bool = False) -> None:
    """The panel; ``reason`` is why the dataset is unavailable (shown in small print).

    ``stacked`` puts the two ways one above the other (for a narrow column)."""
    with st.container(border=True):
        st.markdown("#### " + _("This needs the Oxford Flowers102 dataset"))
        st.write(
            _(
                "Oxford Flowers102 is a public collection of 8,189 photos of 102 kinds of "
                "flowers, gathered by the University of Oxford's Visual Geometry Group. The "
                "model was trained on it; this page tests or shows it with those photos. It is "
                "not on this computer yet. There are two ways to get it."
            )
        )
        download, folder = (
            (st.container(), st.container()) if stacked else st.columns(2, gap="large")
        )
        with download:
            st.markdown("**" + _("Download it") + "**")
            shown = _download_section(key)
        with folder:
            st.markdown("**" + _("Or use a folder you already have") + "**")
            st.markdown(
                _(
                    "Put the official files in one folder: `jpg/` (the photos), "
                    "`imagelabels.mat` and `setid.mat`. Then set the environment variable "
                    "`{variable}` to that folder before starting the app, or write "
                    '`data_dir = "/path/to/the/folder"` in `flowerdash.toml` where you start it.'
                ).format(variable=ENV_DATA_DIR)
            )
            if st.button(
                _("Look for the dataset again"),
                key=f"{key}.recheck",
                help=_("Read the settings again and look for the dataset."),
            ):
                state.dataset_source.clear()
                st.rerun()
        # a reason beyond "not here yet" (a wrong folder, a broken TFDS), unless already shown
        if reason is not None and not isinstance(reason, DatasetNotHere) and str(reason) != shown:
            st.caption(_("Why it is not available: {reason}").format(reason=reason))


def _start(key: str) -> None:
    from flowerdash.data.download import DownloadJob

    slot = state.download_slot()
    with slot.lock:
        if slot.job is not None and slot.job.progress().running:
            return  # another session started it a moment ago
        try:
            slot.job = DownloadJob().start()
        except FlowerdashError as exc:
            st.session_state[f"{key}.start_error"] = str(exc)


def _cancel() -> None:
    slot = state.download_slot()
    with slot.lock:
        if slot.job is not None:
            slot.job.cancel()


def _download_section(key: str) -> str | None:
    """The Download button, the live progress or why it cannot run (that message returned)."""
    slot = state.download_slot()
    job = slot.job
    if job is not None and job.progress().running:
        _live(key)
        return None
    if job is not None and job.progress().phase == "done" and slot.announced is not job:
        # finished while no page was watching: look for the dataset again, once
        slot.announced = job
        state.dataset_source.clear()
        st.rerun()
    error = st.session_state.pop(f"{key}.start_error", None)
    if error:
        st.error(error)
    try:
        online = state.is_online()
        size = state.download_size()
    except FlowerdashError as exc:
        st.warning(str(exc))
        return str(exc)
    if job is not None:
        last = job.progress()
        if last.error is not None:
            st.error(_("The last download failed: {error}").format(error=last.error))
        elif last.phase == "cancelled":
            st.caption(_("The last download was cancelled; nothing of it was kept."))
    if not online:
        from flowerdash.data.download import offline_message

        st.warning(offline_message())
        if st.button(_("Check the connection again"), key=f"{key}.online"):
            state.is_online.clear()
            st.rerun()
        return None
    st.write(
        _(
            "TensorFlow Datasets downloads the official files ({size}), checks them and "
            "prepares them. It runs in the background: you can use other pages meanwhile."
        ).format(size=_megabytes(size))
    )
    st.button(
        _("Download ({size})").format(size=_megabytes(size)),
        key=f"{key}.download",
        type="primary",
        on_click=_start,
        args=(key,),
        help=_("Download and prepare Oxford Flowers102 with TensorFlow Datasets."),
    )
    return None


@st.fragment(run_every=REFRESH_SECONDS)
def _live(key: str) -> None:
    """Progress of the running download, refreshed every second; the page reloads at the end."""
    job = state.download_slot().job
    if job is None:  # the server's caches were cleared meanwhile
        st.rerun()
    now = job.progress()
    if not now.running:
        if now.phase == "done":
            state.download_slot().announced = job
            state.dataset_source.clear()
        st.rerun()  # the whole page: with the dataset, or with the outcome
    if now.phase == "download":
        text = _("Downloading: {done} of {total}").format(
            done=_megabytes(now.done_bytes), total=_megabytes(now.total_bytes)
        )
    else:
        text = _("Preparing the photos (unpacking and checking them)…")
    st.progress(now.fraction if now.phase == "download" else 1.0, text=text)
    st.button(
        _("Cancel the download"),
        key=f"{key}.cancel",
        on_click=_cancel,
        help=_("Stop now; what was downloaded so far is deleted."),
    )
