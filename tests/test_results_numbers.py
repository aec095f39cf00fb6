"""The numbers README and docs/RESULTS.md publish, checked against the committed artefacts they
come from (calibration, presets and the unsure threshold have their own tests)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, best_preset_run

from benchmarks.find_flower import at_least
from flowerdash.inference.evaluation import file_hash

README = (ROOT / "README.md").read_text(encoding="utf-8")
RESULTS = (ROOT / "docs" / "RESULTS.md").read_text(encoding="utf-8")
ARTEFACTS = ROOT / "benchmarks" / "results"
RUNS = ARTEFACTS / "runs"  # one record per run (benchmarks.run_record)


def result(name: str) -> dict:
    """One committed result file, by its path under benchmarks/results."""
    return json.loads((ARTEFACTS / name).read_text())


def flat(text: str) -> str:
    """Text with its line breaks and runs of spaces as single spaces, as sentences are quoted."""
    return " ".join(text.split())


SHIPPED_RUN = "soup9-views-final"
BEFORE = (
    "soup9-grain-tiles-up256-final"  # the model shipped before, whose fits and studies are kept
)
SOUP6 = "soup6-alllong-tiles-up256-final"  # the one shipped before that
SHIPPED_META = json.loads((ROOT / "checkpoints" / "default" / "meta.json").read_text())
PROXIES = result("proxies.json")["models"]
# RESULTS' robustness table, column by column
COLUMNS = (
    "notebook-noaug",
    "notebook-aug",
    "best",
    "mixcut",
    "final",
    "fullft-final",
    "fullft-lr3-final",
    "fullft-lr3-long-final",
    "ensemble4-final",
    "grey-zoom-final",
    "grey-zoom-erase-final",
    "grey-zoom5-erase-final",
    "soup3-final",
    "soup3-allflat-final",
    "soup4-allflat-long-final",
    "soup3-alllong-final",
    "soup3-alllong-up256-final",
    "soup6-alllong-tiles-up256-final",
    BEFORE,
    SHIPPED_RUN,
)
ROWS = {
    "rotation": "rotation",
    "flip": "flip",
    "zoom": "zoom",
    "translation": "translation",
    "darker": "brightness",
    "contrast": "contrast",
    "blur": "blur",
    "noise": "noise",
    "JPEG": "jpeg",
    "occlusion": "occlusion",
    "grayscale": "grayscale",
}


def robustness(run: str) -> dict:
    return result(f"robustness/{run}.json")


def mean_of(run: str, corruption: str) -> float:
    """Mean accuracy over the three severities, in %."""
    return 100 * float(np.mean(list(robustness(run)["accuracy"][corruption].values())))


def overall_mean(run: str) -> float:
    """Mean accuracy over every variation and severity (the table's last row), in %."""
    return float(np.mean([mean_of(run, corruption) for corruption in ROWS.values()]))


def cell(value: float, clean: float) -> str:
    change = round(value, 1) - round(clean, 1)
    sign = "+" if change > 0.04 else ("−" if change < -0.04 else "")
    return f"{value:.1f} ({sign}{abs(change):.1f})"


def proxies(model: str) -> dict:
    """One model's top-1/top-5 per proxy, keyed as benchmarks.proxies writes them."""
    return PROXIES[model]["proxies"]


def points(new: float, old: float) -> str:
    """A change in points as RESULTS writes it: one decimal, signed (but not 0.0), a true minus."""
    change = round(new, 1) - round(old, 1)
    return "0.0" if abs(change) < 0.05 else f"{change:+.1f}".replace("-", "−")


def quote(words: str, new: dict, was: dict, key: str) -> str:
    """How RESULTS opens a proxy's figure and its change: "words 77.1% (+5.8" (no closing)."""
    top1, before = 100 * new[key]["top1"], 100 * was[key]["top1"]
    return f"{words} {top1:.1f}% ({points(top1, before)}"


def ahead(new: dict, was: dict, key: str = "mean_changed") -> float:
    """How many points one model's proxy is ahead of another's, unrounded, as the rules read it."""
    return 100 * (new[key]["top1"] - was[key]["top1"])


def section(heading: str) -> str:
    """One section of RESULTS, from its heading to the next."""
    text = RESULTS[RESULTS.index(heading) :]
    end = text.find("\n## ", 1)
    return text if end < 0 else text[:end]


ROBUSTNESS_SECTION = section("## Does augmentation help?")


def table_line(label: str, text: str = RESULTS) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith(f"| {label} "))
    return [c.strip() for c in line.strip("|").split("|")][1:]


def test_the_robustness_table_is_the_committed_results():
    assert table_line("clean (these 200 images)", ROBUSTNESS_SECTION) == [
        f"{100 * robustness(r)['clean']:.1f}" for r in COLUMNS
    ]
    for label, key in ROWS.items():
        cells = table_line(next(k for k in _labels() if k.startswith(label)), ROBUSTNESS_SECTION)
        expected = [cell(mean_of(r, key), 100 * robustness(r)["clean"]) for r in COLUMNS]
        assert cells == expected, label
    means = table_line("mean over all 33 conditions", ROBUSTNESS_SECTION)
    for run, shown in zip(COLUMNS, means, strict=True):
        assert shown == cell(overall_mean(run), 100 * robustness(run)["clean"]), run


def _labels() -> list[str]:
    return [
        ln.split("|")[1].strip() for ln in ROBUSTNESS_SECTION.splitlines() if ln.startswith("| ")
    ]


@pytest.mark.parametrize(
    ("run", "corruption"),
    [
        ("notebook-noaug", "zoom"),
        ("notebook-aug", "zoom"),
        ("notebook-noaug", "translation"),
        ("notebook-aug", "translation"),
        ("notebook-noaug", "brightness"),
        ("notebook-aug", "brightness"),
        ("notebook-noaug", "contrast"),
        ("notebook-aug", "contrast"),
        ("best", "occlusion"),
        ("mixcut", "occlusion"),
        ("grey-zoom-final", "occlusion"),
        ("grey-zoom-erase-final", "occlusion"),
        ("grey-zoom5-erase-final", "occlusion"),
        ("soup3-final", "occlusion"),
        ("soup3-allflat-final", "occlusion"),
        ("soup4-allflat-long-final", "occlusion"),
        ("soup3-alllong-final", "occlusion"),
        ("soup3-alllong-up256-final", "occlusion"),
        ("soup6-alllong-tiles-up256-final", "occlusion"),
        (SHIPPED_RUN, "occlusion"),
        (BEFORE, "noise"),
        (SHIPPED_RUN, "noise"),
    ],
)
def test_readme_quotes_what_each_model_scores_under_a_corruption(run, corruption):
    assert f"{mean_of(run, corruption):.1f}%" in README


def test_readme_and_results_quote_the_shipped_models_test_scores():
    test = SHIPPED_META["metrics"]["test"]
    assert test["n"] == 6149
    shown = f"**{test['top1']:.1%} top-1, {test['top5']:.1%} top-5**"
    assert shown in README
    assert f"**{test['top1']:.1%}** | **{test['top5']:.1%}**" in RESULTS


def run_record(name: str) -> dict:
    return result(f"runs/{name}.json")


def first_fold_averages(until: str | None = None) -> list[str]:
    """Every weight average measured by the proxies on the first fold (validation photos);
    with ``until``, only those made no later than that average (what RESULTS said "then")."""
    names = (key.removesuffix("@val") for key in PROXIES if key.endswith("@val"))
    averages = [
        n
        for n in names
        if (RUNS / f"{n}.json").exists() and run_record(n).get("averages") == "weights"
    ]
    if until is None:
        return averages
    return [n for n in averages if run_record(n)["created"] <= run_record(until)["created"]]


# each fold's key prefix and the photos it is measured on
FOLDS = (("fold", "val"), ("swap", "train"))


def test_readme_quotes_each_model_shipped_before_from_its_record():
    readme = flat(README)
    for words, run in (
        ("the same average answering one view, scored", BEFORE),
        ("without the grainy runs,", "soup6-alllong-tiles-up256-final"),
        ("without the grid-trained runs,", "soup3-alllong-up256-final"),
        ("the same average without enlarging,", "soup3-alllong-final"),
        ("of which only one was trained as long,", "soup4-allflat-long-final"),
        ("without the longer-trained run,", "soup3-allflat-final"),
        ("with noise patches only,", "soup3-final"),
        ("one of its runs alone,", "grey-zoom5-erase-final"),
        ("another of them,", "grey-zoom-erase-final"),
        ("without the patches,", "grey-zoom-final"),
        ("without grey photos and with less zoom,", "fullft-lr3-long-final"),
    ):
        assert f"{words} {run_record(run)['test']['top1']:.1%}" in readme, run
    views, one = (
        np.mean(
            [proxies(f"{key}-{recipe}@{split}")["mean_changed"]["top1"] for key, split in FOLDS]
        )
        for recipe in ("soup9-views", "soup9-grain-tiles-up256")
    )
    assert (
        f"the same average answering one view, scored {run_record(BEFORE)['test']['top1']:.1%} "
        f"on test, and recognises {100 * (views - one):.1f} points fewer changed validation "
        "photos (over both folds)" in readme
    )
    minutes = [round(run_record(m)["seconds"] / 60) for m in run_record(SHIPPED_RUN)["members"]]
    count = {3: "three", 4: "four", 5: "five", 6: "six", 9: "nine"}[len(minutes)]
    assert f"({count} trainings of {min(minutes)} to {max(minutes)} minutes" in readme


def test_run_records_back_the_shipped_row_and_the_calibration_fold():
    shipped = run_record(SHIPPED_RUN)
    assert shipped["test"] == SHIPPED_META["metrics"]["test"]
    assert SHIPPED_META["trained_as"] == SHIPPED_RUN and shipped["averages"] == "weights"
    row = table_line(f"**`{SHIPPED_RUN}`** (shipped as `checkpoints/default`)")
    assert row[2:4] == [f"**{shipped['test']['top1']:.1%}**", f"**{shipped['test']['top5']:.1%}**"]
    minutes = [round(run_record(m)["seconds"] / 60) for m in shipped["members"]]
    assert f"{len(minutes)} trainings of {', '.join(map(str, minutes))} min" in row[4].replace(
        " and ", ", "
    )
    alone = [f"{run_record(m)['test']['top1']:.1%}" for m in shipped["members"]]
    assert f"the members alone score {', '.join(alone[:-1])} and {alone[-1]}." in flat(RESULTS)
    # "the average scores more on test than each of its members"
    assert shipped["test"]["top1"] > max(run_record(m)["test"]["top1"] for m in shipped["members"])
    for member in shipped["members"]:  # each with its own row
        own = run_record(member)
        row = table_line(f"`{member}`")
        assert row[2:4] == [f"{own['test']['top1']:.1%}", f"{own['test']['top5']:.1%}"], member
        assert row[4].startswith(f"{round(own['seconds'] / 60)} min"), member
    for previous, until in (
        (BEFORE, SHIPPED_RUN),
        ("soup6-alllong-tiles-up256-final", BEFORE),
        ("soup3-alllong-up256-final", "soup6-alllong-tiles-up256-final"),
        ("soup3-alllong-final", "soup3-alllong-up256-final"),
        ("soup4-allflat-long-final", "soup3-alllong-final"),
        ("soup3-allflat-final", "soup4-allflat-long-final"),
        ("soup3-final", "soup3-allflat-final"),
        ("grey-zoom5-erase-final", "soup3-final"),
        ("grey-zoom-erase-final", "grey-zoom5-erase-final"),
        ("grey-zoom-final", "grey-zoom-erase-final"),
        ("fullft-lr3-long-final", "grey-zoom-final"),
    ):
        before = run_record(previous)["test"]
        row = table_line(f"`{previous}` (shipped until `{until}`)")
        assert row[2:4] == [f"{before['top1']:.1%}", f"{before['top5']:.1%}"]
    targets = flat(section("## Photos unlike the benchmark's"))
    test = shipped["test"]
    assert f"{test['top1']:.1%} top-1 and {test['top5']:.1%} top-5 on all 6,149 test" in targets
    right, needed = round(test["top1"] * test["n"]), math.ceil(0.93 * test["n"])
    assert right >= needed  # "Met" below
    assert (
        f"Met: test top-1 is {test['top1']:.2%} (target 93: {right:,} of 6,149 photos right, "
        f"{right - needed} more than 93% needs" in targets
    )
    # the other targets, from the calibration and the proxies of the shipped recipe's fold
    fit = result("calibration.json")
    fold_proxies = proxies(f"{fit['fold']['name']}@val")
    assert f"its test ECE {fit['target_test_after']['ece']:.3f} (at most 0.03)" in targets
    megabytes = (ROOT / "checkpoints" / "default" / "model.keras").stat().st_size / 1e6
    assert f"the shipped file is {megabytes:.1f} MB (at most 15)" in targets
    assert f"(`checkpoints/default`, {megabytes:.1f} MB)" in README
    for words, key in (
        ("recognises", "grayscale"),
        ("that fold recognises", "occluded"),
        ("its mean over the eight changed versions is", "mean_changed"),
    ):
        assert f"{words} {100 * fold_proxies[key]['top1']:.1f}% " in targets, key
    swap = proxies(f"{fit['fold']['name'].replace('fold-', 'swap-')}@train")["occluded"]["top1"]
    both = 50 * (fold_proxies["occluded"]["top1"] + swap)
    assert f"of covered photos (82; {both:.1f}% over both folds)" in targets
    # the calibration fold: the same average of the same recipes, each run on the training
    # photos only
    fold = run_record(fit["fold"]["name"])
    assert fold["averages"] == "weights" and fold["test"] is None
    assert [m["name"] for m in fit["fold"]["members"]] == fold["members"]
    # the same runs, listed in the order each average was made in
    refits = {m: m.removeprefix("fold-") + "-final" for m in fold["members"]}
    assert sorted(refits.values()) == sorted(shipped["members"])
    for member, refit in refits.items():
        config, refit_config = (with_defaults(run_record(r)["config"]) for r in (member, refit))
        assert config == {**refit_config, **fold_only(config)}, member
        assert config["train_on"] == "train" and run_record(member)["test"] is None
    val = fit["fold_val_before"]["top1"]
    count = {3: "three", 4: "four", 6: "six", 9: "nine"}[len(fold["members"])]
    quoted = f"(`{fold['name']}`, the mean of the weights of the {count} train-only runs, "
    assert f"{quoted}{val:.1%} on validation)" in flat(RESULTS)


def calibration_fold() -> str:
    return result("calibration.json")["fold"]["name"]


def with_defaults(config: dict) -> dict:
    """A recorded config with the settings added since it was recorded at their defaults."""
    import dataclasses

    from flowerdash.training.config import TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    return {**defaults, **config}


def fold_only(config: dict) -> dict:
    """The fields in which a train-only fold may differ from its refit."""
    keys = ("train_on", "evaluate_test", "checkpoint_dir", "name", "data_dir")
    return {k: config[k] for k in keys}


def test_a_run_record_is_built_from_checkpoint_metadata():
    from benchmarks.run_record import record

    history = [{"stage": "head", "val_accuracy": 0.5}] + [
        {"stage": "fine_tune", "val_accuracy": v} for v in (0.6, 0.7, 0.8, 0.8, 0.9, 0.9, 1.0)
    ]
    rec = record({"history": history, "metrics": {"test": {"top1": 0.8}}}, "r")
    assert rec["val"]["top1"] == 1.0 and rec["test"] == {"top1": 0.8}
    assert abs(rec["val"]["mean_last_6_fine_tune"] - 0.85) < 1e-9
    refit = record({"history": [{"stage": "head", "val_accuracy": None}]}, "final")
    assert refit["val"]["top1"] is None and refit["val"]["per_epoch"] is None


def test_the_proxy_table_is_the_committed_results():
    folds = ("fold-train", "fold-grey-zoom", "fold-grey-zoom-erase", "fold-grey-zoom5-erase")
    # the shipped recipe's fold is the last column
    folds += ("fold-soup3", "fold-soup3-allflat", "fold-soup4-allflat-long", "fold-soup3-alllong")
    folds += ("fold-soup3-alllong-up256", "fold-soup6-alllong-tiles-up256")
    folds += ("fold-soup9-grain-tiles-up256", calibration_fold())
    assert folds[-1] == "fold-soup9-views"
    columns = [proxies(f"{m}@val") for m in folds]
    text = section("## Photos unlike the benchmark's")
    lines = [ln for ln in text.splitlines() if ln.startswith("| ") and "%" in ln]
    assert len(lines) == len(columns[0]) == 10
    behind, behind_then, behind_before = [], [], []
    for line, key in zip(lines, columns[0], strict=True):
        top1 = [100 * c[key]["top1"] for c in columns]
        cells = [c.strip() for c in line.strip("|").split("|")][1:]
        assert cells[:12] == [f"{v:.1f}%" for v in top1], key
        assert cells[12] == points(top1[11], top1[10]), key
        behind += [key] if top1[11] < top1[10] else []
        behind_then += [key] if top1[10] < top1[9] else []
        behind_before += [key] if top1[9] < top1[8] else []
    assert behind == ["clean"]  # "ahead on every changed version ... behind on clean photos"
    moves = {
        k: points(100 * columns[-1][k]["top1"], 100 * columns[-2][k]["top1"]) for k in columns[0]
    }
    most = sorted(columns[0], key=lambda k: columns[-1][k]["top1"] - columns[-2][k]["top1"])
    assert most[-2:] == ["occluded", "wide"]
    assert (
        f"most on zoomed-out photos ({moves['wide']}) and covered ones ({moves['occluded']}), and "
        f"behind on clean photos ({moves['clean']})" in flat(text)
    )
    # "behind on zoomed-out photos, four flowers in a grid, half the colour and grey photos"
    assert behind_then == ["wide", "several", "desaturated", "grayscale"]
    assert behind_before == ["jpeg", "occluded"]
    assert (
        "was ahead of `fold-soup3-alllong-up256` on every version but JPEG and covered photos"
        in flat(text)
    )
    changed = [f"{100 * c['mean_changed']['top1']:.2f}%" for c in columns[::-1][:3]]
    assert f"{changed[0]} against {changed[1]} on the mean of the changed versions" in flat(text)
    assert f"level on the mean of the changed versions, {changed[1]} against {changed[2]}" in flat(
        text
    )
    a, b, c, d = (f"{100 * run_record(r)['val']['top1']:.1f}%" for r in folds[:4])
    assert all(run_record(r)["val"]["top1"] is None for r in folds[4:])  # averages: not trained
    assert f"validation scores (the training pipeline's crop): {a}, {b}, {c} and {d};" in flat(text)


