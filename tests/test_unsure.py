"""Where Try it stops giving one answer: the threshold chosen on validation photos, and the
training photo shipped for every flower it may show instead."""

from __future__ import annotations

import json

import numpy as np
from conftest import ROOT
from PIL import Image

from benchmarks.unsure import GRID, choose, table
from flowerdash.data.classes import CLASS_NAMES
from flowerdash.examples import CLASS_PHOTOS_DIR, class_photo
from flowerdash.explain import reading

RESULT = ROOT / "benchmarks" / "results" / "unsure.json"


def test_the_threshold_is_the_one_chosen_on_validation():
    result = json.loads(RESULT.read_text())
    assert reading.UNSURE_BELOW == result["unsure_below"] == choose(result["val"])
    assert result["val_n"] == 1020  # every validation photo, answered by the train-only fold
    # the words follow it: below it the answer reads "unsure"
    assert reading.confidence_level(reading.UNSURE_BELOW - 0.01) == "unsure"
    assert reading.confidence_level(reading.UNSURE_BELOW) == "fairly_sure"
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"When the model is not sure (below {reading.UNSURE_BELOW:.0%})" in readme


def test_the_rule_takes_the_smallest_threshold_whose_sure_answers_are_right_95_percent():
    labels = np.arange(20)
    top_idx = np.stack([labels, labels + 1, labels + 2], axis=1)
    top_idx[:4, 0] = 99  # four wrong answers, all at 0.3
    top_probs = np.full((20, 3), 0.9)
    top_probs[:4, 0] = 0.3
    rows = table(top_probs, top_idx, labels)
    assert choose(rows) == 0.35
    at = next(r for r in rows if r["threshold"] == 0.35)
    assert at["unsure_share"] == 0.2 and at["sure_accuracy"] == 1.0
    assert at["unsure_top1"] == 0.0 and at["unsure_top3"] == 0.0
    assert [r["threshold"] for r in rows] == list(GRID)


def test_every_flower_has_a_small_training_photo():
    sources = json.loads((CLASS_PHOTOS_DIR / "sources.json").read_text())
    assert len(sources) == len(CLASS_NAMES) == 102
    for name in CLASS_NAMES:
        path = class_photo(name)
        assert path is not None, name
        assert sources[path.name]["class"] == name
        with Image.open(path) as im:
            assert im.size == (144, 144) and im.mode == "RGB"
    assert class_photo("Sunflower") == class_photo("sunflower")
    assert class_photo("no such flower") is None
    total = sum(p.stat().st_size for p in CLASS_PHOTOS_DIR.glob("*.jpg"))
    assert total < 1_000_000  # they ship with the package


def test_results_quote_the_committed_table():
    result = json.loads(RESULT.read_text())
    text = (ROOT / "docs" / "RESULTS.md").read_text()
    section = text[text.index("## When does Try it say it is not sure?") :]
    section = section[: section.index("\n## ", 1)]
    assert f"**{result['unsure_below']:.0%}**" in section
    t = result["unsure_below"]
    rows = {
        f"answers below {t:.0%} |": "unsure_share",
        f"answers at or above {t:.0%} that are right |": "sure_accuracy",
        f"answers below {t:.0%} that are right |": "unsure_top1",
        f"answers below {t:.0%} whose right flower is among the 3 guesses shown |": "unsure_top3",
    }
    at = {s: next(r for r in result[s] if r["threshold"] == t) for s in ("val", "test")}
    for label, key in rows.items():
        line = next(line for line in section.splitlines() if line.startswith("| " + label))
        assert line == f"| {label} {at['val'][key]:.1%} | {at['test'][key]:.1%} |", line
