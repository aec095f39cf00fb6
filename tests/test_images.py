"""Tests for flowerdash.data.images: every format and hostile input is generated here."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from benchmarks.icc import as_display_p3, rgb_profile
from flowerdash.data.images import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    frame,
    image_hash,
    load_image,
    prepare_for_model,
)
from flowerdash.errors import ConfigError, ImageError


def _rgb(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth, photo-like test picture (JPEG-friendly) with distinct channels."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 60 * np.sin(x / 5.0 + rng.uniform(0, 3))
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def _write_bomb_png(path: Path, width: int, height: int) -> None:
    """Stream a valid 1-bit black PNG of the given size without ever holding its pixels."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed 1-bit samples
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


# --- sources -------------------------------------------------------------------------------------


def test_constants():
    assert MAX_UPLOAD_BYTES == 20 * 1024 * 1024
    assert MAX_PIXELS == 50_000_000
    assert MAX_PIXELS >= 8064 * 6048  # the largest photo a phone saves as HEIC (48 MP)


def test_real_flower_from_path_str_bytes_and_filelike(flower_paths):
    path = flower_paths[0]
    a = load_image(path)
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert a.flags.writeable and a.flags.c_contiguous
    assert min(a.shape[:2]) == 256  # dataset images have shorter side 256
    np.testing.assert_array_equal(load_image(str(path)), a)
    np.testing.assert_array_equal(load_image(path.read_bytes()), a)
    with open(path, "rb") as fh:
        np.testing.assert_array_equal(load_image(fh), a)
    # An upload object read once before (Streamlit rerun) is read again from the start.
    buf = io.BytesIO(path.read_bytes())
    buf.read()
    np.testing.assert_array_equal(load_image(buf), a)
    np.testing.assert_array_equal(load_image(bytearray(path.read_bytes())), a)


def test_all_real_flowers_load(flower_paths):
    for p in flower_paths:
        a = load_image(p)
        assert a.dtype == np.uint8 and a.shape[2] == 3 and a.std() > 10


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="no file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_wrong_source_type_is_a_programming_error():
    with pytest.raises(TypeError):
        load_image(12345)  # type: ignore[arg-type]


def test_bad_limits_are_config_errors():
    with pytest.raises(ConfigError):
        load_image(b"x", max_bytes=0)
    with pytest.raises(ConfigError):
        load_image(b"x", max_pixels=-5)


# --- refusals ------------------------------------------------------------------------------------


