"""The benchmark suite's plumbing in --quick mode on the tiny backbone (no timing asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import save_tiny_checkpoint

from benchmarks import report
from benchmarks.__main__ import main
from benchmarks.stats import rate, summarize

QUICK = "pipeline,training,cached_features,gradcam,ig,ig_rewrites,naive,onednn,load"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, data_dir: Path) -> tuple[dict, Path]:
    """One quick run of most benchmarks into a temporary results folder and doc."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    out = tmp_path_factory.mktemp("bench")
    doc = out / "PERFORMANCE.md"
    doc.write_text("# Perf\n\nHand-written analysis stays.\n")
    try:
        code = main(["--quick", "--only", QUICK, "--results-dir", str(out), "--doc", str(doc)])
    finally:
        mp.undo()
    assert code == 0
    files = list(out.glob("*-quick.json"))
    assert len(files) == 1
    return json.loads(files[0].read_text()), doc


def test_result_file_records_machine_and_every_benchmark(quick_run):
    data, _doc = quick_run
    machine = data["machine"]
    assert machine["slug"].startswith(("cpu-", "gpu-")) and machine["cores"] >= 1
    assert {"tensorflow", "keras", "numpy", "python", "date", "cpu"} <= set(machine)
    assert data["quick"] is True and data["backbones"] == ["tiny"]
    for name in QUICK.split(","):
        assert "error" not in data[name], data[name]


def test_onednn_is_compared_off_and_on_in_separate_processes(quick_run):
    data, doc = quick_run
    tiny = data["onednn"]["tiny"]
    assert (tiny["off"]["onednn"], tiny["on"]["onednn"]) == ("0", "1")
    for side in ("off", "on"):
        for key in ("inference_b64", "fine_tune_step_b32", "gradcam", "ig_32_steps"):
            assert tiny[side][key]["median"] > 0
    assert "oneDNN CPU kernels off" in doc.read_text()


def test_measurements_are_medians_over_warm_repeats(quick_run):
    data, _doc = quick_run
    frozen = data["training"]["tiny"]["frozen"]
    stat = frozen["seconds_per_batch"]
    assert stat["n"] == 2 and stat["min"] <= stat["median"] <= stat["max"]
    assert frozen["images_per_sec"]["median"] == pytest.approx(8 / stat["median"])
    assert frozen["epoch_seconds_est"]["median"] == pytest.approx(stat["median"] * 1020 / 8)
    assert data["gradcam"]["tiny"]["target_given"]["n"] == 3
    # Compiled once per explainer: repeated calls never retrace.
    assert data["gradcam"]["tiny"]["traces"] <= 2
    ig = data["ig"]["tiny"]
    for key in ("gauss_legendre/4", "gauss_legendre/8", "trapezoid/4", "trapezoid/8"):
        assert len(ig[key]["gaps"]) == 2 and all(g >= 0 for g in ig[key]["gaps"])
    assert data["naive"]["tiny"]["gradcam_speedup"] > 0
    cached = data["cached_features"]["tiny"]
    assert cached["val_pass_on_features_seconds"]["n"] == 3
    assert (
        cached["extraction_eager_seconds_per_batch"]["n"]
        == cached["extraction_seconds_per_batch"]["n"]
    )


def test_frozen_epoch_counts_validation_the_way_the_engine_runs_it():
    res = {
        "training": {"b": {"frozen": {"epoch_seconds_est": summarize([20.0])}}},
        "evaluation": {"b": {"seconds_per_image": summarize([0.02])}},
        "cached_features": {"b": {"val_pass_on_features_seconds": summarize([0.5])}},
    }
    assert report.frozen_epoch_with_backbone_val(res, "b") == pytest.approx(20.0 + 1020 * 0.02)
    assert report.frozen_epoch_with_val(res, "b") == pytest.approx(20.5)
    del res["cached_features"]  # results from before the change: val through the backbone
    assert report.frozen_epoch_with_val(res, "b") == pytest.approx(40.4)


def test_load_levels_report_latency_errors_and_checked_results(quick_run):
    data, doc = quick_run
    load = data["load"]
    assert load["photos"] == 4 and load["ig_steps"] == 4
    assert list(load["levels"]) == ["1", "2", "4"]
    for level in load["levels"].values():
        assert level["requests"] == 4 and level["errors"] == 0 and level["not_run"] == 0
        assert 0 < level["p50_seconds"] <= level["p95_seconds"] <= level["max_seconds"]
    for level in ("2", "4"):  # every concurrent result equals the single-user one
        assert load["levels"][level]["checked"] == 4 and load["levels"][level]["wrong_results"] == 0
    assert "| users | requests | errors | wrong results |" in doc.read_text()


