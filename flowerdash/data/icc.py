"""ICC profiles built here: Pillow can only create sRGB ones, and no profile file ships with the
repo. HEIF photos may describe their colours by primaries alone (an nclx box, no profile);
``images`` turns those into a profile LittleCMS converts from. Tests and benchmarks use the
Display P3 one to store photos as phones do."""

from __future__ import annotations

import functools
import struct

import numpy as np

D50 = (0.9642, 1.0, 0.8249)
D65_XY = (0.3127, 0.3290)
#: Display P3 primaries (x, y) of red, green and blue: the wide gamut phones shoot in.
P3_PRIMARIES = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz_d50(primaries, white_xy=D65_XY) -> np.ndarray:
    """Columns: XYZ (D50, Bradford-adapted, as ICC wants) of full red, green and blue."""
    p = np.stack([_xyz(c) for c in primaries], axis=1)
    w = _xyz(white_xy)
    m = p * np.linalg.solve(p, w)  # scale each primary so that R = G = B = 1 gives the white
    bradford = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367],
                         [0.0389, -0.0685, 1.0296]])  # fmt: skip
    gain = np.diag((bradford @ np.array(D50)) / (bradford @ w))
    return np.linalg.inv(bradford) @ gain @ bradford @ m


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(xyz) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _text_desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_
            + b"\0" * 8 + b"\0\0" + b"\0" + b"\0" * 67)  # fmt: skip


def srgb_curve(points: int = 1024) -> bytes:
    """The sRGB tone curve (Display P3 uses it too) as an ICC v2 ``curv`` table."""
    v = np.linspace(0.0, 1.0, points)
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return (
        b"curv\0\0\0\0"
        + struct.pack(">I", points)
        + np.round(linear * 65535).astype(">u2").tobytes()
    )


@functools.cache  # built once per set of primaries: every photo of a phone shares one
def rgb_profile(
    primaries=P3_PRIMARIES, name: str = "Display P3 (flowerdash)", white_xy=D65_XY
) -> bytes:
    """The bytes of an ICC v2 monitor profile: these primaries and white, the sRGB curve."""
    m = rgb_to_xyz_d50(primaries, white_xy)
    curve = srgb_curve()
    tags = [
        (b"desc", _text_desc(name)),
        (b"wtpt", _xyz_tag(D50)),
        (b"rXYZ", _xyz_tag(m[:, 0])),
        (b"gXYZ", _xyz_tag(m[:, 1])),
        (b"bXYZ", _xyz_tag(m[:, 2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text\0\0\0\0" + b"none\0\0\0\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    size = offset + len(data)
    header = (
        struct.pack(">I", size) + b"\0\0\0\0" + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ " + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp"
        + b"\0" * 24 + struct.pack(">I", 0) + b"".join(_s15(v) for v in D50) + b"\0" * 48
    )  # fmt: skip
    return header + struct.pack(">I", len(tags)) + table + data
