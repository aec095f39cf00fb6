"""The committed documents stay readable: no section written twice."""

from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_heading_or_paragraph_is_repeated(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("#")]
    repeated = [h for h, n in Counter(headings).items() if n > 1]
    assert not repeated, f"{doc.name} repeats sections: {repeated}"
    for part in parts(text):
        paragraphs = [p.strip() for p in part.split("\n\n") if len(p.strip()) > 200]
        twice = [p[:80] for p, n in Counter(paragraphs).items() if n > 1]
        assert not twice, f"{doc.name} repeats paragraphs starting: {twice}"


def parts(text: str) -> list[str]:
    """The hand-written text, and apart from it each machine's generated section.

    PERFORMANCE.md's generated tables repeat their captions once per machine by design.
    """
    head, marker, generated = text.partition("<!-- BEGIN GENERATED")
    return [head, *generated.split("\n### ")] if marker else [text]