def test_load_script_smoke_mode(data_dir, tmp_path, monkeypatch, capsys):
    from benchmarks.load import main as load_main

    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    out = tmp_path / "load.json"
    assert load_main(["--smoke", "--users", "1,3", "--images", "3", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| 1 | 3 | 0 | reference |" in printed and "| 3 | 3 | 0 | 0 of 3 |" in printed
    result = json.loads(out.read_text())
    assert result["levels"]["3"]["wrong_results"] == 0 and result["levels"]["3"]["errors"] == 0


def test_load_counts_errors_and_wrong_results():
    from benchmarks.load import run_level

    def flaky(i: int) -> int:
        if i == 2:
            raise RuntimeError("out of memory")
        return i

    stats, results = run_level(flaky, 5, 3, max_seconds=60)
    assert (
        stats["errors"] == 1
        and "photo 2: RuntimeError: out of memory" in stats["error_messages"][0]
    )
    assert results == {0: 0, 1: 1, 3: 3, 4: 4} and stats["requests"] == 5
    stats, _ = run_level(flaky, 5, 2, max_seconds=0)  # past the deadline: nothing is started
    assert stats["not_run"] == 5 and stats["requests"] == 0 and stats["p50_seconds"] is None


def test_doc_gets_tables_and_keeps_prose(quick_run):
    _data, doc = quick_run
    text = doc.read_text()
    assert text.startswith("# Perf\n\nHand-written analysis stays.")
    assert report.BEGIN in text and report.END in text
    assert "QUICK (tiny backbone" in text and "| input pipeline alone, augmented" in text
    assert "with every gradient rewrite" in text and "| tiny | 4 |" in text
    # Regenerating replaces the block instead of appending a second one.
    report.update_doc(doc, doc.parent)
    assert doc.read_text().count(report.BEGIN) == 1


def test_targets_are_marked_met_or_not_met(tmp_path):
    res = {
        "machine": {"slug": "cpu-2core-test"},
        "backbones": ["mobilenetv2"],
        "gradcam": {"mobilenetv2": {"target_given": summarize([0.03, 0.031])}},
        "ig": {"mobilenetv2": {"gauss_legendre/64": {"seconds": summarize([1.5])}}},
    }
    (tmp_path / "m.json").write_text(json.dumps(res))
    text = report.render(tmp_path)
    assert "| GradCAM per image (warm) | ≤ 40 ms | 30.50 ms | **met** |" in text
    assert "| IG gauss_legendre 64 steps per image | ≤ 1 s | 1.50 s | **not met** |" in text


def test_result_files_of_other_studies_get_no_machine_section(tmp_path):
    machine = {"slug": "cpu-2core-test"}
    (tmp_path / "m.json").write_text(json.dumps({"machine": machine, "backbones": []}))
    (tmp_path / "explanation-study.json").write_text(json.dumps({"checkpoint": "x"}))
    (tmp_path / "ensemble-timing.json").write_text(json.dumps({"machine": machine, "runs": []}))
    text = report.render(tmp_path)
    assert "### cpu-2core-test" in text and text.count("### ") == 1


def test_stats_helpers():
    s = summarize([3.0, 1.0, 2.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)
    r = rate(s, 10)
    assert r["median"] == 5.0 and r["min"] == pytest.approx(10 / 3) and r["max"] == 10.0


def test_ig_memory_probe_prints_one_json_line(capsys):
    from benchmarks.ig_memory import main as probe

    probe(["--backbone", "tiny", "--size", "64", "--steps", "8", "--mode", "chunked"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    out = json.loads(line)
    # Linux syncs each thread's RSS counter into the process's lazily, so VmHWM read twice can
    # come out a few hundred KiB lower; the tiny model's true delta is about zero.
    assert out["steps"] == 8 and out["peak_delta_mib"] > -1.0
    assert out["hwm_after_mib"] > 0 and out["seconds_cold"] > 0


def _fake_run(folder: Path, train_on: str, fine_val: list[float]) -> Path:
    """A checkpoint folder with only what fold_summary reads (metadata and a model file)."""
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"")
    history = [{"stage": "head", "val_accuracy": 0.1}] + [
        {"stage": "fine_tune", "val_accuracy": v} for v in fine_val
    ]
    meta = {"class_names": [str(i) for i in range(102)], "config": {"train_on": train_on},
            "history": history}  # fmt: skip
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def test_fold_summary_averages_last_epochs_and_folds(tmp_path, capsys):
    from benchmarks import fold_summary

    a = _fake_run(tmp_path / "a", "train", [0.5] * 4 + [0.8, 0.9, 0.9, 0.9, 0.9, 0.9])
    b = _fake_run(tmp_path / "b", "val", [0.7] * 10)
    assert fold_scores_close(fold_summary.fold_scores(a), "train", 0.9, (0.8 + 5 * 0.9) / 6)
    fold_summary.main([f"base={a},{b}"])
    rows = capsys.readouterr().out.splitlines()
    assert rows[2] == f"| base | `a` | train | 90.0% | {(0.8 + 5 * 0.9) / 6:.2%} |"
    assert rows[3] == "| base | `b` | val | 70.0% | 70.00% |"
    assert (
        rows[4]
        == f"| **base** | mean of 2 folds | | 80.00% | {((0.8 + 5 * 0.9) / 6 + 0.7) / 2:.2%} |"
    )
    with pytest.raises(SystemExit) as usage:  # no recipes: the usage line, not a traceback
        fold_summary.main([])
    assert usage.value.code == 2 and "RECIPE=RUN[,RUN]" in capsys.readouterr().err


def fold_scores_close(scores: dict, trained_on: str, final: float, last: float) -> bool:
    return (
        scores["trained_on"] == trained_on
        and scores["final"] == pytest.approx(final)
        and scores["last"] == pytest.approx(last)
    )


def test_ensemble_scores_average_probabilities():
    import numpy as np

    from benchmarks.ensemble import ensemble_scores

    labels = np.array([0, 1, 2])
    a = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.0, 0.0, 1.0]])
    b = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    assert ensemble_scores([a], labels)["top1"] == pytest.approx(2 / 3)
    assert ensemble_scores([b], labels)["top1"] == pytest.approx(1 / 3)
    # Mean: [0.3, 0.7, 0], [0.3, 0.7, 0], [0.25, 0, 0.75] -> wrong, right, right.
    assert ensemble_scores([a, b], labels) == {"top1": pytest.approx(2 / 3), "top5": 1.0}
    # Averaged log-probabilities (the logits' ranking) punish a class one model all but rules out.
    x, y = np.array([[0.98, 0.02, 0.0]]), np.array([[0.0001, 0.4999, 0.5]])
    assert ensemble_scores([x, y], np.array([1]))["top1"] == 0.0
    assert ensemble_scores([x, y], np.array([1]), average="logits")["top1"] == 1.0


def test_ensemble_benchmark_caches_probabilities_per_model_file(
    tiny_checkpoint, data_dir, tmp_path
):
    import shutil

    import numpy as np

    from benchmarks.ensemble import split_probabilities

    run = tmp_path / "run"
    shutil.copytree(tiny_checkpoint, run)
    probs, labels = split_probabilities(run, "val", limit=6, data_dir=data_dir)
    assert probs.shape == (6, 102) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert labels.shape == (6,) and len(list((run / "eval").glob("probs-val6-*.npz"))) == 1
    again, _ = split_probabilities(run, "val", limit=6, data_dir=data_dir)
    np.testing.assert_array_equal(probs, again)


def test_ensemble_timing_measures_the_answer_and_both_methods_for_each_run(
    tiny_checkpoint, data_dir, monkeypatch, tmp_path, capsys
):
    from benchmarks.ensemble import explanation_timing, main

    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    timing = explanation_timing([str(tiny_checkpoint)], 2)
    for method in ("predict", "gradcam", "ig"):
        stat = timing[str(tiny_checkpoint)][method]
        assert stat["n"] == 2 and 0 < stat["min"] <= stat["median"] <= stat["max"]
    out = tmp_path / "timing.json"
    main(["--timing", "1", "--out", str(out), str(tiny_checkpoint)])
    assert json.loads(out.read_text())["runs"][str(tiny_checkpoint)]["predict"]["n"] == 1
    assert f"| `{tiny_checkpoint.name}` |" in capsys.readouterr().out


def test_streamlit_server_serves_until_the_block_ends_and_skips_when_it_cannot_start(tmp_path):
    import os
    import urllib.request

    from benchmarks.common import Skip
    from benchmarks.server import streamlit_server

    script = tmp_path / "hello.py"
    script.write_text("import streamlit as st\nst.write('hello')\n")
    with (
        streamlit_server(os.environ, str(script)) as url,
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response,
    ):
        assert response.status == 200
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)  # stopped
    with (
        pytest.raises(Skip, match="streamlit did not start"),
        streamlit_server(os.environ, str(tmp_path / "missing.py")),
    ):
        pass


