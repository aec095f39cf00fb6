"""Which chromium the browser tests and the app benchmark drive, found where the machine has it.

In order: the path in ``FLOWERDASH_CHROMIUM``; Debian's ``chromium`` (or ``chromium-browser``) on
PATH, which ``make browser`` installs; Playwright's own chromium, if ``playwright install
chromium`` has put it on this machine.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV_VAR = "FLOWERDASH_CHROMIUM"
COMMANDS = ("chromium", "chromium-browser")


class ChromiumNotFoundError(RuntimeError):
    """No usable chromium on this machine; the message names the three ways to get one."""


def _how_to_get_one() -> str:
    return (
        "Give the browser tests a chromium in one of three ways: set "
        f"{ENV_VAR}=/path/to/chromium; install Debian's chromium (`make browser`, which runs "
        "`apt-get install chromium`) so that `chromium` is on PATH; or install Playwright's own "
        "(`.venv/bin/python -m playwright install chromium`)."
    )


def playwright_chromium() -> Path | None:
    """Playwright's bundled chromium if it is installed here, else None."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # without Playwright there is no Playwright browser either
        return None
    with sync_playwright() as p:
        path = Path(p.chromium.executable_path)
    return path if path.is_file() else None


def find_chromium() -> str:
    """The chromium executable to launch, or ChromiumNotFoundError saying how to get one."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        # An explicit choice that does not work must not silently fall back to another browser.
        raise ChromiumNotFoundError(
            f"{ENV_VAR} is {configured!r}, which is not an executable file. " + _how_to_get_one()
        )
    for command in COMMANDS:
        found = shutil.which(command)
        if found:
            return found
    bundled = playwright_chromium()
    if bundled is not None:
        return str(bundled)
    raise ChromiumNotFoundError("No chromium found on this machine. " + _how_to_get_one())