def test_text_renamed_jpg_is_not_an_image(tmp_path):
    p = tmp_path / "holiday.jpg"
    p.write_text("This is a shopping list, not a photo.\n" * 20)
    with pytest.raises(ImageError, match="This file is not an image we can read"):
        load_image(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(p)
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_is_refused(fmt):
    data = _encode(Image.fromarray(_rgb(120, 160)), fmt)
    assert load_image(data).shape == (120, 160, 3)
    with pytest.raises(ImageError, match="incomplete"):
        load_image(data[: len(data) * 2 // 3])


def test_garbage_after_a_valid_header_is_refused():
    data = bytearray(_encode(Image.fromarray(_rgb(64, 64)), "PNG"))
    mid = len(data) // 2
    data[mid : mid + 40] = b"\xff" * 40  # corrupt the compressed stream
    with pytest.raises(ImageError):
        load_image(bytes(data))


def test_bytes_over_limit_refused_before_decoding(tmp_path):
    data = _encode(Image.fromarray(_rgb()), "PNG")
    with pytest.raises(ImageError, match="larger than the limit"):
        load_image(data, max_bytes=len(data) - 1)
    p = tmp_path / "big.png"
    p.write_bytes(data)
    with pytest.raises(ImageError, match="larger than the limit"):
        load_image(p, max_bytes=100)
    with pytest.raises(ImageError, match="larger than the limit"):
        load_image(io.BytesIO(data), max_bytes=100)
    # Not an image at all, but too big: refused for its size, i.e. without trying to decode it.
    with pytest.raises(ImageError, match="larger than the limit"):
        load_image(b"\x00" * 1000, max_bytes=999)
    assert load_image(data, max_bytes=len(data)).shape == (48, 64, 3)


def test_decompression_bomb_png_is_refused_quickly(tmp_path):
    p = tmp_path / "bomb.png"
    _write_bomb_png(p, 20_000, 20_000)
    assert p.stat().st_size < 200_000  # tiny file, 400 megapixels
    start = time.perf_counter()
    with pytest.raises(ImageError) as info:
        load_image(p)
    assert time.perf_counter() - start < 2.0  # nothing was decoded
    msg = str(info.value)
    assert "400.0 megapixels" in msg and "50.0 megapixels" in msg
    assert info.value.__cause__ is not None  # chained from Pillow's own bomb error


def test_huge_png_under_pillows_limit_is_refused_by_ours(tmp_path):
    # 100 MP: Pillow only warns here; our own check must refuse it before decoding.
    p = tmp_path / "big.png"
    _write_bomb_png(p, 10_000, 10_000)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's bomb warning must not leak out either
        with pytest.raises(ImageError) as info:
            load_image(p)
    assert "10,000 x 10,000 pixels (width x height, 100.0 megapixels)" in str(info.value)
    assert "the limit is 50.0 megapixels" in str(info.value)
    assert time.perf_counter() - start < 2.0
    # A smaller limit is honoured the same way.
    with pytest.raises(ImageError, match="limit is 9,999 pixels"):
        load_image(_encode(Image.fromarray(_rgb(100, 100)), "PNG"), max_pixels=9_999)


def test_large_jpeg_is_decoded_downscaled_when_that_fits():
    data = _encode(Image.fromarray(_rgb(1024, 768)), "JPEG", quality=90)
    a = load_image(data, max_pixels=300_000)  # 786k pixels -> 1/2 scale = 196k
    assert a.shape == (512, 384, 3)
    ref = np.asarray(Image.fromarray(_rgb(1024, 768)).resize((384, 512), Image.Resampling.BOX))
    assert np.abs(a.astype(int) - ref).mean() < 6  # really the same picture, just smaller
    assert load_image(data, max_pixels=20_000).shape == (128, 96, 3)  # 1/8 scale
    with pytest.raises(ImageError, match=r"768 x 1,024 pixels .*limit is 10,000 pixels"):
        load_image(data, max_pixels=10_000)  # even 1/8 scale is too big: refuse


# --- modes and formats ---------------------------------------------------------------------------


def test_grayscale():
    g = _rgb()[:, :, 0]
    a = load_image(_encode(Image.fromarray(g, "L"), "PNG"))
    assert a.shape == (48, 64, 3)
    for c in range(3):
        np.testing.assert_array_equal(a[:, :, c], g)


def test_rgba_composited_over_white():
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :6, 3] = 255  # left half opaque red-ish, right half fully transparent
    rgba[:, 6:, 3] = 0
    a = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    np.testing.assert_array_equal(a[:, :6], np.broadcast_to([200, 0, 0], (10, 6, 3)))
    np.testing.assert_array_equal(a[:, 6:], np.full((10, 6, 3), 255))
    # Half transparency blends with white.
    rgba[..., 3] = 128
    a = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.all(np.abs(a[0, 0].astype(int) - [227, 127, 127]) <= 1)


def test_palette_png_without_and_with_transparency():
    p = Image.fromarray(_rgb()).quantize(16)
    assert p.mode == "P"
    expected = np.asarray(p.convert("RGB"))
    np.testing.assert_array_equal(load_image(_encode(p, "PNG")), expected)

    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.paste(1, (4, 0, 8, 8))  # right half index 1 (blue)
    a = load_image(_encode(pal, "PNG", transparency=0))  # index 0 (red) is transparent
    np.testing.assert_array_equal(a[:, :4], np.full((8, 4, 3), 255))
    np.testing.assert_array_equal(a[:, 4:], np.broadcast_to([0, 0, 255], (8, 4, 3)))


def test_rgb_png_with_colour_key_transparency():
    src = np.zeros((6, 6, 3), np.uint8)
    src[:, 3:] = (10, 20, 30)
    a = load_image(_encode(Image.fromarray(src), "PNG", transparency=(0, 0, 0)))
    np.testing.assert_array_equal(a[:, :3], np.full((6, 3, 3), 255))
    np.testing.assert_array_equal(a[:, 3:], np.broadcast_to([10, 20, 30], (6, 3, 3)))


def test_cmyk_jpeg():
    src = _rgb()
    data = _encode(Image.fromarray(src).convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    a = load_image(data)
    assert a.shape == src.shape
    assert np.abs(a.astype(int) - src).mean() < 8


def test_16bit_png_is_scaled_not_clipped():
    ramp = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)
    data = _encode(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    a = load_image(data)
    expected = np.rint(ramp / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(a[:, :, 0], expected)
    assert a.min() == 0 and a.max() == 255
    assert 120 <= np.median(a) <= 135  # a mid-grey median, not a white picture
    assert (a == 255).mean() < 0.01


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (20, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    a = load_image(data)
    assert a.shape == (16, 20, 3)
    np.testing.assert_array_equal(a, np.broadcast_to([255, 0, 0], (16, 20, 3)))


def test_heic_and_avif():
    """iPhones save HEIC; AVIF comes from the web. Both decode like any other photo."""
    src = _rgb()
    for fmt, options in (("HEIF", {"quality": 90}), ("AVIF", {"quality": 90})):
        data = _encode(Image.fromarray(src), fmt, **options)
        assert Image.open(io.BytesIO(data)).format == fmt
        a = load_image(data)
        assert a.shape == src.shape and np.abs(a.astype(int) - src).mean() < 8, fmt


def test_webp():
    src = _rgb()
    np.testing.assert_array_equal(
        load_image(_encode(Image.fromarray(src), "WEBP", lossless=True)), src
    )
    lossy = load_image(_encode(Image.fromarray(src), "WEBP", quality=90))
    assert lossy.shape == src.shape and np.abs(lossy.astype(int) - src).mean() < 8


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "HEIF"])
def test_a_display_p3_photo_is_read_in_the_colours_it_is_shown_in(fmt):
    src = np.zeros((16, 24, 3), np.uint8)
    src[:, :8] = (220, 30, 40)  # a saturated red, a green and a purple: flower colours that
    src[:, 8:16] = (40, 160, 60)  # look duller when P3 numbers are read as sRGB
    src[:, 16:] = (150, 40, 170)
    stored, p3 = as_display_p3(src)
    lossless = {
        "PNG": {},
        "JPEG": {"quality": 100, "subsampling": 0},
        "WEBP": {"lossless": True},
        "HEIF": {"quality": -1, "chroma": 444},  # an iPhone photo's format, at its best
    }
    data = _encode(stored, fmt, icc_profile=p3, **lossless[fmt])
    assert Image.open(io.BytesIO(data)).info["icc_profile"] == p3
    raw = np.asarray(stored).astype(int)
    a = load_image(data).astype(int)
    assert np.abs(a - src).max() <= 3  # the colours as shown, up to rounding and JPEG
    assert np.abs(raw - src).max() > 20  # which the stored numbers alone are not
    # the red is as saturated as shown: its red minus green gap is the original's
    assert (a[0, 0, 0] - a[0, 0, 1]) > (raw[0, 0, 0] - raw[0, 0, 1]) + 30


def _nclx(primaries: int, curve: int = 13) -> dict:
    return {
        "color_primaries": primaries,
        "transfer_characteristics": curve,
        "matrix_coefficients": 6,
        "full_range_flag": 1,
    }


def test_a_heif_stating_display_p3_without_a_profile_is_read_in_its_colours():
    # HEIF may state its colours by primaries alone (an nclx box, no ICC profile): the same
    # Display P3 numbers read as the tagged photo above is.
    src = np.zeros((16, 24, 3), np.uint8)
    src[:, :8], src[:, 8:16], src[:, 16:] = (220, 30, 40), (40, 160, 60), (150, 40, 170)
    stored = np.asarray(as_display_p3(src)[0])  # the numbers, not the profile
    lossless = {"quality": -1, "chroma": 444}
    data = _encode(Image.fromarray(stored), "HEIF", nclx_profile=_nclx(12), **lossless)
    info = Image.open(io.BytesIO(data)).info
    assert "icc_profile" not in info and info["nclx_profile"]["color_primaries"] == 12
    a = load_image(data).astype(int)
    assert np.abs(a - src).max() <= 3
    assert np.abs(np.asarray(stored).astype(int) - src).max() > 20


@pytest.mark.parametrize(
    "primaries, curve", [(1, 13), (2, 13), (12, 16)], ids=["srgb", "unset", "pq"]
)
def test_a_heif_stating_srgb_or_an_hdr_curve_keeps_its_numbers(primaries, curve):
    # sRGB's own primaries need nothing; an HDR curve would need tone mapping, not a profile
    src = _rgb()
    data = _encode(
        Image.fromarray(src), "HEIF", nclx_profile=_nclx(primaries, curve), quality=-1, chroma=444
    )
    plain = _encode(Image.fromarray(src), "HEIF", quality=-1, chroma=444)
    np.testing.assert_array_equal(load_image(data), load_image(plain))


def test_an_impossible_colour_description_is_ignored_and_said(caplog):
    from flowerdash.data.images import _profile_of

    im = Image.new("RGB", (4, 4))
    coords = {f"color_primary_{c}_{a}": 0.3 for c in ("red", "green", "blue") for a in "xy"}
    im.info["nclx_profile"] = {**_nclx(9), **coords, "color_primary_white_x": 0.3127}
    with caplog.at_level("INFO", logger="flowerdash.data.images"):
        assert _profile_of(im) is None  # no white y
        im.info["nclx_profile"]["color_primary_white_y"] = 0.329
        assert _profile_of(im) is None  # three equal primaries: no matrix
    assert caplog.text.count("Colour description ignored") == 2


def test_srgb_tagged_untagged_and_broken_profiles_keep_the_stored_numbers(caplog):
    src = _rgb()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for profile in (srgb, b"not an ICC profile", rgb_profile()[:100], None):
        extra = {} if profile is None else {"icc_profile": profile}
        with caplog.at_level("INFO", logger="flowerdash.data.images"):
            caplog.clear()
            a = load_image(_encode(Image.fromarray(src), "PNG", **extra))
        np.testing.assert_array_equal(a, src)
        broken = profile not in (srgb, None)
        assert ("Colour profile ignored" in caplog.text) == broken, profile


def test_a_rgba_display_p3_png_keeps_its_transparency():
    src = np.zeros((8, 8, 4), np.uint8)
    src[..., :3] = (220, 30, 40)
    src[:, 4:, 3] = 255  # left half transparent: composited over white
    stored, p3 = as_display_p3(src[..., :3])
    rgba = np.dstack([np.asarray(stored), src[..., 3]])
    a = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG", icc_profile=p3)).astype(int)
    np.testing.assert_array_equal(a[:, :4], 255)
    assert np.abs(a[:, 4:] - (220, 30, 40)).max() <= 3


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "HEIF"])
def test_exif_orientation_is_honoured(fmt):
    src = np.zeros((30, 40, 3), np.uint8)
    src[:10, :10] = 255  # a white square in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    # pillow-heif stores it as HEIF's own rotation, as iPhones do, and reads the photo upright
    # with its EXIF orientation reset: turned once, not twice
    options = {"JPEG": {"quality": 95}, "PNG": {}, "HEIF": {"quality": 95}}[fmt]
    a = load_image(
        _encode(
            Image.fromarray(src), fmt, exif=exif.tobytes() if fmt == "HEIF" else exif, **options
        )
    )
    assert a.shape == (40, 30, 3)
    # After a clockwise turn the stored top-left corner is displayed at the top-right.
    assert a[:8, -8:].mean() > 200 and a[:8, :8].mean() < 50


def test_tiny_image_is_accepted_and_upscaled():
    tiny = _rgb(8, 8)
    a = load_image(_encode(Image.fromarray(tiny), "PNG"))
    np.testing.assert_array_equal(a, tiny)
    x = prepare_for_model(a, 64)
    assert x.shape == (64, 64, 3) and x.dtype == np.float32


def test_bmp_and_tiff():
    src = _rgb()
    for fmt in ("BMP", "TIFF"):
        np.testing.assert_array_equal(load_image(_encode(Image.fromarray(src), fmt)), src)


# --- prepare_for_model ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(256, 340), (340, 256), (100, 100), (31, 77)])
def test_prepare_matches_resize_then_centre_crop(shape):
    h, w = shape
    img = _rgb(h, w)
    out = prepare_for_model(img, 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    s = 64 / min(h, w)
    nw, nh = max(64, round(w * s)), max(64, round(h * s))
    full = Image.fromarray(img).resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = (nw - 64) // 2, (nh - 64) // 2
    ref = np.asarray(full.crop((left, top, left + 64, top + 64)), dtype=np.float32)
    assert np.abs(out - ref).max() <= 1.0


def test_prepare_centre_crop_keeps_the_centre():
    img = np.zeros((100, 300, 3), np.uint8)
    img[:, 100:200] = 255  # the central square is white, the sides black
    out = prepare_for_model(img, 50)
    assert out.shape == (50, 50, 3)
    assert out[:, 2:-2].min() >= 250


def test_prepare_real_flower(flower_paths):
    out = prepare_for_model(load_image(flower_paths[1]), 224)
    assert out.shape == (224, 224, 3) and out.dtype == np.float32 and out.std() > 10


def test_prepare_very_thin_image_does_not_blow_up():
    thin = np.full((1, 200_000, 3), 77, np.uint8)  # upscaling it whole would need ~40 GB
    start = time.perf_counter()
    out = prepare_for_model(thin, 224)
    assert time.perf_counter() - start < 2.0
    assert out.shape == (224, 224, 3) and np.all(out == 77)


def test_prepare_rejects_bad_input():
    with pytest.raises(ImageError):
        prepare_for_model(np.zeros((10, 10), np.uint8), 32)
    with pytest.raises(ImageError):
        prepare_for_model(np.zeros((10, 10, 3), np.float32), 32)
    with pytest.raises(ImageError):
        prepare_for_model(np.zeros((0, 10, 3), np.uint8), 32)
    with pytest.raises(ConfigError):
        prepare_for_model(np.zeros((10, 10, 3), np.uint8), 0)


# --- image_hash ----------------------------------------------------------------------------------


def test_image_hash():
    a = _rgb()
    h = image_hash(a)
    assert isinstance(h, str) and len(h) == 40
    assert image_hash(a.copy()) == h
    b = a.copy()
    b[0, 0, 0] ^= 1
    assert image_hash(b) != h
    assert image_hash(a.reshape(64, 48, 3)) != h  # same bytes, other shape
    assert image_hash(a.astype(np.float32)) != h
    assert image_hash(a[:, ::-1]) == image_hash(np.ascontiguousarray(a[:, ::-1]))


def _grid(h: int, w: int) -> np.ndarray:
    """A photo whose every pixel says where it is: (row, column, 0)."""
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.stack([rows, cols, np.zeros_like(rows)], axis=-1).astype(np.uint8)


def test_framing_at_the_defaults_is_the_photo_the_model_crops_anyway():
    photo = _grid(100, 240)
    assert frame(photo) is photo


@pytest.mark.parametrize(
    ("zoom", "x", "y", "top", "left", "side"),
    [
        (1.0, 0.0, 0.5, 0, 0, 100),  # a wide photo: the square at its left edge
        (1.0, 1.0, 0.5, 0, 140, 100),  # ... at its right edge
        (2.0, 0.5, 0.5, 25, 95, 50),  # zoomed in on the centre
        (2.0, 0.0, 1.0, 50, 0, 50),  # zoomed in on the bottom-left corner
        (4.0, 1.0, 0.0, 0, 215, 25),  # ... on the top-right corner
    ],
)
def test_framing_picks_the_square_asked_for(zoom, x, y, top, left, side):
    square = frame(_grid(100, 240), zoom, x, y)
    assert square.shape == (side, side, 3)
    assert (int(square[0, 0, 0]), int(square[0, 0, 1])) == (top, left)


@pytest.mark.parametrize(("zoom", "x", "y"), [(0.5, 0.5, 0.5), (2.0, 1.5, 0.5), (2.0, 0.5, -0.1)])
def test_framing_outside_the_photo_is_refused(zoom, x, y):
    with pytest.raises(ConfigError, match="Zoom must be at least 1"):
        frame(_grid(10, 10), zoom, x, y)
