"""The augmentation layers Keras lacks, or whose behaviour did not fit, for
:class:`flowerdash.data.augment.Augmenter`. Like Keras 3's image layers, each splits random
sampling (`get_random_transformation`) from deterministic application (`transform_images`).

Where Keras' behaviour did not fit, the minimal fix and its reason:
- `RandomFlip("horizontal_and_vertical")` draws ONE decision per image and applies it to both
  axes, so an image is either unchanged or rotated by 180 degrees; the two mirror images never
  occur. We use two independent layers, `RandomFlip("horizontal")` and `RandomFlip("vertical")`.
- `RandAugment` ignores the seed passed to `get_random_transformation` (it always advances its
  own generator), and runs all eleven operations on every batch to keep two of them. Our
  `SeededRandAugment` subclass takes the seed and runs only the two chosen operations; like
  Keras, it picks the operations once per batch. It leaves out posterization and solarization,
  whose strength Keras maps backwards (a factor of 0.2 keeps 1 bit per channel and inverts
  every pixel above a threshold of at most 51, harsher than 0.5 does).
- `RandomErasing` fills its patches with noise only; `PatchErasing` fills a share of them with
  one flat colour, as hands, leaves and labels are.
- Keras has no JPEG layer; `RandomJPEG` saves a share of the photos with
  `tf.image.adjust_jpeg_quality`. Nor one for several flowers in a picture; `RandomTiles` shows
  a share of the photos as a 2×2 grid of four crops of themselves (`tf.image.crop_and_resize`).
  Both fill in `ShareOfPhotos`, which draws which photos change and splits sampling from
  application like the others, as does `RandomNoise`: Keras' `GaussianNoise` is a regularising
  layer that adds one strength of noise to every input, not grain of its own to a share of photos.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from flowerdash.data.augment_config import JPEG_QUALITY, NOISE_SIGMA, TILE_SIDES

VALUE_RANGE = (0, 255)
SMALLEST_PATCH = 0.02  # Keras RandomErasing's own smallest patch, as a share of the photo


def erase_scale(largest: float) -> tuple[float, float]:
    """RandomErasing's ``scale`` for patches up to ``largest`` of the photo (from 2%, as Keras)."""
    return (min(SMALLEST_PATCH, largest), largest)


class PatchErasing(keras.layers.RandomErasing):
    """Keras' RandomErasing whose patches are noise or, for a share ``flat`` of the photos, one
    flat colour of a random shade (real occluders such as hands and leaves are mostly smooth)."""

    def __init__(self, flat: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flat = float(flat)

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None):
        """Keras' transformation with each flat photo's noise replaced by its one colour."""
        transformation = super().get_random_transformation(data, training=training, seed=seed)
        if transformation is None or self.flat == 0:
            return transformation
        seed = self.generator if seed is None else seed
        noise = transformation["fill_value"]
        batch = tf.shape(noise)[0]
        colour = keras.random.uniform((batch, 1, 1, 3), *VALUE_RANGE, seed=seed)
        flat = keras.random.uniform((batch, 1, 1, 1), seed=seed) < self.flat
        fill = tf.where(flat, tf.broadcast_to(tf.cast(colour, noise.dtype), tf.shape(noise)), noise)
        return {**transformation, "fill_value": fill}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "flat": self.flat}


class ShareOfPhotos(keras.layers.Layer):
    """The template of a layer that changes a share ``factor`` of the photos, each its own way
    (Keras has no such layers): ``get_random_transformation`` draws which photos ({"apply": [B]
    bool}) and whatever a subclass's ``draw`` adds; ``transform_images`` hands the batch and all
    of it to the subclass's ``change``, which only applies it.
    """

    def __init__(self, factor: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor, self.seed = float(factor), seed
        self.generator = keras.random.SeedGenerator(seed)

    def draw(self, batch: tf.Tensor, seed: Any) -> dict[str, tf.Tensor]:
        """The subclass's own random parameters for a batch of ``batch`` photos."""
        raise NotImplementedError

    def change(self, images: tf.Tensor, transformation: dict[str, tf.Tensor]) -> tf.Tensor:
        """The batch with the drawn change applied where ``transformation["apply"]`` is set."""
        raise NotImplementedError

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None):
        if not training:
            return None
        seed = self.generator if seed is None else seed
        batch = tf.shape(data)[0]
        apply = keras.random.uniform((batch,), seed=seed) < self.factor
        return {"apply": apply, **self.draw(batch, seed)}

    def transform_images(self, images: Any, transformation: Any, training: bool = True):
        images = tf.cast(images, tf.float32)
        if not training or transformation is None:
            return images
        return self.change(images, transformation)

    def call(self, images: Any, training: bool = True) -> Any:
        return self.transform_images(
            images, self.get_random_transformation(images, training=training), training=training
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}


