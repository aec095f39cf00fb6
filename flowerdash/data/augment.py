"""Augmentation: Keras layers with sampling split from application (the settings and presets:
:mod:`flowerdash.data.augment_config`).

Pixel space is float32 RGB in 0..255, [B, H, W, 3]. Every transform is a Keras 3 preprocessing
layer; we call its `get_random_transformation` (random sampling) and `transform_images`
(deterministic application) separately, so the dashboard can show or fix the parameters and the
tf.data pipeline can seed each batch statelessly. MixUp and CutMix live in
:mod:`flowerdash.data.mixing`; the layers Keras lacks, or that needed a fix, in
:mod:`flowerdash.data.augment_layers`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from flowerdash.data.augment_config import (
    BLUR_KERNEL,
    BLUR_SIGMA,
    JPEG_QUALITY,
    NOISE_SIGMA,
    TILE_SIDES,
    AugmentConfig,
)
from flowerdash.data.augment_layers import (
    VALUE_RANGE,
    PatchErasing,
    RandomJPEG,
    RandomNoise,
    RandomTiles,
    SeededRandAugment,
    erase_scale,
)
from flowerdash.data.mixing import mix_layer, mix_with_layer, to_images
from flowerdash.data.seeds import child_seed, fold_seed
from flowerdash.errors import ConfigError, ImageError
from flowerdash.i18n import _


class Augmenter:
    """Per-image augmentation built once from a config: Keras layers, sampling, application."""

    def __init__(self, config: AugmentConfig, seed: int = 0) -> None:
        if not isinstance(config, AugmentConfig):
            raise ConfigError(
                _("Expected an AugmentConfig; got {type_name}.").format(
                    type_name=type(config).__name__
                )
            )
        self.config = config
        self.seed = int(seed)
        self.layers: dict[str, keras.layers.Layer] = {}
        c, s = config, self.seed
        L = keras.layers
        if c.tiles > 0:
            # First: the grid is one picture, which the other layers then turn, zoom and colour.
            self.layers["tiles"] = RandomTiles(c.tiles, seed=s + 13)
        if c.flip in ("horizontal", "horizontal_and_vertical"):
            self.layers["flip"] = L.RandomFlip("horizontal", seed=s)
        if c.flip in ("vertical", "horizontal_and_vertical"):
            self.layers["flip_vertical"] = L.RandomFlip("vertical", seed=s + 1)
        if c.rotation > 0:
            self.layers["rotation"] = L.RandomRotation(c.rotation, seed=s + 2)
        if c.zoom > 0:
            self.layers["zoom"] = L.RandomZoom(c.zoom, seed=s + 3)
        if c.translation > 0:
            self.layers["translation"] = L.RandomTranslation(
                c.translation, c.translation, seed=s + 4
            )
        if c.brightness > 0:
            self.layers["brightness"] = L.RandomBrightness(
                c.brightness, value_range=VALUE_RANGE, seed=s + 5
            )
        if c.contrast > 0:
            self.layers["contrast"] = L.RandomContrast(
                c.contrast, value_range=VALUE_RANGE, seed=s + 6
            )
        if c.grayscale > 0:
            self.layers["grayscale"] = L.RandomGrayscale(c.grayscale, seed=s + 10)
        if c.rand_augment > 0:
            self.layers["rand_augment"] = SeededRandAugment(
                value_range=VALUE_RANGE, num_ops=2, factor=c.rand_augment, seed=s + 9
            )
        if c.covers_patches:
            # factor=(p, p): Keras draws each photo's chance from [0, p] for a single number.
            self.layers["erase"] = PatchErasing(
                flat=c.erase_flat,
                factor=(c.erase, c.erase),
                scale=erase_scale(c.erase_size),
                value_range=VALUE_RANGE,
                seed=s + 11,
            )
        if c.blur > 0:
            # After the scene, covering patches included: the lens blurs all it sees.
            self.layers["blur"] = L.RandomGaussianBlur(
                factor=(c.blur, c.blur),
                kernel_size=BLUR_KERNEL,
                sigma=BLUR_SIGMA,
                value_range=VALUE_RANGE,
                seed=s + 14,
            )
        if c.noise > 0:
            # The sensor's grain: after the lens, before compression.
            self.layers["noise"] = RandomNoise(c.noise, seed=s + 15)
        if c.jpeg > 0:
            # Last: a camera compresses the whole scene, whatever covers the flower included.
            self.layers["jpeg"] = RandomJPEG(c.jpeg, seed=s + 12)
        self.mixers: dict[str, keras.layers.Layer] = {
            m: mix_layer(m, getattr(c, f"{m}_alpha"), seed=s + 7 + i)
            for i, m in enumerate(c.mixing_methods)
        }

    def sample(self, images: Any, seed: Any = None) -> dict[str, dict[str, Any]]:
        """Draw random parameters for each active layer: {layer name: Keras transformation}.

        Without `seed` the layers' own seed generators advance (different draws each call);
        with an int or integer tensor seed the draws are a pure function of it.
        """
        x = to_images(images)
        params = {}
        for i, (name, layer) in enumerate(self.layers.items()):
            src = None if seed is None else child_seed(seed, i)
            params[name] = layer.get_random_transformation(x, training=True, seed=src)
        return params

    def apply(self, images: Any, params: dict[str, dict[str, Any]]) -> tf.Tensor:
        """Apply given parameters deterministically; layers absent from `params` are skipped."""
        unknown = sorted(set(params) - set(self.layers))
        if unknown:
            message = (
                _(
                    "Parameters given for layer(s) this augmenter does not have: "
                    "{unknown}. Active layers: {active}."
                )
                if self.layers
                else _(
                    "Parameters given for layer(s) this augmenter does not have: "
                    "{unknown}. Active layers: none."
                )
            )
            raise ConfigError(
                message.format(unknown=", ".join(unknown), active=", ".join(self.layers))
            )
        x = to_images(images)
        for name, layer in self.layers.items():
            if name in params:
                x = layer.transform_images(x, params[name], training=True)
        return tf.clip_by_value(tf.cast(x, tf.float32), *map(float, VALUE_RANGE))

    def __call__(self, images: Any, training: bool = True, seed: Any = None) -> Any:
        """Augment a batch when training; return the input itself unchanged otherwise."""
        if not training or not self.layers:
            return images
        return self.apply(images, self.sample(images, seed=seed))

    def mix(
        self, images: Any, labels: Any, seed: Any = None
    ) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        """MixUp or CutMix a batch as configured (one of them at random when both are on)."""
        x = to_images(images)
        y = tf.cast(tf.convert_to_tensor(labels), tf.float32)
        methods = self.config.mixing_methods
        if not methods:
            b = tf.shape(x)[0]
            info = {"lam": tf.ones([b]), "permutation": tf.range(b, dtype=tf.int64)}
            return x, y, info
        seeds = [None if seed is None else child_seed(seed, 100 + i) for i in range(3)]
        if len(methods) == 1:
            return mix_with_layer(self.mixers[methods[0]], x, y, seeds[0])
        # Both on: compute the coin first, then only run the chosen branch.
        if seed is None:
            coin = keras.random.uniform((), seed=self.mixers["mixup"].generator)
        else:
            coin = tf.random.stateless_uniform((), seed=seeds[2].next())
        return tf.cond(
            coin < 0.5,
            lambda: mix_with_layer(self.mixers["mixup"], x, y, seeds[0]),
            lambda: mix_with_layer(self.mixers["cutmix"], x, y, seeds[1]),
        )


def _check_element_spec(ds: tf.data.Dataset, num_classes: int) -> None:
    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ConfigError(_("augment_dataset needs a dataset of (images, one-hot labels) pairs."))
    img, lab = spec
    if img.shape.rank != 4 or img.dtype != tf.float32:
        raise ConfigError(
            _(
                "augment_dataset needs batched float32 images [B, H, W, 3]; got {dtype} "
                "{shape}. Batch the dataset before augmenting it."
            ).format(dtype=img.dtype.name, shape=img.shape)
        )
    if lab.shape.rank != 2 or lab.dtype != tf.float32:
        raise ConfigError(
            _(
                "augment_dataset needs batched one-hot float32 labels [B, classes]; got "
                "{dtype} {shape}."
            ).format(dtype=lab.dtype.name, shape=lab.shape)
        )
    if lab.shape[-1] is not None and lab.shape[-1] != num_classes:
        raise ConfigError(
            _("The labels have {count} classes but num_classes is {expected}.").format(
                count=lab.shape[-1], expected=num_classes
            )
        )


def augment_dataset(
    ds: tf.data.Dataset, config: AugmentConfig, seed: int = 0, num_classes: int = 102
) -> tf.data.Dataset:
    """Augment a batched (images 0..255, one-hot labels) training dataset, seeded per batch."""
    _check_element_spec(ds, num_classes)
    if config.is_identity:
        return ds
    aug = Augmenter(config, seed=seed)
    # One stateless seed per batch, fresh each epoch but reproducible, independent of parallelism.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def _map(pair: tuple[tf.Tensor, tf.Tensor], batch_seed: tf.Tensor):
        images, labels = pair
        out = aug(images, training=True, seed=fold_seed(batch_seed, 0))
        out = tf.convert_to_tensor(out, tf.float32)
        if aug.mixers:
            out, labels, _ = aug.mix(out, labels, seed=fold_seed(batch_seed, 1))
        out = tf.ensure_shape(out, images.shape)
        return out, tf.ensure_shape(labels, pair[1].shape)

    return tf.data.Dataset.zip(ds, seeds).map(_map, num_parallel_calls=tf.data.AUTOTUNE)


def keras_code(config: AugmentConfig) -> str:
    """Copyable Keras code equivalent to the chosen settings."""
    c = config
    layers: list[str] = []
    if c.flip == "horizontal_and_vertical":
        layers.append(
            "# Two independent flips: RandomFlip('horizontal_and_vertical') flips both axes together."
        )
        layers += ['keras.layers.RandomFlip("horizontal"),', 'keras.layers.RandomFlip("vertical"),']
    elif c.flip != "none":
        layers.append(f'keras.layers.RandomFlip("{c.flip}"),')
    if c.rotation > 0:
        layers.append(f"keras.layers.RandomRotation({c.rotation!r}),  # fraction of a full turn")
    if c.zoom > 0:
        layers.append(f"keras.layers.RandomZoom({c.zoom!r}),")
    if c.translation > 0:
        layers.append(f"keras.layers.RandomTranslation({c.translation!r}, {c.translation!r}),")
    if c.brightness > 0:
        layers.append(f"keras.layers.RandomBrightness({c.brightness!r}, value_range=(0, 255)),")
    if c.contrast > 0:
        layers.append(f"keras.layers.RandomContrast({c.contrast!r}, value_range=(0, 255)),")
    if c.grayscale > 0:
        layers.append(f"keras.layers.RandomGrayscale({c.grayscale!r}),  # share of photos in grey")
    if c.rand_augment > 0:
        layers += [
            "# flowerdash's RandAugment also leaves out posterization and solarization.",
            f"keras.layers.RandAugment(value_range=(0, 255), factor={c.rand_augment!r}),",
        ]
    if c.covers_patches:
        layers.append(
            "# factor=(p, p) makes p the share of photos erased (a single p means up to p)."
        )
        if c.erase_flat > 0:
            layers.append(
                f"# flowerdash fills a share {c.erase_flat!r} of the patches with one flat colour "
                "instead of noise."
            )
        layers.append(
            f"keras.layers.RandomErasing(factor=({c.erase!r}, {c.erase!r}), "
            f"scale={erase_scale(c.erase_size)!r}),"
        )
    if c.blur > 0:
        layers.append(
            f"keras.layers.RandomGaussianBlur(factor=({c.blur!r}, {c.blur!r}), "
            f"kernel_size={BLUR_KERNEL}, sigma={BLUR_SIGMA!r}),"
        )
    lines = [
        "import keras",
        *(["import tensorflow as tf"] if c.jpeg > 0 or c.tiles > 0 or c.noise > 0 else []),
        "",
        "# Images: float32 [batch, height, width, 3] in 0..255; labels: one-hot float32.",
    ]
    if layers:  # Keras cannot call an empty Sequential
        lines += [
            "augment = keras.Sequential(",
            "    [",
            *(f"        {line}" for line in layers),
            "    ],",
            '    name="augment",',
            ")",
        ]
    if c.mixup_alpha > 0:
        lines.append(f"mix_up = keras.layers.MixUp(alpha={c.mixup_alpha!r})")
    if c.cutmix_alpha > 0:
        lines += [
            "# factor=(a, a) samples the box from Beta(a, a), as in the CutMix paper.",
            f"cut_mix = keras.layers.CutMix(factor=({c.cutmix_alpha!r}, {c.cutmix_alpha!r}))",
        ]
    if c.noise > 0:
        low, high = NOISE_SIGMA
        lines += [
            "",
            "",
            f"def add_grain(images, share={c.noise!r}, sigma=({low!r}, {high!r})):",
            '    """Give a share of the photos Gaussian grain of a strength of their own."""',
            "    images = tf.cast(images, tf.float32)",
            "    b = tf.shape(images)[0]",
            "    strength = tf.random.uniform((b, 1, 1, 1), sigma[0], sigma[1])",
            "    noisy = tf.clip_by_value(images + tf.random.normal(tf.shape(images)) * strength, 0, 255)",
            "    return tf.where(tf.random.uniform((b, 1, 1, 1)) < share, noisy, images)",
        ]
    if c.jpeg > 0:
        low, high = JPEG_QUALITY
        lines += [
            "",
            "",
            f"def compress(images, share={c.jpeg!r}, quality=({low}, {high})):",
            '    """Save a share of the photos as JPEG at a random quality (Keras has no layer)."""',
            "",
            "    def one(image):",
            "        q = tf.random.uniform((), quality[0], quality[1] + 1, dtype=tf.int32)",
            "        return tf.cond(",
            "            tf.random.uniform(()) < share,",
            "            lambda: 255.0 * tf.image.adjust_jpeg_quality(image / 255.0, q),",
            "            lambda: image,",
            "        )",
            "",
            "    return tf.map_fn(one, tf.cast(images, tf.float32))",
        ]
    if c.tiles > 0:
        low, high = TILE_SIDES
        lines += [
            "",
            "",
            f"def tile(images, share={c.tiles!r}, sides=({low!r}, {high!r})):",
            '    """Show a share of the photos as a 2 x 2 grid of four crops of themselves."""',
            "    images = tf.cast(images, tf.float32)",
            "    b, h, w = tf.shape(images)[0], images.shape[1], images.shape[2]",
            "    side = tf.random.uniform((b, 4, 1), sides[0], sides[1])",
            "    corner = tf.random.uniform((b, 4, 2)) * (1.0 - side)",
            "    boxes = tf.reshape(tf.concat([corner, corner + side], -1), (-1, 4))",
            "    crops = tf.image.crop_and_resize(",
            "        images, boxes, tf.repeat(tf.range(b), 4), (h // 2, w // 2)",
            "    )",
            "    crops = tf.reshape(crops, (b, 2, 2, h // 2, w // 2, 3))",
            "    grid = tf.reshape(tf.transpose(crops, (0, 1, 3, 2, 4, 5)), (b, h // 2 * 2, w // 2 * 2, 3))",
            "    grid = tf.image.resize(grid, (h, w))",
            "    return tf.where(tf.random.uniform((b, 1, 1, 1)) < share, grid, images)",
        ]
    lines += [
        "",
        "",
        "def augment_batch(images, labels):",
        *(["    images = tile(images)"] if c.tiles > 0 else []),
        *(["    images = augment(images, training=True)"] if layers else []),
        *(["    images = add_grain(images)"] if c.noise > 0 else []),
        *(["    images = compress(images)"] if c.jpeg > 0 else []),
    ]
    if c.mixup_alpha > 0 and c.cutmix_alpha > 0:
        lines += [
            '    batch = {"images": images, "labels": labels}',
            "    out = keras.ops.cond(",
            "        keras.random.uniform(()) < 0.5, lambda: mix_up(batch), lambda: cut_mix(batch)",
            "    )",
            '    images, labels = out["images"], out["labels"]',
        ]
    elif c.mixup_alpha > 0 or c.cutmix_alpha > 0:
        name = "mix_up" if c.mixup_alpha > 0 else "cut_mix"
        lines += [
            f'    out = {name}({{"images": images, "labels": labels}})',
            '    images, labels = out["images"], out["labels"]',
        ]
    lines += ["    return images, labels", ""]
    return "\n".join(lines)


def sample_grid(image: Any, config: AugmentConfig, n: int, seed: int) -> np.ndarray:
    """n augmented variants of one uint8 image for the live preview; same seed, same grid.

    Only the per-image layers are shown: MixUp/CutMix need a second image (see `mix_pair`).
    RandAugment picks its operations once per batch, so with it each variant is drawn on its own.
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ImageError(
            _("Expected one RGB image [H, W, 3]; got shape {shape}.").format(shape=arr.shape)
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(
            _("The number of variants must be a positive integer; got {value}.").format(
                value=repr(n)
            )
        )
    batch = np.repeat(arr[None].astype(np.float32), int(n), axis=0)
    aug = Augmenter(config, seed=seed)
    if "rand_augment" in aug.layers:
        out = np.concatenate(
            [aug(batch[i : i + 1], seed=fold_seed(int(seed), i)) for i in range(n)]
        )
    else:
        out = aug.apply(batch, aug.sample(batch, seed=int(seed))) if aug.layers else batch
    return np.clip(np.rint(np.asarray(out)), 0, 255).astype(np.uint8)
