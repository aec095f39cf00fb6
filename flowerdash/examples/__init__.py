"""A few example photos shipped with the package (see README.md here for their source)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
# One training photo per class, shown beside an unsure answer (benchmarks/class_photos.py).
CLASS_PHOTOS_DIR = EXAMPLES_DIR / "classes"


@dataclass(frozen=True)
class Example:
    """One shipped photo: its file, the dataset file it came from and its true class."""

    file: str
    original: str
    class_name: str

    @property
    def path(self) -> Path:
        """Where the photo is on disk."""
        return EXAMPLES_DIR / self.file


EXAMPLES: tuple[Example, ...] = (
    Example("sunflower.jpg", "image_05445.jpg", "sunflower"),
    Example("rose.jpg", "image_01280.jpg", "rose"),
    Example("daffodil.jpg", "image_05700.jpg", "daffodil"),
    Example("water_lily.jpg", "image_00262.jpg", "water lily"),
    Example("passion_flower.jpg", "image_00062.jpg", "passion flower"),
    Example("foxglove.jpg", "image_07356.jpg", "foxglove"),
)


def class_photo_file(label: int) -> str:
    """The file name of class ``label``'s training photo (0-based label)."""
    return f"{label:03d}.jpg"


def class_photo(name: str) -> Path | None:
    """A training photo of the flower called ``name``, if the package ships one."""
    from flowerdash.data.classes import CLASS_NAMES

    try:
        label = CLASS_NAMES.index(name.strip().lower())
    except ValueError:
        return None
    path = CLASS_PHOTOS_DIR / class_photo_file(label)
    return path if path.is_file() else None
