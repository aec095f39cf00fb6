"""Augmentation lab page: renders with and without the dataset, live grid, presets, MixUp shares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from flowerdash.ui import state

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "augment_lab.py")


def fresh_caches() -> None:
    state.dataset_source.clear()


@pytest.fixture
def lab(monkeypatch, data_dir) -> AppTest:
    monkeypatch.setenv("FLOWERDASH_DATA_DIR", str(data_dir))
    fresh_caches()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    yield at
    fresh_caches()


def sample_urls(at: AppTest) -> list[str]:
    return [
        url
        for img in at.image
        for url, caption in zip(img.value, img.captions, strict=True)
        if caption.startswith("Sample ")
    ]


def image_url(at: AppTest, prefix: str) -> str:
    for img in at.image:
        for url, caption in zip(img.value, img.captions, strict=True):
            if caption.startswith(prefix):
                return url
    raise AssertionError(f"no image captioned {prefix!r}")


def test_renders_with_dataset_and_key_widgets(lab):
    for key in ("augment.preset", "augment.flip", "augment.photo_class", "augment.mix_class"):
        assert lab.selectbox(key=key) is not None
    for key in ("rotation", "zoom", "translation", "brightness", "contrast", "rand_augment", "n",
                "mix_lambda"):  # fmt: skip
        assert lab.slider(key=f"augment.{key}") is not None
    assert lab.number_input(key="augment.seed").value == 0
    assert lab.button(key="augment.reroll") is not None
    assert lab.selectbox(key="augment.preset").value == "basic"
    assert len(sample_urls(lab)) == 8
    code = lab.code[0]
    assert code.language == "python"
    assert "keras.layers.RandomRotation(0.1)" in code.value


def test_slider_changes_grid_and_code(lab):
    before = sample_urls(lab)
    lab.slider(key="augment.rotation").set_value(0.5).run()
    after = sample_urls(lab)
    assert len(after) == 8 and after != before
    assert lab.selectbox(key="augment.preset").value == "custom"
    assert "RandomRotation(0.5)" in lab.code[0].value
    # Same settings and seed again: the very same grid (cached and deterministic).
    lab.slider(key="augment.rotation").set_value(0.1).run()
    assert sample_urls(lab) == before


def test_preset_none_leaves_samples_unchanged_and_count_and_reroll(lab):
    basic = sample_urls(lab)
    lab.selectbox(key="augment.preset").set_value("none").run()
    assert lab.slider(key="augment.rotation").value == 0.0
    assert lab.selectbox(key="augment.flip").value == "none"
    unchanged = set(sample_urls(lab))
    assert len(unchanged) == 1 and not unchanged & set(basic)  # all 8 are the same photo
    lab.slider(key="augment.n").set_value(3).run()
    assert len(sample_urls(lab)) == 3
    lab.selectbox(key="augment.preset").set_value("basic").run()
    first = sample_urls(lab)
    lab.button(key="augment.reroll").click().run()
    assert lab.number_input(key="augment.seed").value != 0
    assert sample_urls(lab) != first


def mixed_shares(at: AppTest) -> list[int]:
    text = next(m.value for m in at.markdown if "Label of the mixed photo" in m.value)
    return [int(p) for p in re.findall(r"(\d+)% ", text)]


def test_mixup_and_cutmix_show_label_shares_summing_to_100(lab):
    shares = mixed_shares(lab)
    assert shares == [62, 38]
    lab.slider(key="augment.mix_lambda").set_value(0.3).run()
    assert mixed_shares(lab) == [30, 70]
    lab.radio(key="augment.mix_method").set_value("cutmix").run()
    shares = mixed_shares(lab)
    assert len(shares) == 2 and sum(shares) == 100
    assert abs(shares[0] - 30) <= 2  # pixel-exact CutMix box of about 70% area
    mixed = image_url(lab, "Mixed photo")
    lab.radio(key="augment.mix_method").set_value("mixup").run()
    assert image_url(lab, "Mixed photo") != mixed


def test_without_dataset_offers_upload_and_explains(monkeypatch, tmp_path):
    monkeypatch.delenv("FLOWERDASH_DATA_DIR", raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no flowerdash.toml here
    fresh_caches()
    try:
        at = AppTest.from_file(PAGE, default_timeout=60).run()
        assert not at.exception, [e.value for e in at.exception]
        # the dataset panel (how to get the data) and the upload
        panel = " ".join(e.value for kind in ("markdown", "info") for e in at.get(kind))
        assert "Oxford Flowers102" in panel and "FLOWERDASH_DATA_DIR" in panel
        assert at.get("file_uploader")
        assert not sample_urls(at)
        assert "keras.layers.RandomFlip" in at.code[0].value  # the code needs no photo
    finally:
        fresh_caches()


def test_rand_augment_slider_reaches_the_grid_summary_and_code(lab):
    before = sample_urls(lab)
    lab.slider(key="augment.rand_augment").set_value(0.2).run()
    assert sample_urls(lab) != before
    assert "keras.layers.RandAugment(value_range=(0, 255), factor=0.2)" in lab.code[0].value
    assert any("RandAugment" in c.value for c in lab.caption)
    lab.slider(key="augment.rand_augment").set_value(0.0).run()
    assert sample_urls(lab) == before


def test_covered_patch_sliders_reach_the_grid_summary_and_code(lab):
    before = sample_urls(lab)
    lab.slider(key="augment.erase").set_value(0.5).run()
    lab.slider(key="augment.erase_size").set_value(0.5).run()
    assert sample_urls(lab) != before
    code = lab.code[0].value
    assert "keras.layers.RandomErasing(factor=(0.5, 0.5), scale=(0.02, 0.5))" in code
    assert any("up to 50% of the photo covered 50% of the time" in c.value for c in lab.caption)
    with_noise = sample_urls(lab)
    lab.slider(key="augment.erase_flat").set_value(1.0).run()  # the same patches, filled flat
    assert sample_urls(lab) != with_noise
    assert any("the patch one flat colour 100% of the time" in c.value for c in lab.caption)
    assert "flat colour instead of noise" in lab.code[0].value
    lab.slider(key="augment.erase_size").set_value(0.0).run()  # no patch at all: nothing covered
    assert not any("covered" in c.value or "flat" in c.value for c in lab.caption)
    assert "RandomErasing" not in lab.code[0].value


def test_jpeg_slider_reaches_the_grid_summary_and_code(lab):
    before = sample_urls(lab)
    lab.slider(key="augment.jpeg").set_value(1.0).run()
    assert sample_urls(lab) != before
    assert any("saved as a low-quality JPEG 100% of the time" in c.value for c in lab.caption)
    assert "images = compress(images)" in lab.code[0].value
    lab.slider(key="augment.jpeg").set_value(0.0).run()
    assert sample_urls(lab) == before
    assert "compress" not in lab.code[0].value


def test_several_flowers_slider_reaches_the_grid_summary_and_code(lab):
    before = sample_urls(lab)
    lab.slider(key="augment.tiles").set_value(1.0).run()
    assert sample_urls(lab) != before
    assert any(
        "shown as a grid of four of its crops 100% of the time" in c.value for c in lab.caption
    )
    assert "images = tile(images)" in lab.code[0].value
    lab.slider(key="augment.tiles").set_value(0.0).run()
    assert sample_urls(lab) == before
    assert "tile(" not in lab.code[0].value