def test_a_run_record_names_what_an_ensemble_averages_and_its_members(tmp_path):
    from benchmarks.run_record import main as record_main
    from flowerdash.models.checkpoints import read_meta
    from flowerdash.models.ensemble import ensemble_checkpoint

    a = save_tiny_checkpoint(tmp_path, "a", seed=1)
    b = save_tiny_checkpoint(tmp_path, "b", seed=2)
    soup = ensemble_checkpoint([a, b], name="ab", root=tmp_path, average="weights")
    assert record_main([str(soup), "ab", "--out", str(tmp_path / "runs")]) == 0
    record = json.loads((tmp_path / "runs" / "ab.json").read_text())
    assert record["averages"] == "weights" and record["members"] == ["a", "b"]
    assert record["config"] == read_meta(soup).get("config") and "backbone_size" not in record
    assert record_main([str(a), "a", "--out", str(tmp_path / "runs")]) == 0
    assert "members" not in json.loads((tmp_path / "runs" / "a.json").read_text())
    big = ensemble_checkpoint(
        [a, b], name="ab96", root=tmp_path, average="weights", backbone_size=96
    )
    assert record_main([str(big), "ab96", "--out", str(tmp_path / "runs")]) == 0
    assert json.loads((tmp_path / "runs" / "ab96.json").read_text())["backbone_size"] == 96


