"""Safe decoding of uploads, camera shots and files into uint8 RGB, and resize/crop for a model.

Every image that enters the product goes through :func:`load_image`, which

* refuses sources larger than ``max_bytes`` before decoding anything;
* reads only the header first and refuses (or, for JPEG, decodes at a reduced scale) images whose
  pixel count exceeds ``max_pixels``, so a decompression bomb never gets decoded;
* refuses truncated files instead of returning a half-grey picture;
* reads iPhone photos (HEIC) as well as JPEG, PNG, WebP, AVIF, GIF, BMP and TIFF;
* honours the EXIF orientation, takes the first frame of animations, converts colours tagged with
  a profile (Display P3 from phones, Adobe RGB, CMYK), or a HEIF's stated primaries, to sRGB,
  composites transparency over white and converts every mode (L, P, CMYK, 16-bit, ...) to 8-bit
  RGB.

There is deliberately no minimum size: a tiny image (say 8x8 pixels, an icon or a thumbnail) is a
legitimate, if blurry, input. :func:`prepare_for_model` upscales it to the model's size, and the
prediction shows what the model makes of it; refusing it would only hide that from the user. Its
percentages are lowered for its size (``calibration.size_temperature``), and the pages say so.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import pathlib
import re
import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from flowerdash.data.icc import rgb_profile
from flowerdash.errors import ConfigError, ImageError
from flowerdash.i18n import N_, _

log = logging.getLogger(__name__)

# iPhones save their photos as HEIC. pillow-heif's plugin lets Pillow open them like any other
# format; it turns them upright itself (their EXIF orientation then reads 1).
register_heif_opener()

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# What an upload field offers, as people name each format and by its file endings; every one
# decodes with Pillow (HEIC and HEIF through pillow-heif). The fields' help texts and the
# not-an-image error list these names, so a format added here is named everywhere.
UPLOAD_FORMATS: dict[str, tuple[str, ...]] = {
    "JPEG": ("jpg", "jpeg"),
    "PNG": ("png",),
    "HEIC": ("heic", "heif"),
    "WebP": ("webp",),
    "AVIF": ("avif",),
    "GIF": ("gif",),
    "BMP": ("bmp",),
}
UPLOAD_TYPES = tuple(ending for endings in UPLOAD_FORMATS.values() for ending in endings)
# Read from files and folders too, but not offered by the upload fields.
OTHER_FORMATS = ("TIFF",)
# A 48-megapixel phone photo (8064 x 6048, what iPhones save as HEIF Max) fits. Beyond it JPEGs
# are decoded at a reduced scale, and other formats refused before decoding.
MAX_PIXELS = 50_000_000

ImageSource = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO

# Marked here, translated where raised (the language is only known then).
_DAMAGED = N_("This image file is damaged and cannot be decoded. Please try another copy of it.")
_NOT_AN_IMAGE = N_("This file is not an image we can read. Please use a {formats} photo.")


def format_list(names: tuple[str, ...] | list[str] | None = None) -> str:
    """Format names as a sentence lists them, in the current language: "JPEG, PNG … or BMP".
    The upload fields' formats by default."""
    *first, last = list(UPLOAD_FORMATS) if names is None else names
    if not first:
        return last
    return _("{names} or {last}").format(names=", ".join(first), last=last)