class RandomJPEG(ShareOfPhotos):
    """A share ``factor`` of the photos saved as JPEG at a quality drawn from ``quality`` and read
    back: web photos carry compression's blocks and ringing edges. Draws {"quality": [B] int32}.
    """

    def __init__(
        self,
        factor: float,
        quality: tuple[int, int] = JPEG_QUALITY,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(factor, seed, **kwargs)
        self.quality = tuple(map(int, quality))

    def draw(self, batch: tf.Tensor, seed: Any) -> dict[str, tf.Tensor]:
        low, high = self.quality
        return {"quality": keras.random.randint((batch,), low, high + 1, seed=seed, dtype="int32")}

    def change(self, images: tf.Tensor, transformation: dict[str, tf.Tensor]) -> tf.Tensor:
        def one(args: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
            image, apply, quality = args
            # Encoding is the cost, so photos that are not compressed skip it.
            return tf.cond(
                apply,
                lambda: 255.0 * tf.image.adjust_jpeg_quality(image / 255.0, quality),
                lambda: image,
            )

        out = tf.map_fn(
            one,
            (images, transformation["apply"], transformation["quality"]),
            fn_output_signature=tf.TensorSpec(images.shape[1:], tf.float32),
        )
        return tf.ensure_shape(out, images.shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "quality": self.quality}


class RandomNoise(ShareOfPhotos):
    """A share ``factor`` of the photos given Gaussian grain of a strength drawn for each photo
    from ``sigma`` (on the 0-255 scale), as a phone camera adds in dim light. Draws {"sigma": [B],
    "grain": [2] int32}, the stateless seed of the batch's noise.
    """

    def __init__(
        self,
        factor: float,
        sigma: tuple[float, float] = NOISE_SIGMA,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(factor, seed, **kwargs)
        self.sigma = tuple(map(float, sigma))

    def draw(self, batch: tf.Tensor, seed: Any) -> dict[str, tf.Tensor]:
        return {
            "sigma": keras.random.uniform((batch,), *self.sigma, seed=seed),
            "grain": keras.random.randint((2,), 0, 2**31 - 1, seed=seed, dtype="int32"),
        }

    def change(self, images: tf.Tensor, transformation: dict[str, tf.Tensor]) -> tf.Tensor:
        grain = tf.random.stateless_normal(tf.shape(images), seed=transformation["grain"])
        noisy = images + grain * transformation["sigma"][:, None, None, None]
        noisy = tf.clip_by_value(noisy, *map(float, VALUE_RANGE))
        return tf.where(transformation["apply"][:, None, None, None], noisy, images)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "sigma": self.sigma}


def tile_images(images: tf.Tensor, boxes: tf.Tensor, apply: tf.Tensor) -> tf.Tensor:
    """The images with ``apply`` [B] set replaced by a 2×2 grid of four of their crops.

    ``boxes`` [B, 4, 4] are the crops' normalised (y1, x1, y2, x2), top-left tile first, in
    reading order; each crop is resized to a quarter of the image. Height and width must be
    known (the pipeline's are).
    """
    h, w = images.shape[1], images.shape[2]
    batch = tf.shape(images)[0]
    crops = tf.image.crop_and_resize(
        images, tf.reshape(boxes, [-1, 4]), tf.repeat(tf.range(batch), 4), (h // 2, w // 2)
    )
    crops = tf.reshape(crops, [batch, 2, 2, h // 2, w // 2, 3])
    grid = tf.reshape(tf.transpose(crops, [0, 1, 3, 2, 4, 5]), [batch, h // 2 * 2, w // 2 * 2, 3])
    if (h % 2, w % 2) != (0, 0):
        grid = tf.image.resize(grid, (h, w))
    return tf.where(apply[:, None, None, None], grid, images)


class RandomTiles(ShareOfPhotos):
    """A share ``factor`` of the photos shown as a 2×2 grid of four crops of themselves, each
    side a share of the photo's drawn from ``sides``: several smaller flowers in one picture, as
    in a bed or a bouquet. Draws {"boxes": [B, 4, 4]}.
    """

    def __init__(
        self,
        factor: float,
        sides: tuple[float, float] = TILE_SIDES,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(factor, seed, **kwargs)
        self.sides = tuple(map(float, sides))

    def draw(self, batch: tf.Tensor, seed: Any) -> dict[str, tf.Tensor]:
        side = keras.random.uniform((batch, 4, 1), *self.sides, seed=seed)
        corner = keras.random.uniform((batch, 4, 2), seed=seed) * (1.0 - side)
        return {"boxes": tf.concat([corner, corner + side], axis=-1)}

    def change(self, images: tf.Tensor, transformation: dict[str, tf.Tensor]) -> tf.Tensor:
        return tile_images(images, transformation["boxes"], transformation["apply"])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "sides": self.sides}


class SeededRandAugment(keras.layers.RandAugment):
    """Keras' RandAugment that honours the sampling seed and runs only the operations it picked."""

    OPERATIONS = (
        "random_shear",
        "random_translation",
        "random_rotation",
        "random_brightness",
        "random_color_degeneration",
        "random_contrast",
        "random_sharpness",
        "auto_contrast",
        "equalization",
    )

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None):
        """{"ops": [num_ops] operation indices, "transforms": each operation's parameters}."""
        if not training:
            return None
        seed = self.generator if seed is None else seed
        ops = keras.random.randint((self.num_ops,), 0, len(self.OPERATIONS), seed=seed)
        transforms = {
            name: getattr(self, name).get_random_transformation(data, training=True, seed=seed)
            for name in self.OPERATIONS
        }
        return {"ops": ops, "transforms": transforms}

    def transform_images(self, images: Any, transformation: Any, training: bool = True):
        """Apply the chosen operations in order (one `switch_case` each: only they run)."""
        images = tf.cast(images, self.compute_dtype)
        if not training or transformation is None:
            return images
        ops, transforms = transformation["ops"], transformation["transforms"]

        def branch(name: str, x: tf.Tensor):
            layer = getattr(self, name)
            return lambda: tf.cast(layer.transform_images(x, transforms[name]), self.compute_dtype)

        for i in range(self.num_ops):
            x = images
            images = tf.switch_case(
                tf.cast(ops[i], tf.int32), [branch(name, x) for name in self.OPERATIONS]
            )
            images = tf.ensure_shape(images, x.shape)
        return images