def test_a_calibration_fold_of_averaged_runs_learnt_from_what_its_members_did():
    from benchmarks.calibrate import trained_on

    assert trained_on({"config": {"train_on": "train"}}) == {"train"}
    members = [{"config": {"train_on": "train"}}, {"config": {"train_on": "train+val"}}]
    assert trained_on({"config": None, "members": members}) == {"train", "train+val"}
    assert trained_on({"config": None, "members": members[:1]}) == {"train"}


def test_a_greedy_soup_keeps_the_runs_that_help_and_records_every_step(tmp_path, monkeypatch):
    from benchmarks import greedy_soup, proxies
    from flowerdash.models.checkpoints import read_meta

    runs = [save_tiny_checkpoint(tmp_path, n, seed=s) for s, n in enumerate("abcd")]
    # (clean, changed) of each soup, by its members: b helps, c costs clean photos, d adds nothing
    scores = {"a": (0.90, 0.80), "ab": (0.90, 0.82), "abc": (0.88, 0.85), "abd": (0.91, 0.82)}

    def fake_measure(checkpoint, source, split, limit):
        meta = read_meta(checkpoint)
        key = "".join(m["name"] for m in meta["members"]) if "members" in meta else meta["name"]
        clean, changed = scores[key]
        return {"proxies": {"clean": {"top1": clean}, "mean_changed": {"top1": changed}}}

    monkeypatch.setattr(proxies, "measure", fake_measure)
    monkeypatch.setattr("flowerdash.data.sources.get_source", lambda: None)
    monkeypatch.setattr(greedy_soup, "RESULTS", tmp_path)
    assert greedy_soup.main([*map(str, runs), "--name", "soup"]) == 0
    record = json.loads((tmp_path / "greedy-soup-soup.json").read_text())
    assert record["kept"] == ["a", "b"]
    assert [(s["run"], s["kept"]) for s in record["steps"]] == [
        ("a", True),
        ("b", True),
        ("c", False),  # changed versions up, but clean photos 2 points down
        ("d", False),  # clean up, changed versions level
    ]
    assert [m["name"] for m in read_meta(tmp_path / "soup")["members"]] == ["a", "b"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.suffix) == [*"abcd", "soup"]


def test_a_run_record_keeps_the_last_epochs_training_accuracy():
    from benchmarks.run_record import record

    history = [
        {"stage": "head", "accuracy": 0.5, "val_accuracy": 0.4},
        {"stage": "fine_tune", "accuracy": 0.94123, "val_accuracy": 0.8},
    ]
    assert record({"history": history}, "r")["train"] == {"top1_last_epoch": 0.9412}
    assert "train" not in record({"history": []}, "soup")  # an average trained nothing itself


