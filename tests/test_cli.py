"""The command line: help, bad arguments, predict/evaluate/train with one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SUNFLOWER_FRAMING, surest_square

from flowerdash.cli.main import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flowerdash", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "command",
    ["train", "evaluate", "predict", "explain", "checkpoints", "ensemble", "robustness"],
)
def test_help_for_every_command(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "usage: python -m flowerdash" in result.stdout


def test_bad_argument_is_one_clear_line():
    result = run_cli("train", "--epochs", "many")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "python -m flowerdash train: error: argument --epochs: invalid int value: 'many' (see --help)"
    ]


def test_missing_image_exits_nonzero_with_one_line_no_traceback(tiny_checkpoint, tmp_path):
    result = run_cli("predict", str(tiny_checkpoint), str(tmp_path / "nope.jpg"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr


def test_predict_json(tiny_checkpoint, flower_paths, capsys):
    assert main(["predict", str(tiny_checkpoint), str(flower_paths[0]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    probs = [t["probability"] for t in out["top"]]
    assert len(out["top"]) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0001
    assert all(isinstance(t["name"], str) for t in out["top"])


def test_predict_frames_a_small_flower_as_the_app_does(sunflower_field, capsys):
    """The shipped model on a wide field with a small sunflower: the framing flags find it."""

    def answer(*framing: str, flower: str = "sunflower") -> tuple[str, float, dict]:
        assert main(["predict", str(sunflower_field), "--json", "--top", "102", *framing]) == 0
        out = json.loads(capsys.readouterr().out)
        chance = next(t["probability"] for t in out["top"] if t["name"] == flower)
        return out["top"][0]["name"], chance, out["framing"]

    zoom, x, y = SUNFLOWER_FRAMING
    whole = answer()
    framed = answer("--zoom", str(zoom), "--x", str(x), "--y", str(y))
    assert whole[2] == {"zoom": 1.0, "x": 0.5, "y": 0.5, "found": False, "shorter_side": 800}
    assert framed[0] == "sunflower"
    assert framed[2] == {
        "zoom": zoom,
        "x": x,
        "y": y,
        "found": False,
        "shorter_side": round(800 / zoom),  # the square's side in the 1200x800 field
    }
    assert framed[1] > 0.9 > whole[1], (whole, framed)

    # --find picks the square the app's button picks; the same square by hand reads higher
    expected, flower = surest_square(sunflower_field)
    found = answer("--find", flower=flower)
    assert found[0] == flower and found[2]["found"]
    square = [found[2]["zoom"], round(100 * found[2]["x"]), round(100 * found[2]["y"])]
    assert square == pytest.approx(expected)
    by_hand = answer(*(f"--{k}={found[2][k]}" for k in ("zoom", "x", "y")), flower=flower)
    assert by_hand[0] == flower and found[1] < by_hand[1], (found, by_hand)
    assert main(["predict", str(sunflower_field), "--find", "--top", "1"]) == 0
    square, answer_line = capsys.readouterr().out.splitlines()
    assert square.startswith("Framed where the model is surest: zoom ") and flower in answer_line


def test_find_and_a_framing_together_are_one_clear_line(flower_paths):
    result = run_cli("predict", str(flower_paths[0]), "--find", "--zoom", "2")
    assert result.returncode == 2 and "not both" in result.stderr
    assert "Traceback" not in result.stderr


def test_framing_outside_the_photo_is_one_clear_line(flower_paths):
    result = run_cli("predict", str(flower_paths[0]), "--zoom", "0.5")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: Zoom must be at least 1 and the position between 0 and 1, not (0.5, 0.5, 0.5)."
    ]


def test_predict_rejects_a_corrupt_checkpoint(tiny_checkpoint, flower_paths, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, broken)
    (broken / "model.keras").write_bytes(b"garbage")
    assert main(["predict", str(broken), str(flower_paths[0])]) == 1
    assert "corrupt" in capsys.readouterr().err


def test_evaluate_json_and_per_image_file(tiny_checkpoint, data_dir, tmp_path, capsys):
    import shutil

    checkpoint = tmp_path / "tiny"  # evaluating caches predictions in the folder: use a copy
    shutil.copytree(tiny_checkpoint, checkpoint)
    out_file = tmp_path / "preds.jsonl"
    code = main(
        [
            "evaluate",
            str(checkpoint),
            "--limit",
            "10",
            "--data-dir",
            str(data_dir),
            "--json",
            "--out",
            str(out_file),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 10 and 0 <= result["top1"] <= result["top5"] <= 1
    assert len(out_file.read_text().splitlines()) == 10


def test_train_cli_writes_a_checkpoint(data_dir, tmp_path, capsys):
    code = main(
        [
            "train",
            "--backbone",
            "tiny",
            "--weights",
            "none",
            "--image-size",
            "32",
            "--augment",
            "none",
            "--epochs",
            "1",
            "--train-limit",
            "16",
            "--val-limit",
            "8",
            "--test-limit",
            "8",
            "--data-dir",
            str(data_dir),
            "--checkpoint-dir",
            str(tmp_path),
            "--name",
            "cli",
            "--backbone-size",
            "40",
            "--rand-augment",
            "0.1",
            "--fine-tune-epochs",
            "1",
            "--fine-tune-weight-decay",
            "0.2",
            "--fine-tune-ema",
            "0.9",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cli")
    assert (tmp_path / "cli" / "model.keras").is_file()
    config = json.loads((tmp_path / "cli" / "meta.json").read_text())["config"]
    assert config["backbone_size"] == 40 and config["fine_tune_weight_decay"] == 0.2
    assert config["fine_tune_ema"] == 0.9
    assert config["augment_overrides"] == {"rand_augment": 0.1}


def test_unknown_backbone_is_a_clear_error(data_dir, tmp_path, capsys):
    code = main(
        [
            "train",
            "--backbone",
            "resnet9000",
            "--data-dir",
            str(data_dir),
            "--checkpoint-dir",
            str(tmp_path),
        ]
    )
    assert code == 1
    assert "Unknown backbone 'resnet9000'" in capsys.readouterr().err


def test_explain_writes_a_panel_and_reports_timings(
    tiny_checkpoint, flower_paths, tmp_path, capsys
):
    from PIL import Image

    out = tmp_path / "panel.png"
    code = main(
        [
            "explain",
            str(tiny_checkpoint),
            str(flower_paths[1]),
            "--method",
            "both",
            "--steps",
            "8",
            "--out",
            str(out),
            "--json",
            "--zoom",
            "2",
            "--x",
            "0",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    with Image.open(flower_paths[1]) as im:
        side = round(min(im.size) / 2)
    assert result["framing"] == {
        "zoom": 2.0,
        "x": 0.0,
        "y": 0.5,
        "found": False,
        "shorter_side": side,
    }
    methods = result["methods"]
    assert set(methods) == {"gradcam", "ig"}
    assert all(m["seconds"] > 0 for m in methods.values())
    assert methods["ig"]["steps"] == 8 and methods["ig"]["completeness_gap"] >= 0
    with Image.open(out) as im:
        assert im.width > im.height  # original | GradCAM | IG side by side
