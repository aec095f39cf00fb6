"""The dashboard with its warm-up at server start: ``streamlit run serve.py`` (what ``make run``
does). ``streamlit run streamlit_app.py`` serves the same app, but Streamlit runs no app code
before the first visitor, so there the warm-up starts with the first page opened.
"""

from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def lifespan(_app):
    # In the background: the server answers at once, the models get ready meanwhile.
    from flowerdash.ui import warmup

    warmup.start_at_server_start()
    yield


app = st.App("streamlit_app.py", lifespan=lifespan)