def test_results_quote_the_previous_models_calibration_and_threshold():
    """The figures RESULTS gives for the models shipped before, from their kept artefacts."""
    text = flat(section("## Can its percentages be read as chances?"))
    names = (
        BEFORE,
        "soup6-alllong-tiles-up256-final",
        "soup3-alllong-up256-final",
        "soup3-alllong-final",
        "soup4-allflat-long-final",
        "soup3-allflat-final",
        "soup3-final",
        "grey-zoom5-erase-final",
        "grey-zoom-erase-final",
        "grey-zoom-final",
        "fullft-lr3-long-final",
    )
    prev = [result(f"calibration-{name}.json") for name in names]
    for name, fit in zip(names, prev, strict=True):
        before = fit["target_test_before"]
        assert (
            f"`{name}`: {before['mean_confidence']:.1%} mean confidence at {before['top1']:.1%} "
            f"right, ECE {before['ece']:.3f};" in text
        )
    temperatures = ", ".join(f"{fit['temperature']:.3f}" for fit in prev[:-1])
    folds = ", ".join(f"`{fit['fold']['name']}`" for fit in prev[:-1])
    last = prev[-1]
    assert (
        f"gave {temperatures} and {last['temperature']:.3f} the same way, from {folds} and "
        f"`{last['fold']['name']}`" in text
    )
    last = result(f"unsure-{BEFORE}.json")["unsure_below"]
    same = result("unsure-soup6-alllong-tiles-up256-final.json")["unsure_below"]
    old = result("unsure-soup3-alllong-up256-final.json")["unsure_below"]
    assert result("unsure-soup3-alllong-final.json")["unsure_below"] == old
    older = result("unsure-soup4-allflat-long-final.json")["unsure_below"]
    now = result("unsure.json")
    picked = now["unsure_below"]
    assert last < picked == same < old < older  # "higher than ... the same as ... lower than"
    below = next(r for r in now["val"] if abs(r["threshold"] - (picked - 0.05)) < 1e-9)
    text = flat(section("## When does Try it say it is not sure?"))
    assert (
        f"The rule picks {picked:.0%}, higher than the {last:.0%} of the model shipped before "
        f"(`benchmarks/results/unsure-{BEFORE}.json`) and the same as the {same:.0%} of the one "
        "before that (`unsure-soup6-alllong-tiles-up256-final.json`), lower than the "
        f"{old:.0%} of the two before those "
        "(`unsure-soup3-alllong-up256-final.json`, `unsure-soup3-alllong-final.json`) and "
        f"the {older:.0%} of the ones before those" in text
    )
    assert below["sure_accuracy"] < 0.95
    assert f"At {picked - 0.05:.0%} the sure answers are right {below['sure_accuracy']:.2%}" in text


