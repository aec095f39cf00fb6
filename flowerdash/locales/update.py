"""Rebuild the translation catalogs with Babel: extract, update, compile.

    python -m flowerdash.locales.update           # extract -> flowerdash.pot, update .po, compile .mo
    python -m flowerdash.locales.update --check   # exit 1 if anything would change (CI)

Sources: ``streamlit_app.py``, ``app_pages/`` and ``flowerdash/``; keywords ``_``, ``N_`` and
``ngettext``. Babel is a development tool only: the app reads the committed ``.mo`` files with
the standard library's gettext.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

LOCALE_DIR = Path(__file__).resolve().parent
ROOT = LOCALE_DIR.parents[1]
DOMAIN = "flowerdash"
LANGS = ("en", "es")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"


def source_files() -> list[Path]:
    """The Python files whose messages are extracted, in a stable order."""
    files = [ROOT / "streamlit_app.py"]
    for folder in ("app_pages", "flowerdash"):
        files += sorted(p for p in (ROOT / folder).rglob("*.py") if "locales" not in p.parts)
    return [f for f in files if f.is_file()]


def extract() -> Catalog:
    """Every marked message of the sources as a template catalog."""
    template = Catalog(project="flowerdash", domain=DOMAIN, charset="utf-8", fuzzy=False)
    for path in source_files():
        rel = path.relative_to(ROOT).as_posix()
        for lineno, message, comments, context in extract_from_file(
            "python",
            path,
            keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True,
        ):
            template.add(message, None, [(rel, lineno)], auto_comments=comments, context=context)
    return template


def po_path(lang: str) -> Path:
    """Path of a language's .po file."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    """Path of a language's compiled .mo file."""
    return po_path(lang).with_suffix(".mo")


def read_catalog(lang: str) -> Catalog:
    """A language's .po catalog (an empty one if it does not exist yet)."""
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=DOMAIN, project="flowerdash", fuzzy=False)
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def po_bytes(catalog: Catalog, **kwargs) -> bytes:
    """A catalog serialised as .po text (no line numbers, so edits elsewhere cause no churn)."""
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, include_lineno=False, **kwargs)
    return buf.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    """A catalog compiled to .mo (fuzzy entries are left out, as gettext would)."""
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def build() -> dict[Path, bytes]:
    """The new content of the template, every .po and every .mo."""
    template = extract()
    out = {TEMPLATE: po_bytes(template, omit_header=False)}
    for lang in LANGS:
        catalog = read_catalog(lang)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        out[po_path(lang)] = po_bytes(catalog)
        out[mo_path(lang)] = mo_bytes(catalog)
    return out


def same_content(path: Path, new: bytes) -> bool:
    """Whether a file already says what ``new`` says (dates in headers do not count)."""
    if not path.exists():
        return False
    old = path.read_bytes()
    if path.suffix == ".mo":
        return mo_messages(old) == mo_messages(new)
    keep = [b"-Date:", b"# "]
    strip = lambda data: [ln for ln in data.splitlines() if not any(k in ln for k in keep)]  # noqa: E731
    return strip(old) == strip(new)


def mo_messages(data: bytes) -> dict:
    """The messages of compiled .mo bytes, header excluded."""
    import gettext

    catalog = gettext.GNUTranslations(io.BytesIO(data))._catalog  # noqa: SLF001
    return {k: v for k, v in catalog.items() if k != ""}


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, only list) the files that changed; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = [(path, data) for path, data in build().items() if not same_content(path, data)]
    for path, data in stale:
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        print(("stale: " if args.check else "wrote: ") + str(path.relative_to(ROOT)))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
