"""The stand-ins for people's photos (benchmarks/proxies.py): each a pure function of the photo
and a seed, the same size for the model, and changed the way its name says."""

from __future__ import annotations

import numpy as np
from PIL import Image

from benchmarks.proxies import PROXIES, proxy_images
from flowerdash.examples import EXAMPLES


def photo() -> np.ndarray:
    with Image.open(EXAMPLES[0].path) as im:
        return np.asarray(im.convert("RGB"))


def test_every_proxy_is_a_model_sized_uint8_photo_and_repeatable():
    x = photo()
    first, again = proxy_images(x, 7, 96), proxy_images(x, 7, 96)
    assert list(first) == list(PROXIES)
    for name, image in first.items():
        assert image.shape == (96, 96, 3) and image.dtype == np.uint8, name
        np.testing.assert_array_equal(image, again[name])
    other = proxy_images(x, 8, 96)
    assert not np.array_equal(first["wide"], other["wide"])  # each photo its own draw


def test_proxies_change_what_their_names_say():
    x = photo()
    v = proxy_images(x, 0, 96)
    np.testing.assert_array_equal(v["clean"], proxy_images(x, 1, 96)["clean"])
    grey = v["grayscale"].astype(int)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 1
    assert (v["occluded"] == 128).all(axis=2).mean() > 0.15  # a grey block covers a good part

    # low resolution loses fine detail: less high-frequency energy than the clean photo
    def detail(image: np.ndarray) -> float:
        g = image.astype(float).mean(axis=2)
        return float(np.abs(np.diff(g, axis=1)).mean())

    assert detail(v["low_res"]) < detail(v["clean"])


def test_proxy_calibration_scores_each_version_and_applies_its_rule():
    from benchmarks.proxy_calibration import choose, scores

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 400)
    # clean photos: the top answer says 80% and is right 80% of the time; a changed version: it
    # still says 80%, but is right half as often
    sure = np.full((400, 5), 0.05)
    right = rng.random(400) < 0.8
    answer = np.where(right, labels, (labels + 1) % 5)
    sure[np.arange(400), answer] = 0.8
    probs = {"clean": sure, "grayscale": sure.copy()}
    worse = rng.random(400) < 0.5
    probs["grayscale"][np.arange(400), answer] = 0.05
    wrong = np.where(worse, answer, (answer + 2) % 5)
    probs["grayscale"][np.arange(400), wrong] = 0.8
    out = scores(probs, labels, 1.0)
    assert abs(out["clean"]["ece"] - abs(out["clean"]["top1"] - 0.8)) < 1e-6
    assert out["grayscale"]["top1"] < 0.6 and out["grayscale"]["ece"] > 0.2
    assert out["mean_changed"] == out["grayscale"]  # the one changed version
    better = {"clean": {"ece": 0.02}, "mean_changed": {"ece": out["grayscale"]["ece"] - 0.05}}
    assert choose(out, better) == "pooled"
    assert choose(out, {**better, "clean": {"ece": 0.05}}) == "clean"  # clean must stay honest
    less = {**better, "mean_changed": {"ece": out["grayscale"]["ece"] - 0.01}}
    assert choose(out, less) == "clean"  # too small a gain
