"""Shared fixtures, in two tiers.

Core tier (every machine): a generated miniature Flowers102 in the official layout
(:mod:`miniature`), tiny models with ``weights=None``, the example photos and the checkpoint the
repository ships. Data tier: the tests that ask for :func:`real_data_dir` or
:func:`weights_dir`, which read the documented ``FLOWERDASH_DATA_DIR`` /
``FLOWERDASH_WEIGHTS_DIR``. Without them those tests are skipped, with the reason in the
summary; with ``FLOWERDASH_REQUIRE_DATA=1`` (CI) a missing folder fails them instead.

The variables are taken out of the environment when the tests start, so the code under test
(and every server or CLI a test starts) sees no dataset unless a test gives it one: the core
tier behaves the same with or without ``../shared``. TensorFlow Datasets gets an empty data
folder for the same reason.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import flowerdash  # noqa: E402,F401 - sets TensorFlow's CPU options before a test imports it

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = os.environ.pop("FLOWERDASH_DATA_DIR", "")
REAL_WEIGHTS = os.environ.pop("FLOWERDASH_WEIGHTS_DIR", "")
REQUIRE_DATA = os.environ.get("FLOWERDASH_REQUIRE_DATA", "") not in ("", "0")
for _name in ("FLOWERDASH_CHECKPOINT_DIR", "FLOWERDASH_SETTINGS"):
    os.environ.pop(_name, None)
# What a run leaves in the temp folder goes into one folder removed at exit: TFDS leaves an
# empty folder each time it builds an unprepared dataset (hundreds per run), autograph its
# generated sources, the servers and commands the tests start their own. pytest's tmp_path
# folders stay where pytest keeps its last three runs.
os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
SCRATCH = tempfile.mkdtemp(prefix="flowerdash-tests-")
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)
os.environ["TMPDIR"] = tempfile.tempdir = SCRATCH
# An empty TFDS folder, so the core tier behaves the same on a machine that holds the dataset.
os.environ["TFDS_DATA_DIR"] = tempfile.mkdtemp(prefix="tfds-")
EXAMPLES = ROOT / "flowerdash" / "examples"


def _data_tier(value: str, variable: str, what: str) -> Path:
    """The folder a data-tier test needs, or a skip (a failure under FLOWERDASH_REQUIRE_DATA)."""
    if not value:
        message = f"data tier: {what} not configured (set {variable})"
        if REQUIRE_DATA:
            pytest.fail(f"{message}; FLOWERDASH_REQUIRE_DATA forbids skipping.", pytrace=False)
        pytest.skip(message)
    path = Path(value).expanduser().resolve()
    if not path.exists():
        message = f"data tier: {what} not found at {path} ({variable})"
        if REQUIRE_DATA:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


DATA_TIER_FIXTURES = {"real_data_dir", "weights_dir"}


def pytest_collection_modifyitems(items):
    """Mark the data tier (``pytest -m data`` runs it alone, ``-m "not data"`` the core)."""
    for item in items:
        if DATA_TIER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.data)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Data tier: the full official-layout Flowers102 folder from ``FLOWERDASH_DATA_DIR``."""
    return _data_tier(REAL_DATA, "FLOWERDASH_DATA_DIR", "the Oxford Flowers102 dataset")


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    """Data tier: the folder with the MobileNetV2 ImageNet weights (``FLOWERDASH_WEIGHTS_DIR``)."""
    return _data_tier(REAL_WEIGHTS, "FLOWERDASH_WEIGHTS_DIR", "the backbone weights folder")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """Core tier: the generated miniature Flowers102 (all 102 labels), written once per run."""
    from miniature import write_folder

    return write_folder(tmp_path_factory.mktemp("miniature") / "oxford_flowers102")


@pytest.fixture
def dataset_copy(tmp_path, data_dir) -> Path:
    """The miniature dataset in a temp folder: .mat/.json copied, every jpg a symlink to it.

    Damage single images of it with :func:`replace_image`; the session's dataset stays intact.
    """
    root = tmp_path / "flowers"
    (root / "jpg").mkdir(parents=True)
    for p in data_dir.iterdir():
        if p.is_file() and p.suffix in (".mat", ".json"):
            shutil.copy(p, root / p.name)
    for p in (data_dir / "jpg").iterdir():
        (root / "jpg" / p.name).symlink_to(p)
    return root


def replace_image(root: Path, name: str, content: bytes) -> None:
    """Give image ``name`` of a :func:`dataset_copy` other bytes (a file of its own, no symlink)."""
    target = root / "jpg" / name
    target.unlink()
    target.write_bytes(content)


def corrupt_inside(data_dir: Path, name: str) -> bytes:
    """A JPEG whose header and end marker are intact but whose compressed data is garbage."""
    whole = (data_dir / "jpg" / name).read_bytes()
    mid = len(whole) // 2
    return whole[:mid] + b"\xff\xd0\x00garbage\xff\x46" * 200 + whole[mid + 16 :]


@pytest.fixture(scope="session")
def flower_paths() -> list[Path]:
    """Five real flower photos: the example photos the repository ships."""
    return sorted(EXAMPLES.glob("*.jpg"))[:5]


def best_preset_run() -> str:
    """The member of the shipped weight average whose recipe the Train page's best preset is
    (its record is in benchmarks/results/runs/)."""
    from flowerdash.training.presets import preset_fields

    meta = json.loads((ROOT / "checkpoints" / "default" / "meta.json").read_text())
    fields = preset_fields("best")
    matching = [
        m["name"]
        for m in meta["members"]
        if all(m["config"].get(field) == value for field, value in fields.items())
    ]
    assert len(matching) == 1, matching
    return matching[0]