def upload_size_limit() -> str:
    """The upload fields' size limit as people read it ("20 MB")."""
    return _("{count} MB").format(count=MAX_UPLOAD_BYTES // (1024 * 1024))


def _not_an_image() -> str:
    return _(_NOT_AN_IMAGE).format(formats=format_list([*UPLOAD_FORMATS, *OTHER_FORMATS]))


def _megapixels(pixels: int) -> str:
    if pixels >= 100_000:
        return _("{count} megapixels").format(count=f"{pixels / 1e6:.1f}")
    return _("{count} pixels").format(count=f"{pixels:,}")


def _check_limit(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(
            _("{name} must be a positive whole number, not {value}.").format(
                name=name, value=repr(value)
            )
        )
    return value


def _read_bytes(source: ImageSource, max_bytes: int) -> bytes:
    """Return the raw bytes of ``source``, refusing anything larger than ``max_bytes``."""
    too_big = _(
        "This file is {size} which is larger than the limit of {limit}. Please use a smaller image."
    )
    limit = (
        _("{count} MB").format(count=f"{max_bytes / 1024 / 1024:.0f}")
        if max_bytes >= 1024 * 1024
        else _("{count} bytes").format(count=max_bytes)
    )

    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | os.PathLike):
        path = pathlib.Path(source)
        if not path.exists():
            raise ImageError(_("There is no file at {path}.").format(path=path))
        if not path.is_file():
            raise ImageError(_("{path} is a folder, not an image file.").format(path=path))
        size = path.stat().st_size
        if size > max_bytes:
            megabytes = _("{count} MB").format(count=f"{size / 1024 / 1024:.1f}")
            raise ImageError(too_big.format(size=megabytes, limit=limit))
        try:
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise ImageError(
                _("The file {path} cannot be opened: {reason}.").format(
                    path=path, reason=exc.strerror or exc
                )
            ) from exc
    elif hasattr(source, "read"):
        # Streamlit re-runs read the same UploadedFile again: start from the beginning.
        if getattr(source, "seekable", lambda: False)():
            source.seek(0)
        data = source.read(max_bytes + 1)
        if not isinstance(data, bytes | bytearray):
            raise ImageError(_("The uploaded file did not give us bytes to read."))
        data = bytes(data)
    else:
        raise TypeError(
            f"load_image needs bytes, a file path or a file object, not {type(source).__name__}."
        )

    if len(data) > max_bytes:
        more = _("more than {limit}").format(limit=limit)
        raise ImageError(too_big.format(size=more, limit=limit))
    if not data:
        raise ImageError(_("The file is empty (0 bytes). Please choose a photo."))
    return data


def _open_header(data: bytes, max_pixels: int) -> Image.Image:
    """Open ``data`` lazily (header only), turning every Pillow failure into ImageError."""
    try:
        with warnings.catch_warnings():
            # Our own, stricter pixel check runs right after opening; Pillow's warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise ImageError(_not_an_image()) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = _megapixels(int(found.group(1))) if found else _("too many pixels")
        raise ImageError(
            _(
                "This image is {size} once decoded; the limit is {limit}. "
                "Please use a smaller image."
            ).format(size=size, limit=_megapixels(max_pixels))
        ) from exc
    except Exception as exc:  # Pillow plugins raise many types on malformed headers
        raise ImageError(_not_an_image()) from exc


def _reduce_jpeg(im: Image.Image, max_pixels: int) -> None:
    """Ask the JPEG decoder to decode at 1/2, 1/4 or 1/8 scale so the result fits ``max_pixels``."""
    w, h = im.size
    for k in (2, 4, 8):
        if -(-w // k) * -(-h // k) <= max_pixels:
            im.draft("RGB" if im.mode == "RGB" else None, (max(w // k, 1), max(h // k, 1)))
            return


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """The image's colours in sRGB, as a browser shows them, given its embedded ICC profile.

    Phones tag photos Display P3; read as plain numbers, a P3 red is a duller red, and the
    training photos (Flowers102 carries no profiles) are sRGB. Untagged and sRGB-tagged images
    are returned as they are, so their pixels stay bit-identical.
    """
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK"):
        return im
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if ImageCms.getProfileDescription(profile).strip().startswith("sRGB"):
            return im
        return ImageCms.profileToProfile(
            im, profile, _srgb(), outputMode="RGBA" if im.mode == "RGBA" else "RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        # A broken profile, or one that does not fit the pixels (a CMYK profile on an RGB
        # image), is no reason to refuse the picture: its numbers are used as they are.
        log.info("Colour profile ignored (%s); the image's numbers are read as sRGB.", exc)
        return im


# nclx colour codes (ITU-T H.273), how HEIF photos without an ICC profile state their colours.
# Only the sRGB tone curve is converted (Display P3 uses it; HDR curves would need tone mapping);
# sRGB's own primaries (1) and "unspecified" (2) need nothing.
_NCLX_SRGB_CURVE = 13
_NCLX_SRGB_PRIMARIES = (1, 2)


def _profile_of(im: Image.Image) -> bytes | None:
    """The image's ICC profile, or one built from its nclx colour description, if either."""
    icc = im.info.get("icc_profile")
    nclx = im.info.get("nclx_profile")
    if icc or not isinstance(nclx, dict):
        return icc or None
    if (
        nclx.get("transfer_characteristics") != _NCLX_SRGB_CURVE
        or nclx.get("color_primaries") in _NCLX_SRGB_PRIMARIES
    ):
        return None
    try:
        red, green, blue, white = (
            (
                round(float(nclx[f"color_primary_{c}_x"]), 4),
                round(float(nclx[f"color_primary_{c}_y"]), 4),
            )
            for c in ("red", "green", "blue", "white")
        )
        return rgb_profile((red, green, blue), f"nclx {nclx['color_primaries']}", white)
    except (KeyError, TypeError, ValueError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
        log.info("Colour description ignored (%s); the image's numbers are read as sRGB.", exc)
        return None


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Convert a loaded image of any mode to a uint8 RGB array, alpha composited over white."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im).astype(np.float64)
        if mode == "F":
            a = a * 255.0 if a.size and np.nanmax(a) <= 1.0 else a
        elif mode.startswith("I;16") or (a.size and (a.max() > 255 or a.min() < 0)):
            # 16-bit samples: map 0..65535 linearly onto 0..255 (65535 / 255 == 257).
            a = np.clip(a, 0, 65535) / 257.0
        gray = np.clip(np.rint(np.nan_to_num(a)), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)

    # "transparency" marks a transparent palette index (P) or colour key (L, RGB).
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
    if mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8)


def load_image(
    source: ImageSource,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """Decode bytes, a path or a file object into a uint8 RGB array [H, W, 3], safely."""
    max_bytes = _check_limit(max_bytes, "max_bytes")
    max_pixels = _check_limit(max_pixels, "max_pixels")
    data = _read_bytes(source, max_bytes)
    im = _open_header(data, max_pixels)
    try:
        w, h = im.size
        if w * h > max_pixels and im.format == "JPEG":
            _reduce_jpeg(im, max_pixels)
            w, h = im.size
        if w * h > max_pixels:
            raise ImageError(
                _(
                    "This image is {width} x {height} pixels (width x height, {size}); "
                    "the limit is {limit}. Please use a smaller image."
                ).format(
                    width=f"{w:,}",
                    height=f"{h:,}",
                    size=_megapixels(w * h),
                    limit=_megapixels(max_pixels),
                )
            )
        try:
            # Loads the first frame of an animation. Relies on Pillow's default
            # ImageFile.LOAD_TRUNCATED_IMAGES = False (never changed in this project), which
            # makes a cut-off file raise instead of decoding to a half-grey picture.
            im.load()
        except OSError as exc:
            if "truncated" in str(exc):
                raise ImageError(
                    _(
                        "This image file is incomplete (it was cut off before the end). "
                        "Please upload the full file again."
                    )
                ) from exc
            raise ImageError(_(_DAMAGED)) from exc
        except Exception as exc:  # decoders raise ValueError, SyntaxError, EOFError, ...
            raise ImageError(_(_DAMAGED)) from exc
        try:
            upright = ImageOps.exif_transpose(im)
        except Exception:  # a broken EXIF block is no reason to refuse the picture itself
            upright = im
        upright = upright if upright is not None else im
        rgb = _to_rgb(_to_srgb(upright, _profile_of(im)))
    finally:
        im.close()
    return np.array(rgb, dtype=np.uint8, order="C")  # a writable copy the caller owns


Framing = tuple[float, float, float]  # zoom, x, y as ``frame`` takes them
# the framing that leaves the photo as it is: the model's own centre square
WHOLE_PHOTO: Framing = (1.0, 0.5, 0.5)


def frame(image: np.ndarray, zoom: float = 1.0, x: float = 0.5, y: float = 0.5) -> np.ndarray:
    """The square of a photo a person framed for the model: its side the shorter side / ``zoom``.

    ``x`` and ``y`` (0..1) place the square from the left/top edge to the right/bottom one, so
    a small or off-centre flower in a wide photo can be what the model sees. At the defaults the
    photo is returned as it is: ``prepare_for_model`` takes that same centre square.
    """
    if not zoom >= 1.0 or not 0.0 <= x <= 1.0 or not 0.0 <= y <= 1.0:
        raise ConfigError(
            _("Zoom must be at least 1 and the position between 0 and 1, not {value}.").format(
                value=(zoom, x, y)
            )
        )
    if (zoom, x, y) == WHOLE_PHOTO:
        return image
    h, w = image.shape[:2]
    side = max(1, round(min(h, w) / zoom))
    left, top = round(x * (w - side)), round(y * (h - side))
    return np.ascontiguousarray(image[top : top + side, left : left + side])


def prepare_for_model(image: np.ndarray, size: int) -> np.ndarray:
    """Resize so the shorter side equals ``size`` (bilinear, antialiased), then centre-crop."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size <= 0:
        raise ConfigError(
            _("The model image size must be a positive whole number, not {value}.").format(
                value=repr(size)
            )
        )
    if (
        not isinstance(image, np.ndarray)
        or image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] != 3
        or min(image.shape[:2]) == 0
    ):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ImageError(
            _(
                "Expected an RGB picture as a uint8 array of shape [height, width, 3], "
                "got {dtype} with shape {shape}."
            ).format(dtype=dtype, shape=shape)
        )
    h, w = image.shape[:2]
    size = int(size)
    # Same geometry as "resize the whole picture, then crop the centre", but Pillow resamples
    # only the cropped box, so very long thin images never allocate a huge intermediate.
    if w <= h:
        new_w, new_h = size, max(size, round(h * size / w))
    else:
        new_w, new_h = max(size, round(w * size / h)), size
    left, top = (new_w - size) // 2, (new_h - size) // 2
    sx, sy = w / new_w, h / new_h
    box = (left * sx, top * sy, (left + size) * sx, (top + size) * sy)
    out = Image.fromarray(image, "RGB").resize((size, size), Image.Resampling.BILINEAR, box=box)
    return np.asarray(out, dtype=np.float32)


def image_hash(image: np.ndarray) -> str:
    """A stable sha1 of an array's shape, dtype and pixels, for caching."""
    a = np.ascontiguousarray(image)
    h = hashlib.sha1()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()