# folds measured after a choice: the fold of the recipe chosen then, and each bullet's figures
LATER_FOLDS = {
    "fold-grey-zoom5-erase-flat-xlong": (
        "fold-grey-zoom5-erase-flat-long",
        (
            ("grey ones", "grayscale"),
            ("zoomed-out photos", "wide"),
            ("clean ones", "clean"),
            ("JPEG", "jpeg"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom-erase-flat-xlong": (
        "fold-grey-zoom-erase-flat-long",
        (
            ("four flowers in a grid", "several"),
            ("covered ones", "occluded"),
            ("clean ones", "clean"),
            ("grey ones", "grayscale"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom-erase-flat-long": (
        "fold-grey-zoom-erase-flat",
        (
            ("four flowers in a grid", "several"),
            ("clean ones", "clean"),
            ("grey ones", "grayscale"),
            ("covered ones", "occluded"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom5-erase-flat-long": (
        "fold-grey-zoom5-erase-flat",
        (
            ("desaturated ones", "desaturated"),
            ("four flowers in a grid", "several"),
            ("JPEG", "jpeg"),
            ("grey ones", "grayscale"),
            ("covered ones", "occluded"),
            ("clean ones", "clean"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom5-erase-flat-jpeg": (
        "fold-grey-zoom5-erase-flat",
        (
            ("JPEG", "jpeg"),
            ("zoomed-out photos", "wide"),
            ("low resolution", "low_res"),
            ("covered ones", "occluded"),
            ("clean ones", "clean"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom5-erase-big-flat1": (
        "fold-grey-zoom5-erase-big-flat",
        (
            ("covered ones", "occluded"),
            ("JPEG", "jpeg"),
            ("clean ones", "clean"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom5-erase-big-flat": (
        "fold-grey-zoom5-erase-big",
        (
            ("covered ones", "occluded"),
            ("zoomed-out photos", "wide"),
            ("four flowers in a grid", "several"),
            ("grey ones", "grayscale"),
            ("clean ones", "clean"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom5-erase-cutmix": (
        "fold-grey-zoom5-erase",
        (
            ("covered ones", "occluded"),
            ("zoomed-out photos", "wide"),
            ("grey ones", "grayscale"),
            ("clean ones", "clean"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom5-erase-kd": (
        "fold-grey-zoom5-erase",
        (
            ("covered ones", "occluded"),
            ("four flowers in a grid", "several"),
            ("clean ones", "clean"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom5-erase-big": (
        "fold-grey-zoom5-erase",
        (
            ("Covered ones", "occluded"),
            ("JPEG", "jpeg"),
            ("clean ones", "clean"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom5-erase-ema": (
        "fold-grey-zoom5-erase",
        (
            ("clean ones", "clean"),
            ("the mean of the changed versions", "mean_changed"),
            ("JPEG", "jpeg"),
        ),
    ),
    "fold-grey-zoom5-erase-ra": (
        "fold-grey-zoom5-erase",
        (
            ("Clean ones", "clean"),
            ("grey ones", "grayscale"),
            ("colour casts", "colour_cast"),
            ("covered ones", "occluded"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom-erase1": (
        "fold-grey-zoom-erase",
        (
            ("covered photos", "occluded"),
            ("clean ones", "clean"),
            ("grey ones", "grayscale"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
    "fold-grey-zoom5-erase": (
        "fold-grey-zoom-erase",
        (
            ("zoomed-out photos", "wide"),
            ("four flowers in a grid", "several"),
            ("clean ones", "clean"),
            ("covered ones", "occluded"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    ),
}


def test_the_48_epoch_member_is_quoted_from_its_runs_and_fails_its_rule():
    """Rule (102)-(103): the big-patch member fine-tuned 48 epochs, alone and in the average."""
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("**The big-patch member fine-tuned 48 epochs**") :]
    xlong, long = "fold-grey-zoom5-erase-big-flat-xlong", "fold-grey-zoom5-erase-big-flat-long"
    assert run_record(xlong)["config"]["fine_tune_epochs"] == 48
    alone, twin = proxies(f"{xlong}@val"), proxies(f"{long}@val")
    for words, key in (
        ("grey ones", "grayscale"),
        ("zoomed-out photos", "wide"),
        ("resolution", "low_res"),
        ("covered ones", "occluded"),
        ("clean ones", "clean"),
        ("changed versions", "mean_changed"),
    ):
        assert quote(words, alone, twin, key) + ")" in text, key
    val, was = (100 * run_record(r)["val"]["top1"] for r in (xlong, long))
    assert f"its own validation score {val:.1f}% ({points(val, was)})" in text
    *others, _ = run_record("fold-soup3-alllong")["members"]
    assert run_record("fold-soup3-alllong-x")["members"] == [*others, xlong]
    soup, shipped = proxies("fold-soup3-alllong-x@val"), proxies("fold-soup3-alllong@val")
    part = text[text.index("against `fold-soup3-alllong`") :]
    for words, key in (
        ("resolution", "low_res"),
        ("zoomed-out photos", "wide"),
        ("covered ones", "occluded"),
        ("clean ones", "clean"),
        ("changed versions", "mean_changed"),
    ):
        assert quote(words, soup, shipped, key) in part, key
    gain = ahead(soup, shipped)
    assert gain < 0.5 and f"{gain:.2f} points before rounding), short of the rule's 0.5" in part
    assert not (RUNS / "swap-soup3-alllong-x.json").exists()
    # "the closest any fold average had then come to 82"
    averages = first_fold_averages(until="fold-soup3-alllong-x")
    best = max(averages, key=lambda n: proxies(f"{n}@val")["occluded"]["top1"])
    assert best == "fold-soup3-alllong-x" and soup["occluded"]["top1"] < 0.82
    # rule (108): the same run beside its twin, four members
    assert run_record("fold-soup4-alllong-x")["members"] == [
        *run_record("fold-soup3-alllong")["members"],
        xlong,
    ]
    four = proxies("fold-soup4-alllong-x@val")
    part = text[text.index("Beside its twin instead of in its place") :]
    for words, key in (
        ("zoomed-out photos", "wide"),
        ("four flowers in a grid", "several"),
        ("JPEG", "jpeg"),
        ("low resolution", "low_res"),
        ("covered ones", "occluded"),
        ("clean ones", "clean"),
        ("changed versions", "mean_changed"),
    ):
        assert quote(words, four, shipped, key) in part, key
    gain = ahead(four, shipped)
    assert gain < 0.5 and f"; {gain:.2f} points before rounding), again short" in part
    assert not (RUNS / "swap-soup4-alllong-x.json").exists()


def test_every_member_at_48_epochs_is_quoted_from_its_average_and_fails_its_rule():
    """Rule (111)-(113): the average of the three members fine-tuned 48 epochs."""
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("The average of all three (`fold-soup3-allxlong`)") :]
    members = run_record("fold-soup3-allxlong")["members"]
    assert members == [
        m.replace("-long", "-xlong") for m in run_record("fold-soup3-alllong")["members"]
    ]
    assert all(run_record(m)["config"]["fine_tune_epochs"] == 48 for m in members)
    soup, shipped = proxies("fold-soup3-allxlong@val"), proxies("fold-soup3-alllong@val")
    for words, key in (
        ("zoomed-out photos", "wide"),
        ("four flowers in a grid", "several"),
        ("JPEG", "jpeg"),
        ("covered ones", "occluded"),
        ("clean ones", "clean"),
        ("changed versions", "mean_changed"),
    ):
        assert quote(words, soup, shipped, key) in text, key
    gain = ahead(soup, shipped)
    assert gain < 0.5 and f"{gain:.2f} points before rounding), short of the rule's 0.5" in text
    assert not (RUNS / "swap-soup3-allxlong.json").exists()
    # "each average gained 0.4 to 0.5 points": the three ways of training longer
    gains = [
        ahead(proxies(f"{a}@val"), shipped)
        for a in ("fold-soup3-alllong-x", "fold-soup4-alllong-x", "fold-soup3-allxlong")
    ]
    assert all(0.395 <= g < 0.5 for g in gains), gains
    # "does not reach further on covered photos than one 48-epoch member did (81.0% ...)"
    one = proxies("fold-soup3-alllong-x@val")["occluded"]["top1"]
    assert (
        soup["occluded"]["top1"] < one and f"({100 * one:.1f}% in `fold-soup3-alllong-x`)" in text
    )


def test_the_36_and_48_epoch_members_averaged_pass_the_first_fold():
    """Rule (120): all six runs averaged; the second fold follows."""
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("All six runs averaged instead") :]
    long, xlong = (run_record(r)["members"] for r in ("fold-soup3-alllong", "fold-soup3-allxlong"))
    assert run_record("fold-soup6-alllong-xlong")["members"] == long + xlong
    soup, shipped = proxies("fold-soup6-alllong-xlong@val"), proxies("fold-soup3-alllong@val")
    for words, key in (
        ("zoomed-out photos", "wide"),
        ("covered ones", "occluded"),
        ("low resolution", "low_res"),
        ("four flowers in a grid", "several"),
        ("grey ones", "grayscale"),
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, soup, shipped, key) in text, key
    gain = ahead(soup, shipped)
    clean = ahead(soup, shipped, "clean")
    assert gain >= 0.5 and clean >= -0.5 and "past the rule's 0.5" in text
    # "the closest any fold average has come to the issue's 82"
    then = first_fold_averages(until="fold-soup6-alllong-xlong")
    best = max(then, key=lambda n: proxies(f"{n}@val")["occluded"]["top1"])
    assert best == "fold-soup6-alllong-xlong" and soup["occluded"]["top1"] < 0.82
    assert "the closest any fold average had then come to the issue's 82" in text


def test_the_six_member_average_on_the_second_fold_is_quoted_from_its_runs():
    """Rule (121)-(122): the second fold of the six-member average, and the verdict."""
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("So its second fold was trained (`swap-soup6-alllong-xlong`") :]
    members = run_record("swap-soup6-alllong-xlong")["members"]
    assert members == second_fold_of("fold-soup6-alllong-xlong")
    for run in members[3:]:
        assert run_record(run)["config"]["train_on"] == "val"
        assert run_record(run)["config"]["fine_tune_epochs"] == 48
        vals = [100 * run_record(r)["val"]["top1"] for r in (run, run.replace("-xlong", "-long"))]
        assert f"`{run}` {vals[0]:.1f}% ({points(*vals)})" in text, run
    six, three = proxies("swap-soup6-alllong-xlong@train"), proxies("swap-soup3-alllong@train")
    for words, key in (
        ("clean ones", "clean"),
        ("covered ones", "occluded"),
        ("grey ones", "grayscale"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, six, three, key) + ")" in text, key
    after = ("fold-soup6-alllong-xlong@val", "swap-soup6-alllong-xlong@train")
    before = ("fold-soup3-alllong@val", "swap-soup3-alllong@train")
    gain = both_folds(after, "mean_changed") - both_folds(before, "mean_changed")
    clean = both_folds(after, "clean") - both_folds(before, "clean")
    signed = (f"{v:+.3f}".replace("-", "−") for v in (gain, clean))
    assert "{} points on the changed versions and {} on clean photos".format(*signed) in text
    for key, target in (("mean_changed", 88), ("occluded", 82)):
        assert f"{both_folds(after, key):.1f}%" in text and both_folds(after, key) < target
    passes = gain >= 0.5 and clean >= -0.5
    assert ("so by the rule the refits are trained next" in text) == passes
    assert ("short of the rule's 0.5, so the shipped model stays" in text) == (not passes)


@pytest.mark.parametrize("fold", LATER_FOLDS)
def test_the_folds_measured_after_the_choice_are_quoted_from_their_artefacts(fold):
    """Each bullet's figures and its changes from the chosen recipe's fold, in points."""
    was_chosen, figures = LATER_FOLDS[fold]
    other, chosen = (proxies(f"{m}@val") for m in (fold, was_chosen))
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index(f"(`{fold}`") :]
    for words, key in figures:
        assert quote(words, other, chosen, key) in text, key
    val, was = (100 * run_record(r)["val"]["top1"] for r in (fold, was_chosen))
    assert f"its own validation score {val:.1f}% ({points(val, was)})" in text


# each second-fold table: where it starts, the runs of the recipe it was set against and of
# the recipe tried (first fold, second fold), the versions it also averages over both folds, and
# the second-fold versions the text after it quotes as "(tried% vs before%)"
SECOND_FOLD_TABLES = {
    "`swap-grey-zoom-erase` and": (
        ("fold-grey-zoom-erase@val", "swap-grey-zoom-erase@train"),
        ("fold-grey-zoom5-erase@val", "swap-grey-zoom5-erase@train"),
        (),
        ("jpeg", "several"),
    ),
    "fold (`swap-grey-zoom5-erase-big`)": (
        ("fold-grey-zoom5-erase@val", "swap-grey-zoom5-erase@train"),
        ("fold-grey-zoom5-erase-big@val", "swap-grey-zoom5-erase-big@train"),
        (("occluded", "covered"),),
        ("several",),
    ),
    "Their average is `swap-soup3-allflat`": (
        ("fold-soup3@val", "swap-soup3@train"),
        ("fold-soup3-allflat@val", "swap-soup3-allflat@train"),
        (("occluded", "covered"),),
        ("several", "colour_cast", "jpeg", "occluded"),
    ),
    "first fold (`fold-soup3`)": (
        ("fold-grey-zoom5-erase@val", "swap-grey-zoom5-erase@train"),
        ("fold-soup3@val", "swap-soup3@train"),
        (("occluded", "covered"),),
        ("several", "desaturated", "occluded"),
    ),
    "Their average is `swap-soup4-allflat-long`": (
        ("fold-soup3-allflat@val", "swap-soup3-allflat@train"),
        ("fold-soup4-allflat-long@val", "swap-soup4-allflat-long@train"),
        (("occluded", "covered"),),
        ("desaturated", "jpeg", "several"),
    ),
    "is `swap-soup3-alllong`:": (
        ("fold-soup4-allflat-long@val", "swap-soup4-allflat-long@train"),
        ("fold-soup3-alllong@val", "swap-soup3-alllong@train"),
        (("occluded", "covered"),),
        ("occluded", "grayscale", "colour_cast"),
    ),
}
COMMON_ROWS = (("clean", "clean"), ("mean_changed", "mean of the changed versions"))


@pytest.mark.parametrize("start", SECOND_FOLD_TABLES)
def test_the_second_fold_tables_are_the_committed_proxies(start):
    before, tried, more, quoted = SECOND_FOLD_TABLES[start]

    def top1(runs: tuple[str, str], key: str, both: bool) -> float:
        runs = runs if both else runs[1:]
        return round(float(np.mean([100 * proxies(r)[key]["top1"] for r in runs])), 1)

    unindented = "\n".join(line.strip() for line in RESULTS.splitlines())  # a table in a bullet
    unindented = unindented[unindented.index(start) :]
    rows = [(both, key, words) for both in (False, True) for key, words in COMMON_ROWS]
    rows += [(True, key, words) for key, words in more]
    for both, key, words in rows:
        a, b = top1(before, key, both), top1(tried, key, both)
        prefix = "both folds" if both else "second fold"
        row = table_line(f"{prefix}: {words}", unindented)
        assert row == [f"{a:.1f}%", f"{b:.1f}%", points(b, a)], row
    after = flat(unindented[unindented.index("| both folds") :])
    for key in quoted:
        a, b = top1(before, key, False), top1(tried, key, False)
        assert f"({b:.1f}% vs {a:.1f}%)" in after, key


def test_the_distillation_teacher_is_quoted_from_its_proxies():
    teacher = proxies("fold-ensemble4@val")
    members = [
        proxies(f"{m}@val")
        for m in (
            "fold-grey-zoom-erase",
            "fold-grey-zoom5-erase",
            "fold-grey-zoom5-erase-ema",
            "fold-grey-zoom5-erase-big",
        )
    ]
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("(`fold-ensemble4`)") :]
    quoted = (("clean photos", "clean"), ("covered ones", "occluded"))
    quoted += (("the mean of the changed versions", "mean_changed"),)
    for words, key in quoted:
        assert f"{words} {100 * teacher[key]['top1']:.1f}%" in text, key
        assert all(teacher[key]["top1"] > m[key]["top1"] for m in members), key  # "well ahead"


def test_the_weight_averages_are_quoted_from_their_proxies_and_list_their_members():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("**Averaging the runs' weights works**") :]
    members = (
        "fold-grey-zoom-erase",
        "fold-grey-zoom5-erase",
        "fold-grey-zoom5-erase-ema",
        "fold-grey-zoom5-erase-big",
    )
    assert run_record("fold-soup4")["members"] == list(members)
    assert run_record("fold-soup3")["members"] == [m for m in members if not m.endswith("-ema")]
    swap = [m.replace("fold-", "swap-") for m in run_record("fold-soup3")["members"]]
    assert run_record("swap-soup3")["members"] == swap
    assert all(run_record(r)["averages"] == "weights" for r in ("fold-soup4", "swap-soup3"))
    soup, teacher = proxies("fold-soup4@val"), proxies("fold-ensemble4@val")
    look = (("clean photos", "clean"), ("covered ones", "occluded"))
    look += (("the mean of the changed versions", "mean_changed"),)
    for words, key in look:
        assert f"{words} {100 * soup[key]['top1']:.1f}%" in text, key
    behind = [100 * (teacher[k]["top1"] - soup[k]["top1"]) for k in teacher]
    assert f"{min(behind):.1f} to {max(behind):.1f} points behind the ensemble" in text
    tried, shipped = proxies("fold-soup3@val"), proxies("fold-grey-zoom5-erase@val")
    first = text[text.index("On the first fold (`fold-soup3`)") :]
    for words, key in (
        ("covered ones", "occluded"),
        ("JPEG", "jpeg"),
        ("colour casts", "colour_cast"),
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, tried, shipped, key) + ")" in first, key


def test_the_greedy_soup_is_quoted_from_its_steps():
    greedy = result("greedy-soup-fold-greedy-soup.json")
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("**More runs in the average do not help**") :]
    assert greedy["split"] == "val" and len(greedy["steps"]) == 7
    assert greedy["kept"] == ["fold-grey-zoom-erase", "fold-grey-zoom5-erase-big"]
    assert "It keeps two runs, `fold-grey-zoom-erase` and `fold-grey-zoom5-erase-big`" in text
    soup = greedy["steps"][1]["proxies"]  # the last step kept
    shipped = proxies("fold-soup3@val")
    for scores in (soup, shipped):
        clean, changed = (100 * scores[k]["top1"] for k in ("clean", "mean_changed"))
        assert f"{clean:.1f}%, " in text and f"{changed:.1f}%" in text
    assert (
        f"clean photos {100 * soup['clean']['top1']:.1f}%, the mean of the changed versions "
        f"{100 * soup['mean_changed']['top1']:.1f}%, level with `fold-soup3` "
        f"({100 * shipped['clean']['top1']:.1f}%, {100 * shipped['mean_changed']['top1']:.1f}%)"
        in text
    )
    left_out = [100 * s["proxies"]["mean_changed"]["top1"] for s in greedy["steps"][2:]]
    assert not any(s["kept"] for s in greedy["steps"][2:])
    assert f"at {min(left_out):.1f}% to {max(left_out):.1f}%" in text
    # the soup of the first three runs is fold-soup3's members, and scores as it did
    again = greedy["steps"][3]["proxies"]
    assert {k: again[k]["top1"] for k in again} == pytest.approx(
        {k: shipped[k]["top1"] for k in shipped}
    )


def test_the_cutmix_ingredient_is_quoted_from_the_average_it_joined():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("In the average (`fold-soup3-cutmix`)") :]
    assert run_record("fold-soup3-cutmix")["members"] == [
        *run_record("fold-soup3")["members"],
        "fold-grey-zoom5-erase-cutmix",
    ]
    four, three = proxies("fold-soup3-cutmix@val"), proxies("fold-soup3@val")
    covered, was = (100 * p["occluded"]["top1"] for p in (four, three))
    assert (
        f"adds {points(covered, was).lstrip('+')} points on covered photos ({covered:.1f}%)" in text
    )
    changed, before = (100 * p["mean_changed"]["top1"] for p in (four, three))
    assert points(changed, before) == "0.0" and f"({changed:.1f}%, the same as `fold-soup3`" in text
    clean, was = (100 * p["clean"]["top1"] for p in (four, three))
    assert f"clean {clean:.1f}%, {points(clean, was)})" in text


def test_the_flat_colour_ingredient_is_quoted_from_the_average_it_joined():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("In the average (`fold-soup3-flat`)") :]
    *others, noise = run_record("fold-soup3")["members"]
    assert noise == "fold-grey-zoom5-erase-big"  # the run the flat-colour one stands in for
    assert run_record("fold-soup3-flat")["members"] == [*others, "fold-grey-zoom5-erase-big-flat"]
    new, was = proxies("fold-soup3-flat@val"), proxies("fold-soup3@val")
    quoted = (("covered photos", "occluded"), ("the mean of the changed versions", "mean_changed"))
    for words, key in (*quoted, ("clean ones", "clean")):
        assert quote(words, new, was, key) + ")" in text, key
    changed, before = (100 * p["mean_changed"]["top1"] for p in (new, was))
    assert changed - before < 0.5 and "Short of the rule" in text


def test_flat_colour_in_every_member_is_quoted_from_its_runs_and_average():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("**Flat-colour patches in every member") :]
    after = text.index("Against the same recipes with noise")
    for run, noise in (
        ("fold-grey-zoom-erase-flat", "fold-grey-zoom-erase"),
        ("fold-grey-zoom5-erase-flat", "fold-grey-zoom5-erase"),
    ):
        new, was = proxies(f"{run}@val"), proxies(f"{noise}@val")
        part = text[text.index(f"`{run}` ", after) :]
        for words, key in (("covered ones", "occluded"), ("clean ones", "clean")):
            assert quote(words, new, was, key) + ")" in part, (run, key)
        val, before = (100 * run_record(r)["val"]["top1"] for r in (run, noise))
        assert f"own validation score {val:.1f}% ({points(val, before)})" in part, run
    assert run_record("fold-soup3-allflat")["members"] == [
        "fold-grey-zoom-erase-flat",
        "fold-grey-zoom5-erase-flat",
        "fold-grey-zoom5-erase-big-flat",
    ]
    soup, was = proxies("fold-soup3-allflat@val"), proxies("fold-soup3@val")
    text = text[text.index("The average, against `fold-soup3`") :]
    for words, key in (
        ("covered photos", "occluded"),
        ("zoomed-out photos", "wide"),
        ("four flowers in a grid", "several"),
        ("colour casts", "colour_cast"),
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, soup, was, key) in text, key
    gain = ahead(soup, was)
    assert gain < 0.5 and f"{gain:.2f} points before rounding, short of the rule's 0.5" in text
    summary = flat(section("## Photos unlike the benchmark's"))
    summary = summary[summary.index("The issue's targets are met on these proxies and on test") :]
    before = run_record(BEFORE)["test"]["top1"]
    was_fold = result(f"calibration-{BEFORE}.json")["fold"]["name"]
    was = proxies(f"{was_fold}@val")
    was_both = both_folds((f"{was_fold}@val", f"{swap(was_fold)}@train"), "mean_changed")
    assert (
        f"The model shipped before scored {before:.2%} on test, with "
        f"{100 * was['occluded']['top1']:.1f}% of covered photos on the fold and "
        f"{100 * was['mean_changed']['top1']:.1f}% on the changed versions there, "
        f"{was_both:.1f}% over both folds." in summary
    )
    # the changed-versions target, on the shipped recipe's first fold and over both
    fold = calibration_fold()
    changed = 100 * proxies(f"{fold}@val")["mean_changed"]["top1"]
    both = both_folds((f"{fold}@val", f"{swap(fold)}@train"), "mean_changed")
    assert changed >= both >= 88 > was_both
    assert (
        f"its mean over the eight changed versions is {changed:.1f}% on that fold and {both:.2f}% "
        "over both folds (88). Over both folds that is met narrowly, by a twentieth of a point"
        in summary
    )
    assert round(both - 88, 2) == 0.05  # "a twentieth of a point"


def swap(fold: str) -> str:
    """The second fold of a first fold's average (trained on val, measured on train)."""
    return fold.replace("fold-", "swap-", 1)


BOTH_FLAT_FOLDS = ("fold-soup3-allflat@val", "swap-soup3-allflat@train")


def both_folds(runs: tuple[str, str], key: str) -> float:
    """A proxy's top-1 in points averaged over a recipe's two folds (``fold-…@val``,
    ``swap-…@train``), as the both-folds rules compare them."""
    return float(np.mean([100 * proxies(r)[key]["top1"] for r in runs]))


def second_fold_of(average: str) -> list[str]:
    """The members a ``fold-`` weight average has on the second fold, where it is ``swap-``."""
    return [m.replace("fold-", "swap-") for m in run_record(average)["members"]]


def test_the_flat_colour_second_fold_is_quoted_from_its_runs_and_passes_its_rule():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("The same three recipes trained on the validation photos") :]
    members = run_record("swap-soup3-allflat")["members"]
    assert members == second_fold_of("fold-soup3-allflat")
    for run in members:
        new, was = proxies(f"{run}@train"), proxies(f"{run.removesuffix('-flat')}@train")
        part = text[text.index(f"`{run}` ") :]
        top1 = {k: 100 * new[k]["top1"] for k in ("occluded", "clean")}
        before = {k: 100 * was[k]["top1"] for k in top1}
        quoted = " and ".join(
            f"{top1[k]:.1f}% ({points(top1[k], before[k])})" for k in ("occluded", "clean")
        )
        assert quoted in part.replace("covered ones ", "").replace("clean ones ", ""), run
    # the rule: over both folds +0.5 on the changed versions, at most 0.5 behind on clean
    shipped = ("fold-soup3@val", "swap-soup3@train")

    assert both_folds(BOTH_FLAT_FOLDS, "mean_changed") - both_folds(shipped, "mean_changed") >= 0.5
    assert both_folds(BOTH_FLAT_FOLDS, "clean") - both_folds(shipped, "clean") >= -0.5


def test_the_greedy_soup_with_flat_colour_runs_is_quoted_from_its_record():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("(`fold-greedy-soup-flat`:") :]
    greedy = result("greedy-soup-fold-greedy-soup-flat.json")
    assert greedy["split"] == "val" and len(greedy["steps"]) == 11
    assert run_record("fold-greedy-soup-flat")["members"] == greedy["kept"]
    named = ", ".join(f"`{run}`" for run in greedy["kept"][:-1])
    assert f"It keeps four runs, {named} and `{greedy['kept'][-1]}`" in text
    soup = [step for step in greedy["steps"] if step["kept"]][-1]["proxies"]
    was = proxies("fold-soup3@val")
    for words, key in (
        ("covered photos", "occluded"),
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, soup, was, key) + ")" in text, key
    assert soup["mean_changed"]["top1"] - was["mean_changed"]["top1"] < 0.005  # short of 0.5


def test_every_patch_flat_is_quoted_from_the_average_it_joined():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("In the average (`fold-soup3-allflat1`)") :]
    *others, half = run_record("fold-soup3-allflat")["members"]
    assert half == "fold-grey-zoom5-erase-big-flat"
    assert run_record("fold-soup3-allflat1")["members"] == [
        *others,
        "fold-grey-zoom5-erase-big-flat1",
    ]
    soup, was = proxies("fold-soup3-allflat1@val"), proxies("fold-soup3@val")
    for words, key in (
        ("covered photos", "occluded"),
        ("JPEG", "jpeg"),
        ("clean ones", "clean"),
        ("changed versions", "mean_changed"),
    ):
        assert quote(words, soup, was, key) + ")" in text, key
    assert soup["mean_changed"]["top1"] - was["mean_changed"]["top1"] < 0.005  # short of 0.5


def test_the_calibrated_teacher_is_quoted_from_its_runs_and_falls_short():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("**A calibrated teacher does not rescue distillation**") :]
    config = run_record("fold-grey-zoom5-erase-big-flat-kd")["config"]
    twin = run_record("fold-grey-zoom5-erase-big-flat")["config"]
    assert config["teacher"].endswith("/fold-soup3-allflat-cal") and config["distill"] == 0.5
    own = ("teacher", "distill", "name")
    same = {k: v for k, v in config.items() if k not in own}
    assert same == {k: v for k, v in twin.items() if k not in own}  # the recipe but the teacher
    *others, twin_name = run_record("fold-soup3-allflat")["members"]
    assert run_record("fold-soup3-allflat-kd")["members"] == [
        *others,
        "fold-grey-zoom5-erase-big-flat-kd",
    ]
    shipped_then = result("calibration-soup3-allflat-final.json")["temperature"]
    assert f"T = {shipped_then:.3f}, the model shipped then" in text
    alone, was = proxies("fold-grey-zoom5-erase-big-flat-kd@val"), proxies(f"{twin_name}@val")
    part = text[text.index("Alone, against") : text.index("In the average")]
    for words, key in (
        ("covered ones", "occluded"),
        ("JPEG", "jpeg"),
        ("four flowers in a grid", "several"),
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, alone, was, key) + ")" in part, key
    own = [
        100 * run_record(r)["val"]["top1"] for r in ("fold-grey-zoom5-erase-big-flat-kd", twin_name)
    ]
    assert f"its own validation score {own[0]:.1f}% ({points(*own)})" in part
    soup, was = proxies("fold-soup3-allflat-kd@val"), proxies("fold-soup3-allflat@val")
    part = text[text.index("In the average") :]
    for words, key in (
        ("covered photos", "occluded"),
        ("JPEG", "jpeg"),
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, soup, was, key) + ")" in part, key
    assert soup["mean_changed"]["top1"] - was["mean_changed"]["top1"] < 0.005  # short of 0.5


def test_the_longer_trained_member_is_quoted_from_its_runs_and_its_averages():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("**A longer-trained member lifts the average of four**") :]
    text = text[: text.index("so the average of four went on to the second fold")]
    *others, twin_name = run_record("fold-soup3-allflat")["members"]
    long = "fold-grey-zoom5-erase-big-flat-long"
    config, twin = run_record(long)["config"], run_record(twin_name)["config"]
    assert (config["fine_tune_epochs"], twin["fine_tune_epochs"]) == (36, 24)
    own = ("fine_tune_epochs", "name")
    assert {k: v for k, v in config.items() if k not in own} == {
        k: v for k, v in twin.items() if k not in own
    }
    fits = [100 * run_record(r)["train"]["top1_last_epoch"] for r in (twin_name, *others, long)]
    assert fits[0] == min(fits[:3])  # the member that fits its own photos least
    assert (
        f"{fits[0]:.1f}% in its last epoch against {min(fits[1:3]):.1f}% and "
        f"{max(fits[1:3]):.1f}% ({fits[3]:.1f}% after 36 epochs)" in text
    )
    assert run_record("fold-soup3-allflat-long")["members"] == [*others, long]
    assert run_record("fold-soup4-allflat-long")["members"] == [*others, twin_name, long]
    alone, was = proxies(f"{long}@val"), proxies(f"{twin_name}@val")
    part = text[text.index("Alone, against") : text.index("In place of its")]
    for words, key in (
        ("four flowers in a grid", "several"),
        ("grey ones", "grayscale"),
        ("covered ones", "occluded"),
        ("JPEG", "jpeg"),
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, alone, was, key) + ")" in part, key
    vals = [100 * run_record(r)["val"]["top1"] for r in (long, twin_name)]
    assert f"its own validation score {vals[0]:.1f}% ({points(*vals)})" in part
    base = proxies("fold-soup3-allflat@val")
    three = proxies("fold-soup3-allflat-long@val")
    part = text[text.index("In place of its") : text.index("Beside it")]
    for words, key in (
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, three, base, key) + ")" in part, key
    assert three["mean_changed"]["top1"] - base["mean_changed"]["top1"] < 0.005  # short of 0.5
    four = proxies("fold-soup4-allflat-long@val")
    part = text[text.index("Beside it") :]
    for words, key in (
        ("covered photos", "occluded"),
        ("four flowers in a grid", "several"),
        ("low resolution", "low_res"),
        ("clean ones", "clean"),
    ):
        assert quote(words, four, base, key) + ")" in part, key
    gain = ahead(four, base)
    assert quote("the mean of the changed versions", four, base, "mean_changed") in part
    assert f"{gain:.2f} points before rounding), which passes" in part and gain >= 0.5
    assert ahead(four, base, "clean") >= -0.5


def test_the_longer_trained_member_on_the_second_fold_passes_the_ship_rule():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("so the average of four went on to the second fold. There") :]
    text = text[: text.index("Their average is `swap-soup4-allflat-long`")]
    long, twin = "swap-grey-zoom5-erase-big-flat-long", "swap-grey-zoom5-erase-big-flat"
    assert run_record("swap-soup4-allflat-long")["members"] == [
        *run_record("swap-soup3-allflat")["members"],
        long,
    ]
    assert run_record(long)["config"]["train_on"] == "val"
    alone, was = proxies(f"{long}@train"), proxies(f"{twin}@train")
    for words, key in (
        ("grey ones", "grayscale"),
        ("desaturated ones", "desaturated"),
        ("low resolution", "low_res"),
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, alone, was, key) + ")" in text, key
    vals = [100 * run_record(r)["val"]["top1"] for r in (long, twin)]
    assert f"its own validation score {vals[0]:.1f}% ({points(*vals)})" in text

    before = ("fold-soup3-allflat@val", "swap-soup3-allflat@train")
    after = ("fold-soup4-allflat-long@val", "swap-soup4-allflat-long@train")
    gain = both_folds(after, "mean_changed") - both_folds(before, "mean_changed")
    clean = both_folds(after, "clean") - both_folds(before, "clean")
    assert gain >= 0.5 and clean >= -0.5  # the rule, so the refits replace the shipped model
    decision = flat(section("## Photos unlike the benchmark's"))
    decision = decision[decision.index("four flowers in a grid do not (") :]
    assert f"({gain:.2f} before rounding) and {clean:.1f} ahead" in decision
    assert f"the changed versions {both_folds(after, 'mean_changed'):.1f}% against 88" in decision
    assert f"covered photos {both_folds(after, 'occluded'):.1f}% against 82" in decision
    assert run_record("soup4-allflat-long-final")["members"] == [
        m.replace("fold-", "") + "-final" for m in run_record("fold-soup4-allflat-long")["members"]
    ]  # so the refits were shipped


def test_moving_back_toward_the_start_is_quoted_from_its_averages():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("**Moving the weights back toward the start") :]
    runs = run_record("fold-soup3-allflat")["members"]
    assert run_record("fold-wise25-allflat")["members"] == [*runs, "fold-start"]
    assert run_record("fold-wise50-allflat")["members"] == [*runs, *["fold-start"] * 3]
    assert run_record("fold-start")["config"]["fine_tune_epochs"] == 0
    start = proxies("fold-start@val")
    assert all(  # "the least robust model measured"
        start["mean_changed"]["top1"] < m["proxies"]["mean_changed"]["top1"]
        for name, m in PROXIES.items()
        if name != "fold-start@val"
    )
    for words, key in (
        ("clean photos", "clean"),
        ("covered ones", "occluded"),
        ("grey ones", "grayscale"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert f"{words} {100 * start[key]['top1']:.1f}%" in text, key
    was = proxies("fold-soup3-allflat@val")
    quarter, half = proxies("fold-wise25-allflat@val"), proxies("fold-wise50-allflat@val")
    part = text[text.index("A quarter of it") : text.index("; a half")]
    for words, key in (
        ("clean ones", "clean"),
        ("zoomed-out photos", "wide"),
        ("low resolution", "low_res"),
        ("covered ones", "occluded"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, quarter, was, key) + ")" in part, key
    part = text[text.index("; a half") :]
    for words, key in (("clean ones", "clean"), ("changed versions", "mean_changed")):
        assert quote(words, half, was, key) + ")" in part, key
    assert all(m["mean_changed"]["top1"] < was["mean_changed"]["top1"] for m in (quarter, half))


def test_the_best_preset_is_named_for_the_shipped_runs_measured_time():
    from flowerdash.training.presets import PRESETS

    best_run = best_preset_run()
    seconds = run_record(best_run)["seconds"]
    minutes = 5 * round(seconds / 300)  # to the nearest five minutes
    assert PRESETS["best"].title == f"Best accuracy: about {minutes} minutes"
    text = flat(section("## The Train page's quick preset"))
    assert f"**Best accuracy: about {minutes} minutes**" in text
    count = {3: "three", 6: "six", 9: "nine"}[len(SHIPPED_META["members"])]
    assert f"the recipe of `{best_run}`, one of the {count} runs averaged into the shipped" in text
    assert f"That run took {seconds:,} s" in text


def test_readme_quotes_the_proxies_of_the_shipped_recipe_and_the_earlier_ones():
    readme = flat(README)
    for key, words, earlier, shipped in (
        ("grayscale", "of grey photos", "fold-train", "for the recipe shipped"),
        (
            "occluded",
            "of photos with a quarter covered",
            "fold-grey-zoom",
            "for the recipe shipped",
        ),
        (
            "occluded",
            "of photos with a quarter covered",
            "fold-soup9-grain-tiles-up256",
            "for the one shipped before",
        ),
        ("wide", "of photos framed wider and off-centre", "fold-grey-zoom-erase", "for the recipe"),
        (
            "wide",
            "of photos framed wider and off-centre",
            "fold-soup9-grain-tiles-up256",
            "for the one",
        ),
    ):
        now, then = (100 * proxies(f"{m}@val")[key]["top1"] for m in (calibration_fold(), earlier))
        assert f"{now:.1f}% {words}" in readme, key
        assert f"{then:.1f}% {shipped}" in readme, earlier


def test_the_explanation_figures_are_the_committed_studies():
    """README's and RESULTS' answers to "flower or background?", "which explanation?" and "is
    the IG map exact?", from explanation-study.json and ig-rules.json."""
    study = result("explanation-study.json")
    rules = result("ig-rules.json")
    readme = flat(README)
    focus = study["focus"]["gradcam"]
    assert study["checkpoint"] == "checkpoints/default"
    assert (
        f"is right, {focus['right']['mean']:.0%} of its Grad-CAM evidence lies in the "
        f"central quarter (chance: 25%); when it is wrong, {focus['wrong']['mean']:.0%}, and "
        f"{focus['share_below_0.3_wrong']:.0%} of its mistakes look away from the centre "
        f"({focus['share_below_0.3_right']:.0%} of its right answers)" in readme
    )
    text = section("## Does the model look at the flower?")
    assert table_line("mean", text) == [
        f"{focus[s]['mean']:.2f} ± {focus[s]['se']:.2f}" for s in ("right", "wrong")
    ]
    auc = study["deletion_insertion"]
    faithful = text[text.index("**Which explanation is more faithful.**") :]
    rows = {
        "Grad-CAM": "gradcam",
        "Integrated Gradients (blurred baseline, the default)": "ig",
        "Integrated Gradients, black baseline": "ig_black",
        "random map (control)": "random",
        "centre prior (control)": "centre",
    }
    for label, key in rows.items():
        cells = [c.strip("*") for c in table_line(label, faithful)]
        assert cells == [
            f"{auc[key][t]['mean']:.3f} ± {auc[key][t]['se']:.3f}"
            for t in ("deletion", "insertion")
        ], label
    # the README's verdicts: Grad-CAM wins insertion and alone beats the centre prior; IG wins
    # deletion, where the random map is level with Grad-CAM
    insertion = {k: auc[k]["insertion"]["mean"] for k in rows.values()}
    assert max(insertion, key=insertion.get) == "gradcam"
    assert [k for k in insertion if insertion[k] > insertion["centre"]] == ["gradcam"]
    deletion = {k: auc[k]["deletion"]["mean"] for k in ("gradcam", "ig", "random")}
    assert min(deletion, key=deletion.get) == "ig"
    # "even a random map does a little better than Grad-CAM": lower, within two standard errors
    diff = np.subtract(*(auc[k]["per_image"]["deletion"] for k in ("random", "gradcam")))
    assert -2 * diff.std(ddof=1) / np.sqrt(len(diff)) < diff.mean() < 0
    assert "on which even a random map does a little better than Grad-CAM" in readme
    # "the only map above a 'look at the centre' control (by about one standard error)"
    diff = np.subtract(*(auc[k]["per_image"]["insertion"] for k in ("gradcam", "centre")))
    assert 0.75 < diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff))) < 1.25
    assert "(by about one standard error on this model)" in readme
    adaptive = rules["configs"]["blur/adaptive"]
    assert (
        f"within 5% on {adaptive['share_at_most_5pct']:.0%} of {len(rules['images'])} test "
        f"photos at the default {rules['points']} steps" in readme
    )


def test_the_explanation_study_compares_with_the_model_shipped_before():
    """The earlier model's figures quoted beside the shipped one's come from its archived run."""
    study, before = result("explanation-study.json"), result(f"explanation-study-{BEFORE}.json")
    text = flat(section("## Does the model look at the flower?"))
    focus, then = study["focus"]["gradcam"], before["focus"]["gradcam"]
    assert (
        f"`{BEFORE}`, gave {then['right']['mean']:.2f} with "
        f"{then['share_below_0.3_right']:.0%} below 0.3 for right answers and "
        f"{then['wrong']['mean']:.2f} with {then['share_below_0.3_wrong']:.0%} for mistakes" in text
    )
    right = round(focus["share_below_0.3_right"] * focus["right"]["n"])
    answers = {0: "no right answer", 1: "one right answer"}.get(right, f"{right} right answers")
    assert f"against {answers} in {focus['right']['n']}" in text

    def paired(run: dict, metric: str, a: str, b: str) -> float:
        auc = run["deletion_insertion"]
        return float(np.subtract(*(auc[k]["per_image"][metric] for k in (a, b))).mean())

    assert (
        f"(+{paired(before, 'insertion', 'gradcam', 'ig'):.3f} and "
        f"+{paired(before, 'insertion', 'gradcam', 'centre'):.3f})" in text
    )
    deletes, inserts = (paired(before, m, "ig", "ig_black") for m in ("deletion", "insertion"))
    assert (
        f"(on `{BEFORE}` {abs(deletes):.3f} {'lower' if deletes < 0 else 'higher'} and "
        f"{abs(inserts):.3f} {'lower' if inserts < 0 else 'higher'})" in text
    )
    rho = dict(before["sanity"]["ig (16 steps)"])
    now = dict(study["sanity"]["ig (16 steps)"])
    assert f"stays at ρ {now['logits']:.2f} after the head and **{now['Conv1']:.2f} with" in text
    assert f"({rho['logits']:.2f} and {rho['Conv1']:.2f} on `{BEFORE}`" in text
    assert f"(T = {result('calibration.json')['temperature']:.3f}, sharper" in text
    gap = study["ig_completeness_gap"]
    assert f"a lower share: {gap['share_at_most_5pct']:.0%} on the shipped model" in flat(
        section("## Is the IG map exact?")
    )
    rules = result("ig-rules.json")["configs"]["blur/adaptive"]
    assert 0.9 <= gap["share_at_most_5pct"] < rules["share_at_most_5pct"]


def test_the_two_models_explanations_on_the_same_photos_are_the_committed_run():
    """The focus and IG figures of both models on one set of photos (explanation-paired.json),
    and the verdict drawn from them: the shipped model looks at the centre as the one before."""
    run = result("explanation-paired.json")
    before, after = run["models"]["before"], run["models"]["after"]
    assert Path(before["checkpoint"]).name == BEFORE
    assert after["checkpoint"] == "checkpoints/default"
    assert after["model_hash"] == file_hash(ROOT / "checkpoints" / "default" / "model.keras")
    table = section("## Does the model look at the flower?")
    text = flat(table)
    assert f"both models on the same {run['photos']:,} test photos (every fifth)" in text
    assert table_line("Grad-CAM focus, same photos", table) == [f"`{BEFORE}`", "shipped model"]
    for label, key, field, fmt in (
        ("right answers: mean", "focus_right", "mean", "{:.2f}"),
        ("right answers: below 0.3", "focus_right", "away", "{:.1%}"),
        ("mistakes: mean", "focus_wrong", "mean", "{:.2f}"),
        ("mistakes: below 0.3", "focus_wrong", "away", "{:.1%}"),
    ):
        assert table_line(label, table) == [fmt.format(m[key][field]) for m in (before, after)]
    change = run["focus_both_right_change"]
    # "on its right answers it looks where the model before looked": within 0.01, paired
    assert abs(change["mean"]) < 0.01
    flagged = [after["focus_right"]["away"], before["focus_right"]["away"]]
    assert abs(flagged[0] - flagged[1]) < 0.01  # "flags about as many right answers"
    mistakes = [round(m["focus_wrong"]["away"] * m["focus_wrong"]["n"]) for m in (after, before)]
    assert mistakes[0] > mistakes[1]  # "finds a few more of the mistakes"
    assert (
        f"{mistakes[0]} of {after['focus_wrong']['n']} against {mistakes[1]} of "
        f"{before['focus_wrong']['n']}" in text
    )
    # a views model's maps are its one view's: the model before's, where both answer alike
    moved = (
        "the same (paired: 0.000 ± 0.000)"
        if change["mean"] == change["se"] == 0
        else f"{abs(change['mean']):.3f} ± {change['se']:.3f} "
        f"{'higher' if change['mean'] > 0 else 'lower'} (paired)"
    )
    assert (
        f"On the {run['both_right']:,} photos both get right the shipped model's focus is {moved} "
        f"and looks away on {after['focus_both_right']['away']:.1%} of them against "
        f"{before['focus_both_right']['away']:.1%}" in text
    )
    changed = [m["focus_right"]["n"] - run["both_right"] for m in (after, before)]
    assert f"the answer ({changed[0]} photos now right, {changed[1]} now wrong)" in text
    readme = flat(README)
    assert (
        f"On {run['photos']:,} test photos, the same for both, it looks away on "
        f"{after['focus_right']['away']:.0%} of its right answers and "
        f"{after['focus_wrong']['away']:.0%} of its mistakes, against "
        f"{before['focus_right']['away']:.0%} and {before['focus_wrong']['away']:.0%} for the "
        "model shipped before it" in readme
    )
    gap = run["ig_gap_change"]
    assert abs(gap["mean"]) < 2 * gap["se"] + 0.01  # "level"
    assert (
        f"on the same {run['ig_photos']} test photos (every fiftieth, `explanation-paired.json`) "
        f"the two models are level, {after['ig_gap']['share_at_most_5pct']:.1%} within 5% on the "
        f"shipped model and {before['ig_gap']['share_at_most_5pct']:.1%} on `{BEFORE}` (gap "
        f"{abs(gap['mean']):.3f} ± {gap['se']:.3f} {'lower' if gap['mean'] < 0 else 'higher'}, "
        "paired)" in flat(section("## Is the IG map exact?"))
    )


def test_the_paired_explanation_differences_are_the_committed_study():
    """RESULTS' paired differences between maps: mean ± standard error over the same images."""
    auc = result("explanation-study.json")["deletion_insertion"]

    def paired(metric: str, a: str, b: str) -> str:
        d = np.subtract(*(auc[k]["per_image"][metric] for k in (a, b)))
        return f"{abs(d.mean()):.3f} ± {d.std(ddof=1) / np.sqrt(len(d)):.3f}"

    text = flat(section("## Does the model look at the flower?"))
    ahead = np.mean(np.greater(*(auc[k]["per_image"]["insertion"] for k in ("gradcam", "centre"))))
    baselines = np.mean(
        np.subtract(*(auc[k]["per_image"]["insertion"] for k in ("ig", "ig_black")))
    )
    for quoted in (
        f"+{paired('insertion', 'gradcam', 'ig')} over IG, paired",
        f"+{paired('insertion', 'gradcam', 'centre')}, {ahead:.0%} of images",
        f"IG trails it by {paired('insertion', 'ig', 'centre')}",
        f"({paired('insertion', 'ig', 'ig_black')} {'higher' if baselines > 0 else 'lower'})",
        f"({paired('deletion', 'ig', 'ig_black')} lower)",
        f"({paired('deletion', 'ig', 'gradcam')} lower than Grad-CAM, paired",
        f"{paired('deletion', 'ig', 'centre')} lower than the centre prior",
        f"paired, {paired('deletion', 'random', 'gradcam')} lower",
    ):
        assert quoted in text, quoted


def test_the_ig_rules_table_and_the_speed_check_are_the_committed_runs():
    rules = result("ig-rules.json")
    text = section("## Is the IG map exact?")
    reported = text[text.index("**Reported**") :]
    for key, c in rules["configs"].items():
        row = table_line(f"{c['baseline']} | {c['rule']}", reported)[1:]
        assert row == [
            f"{c['median']:.1%}",
            f"{c['p90']:.1%}",
            f"{c['share_at_most_5pct']:.0%}",
            f"{c['reference_error_median']:.1%}",
            f"{c['seconds_per_image']:.2f}",
        ], key

    now, before, idle = (
        result(name)["ig"]["mobilenetv2"]["adaptive/64"]["seconds"]["median"]
        for name in (
            "ig-speed-check/2026-12-04-main.json",
            "ig-speed-check/2026-12-04-at-144aebb.json",
            "cpu-2core-amd-epyc-avx512.json",
        )
    )
    assert (
        f"took {now:.2f} s for 64 steps with the current code and {before:.2f} s with the code of "
        f"2026-12-02, against {idle:.2f} s on 2026-12-01" in flat(text)
    )


def test_the_ig_section_compares_its_runs_from_their_files():
    """The IG section's sentences beside its table: the shipped model's runs and soup3-final's."""
    rules, before = result("ig-rules.json"), result(f"ig-rules-{BEFORE}.json")
    gap = result("explanation-study.json")["ig_completeness_gap"]
    then = result(f"explanation-study-{BEFORE}.json")["ig_completeness_gap"]
    configs = rules["configs"]
    text = flat(section("## Is the IG map exact?"))
    adaptive, black = configs["blur/adaptive"], configs["black/adaptive"]
    old_default = configs["black/midpoint_cubic"]
    within = round(adaptive["share_at_most_5pct"] * len(rules["images"]))
    for quoted in (
        f"whose own gaps from the blurred baseline have a median of "
        f"{np.median(rules['reference']['blur_gaps']):.1%};",
        f"{within} of the {len(rules['images'])} are within 5% (median {adaptive['median']:.1%}, "
        f"90th percentile {adaptive['p90']:.1%})",
        f"The same run gave {before['configs']['blur/adaptive']['share_at_most_5pct']:.0%} on "
        f"`{BEFORE}`",
        f"{gap['share_at_most_5pct']:.0%} on the shipped model (median {gap['median']:.1%}, "
        f"90th percentile {gap['p90']:.1%}; {then['share_at_most_5pct']:.0%} on `{BEFORE}`",
        f"leaves {black['share_at_most_5pct']:.0%} of the photos within 5% from black and "
        f"{adaptive['share_at_most_5pct']:.0%} from the blurred copy",
        f"leaves {old_default['share_at_most_5pct']:.0%} of the same 100 photos within 5% (median "
        f"{old_default['median']:.1%})",
    ):
        assert quoted in text, quoted
    seconds = [c["seconds_per_image"] for c in configs.values()]
    assert f"{min(seconds):.2f}–{max(seconds):.2f} s in this one" in text
    seconds = [c["seconds_per_image"] for c in before["configs"].values()]
    assert f"{min(seconds):.2f}–{max(seconds):.2f} s in the run on `{BEFORE}`" in text


def test_find_the_flower_is_quoted_from_its_run_and_judged_by_its_rule():
    run = result("find-flower.json")
    text = section('## Does "Find the flower" help?')
    pooled = run["pooled"]
    for label, scores in (
        ("clean", run["versions"]["clean"]),
        ("zoomed out, off-centre", run["versions"]["wide"]),
        ("four crops in a 2×2 grid", run["versions"]["several"]),
        ("pooled", pooled),
    ):
        assert table_line(label, text) == [
            str(scores["n"]),
            f"{scores['whole_top1']:.1%}",
            f"{scores['found_top1']:.1%}",
            f"{scores['found_sure_and_wrong']:.1%}",
        ], label
    gain = pooled["found_top1"] - pooled["whole_top1"]
    assert run["offer"] == at_least(gain, run["rule_gain"])
    assert run["offer"] and f"It passes ({100 * gain:+.1f} points), exactly at the rule's bar" in (
        flat(text)
    )
    right = [round(pooled[k] * pooled["n"]) for k in ("found_top1", "whole_top1")]
    assert right[0] - right[1] == 6 == round(run["rule_gain"] * pooled["n"])  # exactly the bar
    assert (
        f"the square found is right for {right[0]} of the {pooled['n']} unsure photos, the whole "
        f"photo for {right[1]}" in flat(text)
    )
    # "helps most where the photo holds several flowers, less where one flower is small and
    # off-centre, and hurts on the benchmark's own framing"
    helps = {k: v["found_top1"] - v["whole_top1"] for k, v in run["versions"].items()}
    assert helps["several"] > helps["wide"] > 0 > helps["clean"]
    assert f"{pooled['found_sure_and_wrong']:.1%} of the unsure photos got a square" in flat(text)

    def pooled_gain(name: str) -> tuple[dict, float]:
        was = result(f"find-flower-{name}.json")
        return was, 100 * (was["pooled"]["found_top1"] - was["pooled"]["whole_top1"])

    (before, before_gain), (soup6, _), (soup3, soup3_gain) = (
        pooled_gain(n) for n in (BEFORE, SOUP6, "soup3-alllong-up256-final")
    )
    assert not before["offer"] and not soup6["offer"] and soup3["offer"]
    for quoted in (
        f"The model shipped before failed by {before_gain:+.1f} points, on "
        f"{before['pooled']['n']} photos unsure at its {before['unsure_below']:.0%}",
        f"and so did the one before it, on {soup6['pooled']['n']} photos unsure at its "
        f"{soup6['unsure_below']:.0%}",
        f"the one before that passed by {soup3_gain:+.1f}, on {soup3['pooled']['n']} photos "
        f"unsure at its {soup3['unsure_below']:.0%}",
    ):
        assert quoted in flat(text), quoted
    assert (
        f"that square was right {pooled['found_top1']:.0%} of the time, the whole photo "
        f"{pooled['whole_top1']:.0%}" in flat(README)
    )


def test_the_button_on_sure_answers_is_quoted_from_its_run_and_its_rule():
    run = result("find-flower.json")
    sure = run["sure"]
    text = section('## Does "Find the flower" help?')
    table = text[text.index("**On answers the model is already sure of.**") :]
    for label, scores in (
        ("clean", sure["versions"]["clean"]),
        ("zoomed out, off-centre", sure["versions"]["wide"]),
        ("four crops in a 2×2 grid", sure["versions"]["several"]),
        ("pooled", sure["pooled"]),
    ):
        assert table_line(label, table) == [
            f"{scores['n']:,}",
            f"{scores['whole_top1']:.1%}",
            f"{scores['found_top1']:.1%}",
        ], label
    gain = sure["pooled"]["found_top1"] - sure["pooled"]["whole_top1"]
    assert sure["offer"] == (not at_least(-gain, sure["rule_loss"]))
    fewer = round(-gain * sure["pooled"]["n"])
    assert f"behind ({fewer} photos of {sure['pooled']['n']:,}), at the rule's bar" in flat(table)
    assert not sure[
        "offer"
    ] and "is offered for unsure answers only (`framing.OFFERED_ON_SURE`" in (flat(table))
    was = result(f"find-flower-{BEFORE}.json")["sure"]["pooled"]
    then = 100 * (was["whole_top1"] - was["found_top1"])
    assert f"The model shipped before was {then:.1f} points behind." in flat(table)
    clean = sure["versions"]["clean"]
    loss = clean["whole_top1"] - clean["found_top1"]
    ahead = f"{100 * gain:.1f} points ahead" if gain >= 0 else f"{-100 * gain:.1f} points behind"
    assert f"the square is {ahead}" in flat(table)
    assert f"it costs {100 * loss:.1f} points" in flat(table)


def test_the_found_squares_temperature_is_the_one_its_rule_fitted():
    from flowerdash.explain.reading import UNSURE_BELOW
    from flowerdash.inference.framing import FOUND_TEMPERATURE

    run = result("find-flower.json")
    assert run["unsure_below"] == UNSURE_BELOW  # scored by the threshold the app uses
    fit, pooled = run["found_temperature"], run["pooled"]
    text = section('## Does "Find the flower" help?')
    assert (
        fit["temper"] and fit["before"]["ece"] - fit["crossfitted"]["ece"] >= fit["rule_ece_gain"]
    )
    assert round(fit["temperature"], 3) == FOUND_TEMPERATURE
    for label, scores in (
        ("the model's percentage", fit["before"]),
        ("with their own temperature (cross-fitted)", fit["crossfitted"]),
    ):
        assert table_line(label, text) == [
            f"{scores['top1']:.1%}",
            f"{scores['mean_confidence']:.1%}",
            f"{scores['ece']:.3f}",
        ], label
    photos = len(run["versions"]) * run["n"]
    was = result(f"find-flower-{BEFORE}.json")["found_temperature"]["temperature"]
    assert f"; {was:.3f} for the model shipped before)" in flat(text)
    for quoted in (
        f"is not the whole photo ({fit['n']:,} of {photos:,};",
        f"by T = {FOUND_TEMPERATURE:.3f} (`framing.FOUND_TEMPERATURE`, fitted on all {fit['n']:,}, for the shipped recipe;",
        f"falls from {pooled['found_sure_and_wrong']:.1%} to "
        f"{pooled['found_sure_and_wrong_tempered']:.1%}, and "
        f"{pooled['found_sure_and_right_tempered']:.1%} keep a right answer at "
        f"{run['unsure_below']:.0%} or more (of "
        f"the {pooled['found_top1']:.1%} right)",
    ):
        assert quoted in flat(text), quoted


def test_the_calibration_on_changed_photos_is_quoted_from_its_run():
    run = result("proxy-calibration.json")
    text = flat(section("## Can its percentages be read as chances?"))
    clean, pooled = run["clean"], run["pooled"]
    assert run["choice"] == "clean"
    for quoted in (
        f"fitted on its clean answers ({run['temperatures']['clean']:.3f};",
        f"ECE {clean['clean']['ece']:.3f} on clean photos and {clean['mean_changed']['ece']:.3f} "
        "on average over the eight changed versions",
        f"on four flowers in a grid ({clean['several']['mean_confidence']:.1%} mean confidence "
        f"at {clean['several']['top1']:.1%} right, ECE {clean['several']['ece']:.3f}) and on "
        f"covered photos ({clean['occluded']['mean_confidence']:.1%} at "
        f"{clean['occluded']['top1']:.1%}, ECE {clean['occluded']['ece']:.3f})",
        f"({run['temperatures']['pooled']:.3f}) lowers that average only to "
        f"{pooled['mean_changed']['ece']:.3f} and raises the clean ECE to "
        f"{pooled['clean']['ece']:.3f}",
    ):
        assert quoted in text, quoted
    assert (
        f"calibration error is {clean['mean_changed']['ece']:.3f} on average "
        f"({clean['clean']['ece']:.3f} on the clean ones), most over-sure on four flowers in a grid"
        in flat(README)
    )
    worst = max(
        (k for k in clean if k not in ("clean", "mean_changed")), key=lambda k: clean[k]["ece"]
    )
    assert worst == "several"
    assert run["fold"] == calibration_fold()  # the shipped recipe's fold
    was = result(f"proxy-calibration-{BEFORE}.json")
    assert (
        f"measured the same way from `{was['fold']}`: {was['clean']['clean']['ece']:.3f} on clean "
        f"photos, {was['clean']['mean_changed']['ece']:.3f} on average)" in text
    )


def quoted_moves(text: str, new: str, old: str, quoted: dict[str, str]) -> None:
    """A robustness bullet's "<words>new% vs old% (change)" for each quoted variation, "nothing
    else moves by more than 1 point", and the occlusion pair it names anyway (unless quoted)."""
    for key, words in quoted.items():
        new_old = f"{mean_of(new, key):.1f}% vs {mean_of(old, key):.1f}%"
        assert f"{words}{new_old} ({points(mean_of(new, key), mean_of(old, key))})" in text, key
    moves = {c: mean_of(new, c) - mean_of(old, c) for c in robustness(new)["accuracy"]}
    assert max(abs(v) for c, v in moves.items() if c not in quoted) <= 1.0
    if "occlusion" not in quoted:
        pair = f"{mean_of(new, 'occlusion'):.1f}% vs {mean_of(old, 'occlusion'):.1f}%"
        assert f"occlusion {pair})" in text


def test_the_shipped_models_robustness_bullet_is_its_committed_run():
    text = flat(ROBUSTNESS_SECTION)
    text = text[text.index("- The shipped model (the same nine runs' average answering four") :]
    new, old = SHIPPED_RUN, BEFORE
    clean, was = (100 * robustness(r)["clean"] for r in (new, old))
    assert f"scores {clean:.1f}% on the clean images ({points(clean, was)})" in text
    assert round(clean * 2) - round(was * 2) == 2  # "two photos of 200"
    a, b = overall_mean(new), overall_mean(old)
    assert f"{b - a:.1f} points less on average under the variations ({a:.1f}% vs {b:.1f}%)" in text
    moves = {c: mean_of(new, c) - mean_of(old, c) for c in robustness(new)["accuracy"]}
    assert min(moves, key=moves.get) == "noise"  # "Noise loses most"
    quoted = {"noise": "noise ", "jpeg": "JPEG ", "blur": "blur ", "occlusion": "occlusion "}
    quoted_moves(text, new, old, quoted)
    assert max(abs(v) for v in moves.values()) < 5  # "no change reaches the 5 points"


def test_the_robustness_bullet_of_the_model_shipped_before_is_its_committed_run():
    text = flat(ROBUSTNESS_SECTION)
    text = text[text.index(f"- The model shipped until `{SHIPPED_RUN}` (the nine runs' average") :]
    new, old = BEFORE, SOUP6
    clean, was = (100 * robustness(r)["clean"] for r in (new, old))
    assert f"scores {clean:.1f}% on the clean images ({points(clean, was)})" in text
    assert round(clean * 2) - round(was * 2) == -5  # "five photos of 200"
    a, b = overall_mean(new), overall_mean(old)
    assert f"{a - b:.1f} points more on average under the variations ({a:.1f}% vs {b:.1f}%)" in text
    assert a == max(overall_mean(r) for r in COLUMNS)  # "the most of any column"
    moves = {c: mean_of(new, c) - mean_of(old, c) for c in robustness(new)["accuracy"]}
    # "Noise and blur, which three of its runs trained on, gain most"
    assert sorted(moves, key=moves.get, reverse=True)[:2] == ["noise", "blur"]
    quoted = {"noise": "noise ", "blur": "blur ", "jpeg": "none trained on, ", "flip": "flip "}
    quoted_moves(text, new, old, quoted | {"occlusion": "occlusion "})


def test_the_robustness_bullet_of_the_model_shipped_two_before_is_its_committed_run():
    text = flat(ROBUSTNESS_SECTION)
    text = text[text.index(f"- The model shipped until `{BEFORE}` (the six runs' average") :]
    new, old = SOUP6, "soup3-alllong-up256-final"
    clean, was = (100 * robustness(r)["clean"] for r in (new, old))
    assert f"scores {clean:.1f}% on the clean images ({points(clean, was)})" in text
    assert round(clean * 2) - round(was * 2) == 3  # "three photos of 200"
    a, b = overall_mean(new), overall_mean(old)
    assert f"{b - a:.1f} points less on average under the variations ({a:.1f}% vs {b:.1f}%)" in text
    moves = {c: mean_of(new, c) - mean_of(old, c) for c in robustness(new)["accuracy"]}
    # "Noise and darkening lose most"
    assert sorted(moves, key=moves.get)[:2] == ["noise", "brightness"]
    quoted_moves(text, new, old, {"noise": "noise ", "brightness": "darker "})
    assert max(abs(v) for v in moves.values()) < 5


def test_the_robustness_bullet_of_the_model_shipped_three_before_is_its_committed_run():
    text = flat(ROBUSTNESS_SECTION)
    text = text[text.index(f"- The model shipped until `{SOUP6}` (the same average") :]
    new, old = "soup3-alllong-up256-final", "soup3-alllong-final"
    clean, was = (100 * robustness(r)["clean"] for r in (new, old))
    assert f"scores {clean:.1f}% on the clean images ({points(clean, was)})" in text
    a, b = overall_mean(new), overall_mean(old)
    assert f"{b - a:.1f} points less on average under the variations ({a:.1f}% vs {b:.1f}%)" in text
    moves = {c: mean_of(new, c) - mean_of(old, c) for c in robustness(new)["accuracy"]}
    # "Noise and blur lose most", "grey photos gain most"
    assert sorted(moves, key=moves.get)[:2] == ["noise", "blur"]
    assert max(moves, key=moves.get) == "grayscale"
    quoted = {"noise": "noise ", "blur": "blur ", "grayscale": "gain most: ", "zoom": "zoom "}
    quoted |= {"flip": "flip "}
    quoted_moves(text, new, old, quoted)
    assert max(abs(v) for v in moves.values()) < 5  # "No change reaches the 5 points"


def test_the_robustness_bullet_of_the_model_shipped_four_before_is_its_committed_run():
    text = flat(ROBUSTNESS_SECTION)
    text = text[
        text.index("- The model shipped until `soup3-alllong-up256-final` (the three runs") :
    ]
    new, old = "soup3-alllong-final", "soup4-allflat-long-final"
    clean, was = (100 * robustness(r)["clean"] for r in (new, old))
    assert f"scores {clean:.1f}% on the clean images ({points(clean, was)})" in text
    a, b = overall_mean(new), overall_mean(old)
    assert f"{a - b:.1f} points more on average under the variations ({a:.1f}% vs {b:.1f}%)" in text
    moves = {c: mean_of(new, c) - mean_of(old, c) for c in robustness(new)["accuracy"]}
    assert max(moves, key=lambda c: abs(moves[c])) == "contrast"  # "Contrast gains most"
    quoted = {"contrast": "", "grayscale": "grey photos ", "noise": "noise "}
    quoted_moves(text, new, old, quoted)


def test_the_longer_trained_members_test_score_is_quoted_and_not_chosen_on():
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("The longer-trained member alone scores more on test") :]
    soup4 = run_record("soup4-allflat-long-final")
    member = run_record(soup4["members"][-1])
    assert member["config"]["fine_tune_epochs"] == 36
    soup = soup4["test"]["top1"]
    assert member["test"]["top1"] > soup  # what the sentence owns up to
    assert f"({member['test']['top1']:.1%} against {soup:.1%})" in text
    alone, average = (
        proxies(f"{m}@val")
        for m in ("fold-grey-zoom5-erase-big-flat-long", "fold-soup4-allflat-long")
    )
    assert alone["clean"]["top1"] < average["clean"]["top1"]  # "the average was ahead on clean"
    quoted = (
        f"({100 * alone['occluded']['top1']:.1f}% against {100 * average['occluded']['top1']:.1f}%"
    )
    assert f"{quoted} on the first fold)" in text


def test_the_jpeg_screen_falls_short_of_its_rule():
    record = run_record("fold-grey-zoom5-erase-flat-jpeg")
    assert record["config"]["augment_overrides"]["jpeg"] == 0.5
    run, base = (
        proxies(f"{m}@val")
        for m in ("fold-grey-zoom5-erase-flat-jpeg", "fold-grey-zoom5-erase-flat")
    )
    gain = ahead(run, base)
    assert gain < 0.5  # so the other two recipes were not trained with it
    text = flat(section("## Photos unlike the benchmark's"))
    assert f"Its {round(record['seconds'] / 60)} minutes were shared with benchmark runs" in text


def test_every_run_record_is_named_in_results():
    text = RESULTS[RESULTS.index("**Records.**") : RESULTS.index("All runs: `bash")]
    names = sorted(f.stem for f in RUNS.glob("*.json"))
    assert [n for n in names if f"`{n}`" not in text] == []


def test_the_average_of_five_is_quoted_from_its_proxies_and_falls_short():
    shipped_fold = "fold-soup4-allflat-long"  # the shipped recipe when these ran
    assert run_record("fold-soup5-allflat-long")["members"] == [
        *run_record(shipped_fold)["members"],
        "fold-grey-zoom5-erase-flat-long",
    ]
    five, four = (proxies(f"{m}@val") for m in ("fold-soup5-allflat-long", shipped_fold))
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("In the average of five, against") :]
    for words, key in (
        ("grey ones", "grayscale"),
        ("JPEG", "jpeg"),
        ("zoomed-out photos", "wide"),
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, five, four, key) in text, key
    assert ahead(five, four) < 0.5  # short
    alone = proxies("fold-grey-zoom5-erase-flat-long@val")
    for key in ("mean_changed", "clean"):
        pair = f"({100 * alone[key]['top1']:.1f}% against {100 * four[key]['top1']:.1f}%)"
        assert pair in text, key
    last = run_record("fold-grey-zoom5-erase-flat-long")["train"]["top1_last_epoch"]
    assert f"({last:.1%} after 36)" in flat(section("## Photos unlike the benchmark's"))


def test_every_member_trained_longer_passes_the_first_fold():
    shipped_fold = "fold-soup4-allflat-long"  # the shipped recipe when these ran
    longer = run_record("fold-soup3-alllong")["members"]
    assert all(run_record(m)["config"]["fine_tune_epochs"] == 36 for m in longer)
    assert run_record("fold-soup6-allflat-long")["members"] == [
        *run_record("fold-soup3-allflat")["members"],
        *longer,
    ]
    four, three, six = (
        proxies(f"{m}@val") for m in (shipped_fold, "fold-soup3-alllong", "fold-soup6-allflat-long")
    )

    # the rule: three passes, six does not
    assert ahead(three, four) >= 0.5 and ahead(three, four, "clean") >= -0.5
    assert ahead(six, four) < 0.5
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("The three longer runs averaged, against") :]
    for words, key in (
        ("grey ones", "grayscale"),
        ("covered ones", "occluded"),
        ("four flowers in a grid", "several"),
        ("zoomed-out photos", "wide"),
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, three, four, key) in text, key
    assert f"; {ahead(three, four):.2f} points before rounding), which passes" in text
    six_text = text[text.index("All six averaged") :]
    for words, key in (
        ("clean ones", "clean"),
        ("the mean of the changed versions", "mean_changed"),
    ):
        assert quote(words, six, four, key) in six_text, key
    assert f"Covered photos at {100 * three['occluded']['top1']:.1f}% were then the closest" in text
    then = first_fold_averages(until="fold-soup3-alllong")
    assert "fold-soup3-alllong" in then and len(then) > 10
    assert max(proxies(f"{n}@val")["occluded"]["top1"] for n in then) == three["occluded"]["top1"]


def kept_figures(study: str, run: str, keys: tuple[str, ...]) -> str:
    """An earlier model's top-1 figures from the study file kept under its name, listed as
    RESULTS lists them ("a%, b% and c%")."""
    top1 = result(f"{study}-{run}.json")["top1"]
    return ", ".join(f"{top1[k]:.1%}" for k in keys[:-1]) + f" and {top1[keys[-1]]:.1%}"


def test_the_colour_profile_figures_are_the_committed_run():
    run, was = result("colour-profile.json"), result(f"colour-profile-{BEFORE}.json")
    top1, then, photos = run["top1"], was["top1"], run["photos"]
    assert run["split"] == "val" and photos == 1020
    assert Path(run["checkpoint"]).name == calibration_fold()
    text = flat(section("## Photos unlike the benchmark's"))
    assert (
        f"the shipped recipe's fold recognises {top1['p3_numbers_as_srgb']:.1%} when the numbers "
        f"are read as they are, what `load_image` did until it converted profiles to sRGB, and "
        f"{top1['p3_file_read']:.1%} reading the file now, against {top1['srgb']:.1%} for the "
        "photos as they were (three photos fewer;" in text
    )
    assert round((top1["p3_file_read"] - top1["srgb"]) * run["photos"]) == -3
    assert (
        f"the same way from `{Path(was['checkpoint']).name}`: {then['p3_numbers_as_srgb']:.1%}, "
        f"{then['p3_file_read']:.1%} and {then['srgb']:.1%} (`colour-profile-{BEFORE}.json`)"
        in text
    )
    for fold, run in (
        ("fold-soup6-alllong-tiles-up256", SOUP6),
        ("fold-soup3-alllong-up256", "soup3-alllong-up256-final"),
        ("fold-soup3-alllong", "soup3-alllong-final"),
    ):
        figures = kept_figures(
            "colour-profile", run, ("p3_numbers_as_srgb", "p3_file_read", "srgb")
        )
        assert f"from `{fold}`: {figures}" in text, run
    assert (
        f"on validation photos stored that way the shipped recipe, trained without them, recognises "
        f"{top1['p3_file_read']:.1%} through the profile and {top1['p3_numbers_as_srgb']:.1%} "
        f"without it; the one shipped before, {then['p3_file_read']:.1%} and "
        f"{then['p3_numbers_as_srgb']:.1%})" in flat(README)
    )
    # reading the profile recovers what ignoring it loses, on both recipes, to within three photos
    for figures in (top1, then):
        assert figures["p3_file_read"] > figures["p3_numbers_as_srgb"]
        assert figures["p3_file_read"] >= figures["srgb"] - 3 / photos
    assert f"`python -m benchmarks.colour_profile /tmp/cand/{calibration_fold()}`" in text


def test_every_member_trained_longer_passes_the_second_fold():
    """Rule (96)-(101): the second-fold runs, their average, and the verdict drawn from both."""
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("closest any fold average had come to the issue's 82. There") :]
    longer = run_record("swap-soup3-alllong")["members"]
    assert longer == second_fold_of("fold-soup3-alllong")
    for run in longer:
        assert run_record(run)["config"]["train_on"] == "val"
        assert run_record(run)["config"]["fine_tune_epochs"] == 36
    quoted = {
        "swap-grey-zoom-erase-flat-long": (
            ("desaturated ones", "desaturated"),
            ("grey ones", "grayscale"),
            ("low resolution", "low_res"),
            ("covered ones", "occluded"),
            ("clean ones", "clean"),
            ("the mean of the changed versions", "mean_changed"),
        ),
        "swap-grey-zoom5-erase-flat-long": (
            ("JPEG", "jpeg"),
            ("grey ones", "grayscale"),
            ("four flowers in a grid", "several"),
            ("covered ones", "occluded"),
            ("clean ones", "clean"),
            ("the mean of the changed versions", "mean_changed"),
        ),
    }
    for run, rows in quoted.items():
        twin = run.removesuffix("-long")
        part = text[text.index(f"`{run}`") :]
        alone, was = proxies(f"{run}@train"), proxies(f"{twin}@train")
        for words, key in rows:
            assert quote(words, alone, was, key) + ")" in part, (run, key)
        vals = [100 * run_record(r)["val"]["top1"] for r in (run, twin)]
        assert f"its own validation score {vals[0]:.1f}% ({points(*vals)})" in part, run

    before = ("fold-soup4-allflat-long@val", "swap-soup4-allflat-long@train")
    after = ("fold-soup3-alllong@val", "swap-soup3-alllong@train")
    gain = both_folds(after, "mean_changed") - both_folds(before, "mean_changed")
    clean = both_folds(after, "clean") - both_folds(before, "clean")
    assert gain >= 0.5 and clean >= -0.5  # the rule: the refits replace the shipped model
    decision = text[text.index("colour casts lose a little (") :]
    assert f"{gain:.2f} points ahead on the changed versions and {clean:.2f} ahead on clean" in (
        decision
    )
    assert f"the changed versions {both_folds(after, 'mean_changed'):.1f}% against 88" in decision
    assert f"covered photos {both_folds(after, 'occluded'):.1f}% against 82" in decision
    # its refits: each trained longer on train + val, with its own row in the runs table
    refits = [m.replace("swap-", "") + "-final" for m in longer]
    recorded = [r for r in refits if (RUNS / f"{r}.json").exists()]
    assert {"grey-zoom-erase-flat-long-final", "grey-zoom5-erase-flat-long-final"} <= set(recorded)
    for refit in recorded:
        own = run_record(refit)
        assert own["config"]["train_on"] == "train+val", refit
        assert own["config"]["fine_tune_epochs"] == 36, refit
        row = table_line(f"`{refit}`")
        assert row[2:4] == [f"{own['test']['top1']:.1%}", f"{own['test']['top5']:.1%}"], refit
        assert row[4].startswith(f"{round(own['seconds'] / 60)} min"), refit
    assert "replaced the model shipped then; it shipped (below) until" in decision
    assert run_record("soup3-alllong-up256-final")["members"] == [
        m.replace("fold-", "") + "-final" for m in run_record("fold-soup3-alllong")["members"]
    ]  # so the refits were shipped


def test_the_enlarged_photos_are_quoted_from_their_runs_and_judged_by_their_rules():
    """Rules (127)-(134): averages enlarging every photo before the backbone."""
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("**Enlarging the photo before the backbone: 256 px passes") :]
    for run, average, size in (
        ("fold-soup3-alllong-up256", "fold-soup3-alllong", 256),
        ("fold-soup3-alllong-up288", "fold-soup3-alllong", 288),
        ("swap-soup3-alllong-up288", "swap-soup3-alllong", 288),
        ("swap-soup3-alllong-up256", "swap-soup3-alllong", 256),
        ("soup3-alllong-up288-final", "soup3-alllong-final", 288),
        ("soup3-alllong-up256-final", "soup3-alllong-final", 256),
    ):
        record = run_record(run)
        assert record["members"] == run_record(average)["members"], run
        assert record["backbone_size"] == size and "backbone_size" not in run_record(average)
    was, up256, up288 = (proxies(f"fold-soup3-alllong{s}@val") for s in ("", "-up256", "-up288"))
    swap_was, swap256, swap288 = (
        proxies(f"swap-soup3-alllong{s}@train") for s in ("", "-up256", "-up288")
    )
    quoted = (
        ("(`fold-soup3-alllong-up256`)", up256, was, ("clean photos", "clean")),
        ("(`fold-soup3-alllong-up288`)", up288, was, ("four flowers in a grid", "several")),
        ("(`fold-soup3-alllong-up288`)", up288, was, ("zoomed-out photos", "wide")),
        ("(`fold-soup3-alllong-up288`)", up288, was, ("covered ones", "occluded")),
        ("(`fold-soup3-alllong-up288`)", up288, was, ("grey ones", "grayscale")),
        ("(`fold-soup3-alllong-up288`)", up288, was, ("colour casts", "colour_cast")),
        ("(`fold-soup3-alllong-up288`)", up288, was, ("clean ones", "clean")),
        ("(`fold-soup3-alllong-up288`)", up288, was, ("low resolution", "low_res")),
        ("(`fold-soup3-alllong-up288`)", up288, was, ("JPEG", "jpeg")),
        ("(`swap-soup3-alllong-up288`)", swap288, swap_was, ("zoomed-out photos", "wide")),
        ("(`swap-soup3-alllong-up288`)", swap288, swap_was, ("covered ones", "occluded")),
        ("(`swap-soup3-alllong-up288`)", swap288, swap_was, ("clean ones", "clean")),
        ("(`swap-soup3-alllong-up288`)", swap288, swap_was, ("low resolution", "low_res")),
        ("(`swap-soup3-alllong-up288`)", swap288, swap_was, ("JPEG", "jpeg")),
        ("the second fold: clean ones", swap256, swap_was, ("clean ones", "clean")),
        ("the second fold: clean ones", swap256, swap_was, ("covered ones", "occluded")),
    )
    for start, new, old, (words, key) in quoted:
        assert quote(words, new, old, key) + ")" in text[text.index(start) :], (start, key)
    for start, new, old in (
        ("(`fold-soup3-alllong-up256`)", up256, was),
        ("(`fold-soup3-alllong-up288`)", up288, was),
        ("(`swap-soup3-alllong-up288`)", swap288, swap_was),
        ("the second fold: clean ones", swap256, swap_was),
    ):
        part = text[text.index(start) :]
        assert quote("the mean of the changed versions", new, old, "mean_changed") + ")" in part
    assert ahead(up288, up256) > 0  # "the better of the two on the changed versions"
    before = ("fold-soup3-alllong@val", "swap-soup3-alllong@train")
    after = {
        s: (f"fold-soup3-alllong-up{s}@val", f"swap-soup3-alllong-up{s}@train") for s in (256, 288)
    }
    unindented = "\n".join(line.strip() for line in RESULTS.splitlines())
    table = unindented[unindented.index("| top-1 | as trained (the shipped recipe)") :]
    for key, words in (*COMMON_ROWS, ("occluded", "covered")):
        a, b = (round(both_folds(runs, key), 1) for runs in (before, after[288]))
        assert table_line(f"both folds: {words}", table) == [f"{a:.1f}%", f"{b:.1f}%", points(b, a)]
    gain = {
        s: both_folds(after[s], "mean_changed") - both_folds(before, "mean_changed") for s in after
    }
    clean = {s: both_folds(after[s], "clean") - both_folds(before, "clean") for s in after}
    assert f"{gain[288]:+.2f} points on the changed versions and {clean[288]:+.2f} on clean" in text
    assert gain[288] >= 0.5 and clean[288] >= -0.5  # rule (130)
    # the refit it chose, and its test robustness, both read after the choice
    for run in ("soup3-alllong-up288-final", "soup3-alllong-up256-final"):
        final = run_record(run)["test"]
        assert f"{final['top1']:.1%} top-1 and {final['top5']:.1%} top-5 on test" in text, run
    final = run_record("soup3-alllong-up288-final")["test"]  # the shipped row is checked above
    row = table_line("`soup3-alllong-up288-final`")
    assert row[2:4] == [f"{final['top1']:.1%}", f"{final['top5']:.1%}"]
    new, old = "soup3-alllong-up288-final", "soup3-alllong-final"
    assert (
        f"{overall_mean(new):.1f}% over the 33 conditions against {overall_mean(old):.1f}%" in text
    )
    for words, key in (
        ("blur", "blur"),
        ("noise", "noise"),
        ("JPEG", "jpeg"),
        ("zooming in", "zoom"),
        ("grey photos", "grayscale"),
        ("with the centre covered", "occlusion"),
    ):
        pair = f"{words} ({mean_of(new, key):.1f}% against {mean_of(old, key):.1f}%)"
        assert pair in text, key
    # rule (131): the same conditions on the photos each fold may be chosen on
    table = unindented[unindented.index("| mean over the 33 conditions | as trained") :]
    runs = {
        "first fold (val photos)": [f"fold-soup3-alllong{s}@val" for s in ("", "-up256", "-up288")],
        "second fold (train photos)": [
            f"swap-soup3-alllong{s}@train" for s in ("", "-up256", "-up288")
        ],
    }
    for label, names in runs.items():
        assert table_line(label, table) == [f"{overall_mean(n):.1f}%" for n in names], label
    both = [np.mean([overall_mean(runs[f][i]) for f in runs]) for i in range(3)]
    assert table_line("both folds", table) == [f"{v:.1f}%" for v in both]
    behind = {256: both[0] - both[1], 288: both[0] - both[2]}
    assert behind[288] > 0.5 and f"{behind[288]:.1f} points behind over both folds" in text
    assert behind[256] <= 0.5 and f"At 256 px it is {behind[256]:.2f} behind" in text
    assert gain[256] >= 0.5 and clean[256] >= -0.5  # rule (134): 256 px replaces the shipped model
    assert f"{gain[256]:+.2f} points on the changed versions and {clean[256]:+.2f} on clean" in text
    for key, target, met in (("occluded", 82, True), ("mean_changed", 88, False)):
        value = both_folds(after[256], key)
        assert f"{value:.1f}%" in text and (value >= target) == met, key
    # and its test robustness, read after the choice
    now, was = overall_mean("soup3-alllong-up256-final"), overall_mean("soup3-alllong-final")
    assert f"it is {was - now:.1f} points behind over the 33 conditions, as on the folds" in text
    assert f"({now:.1f}% against {was:.1f}%)" in text


def by_folder(entries: dict[str, dict], folder: str) -> dict:
    """The entry of a result keyed by checkpoint path whose folder is named ``folder``."""
    return next(entry for path, entry in entries.items() if Path(path).name == folder)


def test_the_flowerless_images_are_quoted_from_their_run():
    """How sure the shipped model and the one before are of images with no flower."""
    from flowerdash.explain.reading import UNSURE_BELOW

    run = result("flowerless.json")
    now, before = (by_folder(run["models"], wanted) for wanted in ("default", BEFORE))
    assert now["model_hash"] == file_hash(ROOT / "checkpoints" / "default" / "model.keras")
    text = flat(section("## Can its percentages be read as chances?"))
    # "flat colours and gradients get no sure answer from the shipped model"
    assert now["kinds"]["flat"]["sure"] == now["kinds"]["gradient"]["sure"] == 0
    noise, blurred = (
        [m["kinds"][k]["sure"] for m in (now, before)] for k in ("noise", "blurred_noise")
    )
    plain = [before["kinds"][k]["sure"] for k in ("flat", "gradient")]
    assert (
        f"({plain[0]:.0%} and {plain[1]:.0%} of the time from the model shipped before, at the "
        f"same {UNSURE_BELOW:.0%}), but pixel noise gets one {noise[0]:.0%} of the time from the "
        f"shipped model ({noise[1]:.0%} from the model shipped before), and blurred noise "
        f"{blurred[0]:.0%} ({blurred[1]:.0%})" in text
    )
    assert f"sure answer ({UNSURE_BELOW:.0%} or more)" in text
    assert f"is sure of one for {noise[0]:.0%} of pixel-noise images" in flat(README)
    assert run["unsure_below"] == UNSURE_BELOW and run["per_kind"] == 64
    # the top raw logit: held-out flowers on the fold, against the flowerless images
    fold = by_folder(run["models"], calibration_fold())
    p5 = fold["flowers"]["top_logit"]["p5"]
    assert fold["flowers"]["split"] == "val" and fold["flowers"]["n"] == 1020
    p1 = fold["flowers"]["top_logit"]["p1"]
    below = {q: [k["below_flowers"][q] for k in fold["kinds"].values()] for q in ("p1", "p5")}
    assert list(fold["kinds"]) == ["noise", "blurred_noise", "flat", "gradient"]
    assert (
        f"5% of the validation photos score below {p5:.2f}, and so do {below['p5'][0]:.0%}" in text
    )
    assert (
        f"{below['p5'][1]:.0%} of the blurred noise, {below['p5'][2]:.0%} of the flat colours and "
        f"{below['p5'][3]:.0%} of the gradients (below the 1st percentile, {p1:.2f}: "
        f"{', '.join(f'{v:.0%}' for v in below['p1'][:3])} and {below['p1'][3]:.0%})" in text
    )
    was = by_folder(run["models"], "fold-soup9-grain-tiles-up256")["kinds"]
    moved = [was[k]["below_flowers"]["p5"] for k in ("noise", "blurred_noise", "flat", "gradient")]
    assert (
        f"(`fold-soup9-grain-tiles-up256`) {moved[0]:.0%} of the noise images and "
        f"{moved[1]:.0%} of the blurred noise scored below its 5th percentile, {moved[2]:.0%} of "
        f"the flat colours and {moved[3]:.0%} of the gradients" in text
    )
    # "averaging four views lowered the raw logits of these images against those of flowers"
    assert all(a > b for a, b in zip(below["p5"], moved, strict=True))
    medians = [m["kinds"]["noise"]["top_logit"]["median"] for m in (now, fold)]
    assert f"(median {medians[0]:.2f} on noise, against {medians[1]:.2f} on the" in text


def test_the_enlarged_models_cost_is_quoted_from_its_timing_run():
    """docs/PERFORMANCE.md's before/after of enlarging photos to 256 px, one alternating run."""
    runs = result("backbone-size-timing.json")["runs"]
    # "default" was soup3-alllong-up256-final then; the shipped model has the same layers
    before, after = (by_folder(runs, wanted) for wanted in ("soup3-alllong-final", "default"))
    text = flat((ROOT / "docs" / "PERFORMANCE.md").read_text(encoding="utf-8"))
    answer, cam = (
        (1000 * before[m]["median"], 1000 * after[m]["median"]) for m in ("predict", "gradcam")
    )
    ig = before["ig"]["median"], after["ig"]["median"]
    assert before["ig"]["n"] == 32
    assert (
        f"an answer (the LiteRT predictor Try it uses) {answer[0]:.1f} → {answer[1]:.1f} ms, "
        f"Grad-CAM {cam[0]:.0f} → {cam[1]:.0f} ms, IG at 64 steps {ig[0]:.2f} → {ig[1]:.2f} s "
        f"({ig[1] / ig[0]:.2f}×)" in text
    )
    assert f"about {ig[1] / ig[0]:.1f}× that for the shipped one" in flat(README)


def test_the_views_cost_is_quoted_from_its_timing_run():
    """docs/PERFORMANCE.md's before/after of answering four views, one alternating run."""
    runs = result("views-timing.json")["runs"]
    before, after = (by_folder(runs, wanted) for wanted in (BEFORE, "default"))
    text = flat((ROOT / "docs" / "PERFORMANCE.md").read_text(encoding="utf-8"))
    answer, cam = (
        (1000 * before[m]["median"], 1000 * after[m]["median"]) for m in ("predict", "gradcam")
    )
    ig = before["ig"]["median"], after["ig"]["median"]
    assert before["ig"]["n"] == after["ig"]["n"] == 32
    times = f"{answer[1] / answer[0]:.1f}×"
    assert (
        f"an answer (the LiteRT predictor Try it uses) {answer[0]:.1f} → {answer[1]:.1f} ms "
        f"({times}), Grad-CAM {cam[0]:.0f} → {cam[1]:.0f} ms, IG at 64 steps {ig[0]:.2f} → "
        f"{ig[1]:.2f} s" in text
    )
    assert f"Grad-CAM's extra {cam[1] - cam[0]:.0f} ms is the four views'" in text
    assert abs(ig[1] / ig[0] - 1) < 0.1  # "IG costs what it did"
    assert f"four times ({times} the time per answer" in flat(RESULTS)
    assert f"an answer takes {times} as long as one view's, {answer[1]:.0f} ms" in flat(README)


def _views_quoted(run: dict) -> None:
    """The single view reproduces both folds' proxies, and RESULTS quotes every candidate."""
    both = run["both_folds"]
    assert run["rule"] == {"changed_at_least": 0.88, "clean_behind_at_most": 0.005}
    for fold, row in run["folds"].items():
        assert row["single"]["mean_changed"] == pytest.approx(
            PROXIES[fold.replace("@", "-up256@")]["proxies"]["mean_changed"]["top1"]
        )
    changed, clean = (
        [f"{both[c][key]:.1%}" for c in ("single", "mirror", "sizes", "both")]
        for key in ("mean_changed", "clean")
    )
    assert (
        f"the mean of the eight changed versions is {changed[0]} with one view, {changed[1]} "
        f"with the mirror image, {changed[2]} with both sizes and {changed[3]} with all four "
        f"views (clean photos {clean[0]}, {clean[1]}, {clean[2]} and {clean[3]})" in flat(RESULTS)
    )


def test_the_first_views_study_is_quoted_from_its_run_and_fails_its_rule():
    """Averaging the answers of a photo's views, over both folds of the recipe shipped then."""
    run = result("views-soup3-alllong.json")
    assert run["passing"] == [] and run["chosen"] is None
    assert all(both["mean_changed"] < 0.88 for both in run["both_folds"].values())
    _views_quoted(run)


def test_the_views_study_of_the_shipped_recipe_chooses_four_views():
    """Rule (165): with the nine-run recipe only the four views reach 88% over both folds."""
    run = result("views-soup9-grain-tiles.json")
    both = run["both_folds"]
    assert run["recipe"] == "soup9-grain-tiles"
    assert run["passing"] == ["both"] and run["chosen"] == "both"
    assert both["both"]["mean_changed"] >= 0.88 > both["mirror"]["mean_changed"]
    behind = both["single"]["clean"] - both["both"]["clean"]
    assert 0 < behind <= 0.005
    assert (
        f"{both['both']['mean_changed']:.2%} before rounding, clean photos "
        f"{behind * 100:.2f} points behind one view" in flat(RESULTS)
    )
    _views_quoted(run)


def test_the_views_built_into_the_folds_pass_rule_165_again():
    """Rules (166-168): the folds answering four views in one model, against one view."""
    views, single = (
        [proxies(f"{key}-{recipe}@{split}") for key, split in FOLDS]
        for recipe in ("soup9-views", "soup9-grain-tiles-up256")
    )
    changed = [v["mean_changed"]["top1"] for v in views]
    clean, was = (float(np.mean([v["clean"]["top1"] for v in r])) for r in (views, single))
    assert np.mean(changed) >= 0.88 and 0 < was - clean <= 0.005
    for name in ("fold-soup9-views", "swap-soup9-views"):
        assert run_record(name)["views"] == {"sizes": [256, 288], "mirror": True}
    assert (
        f"the mean of the eight changed versions is {np.mean(changed):.2%} ({changed[0]:.1%} on "
        f"the first fold, {changed[1]:.1%} on the second) and clean photos {clean:.1%}, "
        f"{(was - clean) * 100:.2f} points behind one view (at most 0.5)" in flat(RESULTS)
    )


def test_the_watermarks_are_quoted_from_both_folds_runs():
    """What a date stamp and a watermark across the photo cost each fold of the shipped recipe."""
    first, second = (result(f)["top1"] for f in ("watermarks.json", "watermarks-second-fold.json"))
    assert result("watermarks.json")["fold"] == calibration_fold()
    assert result("watermarks-second-fold.json")["split"] == "train"
    text = flat(RESULTS)
    assert (
        f"first fold recognises {first['clean']:.1%} of the validation photos as they are, "
        f"{first['corner']:.1%} with a corner stamp and {first['across']:.1%} with the watermark "
        f"across; the second fold, on the training photos, {second['clean']:.1%}, "
        f"{second['corner']:.1%} and {second['across']:.1%}" in text
    )
    cost = [100 * (f["clean"] - f["across"]) for f in (first, second)]
    smaller = [
        100 * (PROXIES[k]["proxies"]["clean"]["top1"] - PROXIES[k]["proxies"]["low_res"]["top1"])
        for k in (f"{calibration_fold()}@val", f"{swap(calibration_fold())}@train")
    ]
    assert all(c > s for c, s in zip(cost, smaller, strict=True))  # "more than a smaller photo"
    assert (
        f"a watermark across the flower {cost[0]:.1f} and {cost[1]:.1f} points, more than a "
        f"smaller photo costs the same folds ({smaller[0]:.1f} and {smaller[1]:.1f} points)" in text
    )
    # the clean photos agree with the proxies of the same folds
    assert first["clean"] == PROXIES[f"{calibration_fold()}@val"]["proxies"]["clean"]["top1"]
    for fold, run in (
        ("fold-soup9-grain-tiles-up256", BEFORE),
        ("fold-soup6-alllong-tiles-up256", SOUP6),
        ("fold-soup3-alllong-up256", "soup3-alllong-up256-final"),
    ):
        figures = kept_figures("watermarks", run, ("clean", "corner", "across"))
        assert f"`{fold}`: {figures} (`watermarks-{run}.json`)" in text, run
    was = result(f"watermarks-{BEFORE}.json")["top1"]
    assert (
        f"a watermark across costing it {100 * (was['clean'] - was['across']):.1f} points" in text
    )
    gain = 100 * (first["corner"] - first["clean"])
    assert max(f["clean"] - f["corner"] for f in (first, second)) <= 0  # "A stamp costs nothing"
    photos = round(gain / 100 * result("watermarks.json")["n"])
    words = {7: "seven"}[photos]
    assert (
        f"A stamp costs nothing (the first fold even gains {gain:.1f} points, {words} photos)"
        in text
    )


def tiles_members_and_rows(fold: str, scored_on: str) -> None:
    """A fold's several-flowers runs: the shipped members' recipes with --tiles 0.2 and nothing
    else changed, each row quoting its record, and their average of exactly them."""
    members = [
        f"{fold}-grey-zoom-erase-flat-long-tiles",
        f"{fold}-grey-zoom5-erase-flat-long-tiles",
        f"{fold}-grey-zoom5-erase-big-flat-long-tiles",
    ]
    for member in members:
        record, before = (run_record(m)["config"] for m in (member, member.removesuffix("-tiles")))
        assert record["augment_overrides"].pop("tiles") == 0.2
        assert record["augment_overrides"] == before["augment_overrides"], member
        assert record["train_on"] == before["train_on"], member
        row, seconds = table_line(f"`{member}`"), run_record(member)["seconds"]
        assert row[1] == f"{run_record(member)['val']['top1']:.1%}{scored_on}", member
        assert row[4].startswith(f"{round(seconds / 60)} min"), member
    assert run_record(f"{fold}-soup3-alllong-tiles-up256")["members"] == members


def test_several_flowers_on_the_first_fold_are_quoted_from_their_runs_and_pass_the_rule():
    """Rules (135-138): the shipped recipe's runs with --tiles 0.2, averaged as shipped."""
    tiles_members_and_rows("fold", "")
    run, base = (
        proxies(f"{m}@val") for m in ("fold-soup3-alllong-tiles-up256", "fold-soup3-alllong-up256")
    )
    others = [k for k in run if k not in ("clean", "several", "mean_changed")]
    other, other_base = (np.mean([p[k]["top1"] for k in others]) for p in (run, base))
    gain = ahead(run, base)
    assert gain >= 0.5 and other > other_base and -ahead(run, base, "clean") <= 0.5  # it passes
    text = flat(RESULTS)

    def moved(key: str) -> str:
        return f"{abs(100 * (run[key]['top1'] - base[key]['top1'])):.1f}"

    assert (
        f"the mean of the eight changed versions is {run['mean_changed']['top1']:.1%} "
        f"(+{gain:.1f}), of the seven other than four flowers in a grid (what it trains on) "
        f"{other:.1%} (+{100 * (other - other_base):.1f}), and clean photos "
        f"{run['clean']['top1']:.1%} (+{moved('clean')})" in text
    )
    assert (
        f"Four flowers in a grid gain {moved('several')} points ({run['several']['top1']:.1%}), "
        f"zoomed-out photos {moved('wide')} ({run['wide']['top1']:.1%}) and smaller ones "
        f"{moved('low_res')} ({run['low_res']['top1']:.1%}); JPEG loses {moved('jpeg')} "
        f"({run['jpeg']['top1']:.1%}), grey photos {moved('grayscale')} "
        f"({run['grayscale']['top1']:.1%}) and covered ones {moved('occluded')} "
        f"({run['occluded']['top1']:.1%})" in text
    )


def test_several_flowers_on_the_second_fold_are_quoted_and_fail_the_rule():
    """Rules (139-142): the second fold of the several-flowers runs, and both folds together."""
    tiles_members_and_rows("swap", " (on train)")
    run, base = (
        proxies(f"{m}@train")
        for m in ("swap-soup3-alllong-tiles-up256", "swap-soup3-alllong-up256")
    )
    first, first_base = (
        proxies(f"{m}@val") for m in ("fold-soup3-alllong-tiles-up256", "fold-soup3-alllong-up256")
    )
    others = [k for k in run if k not in ("clean", "several", "mean_changed")]
    other, other_base = (np.mean([p[k]["top1"] for k in others]) for p in (run, base))

    def moved(key: str) -> str:
        return f"{abs(100 * (run[key]['top1'] - base[key]['top1'])):.1f}"

    both, both_base = (
        (a["mean_changed"]["top1"] + b["mean_changed"]["top1"]) / 2
        for a, b in ((run, first), (base, first_base))
    )
    assert 100 * (both - both_base) < 0.5  # so no refit
    text = flat(RESULTS)
    assert (
        f"the changed versions' mean is {run['mean_changed']['top1']:.1%} "
        f"(−{moved('mean_changed')}), the seven other than the grid "
        f"−{100 * (other_base - other):.1f}, clean photos −{moved('clean')}; grids still gain "
        f"{moved('several')} points, but JPEG loses {moved('jpeg')} and grey photos "
        f"{moved('grayscale')}. Over both folds the mean of the changed versions is {both:.1%} "
        f"against {both_base:.1%} (+{100 * (both - both_base):.1f}, the rule asks for 0.5)" in text
    )
    assert run["mean_changed"]["top1"] < base["mean_changed"]["top1"] and other < other_base


def test_the_six_run_average_is_quoted_from_both_folds_and_passes_its_rule():
    """Rules (147-149): the grid-trained runs and the shipped recipe's averaged, six runs."""
    shipped = ["grey-zoom-erase-flat-long", "grey-zoom5-erase-flat-long"]
    shipped.append("grey-zoom5-erase-big-flat-long")
    folds = {"fold": "val", "swap": "train"}
    for fold in folds:
        members = [f"{fold}-{m}" for m in shipped]
        record = run_record(f"{fold}-soup6-alllong-tiles-up256")
        assert record["members"] == members + [f"{m}-tiles" for m in members]
        assert record["backbone_size"] == 256
    new, old = (
        {f: proxies(f"{f}-{m}@{split}") for f, split in folds.items()}
        for m in ("soup6-alllong-tiles-up256", "soup3-alllong-up256")
    )
    conditions = {
        name: np.mean([overall_mean(f"{f}-{m}@{split}") for f, split in folds.items()])
        for name, m in (("new", "soup6-alllong-tiles-up256"), ("old", "soup3-alllong-up256"))
    }
    gain, clean = (
        np.mean([ahead(new[f], old[f], key) for f in folds]) for key in ("mean_changed", "clean")
    )
    behind = conditions["old"] - conditions["new"]
    assert gain >= 0.5 and clean >= -0.5 and behind <= 0.5  # all three tests of the rule pass
    first, second = new["fold"], new["swap"]

    def moved(f: str, key: str) -> str:
        return f"{abs(ahead(new[f], old[f], key)):.1f}"

    text = flat(RESULTS)
    assert (
        f"the mean of the eight changed versions is {100 * first['mean_changed']['top1']:.2f}% "
        f"(+{ahead(first, old['fold']):.2f}, a hair short of the issue's 88), clean photos "
        f"{first['clean']['top1']:.1%} (+{ahead(first, old['fold'], 'clean'):.2f}); four flowers "
        f"in a grid gain {moved('fold', 'several')} points ({first['several']['top1']:.1%}), "
        f"zoomed-out photos {moved('fold', 'wide')} ({first['wide']['top1']:.1%}) and smaller "
        f"ones {moved('fold', 'low_res')} ({first['low_res']['top1']:.1%}); JPEG loses "
        f"{moved('fold', 'jpeg')} ({first['jpeg']['top1']:.1%}) and covered photos "
        f"{moved('fold', 'occluded')} ({first['occluded']['top1']:.1%})" in text
    )
    assert first["mean_changed"]["top1"] < 0.88  # so "a hair short"
    assert (
        f"the changed versions' mean {second['mean_changed']['top1']:.1%} "
        f"(+{ahead(second, old['swap']):.2f}), clean photos {second['clean']['top1']:.1%} "
        f"(−{-ahead(second, old['swap'], 'clean'):.2f}); grids gain {moved('swap', 'several')} "
        f"points, grey photos lose {moved('swap', 'grayscale')} and JPEG {moved('swap', 'jpeg')}"
        in text
    )
    both, both_old = (np.mean([p[f]["mean_changed"]["top1"] for f in folds]) for p in (new, old))
    assert (
        f"Over both folds the mean of the changed versions is {both:.1%} against "
        f"{both_old:.1%} (+{gain:.2f}, the rule asks for 0.5), clean photos +{clean:.2f} (at "
        f"most 0.5 behind), and over the 33 conditions (`accuracy_runs.sh robustness-folds`) "
        f"{conditions['new']:.1f}% against {conditions['old']:.1f}% (+{-behind:.2f}; at most "
        "0.5 behind)" in text
    )


def test_the_six_run_refits_are_quoted_from_their_records():
    """Rules (143-145, 149): the grid-trained refits and their average with the model shipped
    before it, shipped until the grainy refits joined them."""
    final = run_record(SOUP6)
    shipped = run_record("soup3-alllong-up256-final")["members"]
    tiles = [m.replace("-final", "-tiles-final") for m in shipped]
    assert final["members"] == shipped + tiles and final["backbone_size"] == 256
    for member in tiles:
        own, twin = run_record(member), run_record(member.replace("-tiles", ""))
        assert own["config"]["augment_overrides"].pop("tiles") == 0.2
        assert own["config"]["augment_overrides"] == twin["config"]["augment_overrides"]
        assert own["config"]["train_on"] == "train+val"
        assert table_line(f"`{member}`")[2:4] == [
            f"{own['test']['top1']:.1%}",
            f"{own['test']['top5']:.1%}",
        ]
    test, was = final["test"], run_record("soup3-alllong-up256-final")["test"]
    assert (
        f"choice: {test['top1']:.1%} top-1 and {test['top5']:.1%} top-5 on all 6,149 test "
        f"photos, against {was['top1']:.1%} and {was['top5']:.1%} for "
        "`soup3-alllong-up256-final`;" in flat(RESULTS)
    )


# the three shipped recipes the grainy runs change, by the name of their runs
GRAINY_RECIPES = ("grey-zoom-erase", "grey-zoom5-erase", "grey-zoom5-erase-big")


def test_the_grainy_refits_are_quoted_from_their_records():
    """Rules (159-162): the grainy recipes refit on train + val and their average with the model
    shipped then, shipped until the views were built in."""
    final = run_record(BEFORE)
    before = run_record(SOUP6)["members"]
    grainy = [f"{r}-flat-long-grain-final" for r in GRAINY_RECIPES]
    assert final["members"] == before + grainy and final["backbone_size"] == 256
    for member in grainy:
        own, twin = run_record(member), run_record(member.replace("-grain", ""))
        overrides = own["config"]["augment_overrides"]
        assert (overrides.pop("blur"), overrides.pop("noise")) == (0.2, 0.2)
        assert overrides == twin["config"]["augment_overrides"]
        assert own["config"]["train_on"] == "train+val"
        assert own["config"]["fine_tune_epochs"] == twin["config"]["fine_tune_epochs"] == 36
        test = own["test"]
        assert table_line(f"`{member}`")[2:4] == [f"{test['top1']:.1%}", f"{test['top5']:.1%}"]
    shipped = run_record(SHIPPED_RUN)  # rule (168): the same nine answering four views
    assert shipped["members"] == final["members"]
    assert shipped["views"] == {"sizes": [256, 288], "mirror": True}
    for new, old in ((final, run_record(SOUP6)), (shipped, final)):
        test, was = new["test"], old["test"]
        assert (
            f"choice: {test['top1']:.1%} top-1 and {test['top5']:.1%} top-5 on all 6,149 test "
            f"photos ({test['top1']:.2%} and {test['top5']:.2%}), against {was['top1']:.1%} and "
            f"{was['top5']:.1%} for `{old['name']}` ({was['top1']:.2%} and {was['top5']:.2%})"
            in flat(RESULTS)
        ), new["name"]


def test_the_grain_screen_is_quoted_from_its_runs_and_passes_its_rule():
    """Rule (150): one shipped recipe trained on blurred and grainy photos, against its twin."""
    run, twin = "fold-grey-zoom5-erase-flat-long-grain", "fold-grey-zoom5-erase-flat-long"
    record, before = (run_record(r)["config"] for r in (run, twin))
    overrides = record["augment_overrides"]
    assert (overrides.pop("blur"), overrides.pop("noise")) == (0.2, 0.2)
    assert overrides == before["augment_overrides"] and record["train_on"] == "train"
    row, own = table_line(f"`{run}`"), run_record(run)
    assert row[1] == f"{own['val']['top1']:.1%}" and row[4].startswith(
        f"{round(own['seconds'] / 60)} min"
    )
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("**Blurred and grainy photos: a screen passes**") :]
    shipped = "soup6-alllong-tiles-up256-final"
    lost = [100 * robustness(shipped)["clean"] - mean_of(shipped, c) for c in ("noise", "blur")]
    assert f"loses {lost[0]:.1f} points to pixel noise and {lost[1]:.1f} to blur" in text
    new, old = (f"{r}@val" for r in (run, twin))
    a, b = overall_mean(new), overall_mean(old)
    assert a - b >= 1.0  # the rule's first test
    assert f"conditions {a:.1f}% against {b:.1f}% ({points(a, b)};" in text
    for words, key in (
        ("noise", "noise"),
        ("blur", "blur"),
        ("JPEG", "jpeg"),
        ("darkening", "brightness"),
        ("contrast", "contrast"),
    ):
        assert f"{words} {mean_of(new, key):.1f}% against {mean_of(old, key):.1f}%" in text, key
    grain, was = proxies(new), proxies(old)
    assert ahead(grain, was) >= -0.3 and ahead(grain, was, "clean") >= -0.5  # the rule's others
    assert quote("the mean of the changed versions", grain, was, "mean_changed") + ")" in text
    assert quote("clean photos", grain, was, "clean") + ")" in text


def grainy_runs(fold: str) -> tuple[list[str], list[str], list[str]]:
    """A fold's three grainy runs (their table rows checked), their twins and grid-trained runs."""
    grainy = [f"{fold}-{r}-flat-long-grain" for r in GRAINY_RECIPES]
    on = "" if fold == "fold" else " (on train)"
    for member in grainy:
        row, own = table_line(f"`{member}`"), run_record(member)
        assert row[1] == f"{own['val']['top1']:.1%}{on}", member
    twins = [m.removesuffix("-grain") for m in grainy]
    return grainy, twins, [m.replace("-grain", "-tiles") for m in grainy]


def test_the_grainy_averages_are_quoted_from_their_runs_and_judged_by_their_rule():
    """Rules (151-154): the other two grainy runs, and their averages with the grid-trained runs
    in place of their twins (six) or beside them (nine), against the shipped recipe's fold."""
    grainy, twins, tiles = grainy_runs("fold")
    assert run_record("fold-soup6-grain-tiles-up256")["members"] == grainy + tiles
    assert run_record("fold-soup9-grain-tiles-up256")["members"] == twins + grainy + tiles
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("It passes, so the other two recipes are trained the same way") :]
    base = "fold-soup6-alllong-tiles-up256@val"
    was, rob = proxies(base), overall_mean(base)
    passing = {}
    for name in ("fold-soup6-grain-tiles-up256@val", "fold-soup9-grain-tiles-up256@val"):
        now = proxies(name)
        passing[name] = (
            overall_mean(name) - rob >= 1.0
            and ahead(now, was) >= -0.3
            and ahead(now, was, "clean") >= -0.5
        )
        assert (
            f"{100 * now['clean']['top1']:.1f}% ({points(100 * now['clean']['top1'], 100 * was['clean']['top1'])})"
            in text
        )
    assert all(passing.values())  # "Both pass"
    six, nine = (proxies(n) for n in passing)
    assert ahead(nine, six) > 0  # "the one further ahead on the changed versions, the nine-run"
    assert f"by {ahead(nine, six):.2f} points" in text
    six_rob, nine_rob = (overall_mean(n) for n in passing)
    assert f"{six_rob:.1f}% ({points(six_rob, rob)};" in text
    assert f"and {nine_rob:.1f}% ({points(nine_rob, rob)})" in text
    changed = [100 * p["mean_changed"]["top1"] for p in (six, nine, was)]
    assert f"versions {changed[0]:.2f}% and {changed[1]:.2f}% against {changed[2]:.2f}%" in text
    for words, key in (("noise", "noise"), ("blur", "blur")):
        new, old = (mean_of(n, key) for n in ("fold-soup6-grain-tiles-up256@val", base))
        assert f"{words} {new:.1f}% against {old:.1f}%" in text, key
    assert (
        f"recognises {100 * nine['occluded']['top1']:.1f}% of covered photos on this fold" in text
    )


def test_the_grainy_second_fold_is_quoted_from_its_runs_and_judged_by_the_refit_rule():
    """Rules (155-162): the nine-run grainy average's second fold, and the refit rule that reads
    both folds averaged against the shipped recipe's two folds."""
    grainy, twins, tiles = grainy_runs("swap")
    assert run_record("swap-soup9-grain-tiles-up256")["members"] == twins + grainy + tiles
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index("Its second fold, `swap-soup9-grain-tiles-up256`") :]
    new, base = "swap-soup9-grain-tiles-up256@train", "swap-soup6-alllong-tiles-up256@train"
    now, was = proxies(new), proxies(base)
    rob, rob_was = overall_mean(new), overall_mean(base)
    assert f"conditions {rob:.1f}% ({points(rob, rob_was)};" in text
    for words, key in (("noise", "noise"), ("blur", "blur")):
        assert f"{words} {mean_of(new, key):.1f}% against {mean_of(base, key):.1f}%" in text, key
    changed = [100 * p["mean_changed"]["top1"] for p in (now, was)]
    assert f"versions {changed[0]:.2f}% against {changed[1]:.2f}% (−{-ahead(now, was):.2f})" in text
    clean = 100 * now["clean"]["top1"]
    assert f"clean photos {clean:.1f}% ({points(clean, 100 * was['clean']['top1'])})" in text
    covered = [100 * p["occluded"]["top1"] for p in (now, was)]
    assert f"covered photos {covered[0]:.1f}% against {covered[1]:.1f}%" in text
    folds = (
        ("fold-soup9-grain-tiles-up256@val", "fold-soup6-alllong-tiles-up256@val"),
        (new, base),
    )
    conditions = np.mean([overall_mean(n) - overall_mean(b) for n, b in folds])
    changed_gap = np.mean([ahead(proxies(n), proxies(b)) for n, b in folds])
    clean_gap = np.mean([ahead(proxies(n), proxies(b), "clean") for n, b in folds])
    assert f"+{conditions:.2f} points over the 33 conditions" in text
    assert f"−{-changed_gap:.2f} on the changed versions" in text
    assert f"+{clean_gap:.2f} on clean photos" in text
    assert conditions >= 1.0 and changed_gap >= -0.3 and clean_gap >= -0.5  # "It passes"


def screen(run: str, twin: str, bullet: str, quoted: dict[str, str]) -> tuple[dict, dict, str]:
    """A one-run screen against its twin on the validation photos: its table row quotes its
    record, it trained on the training photos only, and its RESULTS bullet (from ``bullet``)
    quotes each proxy of ``quoted`` ("words 85.5% (+2.2)"). Returns both runs' proxies and the
    bullet's text."""
    row, own = table_line(f"`{run}`"), run_record(run)
    assert own["config"]["train_on"] == "train"
    assert row[1] == f"{own['val']['top1']:.1%}" and row[4].startswith(
        f"{round(own['seconds'] / 60)} min"
    )
    text = flat(section("## Photos unlike the benchmark's"))
    text = text[text.index(bullet) :]
    new, was = (proxies(f"{r}@val") for r in (run, twin))
    for key, words in quoted.items():
        assert quote(words, new, was, key) + ")" in text, key
    return new, was, text


def test_the_grey_screen_is_quoted_from_its_run_and_fails_its_rule():
    """Rule (163): the grainy recipe with two fifths of its photos grey, against its twin."""
    run, twin = (
        "fold-grey-zoom5-erase-flat-long-grain-grey4",
        "fold-grey-zoom5-erase-flat-long-grain",
    )
    record, before = (run_record(r)["config"]["augment_overrides"] for r in (run, twin))
    assert record.pop("grayscale") == 0.4 and before.pop("grayscale") == 0.2 and record == before
    quoted = {"grayscale": "grey photos", "desaturated": "half the colour"}
    quoted |= {"wide": "zoomed-out photos", "several": "four flowers in a grid"}
    quoted |= {"occluded": "covered ones", "mean_changed": "the mean of the changed versions"}
    grey, was, _text = screen(
        run, twin, "**More grey photos: a screen fails**", quoted | {"clean": "clean photos"}
    )
    # "it gives" the grey point, "does not" give the changed versions' 0.3: the rule fails
    assert ahead(grey, was, "grayscale") >= 1.0 and ahead(grey, was) < 0.3
    assert ahead(grey, was, "clean") >= -0.5


def test_the_grainy_grid_screen_is_quoted_from_its_run_and_falls_short_of_its_rule():
    """Rule (164): the grainy recipe also trained on grids, against its grainy twin."""
    run, twin = (
        "fold-grey-zoom5-erase-flat-long-grain-tiles",
        "fold-grey-zoom5-erase-flat-long-grain",
    )
    record, before = (run_record(r)["config"]["augment_overrides"] for r in (run, twin))
    assert record.pop("tiles") == 0.2 and record == before
    quoted = {"several": "four flowers in a grid", "wide": "zoomed-out photos"}
    quoted |= {"occluded": "covered ones", "grayscale": "grey photos"}
    quoted |= {"colour_cast": "colour casts", "clean": "clean photos"}
    bullet = "**Grids for a grainy run: a screen falls just short**"
    grids, was, text = screen(run, twin, bullet, quoted)
    gain = ahead(grids, was)
    assert quote("the mean of the changed versions", grids, was, "mean_changed") in text
    assert f"{gain:.2f} points before rounding, short of the rule's 0.5" in text
    new, old = (f"{r}@val" for r in (run, twin))
    a, b = overall_mean(new), overall_mean(old)
    assert f"over the 33 conditions {a:.1f}% against {b:.1f}%" in text
    # the rule: the changed versions' 0.5 fails; clean and the 33 conditions would have passed
    assert gain < 0.5 and ahead(grids, was, "clean") >= -0.5 and a - b >= -0.5