# Where the sunflower of `sunflower_field` is, as the framing asks for it: zoom, then the
# square's place from left to right and from top to bottom (0..1).
SUNFLOWER_FRAMING = (2.5, 1.0, 0.15)


@pytest.fixture(scope="session")
def sunflower_field(tmp_path_factory) -> Path:
    """A wide field (1200x800 JPEG) with a small sunflower near its top-right corner, as web
    photos frame flowers: whole, the model sees mostly grass; `SUNFLOWER_FRAMING` finds it."""
    from PIL import Image

    with Image.open(EXAMPLES / "sunflower.jpg") as im:
        flower = im.convert("RGB").resize((round(im.width * 260 / im.height), 260))
    grass = np.random.default_rng(0).normal((70, 110, 50), 18, (800, 1200, 3))
    field = Image.fromarray(np.clip(grass, 0, 255).astype(np.uint8))
    field.paste(flower, (880, 60))
    path = tmp_path_factory.mktemp("field") / "field.jpg"
    field.save(path, quality=90)
    return path


def thumbnail(photo: Path, side: int, out: Path) -> tuple[Path, int]:
    """``photo`` shrunk as a thumbnail (``benchmarks.small_photos.shrink``) to a shorter side of
    ``side`` pixels, saved as the JPEG ``out``; returns it and the shorter side it has."""
    from PIL import Image

    from benchmarks.small_photos import shrink
    from flowerdash.data.images import load_image

    small = shrink(load_image(photo), side)
    Image.fromarray(small).save(out, quality=95)
    return out, min(small.shape[:2])


@functools.cache  # one conversion of the shipped model for the callers' one field photo
def surest_square(photo) -> tuple[tuple[float, int, int], str]:
    """The square `find_flower` picks in ``photo`` for the shipped model, as the page's sliders
    show it (zoom, then the position in percent), and the class it names."""
    from flowerdash.data.images import WHOLE_PHOTO, load_image
    from flowerdash.inference.framing import find_flower
    from flowerdash.inference.litert import batch_predictor
    from flowerdash.models.backbones import input_size
    from flowerdash.models.checkpoints import load_model, read_meta

    shipped = ROOT / "checkpoints" / "default"
    model = load_model(shipped)
    found = find_flower(batch_predictor(model), load_image(photo), input_size(model))
    assert tuple(found.framing) != tuple(WHOLE_PHOTO)  # not the whole photo: the button moves
    zoom, x, y = found.framing
    name = read_meta(shipped)["class_names"][int(found.probabilities.argmax())]
    return (zoom, round(100 * x), round(100 * y)), name


@pytest.fixture(scope="session")
def flower_images(flower_paths: list[Path]) -> np.ndarray:
    """The five example photos as uint8 RGB arrays, centre-cropped and resized to 64x64."""
    from PIL import Image

    out = []
    for p in flower_paths:
        with Image.open(p) as im:
            im = im.convert("RGB")
            s = min(im.size)
            left, top = (im.width - s) // 2, (im.height - s) // 2
            out.append(np.asarray(im.crop((left, top, left + s, top + s)).resize((64, 64))))
    return np.stack(out)


def make_tiny_cnn(image_size: int = 64, num_classes: int = 5, seed: int = 0):
    """A tiny flat functional CNN: 0..255 RGB in, logits layer named 'logits', softmax out."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    probs = keras.layers.Activation("softmax", name="probs", dtype="float32")(logits)
    return keras.Model(inputs, probs, name="tiny_cnn")


@pytest.fixture(scope="session")
def tiny_cnn():
    """A tiny CNN built once per session (do not mutate it in tests)."""
    return make_tiny_cnn()


def save_tiny_checkpoint(
    root: Path, name: str = "tiny", image_size: int = 64, seed: int = 0
) -> Path:
    """Write a real flowerdash checkpoint of the 'tiny' backbone (102 classes, random weights)."""
    import keras

    from flowerdash.data.classes import CLASS_NAMES
    from flowerdash.models.backbones import build_model
    from flowerdash.models.checkpoints import save_checkpoint

    keras.utils.set_random_seed(seed)
    model = build_model("tiny", weights=None, image_size=image_size)
    meta = {
        "status": "complete",
        "backbone": "tiny",
        "image_size": image_size,
        "class_names": list(CLASS_NAMES),
        "config": {"backbone": "tiny"},
        "history": [],
        "metrics": {"test": {"n": 10, "top1": 0.1, "top5": 0.3}},
    }
    return save_checkpoint(model, meta, root=root, name=name)


def tiny_config(data_dir: Path, tmp_path: Path, **kw):
    """A TrainConfig for a seconds-long run of the tiny backbone on a few images."""
    from flowerdash.training.config import TrainConfig

    base = dict(
        backbone="tiny",
        weights=None,
        image_size=32,
        augment="basic",
        epochs=2,
        fine_tune_epochs=1,
        fine_tune_layers=3,
        batch_size=8,
        train_limit=24,
        val_limit=8,
        test_limit=8,
        data_dir=str(data_dir),
        checkpoint_dir=str(tmp_path),
        seed=3,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny checkpoint folder in a session temp checkpoint dir (read-only use, please)."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("checkpoints"))