def test_paired_explanations_compare_two_models_on_the_same_photos(
    tiny_checkpoint, data_dir, monkeypatch, tmp_path
):
    import numpy as np

    from benchmarks.explanation_paired import main, paired, share_away
    from flowerdash.data.sources import get_source

    assert share_away(np.array([0.1, 0.29, 0.3, 0.8])) == 0.5 and share_away(np.zeros(0)) == 0.0
    assert paired(np.array([0.5, 0.2]), np.array([0.6, 0.4])) == pytest.approx(
        {"mean": 0.15, "se": 0.05, "n": 2}
    )
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    out = tmp_path / "paired.json"
    code = main([str(tiny_checkpoint), str(tiny_checkpoint), "--every", "4", "--ig-every", "8",
                 "--split", "val", "--out", str(out)])  # fmt: skip
    assert code == 0
    r = json.loads(out.read_text())
    n_val = len(get_source(data_dir).split("val"))
    assert (r["photos"], r["ig_photos"]) == (len(range(0, n_val, 4)), len(range(0, n_val, 8)))
    before, after = r["models"]["before"], r["models"]["after"]
    # The same model twice: the same answers, maps and gaps, so every change is zero.
    assert before == after
    assert r["focus_both_right_change"]["mean"] == 0.0 and r["ig_gap_change"]["mean"] == 0.0
    n = before["focus_right"]["n"] + before["focus_wrong"]["n"]
    assert n == r["photos"] and r["both_right"] == before["focus_right"]["n"]
    means = [before[k]["mean"] for k in ("focus_right", "focus_wrong")]
    assert all(m is None or 0.0 <= m <= 1.0 for m in means) and means != [None, None]
    assert before["ig_gap"]["n"] == r["ig_photos"]


def test_the_colour_profile_benchmark_scores_three_versions_of_each_photo(
    tiny_checkpoint, data_dir, monkeypatch, tmp_path
):
    import numpy as np

    from benchmarks.colour_profile import main, versions

    photo = np.zeros((8, 8, 3), np.uint8)
    photo[:] = (220, 30, 40)
    v = versions(photo)
    assert v["srgb"] is photo
    assert np.abs(v["p3_numbers_as_srgb"].astype(int) - photo).max() > 20  # duller numbers
    assert np.abs(v["p3_file_read"].astype(int) - photo).max() <= 2  # read back as shown
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    out = tmp_path / "colour.json"
    assert main([str(tiny_checkpoint), "--limit", "5", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["photos"] == 5 and r["split"] == "val"
    assert set(r["top1"]) == {"srgb", "p3_numbers_as_srgb", "p3_file_read"}
    assert all(0.0 <= t <= 1.0 for t in r["top1"].values())


def test_the_flowerless_benchmark_scores_each_kind_of_image_for_each_model(
    tiny_checkpoint, data_dir, monkeypatch, tmp_path
):
    import numpy as np

    from benchmarks.flowerless import KINDS, images, main

    for kind in KINDS:
        batch = images(kind, 3)
        assert batch.shape == (3, 224, 224, 3) and batch.dtype == np.uint8, kind
        np.testing.assert_array_equal(batch, images(kind, 3))  # the same for every model
    assert images("noise", 2)[0].std(axis=(0, 1)).min() > 5  # grain, not a flat colour
    flat, gradient = images("flat", 1)[0], images("gradient", 1)[0]
    assert (flat == flat[0, 0]).all() and (gradient[:, 0] != gradient[:, -1]).any()
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    out = tmp_path / "flowerless.json"
    args = [str(tiny_checkpoint), "--per-kind", "4", "--flowers", "val", "--flowers-limit", "6"]
    assert main([*args, "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    (model,) = r["models"].values()
    assert r["per_kind"] == 4 and set(model["kinds"]) == set(KINDS)
    for figures in model["kinds"].values():
        assert 0 < figures["mean_top"] <= 1 and figures["sure"] in (0, 0.25, 0.5, 0.75, 1)
        assert figures["top_logit"]["median"] <= figures["top_logit"]["max"]
    assert model["sure"] == np.mean([k["sure"] for k in model["kinds"].values()])
    flowers = model["flowers"]
    assert flowers["split"] == "val" and flowers["n"] == 6
    assert flowers["top_logit"]["p1"] <= flowers["top_logit"]["p5"] <= flowers["top_logit"]["p50"]
    for figures in model["kinds"].values():
        below = figures["below_flowers"]
        assert 0 <= below["p1"] <= below["p5"] <= 1
