"""Tests for flowerdash.data.augment and .mixing: config, presets, sampling vs application, MixUp/CutMix, tf.data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from flowerdash.data.augment import Augmenter, augment_dataset, keras_code, sample_grid
from flowerdash.data.augment_config import PRESETS, AugmentConfig, preset
from flowerdash.data.augment_layers import SeededRandAugment
from flowerdash.data.mixing import mix_batch, mix_pair
from flowerdash.errors import ConfigError, ImageError


@pytest.fixture(scope="module")
def batch(flower_images: np.ndarray) -> np.ndarray:
    """The real flower photos as a float32 0..255 batch [5, 64, 64, 3]."""
    return flower_images.astype(np.float32)


def _colour_batch(n: int = 8, size: int = 16) -> np.ndarray:
    """n constant-colour images, each a different grey level."""
    levels = np.linspace(10, 240, n, dtype=np.float32)
    return np.broadcast_to(levels[:, None, None, None], (n, size, size, 3)).copy()


# --- config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"flip": "diagonal"},
        {"flip": 1},
        {"rotation": -0.1},
        {"rotation": 1.5},
        {"zoom": 1.0},
        {"translation": float("nan")},
        {"brightness": "0.2"},
        {"contrast": True},
        {"mixup_alpha": -1},
        {"cutmix_alpha": 2.0},
        {"rand_augment": 1.5},
    ],
)
def test_config_rejects_bad_values_in_plain_words(kwargs):
    with pytest.raises(ConfigError) as err:
        AugmentConfig(**kwargs)
    assert next(iter(kwargs)).split("_")[0] in str(err.value).lower()


def test_config_round_trips_through_dict_and_rejects_unknown_keys():
    cfg = AugmentConfig(flip="vertical", rotation=0.05, mixup_alpha=0.3)
    assert AugmentConfig.from_dict(cfg.to_dict()) == cfg
    assert AugmentConfig.from_dict({"zoom": 0.2}) == AugmentConfig(zoom=0.2)
    assert isinstance(AugmentConfig(rotation=0).rotation, float)
    with pytest.raises(ConfigError, match="rotaton"):
        AugmentConfig.from_dict({"rotaton": 0.1})
    with pytest.raises(ConfigError):
        AugmentConfig.from_dict([("zoom", 0.1)])


def test_presets_have_the_promised_contents():
    assert set(PRESETS) == {"none", "basic", "advanced"}
    assert preset("none").is_identity
    basic, advanced = preset("basic"), preset("advanced")
    assert not basic.is_identity and basic.mixing_methods == ()
    assert basic.flip != "none" and basic.rotation > 0 and basic.brightness > 0
    assert advanced.mixup_alpha == 0.2 and advanced.cutmix_alpha == 1.0
    assert dataclasses.replace(advanced, mixup_alpha=0.0, cutmix_alpha=0.0) == basic
    assert not AugmentConfig(flip="none", rotation=0, zoom=0, translation=0, brightness=0,
                             contrast=0, mixup_alpha=0.1).is_identity  # fmt: skip


def test_preset_returns_a_copy_and_unknown_names_list_the_choices():
    p = preset("basic")
    p.rotation = 0.5
    assert PRESETS["basic"].rotation == 0.1
    with pytest.raises(ConfigError, match="none, basic, advanced"):
        preset("extreme")


# --- identity and evaluation pass-through -----------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_training_false_returns_the_input_unchanged(name, batch):
    aug = Augmenter(preset(name), seed=1)
    before = batch.copy()
    out = aug(batch, training=False)
    assert out is batch
    np.testing.assert_array_equal(before, batch)
    t = tf.constant(batch)
    assert aug(t, training=False) is t


def test_identity_config_returns_input_unchanged(batch):
    aug = Augmenter(preset("none"))
    assert aug.layers == {} and aug.mixers == {}
    assert aug(batch, training=True) is batch
    np.testing.assert_array_equal(np.asarray(aug.apply(batch, {})), batch)


# --- fixed parameters give known results ---------------------------------------------------


def test_horizontal_flip_params_flip_exactly(batch):
    aug = Augmenter(AugmentConfig(flip="horizontal", rotation=0, zoom=0, translation=0,
                                  brightness=0, contrast=0))  # fmt: skip
    b = len(batch)
    everything = {"flip": {"flips": np.ones((b, 1, 1, 1), bool)}}
    np.testing.assert_array_equal(np.asarray(aug.apply(batch, everything)), np.flip(batch, 2))
    nothing = {"flip": {"flips": np.zeros((b, 1, 1, 1), bool)}}
    np.testing.assert_array_equal(np.asarray(aug.apply(batch, nothing)), batch)
    first = {"flip": {"flips": np.arange(b).reshape(b, 1, 1, 1) == 0}}
    out = np.asarray(aug.apply(batch, first))
    np.testing.assert_array_equal(out[0], np.flip(batch[0], 1))
    np.testing.assert_array_equal(out[1:], batch[1:])


def test_horizontal_and_vertical_flips_are_independent(batch):
    aug = Augmenter(AugmentConfig(flip="horizontal_and_vertical"))
    assert set(aug.layers) >= {"flip", "flip_vertical"}
    b = len(batch)
    params = {
        "flip": {"flips": np.zeros((b, 1, 1, 1), bool)},
        "flip_vertical": {"flips": np.ones((b, 1, 1, 1), bool)},
    }
    np.testing.assert_array_equal(np.asarray(aug.apply(batch, params)), np.flip(batch, 1))
    # Over many draws, "mirror only horizontally" happens: Keras' single layer never does that.
    many = np.zeros((64, 4, 4, 3), np.float32)
    p = aug.sample(many, seed=0)
    h = np.asarray(p["flip"]["flips"]).ravel()
    v = np.asarray(p["flip_vertical"]["flips"]).ravel()
    assert (h & ~v).any() and (v & ~h).any()


def test_neutral_geometric_and_photometric_params_are_identity(batch):
    aug = Augmenter(preset("basic"))
    b = len(batch)
    identity_affine = np.tile(np.array([[1, 0, 0, 0, 1, 0, 0, 0]], np.float32), (b, 1))
    params = {
        "rotation": {"rotation_matrix": identity_affine},
        "zoom": {
            "height_zoom": np.ones((b, 1), np.float32),
            "width_zoom": np.ones((b, 1), np.float32),
        },
        "translation": {"translations": np.zeros((b, 2), np.float32)},
        "brightness": {"rgb_delta": np.zeros((b, 1, 1, 1), np.float32)},
        "contrast": {"contrast_factor": np.ones((b, 1, 1, 1), np.float32)},
    }
    np.testing.assert_allclose(np.asarray(aug.apply(batch, params)), batch, atol=1e-3)


def test_photometric_params_use_the_0_255_range_and_clip(batch):
    aug = Augmenter(preset("basic"))
    b = len(batch)
    up = {"brightness": {"rgb_delta": np.full((b, 1, 1, 1), 40.0, np.float32)}}
    np.testing.assert_allclose(np.asarray(aug.apply(batch, up)), np.minimum(batch + 40, 255))
    blow = {"brightness": {"rgb_delta": np.full((b, 1, 1, 1), 300.0, np.float32)}}
    assert np.all(np.asarray(aug.apply(batch, blow)) == 255)
    flat = {"contrast": {"contrast_factor": np.zeros((b, 1, 1, 1), np.float32)}}
    np.testing.assert_allclose(
        np.asarray(aug.apply(batch, flat)),
        np.broadcast_to(batch.mean(axis=(1, 2), keepdims=True), batch.shape),
        rtol=1e-5,
    )


def test_apply_rejects_params_for_layers_it_does_not_have(batch):
    aug = Augmenter(AugmentConfig(flip="none"))
    with pytest.raises(ConfigError, match="flip"):
        aug.apply(batch, {"flip": {"flips": np.ones((5, 1, 1, 1), bool)}})


def test_apply_does_not_mutate_its_input(batch):
    aug = Augmenter(preset("basic"))
    x = batch.copy()
    aug.apply(x, aug.sample(x, seed=0))
    np.testing.assert_array_equal(x, batch)


# --- random sampling ------------------------------------------------------------------------


def test_augmented_values_stay_float32_in_0_255_and_change_the_image(batch):
    aug = Augmenter(AugmentConfig(rotation=0.3, zoom=0.3, translation=0.3, brightness=0.8,
                                  contrast=0.8), seed=3)  # fmt: skip
    out = aug(batch, training=True)
    assert out.dtype == tf.float32 and tuple(out.shape) == batch.shape
    arr = np.asarray(out)
    assert arr.min() >= 0 and arr.max() <= 255
    assert np.any(arr == 255) or np.any(arr == 0)  # strong brightness hits the clip
    assert np.abs(arr - batch).mean() > 1


def test_seeded_sampling_is_reproducible_and_unseeded_advances(batch):
    a, b = Augmenter(preset("basic"), seed=5), Augmenter(preset("basic"), seed=5)
    np.testing.assert_array_equal(
        np.asarray(a.apply(batch, a.sample(batch, seed=9))),
        np.asarray(b.apply(batch, b.sample(batch, seed=9))),
    )
    first = np.asarray(a.sample(batch)["rotation"]["angle"])
    second = np.asarray(a.sample(batch)["rotation"]["angle"])
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(first, np.asarray(b.sample(batch)["rotation"]["angle"]))


# --- MixUp / CutMix -------------------------------------------------------------------------


def test_mixup_mixes_pixels_and_labels_with_the_same_weight():
    x = _colour_batch(8)
    y = np.eye(8, dtype=np.float32)
    out, labels, info = mix_batch(x, y, "mixup", 0.4, seed=1)
    lam, perm, labels = np.asarray(info["lam"]), np.asarray(info["permutation"]), np.asarray(labels)
    np.testing.assert_allclose(labels.sum(1), 1, atol=1e-6)
    expected = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[perm]
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5)
    for i in np.flatnonzero(perm != np.arange(8)):
        assert labels[i, i] == pytest.approx(lam[i]) and labels[i, perm[i]] == pytest.approx(
            1 - lam[i]
        )


def test_cutmix_label_share_equals_the_pasted_pixel_area():
    x = _colour_batch(8, size=15)  # odd size: Keras' continuous box area would be off here
    y = np.eye(8, dtype=np.float32)
    checked = 0
    for seed in range(4):
        out, labels, info = mix_batch(x, y, "cutmix", 1.0, seed=seed)
        out, labels = np.asarray(out), np.asarray(labels)
        lam, perm = np.asarray(info["lam"]), np.asarray(info["permutation"])
        np.testing.assert_allclose(labels.sum(1), 1, atol=1e-6)
        for i in np.flatnonzero(perm != np.arange(8)):
            changed = (out[i] != x[i]).any(-1)
            assert np.all(out[i][changed] == x[perm[i]][0, 0])
            assert labels[i, perm[i]] == pytest.approx(changed.mean(), abs=1e-6)
            assert lam[i] == pytest.approx(1 - changed.mean(), abs=1e-6)
            checked += 1
    assert checked >= 8


def test_mix_batch_rejects_bad_method_and_alpha():
    x, y = _colour_batch(2), np.eye(2, dtype=np.float32)
    with pytest.raises(ConfigError, match="mixup"):
        mix_batch(x, y, "blend", 0.2)
    with pytest.raises(ConfigError, match="alpha"):
        mix_batch(x, y, "cutmix", 0.0)


def test_mix_pair_cutmix_share_is_the_box_area():
    a, b = np.zeros((10, 20, 3), np.uint8), np.full((10, 20, 3), 200, np.uint8)
    mixed, shares = mix_pair(a, b, "rose", "tulip", "cutmix", lam=0.5, box=(2, 5, 6, 15))
    assert mixed.dtype == np.uint8 and mixed.shape == a.shape
    assert (mixed[2:6, 5:15] == 200).all() and (mixed == 200).mean() == pytest.approx(40 / 200)
    assert shares == pytest.approx({"rose": 0.8, "tulip": 0.2})
    mixed, shares = mix_pair(a, b, 1, 2, "cutmix", lam=0.75)  # centred box of area 1/4
    assert shares[2] == pytest.approx((mixed == 200).all(-1).mean())
    assert sum(shares.values()) == pytest.approx(1)


def test_mix_pair_mixup_and_edge_cases():
    a, b = np.full((4, 4, 3), 100.0, np.float32), np.full((4, 4, 3), 200.0, np.float32)
    mixed, shares = mix_pair(a, b, "a", "b", "mixup", lam=0.3)
    np.testing.assert_allclose(mixed, 0.3 * 100 + 0.7 * 200, rtol=1e-6)
    assert shares == pytest.approx({"a": 0.3, "b": 0.7})
    assert mix_pair(a, b, "x", "x", "mixup", lam=0.3)[1] == pytest.approx({"x": 1.0})
    with pytest.raises(ConfigError, match="box"):
        mix_pair(a, b, "a", "b", "cutmix", lam=0.5, box=(0, 0, 5, 5))
    with pytest.raises(ImageError):
        mix_pair(a, b[:2], "a", "b", "mixup", lam=0.5)


# --- tf.data -----------------------------------------------------------------------------------


def _labelled(batch: np.ndarray, num_classes: int = 5) -> tf.data.Dataset:
    y = np.eye(num_classes, dtype=np.float32)[np.arange(len(batch)) % num_classes]
    return tf.data.Dataset.from_tensor_slices((batch, y)).batch(2)


def test_augment_dataset_keeps_shapes_and_is_seed_deterministic(batch):
    ds = _labelled(batch)
    out = augment_dataset(ds, preset("advanced"), seed=7, num_classes=5)
    assert out.element_spec[0].shape.as_list() == [None, 64, 64, 3]
    assert out.element_spec[1].shape.as_list() == [None, 5]
    run1 = list(out.as_numpy_iterator())
    again = list(augment_dataset(ds, preset("advanced"), seed=7, num_classes=5).as_numpy_iterator())
    other = list(augment_dataset(ds, preset("advanced"), seed=8, num_classes=5).as_numpy_iterator())
    assert [x.shape for x, _ in run1] == [(2, 64, 64, 3), (2, 64, 64, 3), (1, 64, 64, 3)]
    for (x1, y1), (x2, y2) in zip(run1, again, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
        assert x1.dtype == np.float32 and x1.min() >= 0 and x1.max() <= 255
        np.testing.assert_allclose(y1.sum(1), 1, atol=1e-5)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(run1, other, strict=True))
    epoch2 = list(out.as_numpy_iterator())  # a new epoch draws new augmentations
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(run1, epoch2, strict=True))


def test_augment_dataset_mixing_only_and_identity(batch):
    ds = _labelled(batch)
    assert augment_dataset(ds, preset("none"), num_classes=5) is ds
    only_mix = dataclasses.replace(preset("none"), cutmix_alpha=1.0)
    mixed = list(augment_dataset(ds, only_mix, seed=2, num_classes=5).as_numpy_iterator())
    for (x, y), (x0, y0) in zip(mixed, ds.as_numpy_iterator(), strict=True):
        assert x.shape == x0.shape
        np.testing.assert_allclose(y.sum(1), 1, atol=1e-5)
        for i in range(len(x)):  # no per-image layers: a row changes exactly when its label does
            assert np.array_equal(x[i], x0[i]) == np.allclose(y[i], y0[i])


def test_augment_dataset_rejects_unbatched_or_mismatched_data(batch):
    y = np.eye(5, dtype=np.float32)
    unbatched = tf.data.Dataset.from_tensor_slices((batch, y))
    with pytest.raises(ConfigError, match="[Bb]atch"):
        augment_dataset(unbatched, preset("basic"), num_classes=5)
    with pytest.raises(ConfigError, match="102"):
        augment_dataset(_labelled(batch), preset("basic"))


def test_augmenter_call_works_inside_dataset_map(batch):
    aug = Augmenter(preset("basic"), seed=0)
    ds = tf.data.Dataset.from_tensor_slices(batch).batch(3).map(lambda x: aug(x, training=True))
    shapes = [tuple(x.shape) for x in ds]
    assert shapes == [(3, 64, 64, 3), (2, 64, 64, 3)]


# --- code view and preview grid ---------------------------------------------------------------


@pytest.mark.parametrize(
    "cfg",
    [
        *PRESETS.values(),
        AugmentConfig(flip="horizontal_and_vertical", cutmix_alpha=0.5),
        AugmentConfig(flip="vertical", zoom=0, mixup_alpha=0.4),
        AugmentConfig(rand_augment=0.1),
        AugmentConfig(flip="none", zoom=0, blur=0.3, noise=0.3),
        AugmentConfig(flip="none", rotation=0, zoom=0, translation=0, noise=0.5),
        AugmentConfig(
            flip="none",
            rotation=0,
            zoom=0,
            translation=0,
            brightness=0,
            contrast=0,
            mixup_alpha=0.2,
        ),
    ],
)
def test_keras_code_is_valid_python_naming_the_layers(cfg):
    code = keras_code(cfg)
    compile(code, "<keras_code>", "exec")
    # JPEG and grain are functions, not Keras layers
    per_photo = set(Augmenter(cfg).layers) - {"jpeg", "noise"}
    assert ("keras.Sequential" in code) == bool(per_photo)
    ns: dict = {}  # and it runs, also with no per-photo layer (Keras cannot call an empty one)
    exec(compile(code, "<keras_code>", "exec"), ns)
    images, _labels = ns["augment_batch"](_colour_batch(4), np.eye(4, 102, dtype=np.float32))
    assert tuple(images.shape) == (4, 16, 16, 3)
    assert ("RandomRotation" in code) == (cfg.rotation > 0)
    assert ("MixUp" in code) == (cfg.mixup_alpha > 0)
    assert ("RandAugment" in code) == (cfg.rand_augment > 0)
    assert ("CutMix" in code) == (cfg.cutmix_alpha > 0)
    assert ("RandomGaussianBlur" in code) == (cfg.blur > 0)
    assert ("add_grain(images)" in code) == (cfg.noise > 0)


def test_keras_code_runs_and_augments_a_batch():
    ns: dict = {}
    exec(compile(keras_code(preset("advanced")), "<keras_code>", "exec"), ns)
    x, y = _colour_batch(4), np.eye(4, dtype=np.float32)
    images, labels = ns["augment_batch"](x, y)
    assert tuple(images.shape) == x.shape
    np.testing.assert_allclose(np.asarray(labels).sum(1), 1, atol=1e-5)


def test_sample_grid_is_seed_deterministic(flower_images):
    img = flower_images[0]
    grid = sample_grid(img, preset("basic"), n=4, seed=11)
    assert grid.shape == (4, 64, 64, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid, sample_grid(img, preset("basic"), n=4, seed=11))
    assert not np.array_equal(grid, sample_grid(img, preset("basic"), n=4, seed=12))
    assert len({g.tobytes() for g in grid}) == 4  # the variants differ from each other
    np.testing.assert_array_equal(sample_grid(img, preset("none"), 2, 0), np.stack([img, img]))


def test_sample_grid_rejects_bad_input(flower_images):
    with pytest.raises(ImageError):
        sample_grid(flower_images, preset("basic"), 2, 0)
    with pytest.raises(ConfigError):
        sample_grid(flower_images[0], preset("basic"), 0, 0)


# --- RandAugment -------------------------------------------------------------------------------

_ONLY_RAND_AUGMENT = AugmentConfig(
    flip="none", rotation=0, zoom=0, translation=0, brightness=0, contrast=0, rand_augment=0.2
)


def test_rand_augment_is_a_pure_function_of_its_seed(batch):
    aug = Augmenter(_ONLY_RAND_AUGMENT, seed=0)
    assert list(aug.layers) == ["rand_augment"]
    outs = {s: aug(batch, seed=s).numpy() for s in range(6)}
    np.testing.assert_array_equal(outs[0], aug(batch, seed=0).numpy())
    assert len({o.tobytes() for o in outs.values()}) > 1
    for out in outs.values():
        assert out.dtype == np.float32 and out.shape == batch.shape
        assert out.min() >= 0 and out.max() <= 255
    assert aug(batch, training=False) is batch


def test_rand_augment_applies_exactly_the_operations_it_drew(batch):
    aug = Augmenter(_ONLY_RAND_AUGMENT, seed=0)
    layer = aug.layers["rand_augment"]
    params = aug.sample(batch, seed=3)
    ops = params["rand_augment"]["ops"].numpy()
    assert ops.shape == (2,) and all(0 <= i < len(SeededRandAugment.OPERATIONS) for i in ops)
    expected = tf.constant(batch)
    for i in ops:
        name = SeededRandAugment.OPERATIONS[i]
        t = params["rand_augment"]["transforms"][name]
        expected = getattr(layer, name).transform_images(expected, t)
    np.testing.assert_allclose(aug.apply(batch, params).numpy(), expected.numpy(), atol=1e-3)
    # Brightness twice with a zero shift leaves the image as it was.
    fixed = {"ops": tf.constant([3, 3]), "transforms": dict(params["rand_augment"]["transforms"])}
    fixed["transforms"]["random_brightness"] = {"rgb_delta": tf.zeros([len(batch), 1, 1, 1])}
    np.testing.assert_allclose(aug.apply(batch, {"rand_augment": fixed}).numpy(), batch, atol=1e-3)


def test_rand_augment_leaves_out_the_operations_keras_scales_backwards():
    assert "random_posterization" not in SeededRandAugment.OPERATIONS
    assert "solarization" not in SeededRandAugment.OPERATIONS


def test_sample_grid_draws_rand_augment_per_variant(flower_images):
    grid = sample_grid(flower_images[0], _ONLY_RAND_AUGMENT, n=6, seed=4)
    assert grid.shape == (6, *flower_images[0].shape) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid, sample_grid(flower_images[0], _ONLY_RAND_AUGMENT, 6, 4))
    assert len({g.tobytes() for g in grid}) == 6  # each variant its own operations and strength


def test_upper_limit_is_what_the_config_accepts():
    from flowerdash.data.augment_config import upper_limit

    assert upper_limit("zoom") == 0.95
    AugmentConfig(zoom=upper_limit("zoom"))
    with pytest.raises(ConfigError):
        AugmentConfig(zoom=upper_limit("zoom") + 0.01)


def test_grey_photos_are_sampled_apart_from_their_application(batch):
    aug = Augmenter(
        AugmentConfig(
            flip="none", rotation=0, zoom=0, translation=0, brightness=0, contrast=0, grayscale=1.0
        )
    )
    params = aug.sample(batch, seed=3)
    out = aug.apply(batch, params).numpy()
    assert np.allclose(out[..., 0], out[..., 1]) and np.allclose(out[..., 1], out[..., 2])
    np.testing.assert_array_equal(out, aug.apply(batch, params).numpy())
    assert "RandomGrayscale(1.0)" in keras_code(aug.config)
    assert not AugmentConfig(
        grayscale=0.0, flip="none", rotation=0, zoom=0, translation=0, brightness=0, contrast=0
    ).grayscale


def test_a_new_augmentation_knob_reaches_every_control():
    """One field in AugmentConfig gives the CLI flag, the Train form's and the Lab's sliders."""
    from flowerdash.cli.train import config_of
    from flowerdash.data.augment_config import knobs
    from flowerdash.training import form

    assert config_of(["train", "--grayscale", "0.2"]).augment_config().grayscale == 0.2
    assert config_of(["train", "--jpeg", "0.5"]).augment_config().jpeg == 0.5
    assert [row[0] for row in form.AUGMENT_SLIDERS] == list(knobs())
    assert knobs()["grayscale"].upper == 1.0
    with pytest.raises(ConfigError, match="grayscale must be between 0 and 1"):
        AugmentConfig(grayscale=1.5)


def test_covered_patches_erase_one_box_per_chosen_photo_and_nothing_else():
    """`erase` is the exact share of photos erased (Keras would draw it from [0, p])."""
    grey = np.full((64, 24, 24, 3), 128, np.float32)
    still = dict(flip="none", rotation=0, zoom=0, translation=0, brightness=0, contrast=0)
    aug = Augmenter(AugmentConfig(**still, erase=1.0))
    params = aug.sample(grey, seed=4)
    out = aug.apply(grey, params).numpy()
    np.testing.assert_array_equal(out, aug.apply(grey, params).numpy())
    changed = np.any(out != 128, axis=-1)
    assert changed.any(axis=(1, 2)).all()
    for mask in changed:  # every changed pixel lies inside one box covering at most a third
        rows, cols = np.where(mask)
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert box <= 0.34 * mask.size + 2 * 24
    half = Augmenter(AugmentConfig(**still, erase=0.5))(
        np.full((400, 8, 8, 3), 128, np.float32), seed=1
    )
    share = np.any(np.asarray(half) != 128, axis=(1, 2, 3)).mean()
    assert 0.4 < share < 0.6
    code = keras_code(AugmentConfig(erase=0.5))
    assert "RandomErasing(factor=(0.5, 0.5), scale=(0.02, 0.33))" in code
    assert "RandomErasing" not in keras_code(AugmentConfig())


def test_erase_size_sets_the_largest_patch_and_alone_changes_nothing():
    """`erase_size` is the largest share of the photo a patch covers; its default is Keras's own
    (what every run before the setting trained with), and without `erase` it is no augmentation."""
    import inspect

    import keras

    from flowerdash.data.augment_config import ERASE_SIZE
    from flowerdash.data.augment_layers import SMALLEST_PATCH

    keras_scale = inspect.signature(keras.layers.RandomErasing).parameters["scale"].default
    assert keras_scale == (SMALLEST_PATCH, ERASE_SIZE)
    assert AugmentConfig.from_dict({"erase": 0.5}).erase_size == ERASE_SIZE
    still = dict(flip="none", rotation=0, zoom=0, translation=0, brightness=0, contrast=0)
    assert AugmentConfig(**still, erase_size=0.5).is_identity
    assert not AugmentConfig(**still, erase=0.5, erase_size=0.5).is_identity
    grey = np.full((64, 24, 24, 3), 128, np.float32)
    boxes = []
    for size in (0.33, 0.5):
        aug = Augmenter(AugmentConfig(**still, erase=1.0, erase_size=size))
        out = aug.apply(grey, aug.sample(grey, seed=4)).numpy()
        changed = np.any(out != 128, axis=-1)
        rows_cols = [np.where(mask) for mask in changed if mask.any()]
        areas = [(r.max() - r.min() + 1) * (c.max() - c.min() + 1) / 576 for r, c in rows_cols]
        assert len(areas) == 64 and max(areas) <= size + 2 * 24 / 576
        boxes.append(np.mean(areas))
    assert boxes[1] > boxes[0] + 0.05  # larger patches on average, not only a larger limit
    off = Augmenter(AugmentConfig(**still, erase=1.0, erase_size=0.0))
    np.testing.assert_array_equal(off(grey, seed=1), grey)
    assert "RandomErasing" not in keras_code(AugmentConfig(erase=1.0, erase_size=0.0))
    assert "scale=(0.02, 0.5)" in keras_code(AugmentConfig(erase=0.5, erase_size=0.5))


def test_erase_flat_fills_that_share_of_patches_with_one_colour_and_keeps_keras_noise():
    """`erase_flat` 0 is Keras's noise draw for draw (runs before the setting stay as they were);
    1 fills every patch with one flat colour, a different shade per photo; 0.5 about half."""
    import keras

    still = dict(flip="none", rotation=0, zoom=0, translation=0, brightness=0, contrast=0)
    photos = np.full((64, 24, 24, 3), 128, np.float32)

    def erased(flat: float) -> tuple[np.ndarray, np.ndarray]:
        config = AugmentConfig(**still, erase=1.0, erase_size=0.5, erase_flat=flat)
        out = Augmenter(config).apply(photos, Augmenter(config).sample(photos, seed=9)).numpy()
        return out, np.any(out != 128, axis=-1)

    noise, mask = erased(0.0)
    keras_layer = keras.layers.RandomErasing(
        factor=(1.0, 1.0), scale=(0.02, 0.5), value_range=(0, 255), seed=11
    )
    from flowerdash.data.seeds import child_seed

    params = keras_layer.get_random_transformation(photos, training=True, seed=child_seed(9, 0))
    np.testing.assert_array_equal(noise, keras_layer.transform_images(photos, params))
    flat, flat_mask = erased(1.0)
    np.testing.assert_array_equal(flat_mask, mask)  # the same patches, only their fill differs
    stds = [flat[i][m].std(axis=0).max() for i, m in enumerate(flat_mask) if m.sum() > 1]
    assert len(stds) > 50 and max(stds) < 1e-3  # one colour in each patch
    colours = {tuple(flat[i][m][0].round()) for i, m in enumerate(flat_mask) if m.any()}
    assert len(colours) > 50  # a shade of its own for each photo
    half, half_mask = erased(0.5)
    speckled = [half[i][m].std(axis=0).max() > 1 for i, m in enumerate(half_mask) if m.sum() > 1]
    assert 0.3 < np.mean(speckled) < 0.7
    np.testing.assert_array_equal(half, erased(0.5)[0])  # a pure function of the seed
    alone = AugmentConfig(**still, erase_flat=1.0)
    assert alone.is_identity  # without covered patches it changes nothing
    assert "flat colour" in keras_code(AugmentConfig(erase=0.5, erase_flat=0.5))
    assert "flat colour" not in keras_code(AugmentConfig(erase=0.5))


def test_jpeg_compresses_that_share_of_photos_at_their_drawn_quality(batch):
    """`jpeg` saves a share of the photos as JPEG (a pure function of the seed, applied last),
    lower qualities change a photo more, and the exported Keras code does the same."""
    from flowerdash.data.augment_config import JPEG_QUALITY, knobs
    from flowerdash.data.augment_layers import RandomJPEG

    still = dict(flip="none", rotation=0, zoom=0, translation=0, brightness=0, contrast=0)
    rng = np.random.default_rng(0)
    # Smooth colour gradients with texture: what JPEG's blocks visibly change.
    ramp = np.linspace(0, 255, 32, dtype=np.float32)
    photos = np.stack(
        [np.stack([ramp[None, :] + 0 * ramp[:, None]] * 3, -1) for _ in range(200)]
    ) + rng.normal(0, 20, (200, 32, 32, 3)).astype(np.float32)
    photos = np.clip(photos, 0, 255)
    aug = Augmenter(AugmentConfig(**still, jpeg=0.5))
    assert list(aug.layers) == ["jpeg"]
    params = aug.sample(photos, seed=3)
    out = aug.apply(photos, params).numpy()
    np.testing.assert_array_equal(out, aug.apply(photos, aug.sample(photos, seed=3)).numpy())
    changed = np.abs(out - photos).mean(axis=(1, 2, 3)) > 0.5
    np.testing.assert_array_equal(changed, params["jpeg"]["apply"].numpy())
    assert 0.4 < changed.mean() < 0.6 and out.min() >= 0 and out.max() <= 255
    quality = params["jpeg"]["quality"].numpy()
    assert quality.min() >= JPEG_QUALITY[0] and quality.max() <= JPEG_QUALITY[1]
    assert len(set(quality)) > 20  # a quality of its own for each photo
    layer = RandomJPEG(1.0)
    errors = []
    for q in (15, 90):  # on the real photos
        fixed = {"apply": tf.ones([len(batch)], bool), "quality": tf.fill([len(batch)], q)}
        errors.append(np.abs(layer.transform_images(batch, fixed).numpy() - batch).mean())
    assert errors[0] > 1.5 * errors[1] > 0
    # Last in the chain: a covered patch is compressed with the rest of the scene.
    assert list(Augmenter(AugmentConfig(erase=0.5, jpeg=0.5)).layers)[-2:] == ["erase", "jpeg"]
    assert AugmentConfig(**still, jpeg=0.0).is_identity
    assert "jpeg" not in Augmenter(AugmentConfig()).layers  # runs before the setting unchanged
    low, high = JPEG_QUALITY
    assert f"between {low} and {high}" in knobs()["jpeg"].explain
    code = keras_code(AugmentConfig(**still, jpeg=1.0))
    assert f"quality=({low}, {high})" in code and "compress(images)" in code
    ns: dict = {}
    exec(compile(code, "<keras_code>", "exec"), ns)
    images, _labels = ns["augment_batch"](photos[:4], np.eye(4, dtype=np.float32))
    assert np.abs(np.asarray(images) - photos[:4]).mean(axis=(1, 2, 3)).min() > 0.5
    assert "compress" not in keras_code(AugmentConfig())


def test_blur_and_grain_change_that_share_of_photos_after_the_scene_and_before_jpeg(batch):
    """`blur` (Keras' RandomGaussianBlur, one width per batch) and `noise` (grain of a strength
    drawn for each photo) change the share of photos they drew, as a pure function of the seed,
    between the covered patches and the compression, and the exported Keras code does the same."""
    from flowerdash.cli.train import config_of
    from flowerdash.data.augment_config import BLUR_SIGMA, NOISE_SIGMA, knobs
    from flowerdash.data.augment_layers import RandomNoise

    still = dict(flip="none", rotation=0, zoom=0, translation=0, brightness=0, contrast=0)
    photos = np.random.default_rng(0).uniform(0, 255, (200, 24, 24, 3)).astype(np.float32)
    for name, drawn in (("blur", "should_apply_blur"), ("noise", "apply")):
        aug = Augmenter(AugmentConfig(**still, **{name: 0.5}))
        assert list(aug.layers) == [name]
        params = aug.sample(photos, seed=5)
        out = aug.apply(photos, params).numpy()
        again = aug.apply(photos, aug.sample(photos, seed=5)).numpy()
        np.testing.assert_array_equal(out, again)
        changed = np.abs(out - photos).mean(axis=(1, 2, 3)) > 0.5
        np.testing.assert_array_equal(changed, params[name][drawn].numpy())
        assert 0.4 < changed.mean() < 0.6 and out.min() >= 0 and out.max() <= 255
    sigma = params["noise"]["sigma"].numpy()
    assert NOISE_SIGMA[0] <= sigma.min() and sigma.max() <= NOISE_SIGMA[1]
    assert len(set(sigma.round(3))) > 100  # a strength of its own for each photo
    # stronger grain moves a real photo further
    layer, flat = RandomNoise(1.0), np.full((8, 24, 24, 3), 128.0, np.float32)
    moved = []
    for strength in NOISE_SIGMA:
        fixed = {
            "apply": tf.ones([8], bool),
            "sigma": tf.fill([8], strength),
            "grain": tf.constant([1, 2], tf.int32),
        }
        moved.append(np.abs(layer.transform_images(flat, fixed).numpy() - flat).mean())
    assert moved[1] > 5 * moved[0] > 0
    blurred = Augmenter(AugmentConfig(**still, blur=1.0))(batch, seed=1).numpy()
    assert np.abs(np.diff(blurred, axis=2)).mean() < np.abs(np.diff(batch, axis=2)).mean()
    order = list(Augmenter(AugmentConfig(erase=0.5, blur=0.5, noise=0.5, jpeg=0.5)).layers)
    assert order[-4:] == ["erase", "blur", "noise", "jpeg"]
    assert AugmentConfig(**still, blur=0.0, noise=0.0).is_identity
    assert not {"blur", "noise"} & set(Augmenter(AugmentConfig()).layers)  # runs before unchanged
    assert "between 0.5 and 2.5 pixels" in knobs()["blur"].explain and BLUR_SIGMA == (0.5, 2.5)
    assert "between 2 and 25 on the 0-255 scale" in knobs()["noise"].explain
    assert NOISE_SIGMA == (2.0, 25.0)
    config = config_of(["train", "--blur", "0.2", "--noise", "0.3"]).augment_config()
    assert (config.blur, config.noise) == (0.2, 0.3)
    code = keras_code(AugmentConfig(**still, blur=1.0, noise=1.0))
    ns: dict = {}
    exec(compile(code, "<keras_code>", "exec"), ns)
    images, _labels = ns["augment_batch"](photos[:4], np.eye(4, dtype=np.float32))
    assert np.abs(np.asarray(images) - photos[:4]).mean(axis=(1, 2, 3)).min() > 0.5


def test_every_knob_default_and_limit_lie_on_its_slider_grid():
    """A slider whose start or end is off its step grid cannot show the value it starts with."""
    import dataclasses

    from flowerdash.data.augment_config import knobs

    defaults = {f.name: f.default for f in dataclasses.fields(AugmentConfig)}
    for name, k in knobs().items():
        for value in (defaults[name], k.upper):
            assert abs(value / k.step - round(value / k.step)) < 1e-9, (name, value, k.step)


def test_several_flowers_tile_that_share_of_photos_from_four_of_their_crops():
    """`tiles` shows a share of the photos as a 2×2 grid of crops of themselves (a pure function
    of the seed, first in the chain), each tile the crop its box names, and the exported Keras
    code does the same."""
    from flowerdash.cli.train import config_of
    from flowerdash.data.augment_config import TILE_SIDES
    from flowerdash.data.augment_layers import tile_images

    still = dict(flip="none", rotation=0, zoom=0, translation=0, brightness=0, contrast=0)
    photos = np.random.default_rng(0).uniform(0, 255, (200, 32, 32, 3)).astype(np.float32)
    aug = Augmenter(AugmentConfig(**still, tiles=0.5))
    assert list(aug.layers) == ["tiles"]
    params = aug.sample(photos, seed=3)
    out = aug.apply(photos, params).numpy()
    np.testing.assert_array_equal(out, aug.apply(photos, aug.sample(photos, seed=3)).numpy())
    changed = np.any(out != photos, axis=(1, 2, 3))
    np.testing.assert_array_equal(changed, params["tiles"]["apply"].numpy())
    assert 0.4 < changed.mean() < 0.6
    boxes = params["tiles"]["boxes"].numpy()
    heights, widths = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    np.testing.assert_allclose(heights, widths, atol=1e-6)  # square crops of a square photo
    assert TILE_SIDES[0] <= heights.min() and heights.max() <= TILE_SIDES[1]
    assert boxes.min() >= 0 and boxes.max() <= 1 + 1e-6
    # each tile is the crop its box names, in reading order
    half = np.zeros((1, 32, 32, 3), np.float32)
    half[:, :, :16] = (255, 0, 0)  # red left half, blue right half
    half[:, :, 16:] = (0, 0, 255)
    left, right = [0.0, 0.0, 1.0, 0.4], [0.0, 0.6, 1.0, 1.0]
    grid = tile_images(half, tf.constant([[left, right, right, left]]), tf.constant([True]))
    grid = grid.numpy()[0]
    for (rows, cols), colour in (
        ((slice(0, 16), slice(0, 16)), (255, 0, 0)),
        ((slice(0, 16), slice(16, 32)), (0, 0, 255)),
        ((slice(16, 32), slice(0, 16)), (0, 0, 255)),
        ((slice(16, 32), slice(16, 32)), (255, 0, 0)),
    ):
        np.testing.assert_allclose(grid[rows, cols], np.broadcast_to(colour, (16, 16, 3)))
    # one field, every control; first in the chain; off by default
    assert config_of(["train", "--tiles", "0.2"]).augment_config().tiles == 0.2
    assert list(Augmenter(AugmentConfig(tiles=0.2, erase=0.5)).layers)[0] == "tiles"
    assert "tiles" not in Augmenter(AugmentConfig()).layers  # runs before the setting unchanged
    assert AugmentConfig(**still, tiles=0.0).is_identity
    code = keras_code(AugmentConfig(**still, tiles=1.0))
    assert "images = tile(images)" in code and f"sides={TILE_SIDES!r}" in code
    ns: dict = {}
    exec(compile(code, "<keras_code>", "exec"), ns)
    images, _labels = ns["augment_batch"](photos[:4], np.eye(4, dtype=np.float32))
    assert tuple(images.shape) == (4, 32, 32, 3)
    assert np.abs(np.asarray(images) - photos[:4]).mean(axis=(1, 2, 3)).min() > 10
    assert "tile(" not in keras_code(AugmentConfig())
