"""Translations: catalogs complete and up to date, placeholders kept, per-thread language."""

from __future__ import annotations

import ast
import contextlib
import gettext
import io
import re
import shutil
import threading

import numpy as np
import pytest
from babel.messages.pofile import read_po
from conftest import tiny_config
from PIL import Image

from flowerdash import i18n
from flowerdash.data.images import load_image
from flowerdash.data.names_es import SPANISH_NAMES, display_name
from flowerdash.errors import CheckpointError, ConfigError, DatasetError, ImageError
from flowerdash.locales import update

PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def catalog(lang: str):
    with update.po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def source_messages() -> set:
    """Every message marked in the sources right now."""
    return {m.id for m in update.extract() if m.id}


def test_every_marked_message_is_in_the_spanish_catalog():
    missing = source_messages() - {m.id for m in catalog("es") if m.id}
    assert not missing, f"run python -m flowerdash.locales.update; missing: {sorted(missing)[:5]}"


def test_every_spanish_message_is_translated_and_not_fuzzy():
    untranslated = [
        m.id
        for m in catalog("es")
        if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))
    ]
    assert not untranslated, f"untranslated or fuzzy: {untranslated[:5]}"


def test_placeholders_are_identical():
    bad = []
    for m in catalog("es"):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        want = sorted(PLACEHOLDER.findall(ids[-1]))
        bad += [m.id for s in strings if sorted(PLACEHOLDER.findall(s)) != want]
    assert not bad, f"placeholders differ: {bad[:5]}"


def test_committed_catalogs_are_up_to_date():
    stale = [
        str(p.relative_to(update.ROOT))
        for p, data in update.build().items()
        if not update.same_content(p, data)
    ]
    assert not stale, f"stale (run python -m flowerdash.locales.update): {stale}"


def test_compiled_mo_matches_the_po():
    with update.mo_path("es").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for m in catalog("es"):
        if m.id and not isinstance(m.id, tuple):
            assert compiled.gettext(m.id) == m.string


def test_translations_and_plurals_per_thread():
    assert i18n.set_language("es") == "es"
    assert i18n._("Try it") == "Pruébalo"
    text = i18n.ngettext("{n} checkpoint cannot be used", "{n} checkpoints cannot be used", 1)
    assert text.format(n=1) == "No se puede usar 1 punto de control"
    seen = {}
    thread = threading.Thread(target=lambda: seen.update(lang=i18n.get_language()))
    thread.start()
    thread.join()
    assert seen["lang"] == "en"  # another thread (another browser session) is not affected
    assert i18n.set_language("klingon") == "en"
    assert i18n._("Try it") == "Try it"


@pytest.mark.parametrize(
    ("raw", "code"), [("es", "es"), ("ES", "es"), ("es-MX", "es"), ("en_GB", "en"), ("fr", None)]
)
def test_normalize(raw, code):
    assert i18n.normalize(raw) == code


def test_display_name_adds_only_reviewed_spanish_names():
    assert display_name("sunflower", "es") == "Sunflower (girasol)"
    assert display_name("sunflower", "en") == "Sunflower"
    assert display_name("pink primrose", "es") == "Pink Primrose"  # not in the reviewed list
    assert display_name("colt's foot") == "Colt's Foot"  # not "Colt'S Foot"
    assert display_name("black-eyed susan") == "Black-Eyed Susan"
    i18n.set_language("es")
    assert display_name("water lily") == "Water Lily (nenúfar)"
    i18n.set_language("en")
    names = set(update_names())
    assert set(SPANISH_NAMES) <= names, "every Spanish entry must be a real class name"


def update_names() -> list[str]:
    from flowerdash.data.classes import CLASS_NAMES

    return list(CLASS_NAMES)


# --- error messages of the library (FlowerdashError) --------------------------------------------


@contextlib.contextmanager
def speaking(lang: str):
    """Run the block in ``lang`` (this thread only), then back to English."""
    i18n.set_language(lang)
    try:
        yield
    finally:
        i18n.set_language("en")


def refusal(load) -> str:
    with pytest.raises(ImageError) as info:
        load()
    return str(info.value)


def _png(size: int = 100) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((size, size, 3), np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _upload_refusals(tmp_path) -> dict[str, str]:
    """The messages of the three classic bad uploads, in the current language."""
    text = tmp_path / "holiday.jpg"
    text.write_text("This is a shopping list, not a photo.\n" * 20)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    return {
        "text": refusal(lambda: load_image(text)),
        "empty": refusal(lambda: load_image(empty)),
        "pixels": refusal(lambda: load_image(_png(), max_pixels=9_999)),
        "bytes": refusal(lambda: load_image(_png(), max_bytes=10)),
    }


ENGLISH_UPLOAD_REFUSALS = {
    "text": "This file is not an image we can read. Please use a JPEG, PNG, HEIC, WebP, AVIF, "
    "GIF, BMP or TIFF photo.",
    "empty": "The file is empty (0 bytes). Please choose a photo.",
    "pixels": "This image is 100 x 100 pixels (width x height, 10,000 pixels); the limit is "
    "9,999 pixels. Please use a smaller image.",
    "bytes": "This file is more than 10 bytes which is larger than the limit of 10 bytes. "
    "Please use a smaller image.",
}


def test_upload_refusals_are_unchanged_in_english(tmp_path):
    assert _upload_refusals(tmp_path) == ENGLISH_UPLOAD_REFUSALS


def test_upload_refusals_speak_spanish(tmp_path):
    with speaking("es"):
        said = _upload_refusals(tmp_path)
    assert said["text"].startswith("Este archivo no es una imagen que podamos leer.")
    assert said["empty"] == "El archivo está vacío (0 bytes). Elige una foto."
    assert said["pixels"].startswith("Esta imagen mide 100 x 100 píxeles (ancho x alto")
    assert "el límite es de 9,999 píxeles" in said["pixels"]
    assert "supera el límite de 10 bytes" in said["bytes"]
    for key, spanish in said.items():
        english = ENGLISH_UPLOAD_REFUSALS[key]
        assert spanish != english
        for word in ("Please", "image", "which", "limit", "file", "the"):
            assert not re.search(rf"\b{word}\b", spanish), (key, spanish)
    # after the block this thread speaks English again
    assert _upload_refusals(tmp_path) == ENGLISH_UPLOAD_REFUSALS


def test_the_upload_formats_are_named_from_the_list_the_fields_accept():
    from flowerdash.data.images import (
        UPLOAD_FORMATS,
        UPLOAD_TYPES,
        format_list,
        upload_size_limit,
    )

    assert format_list() == "JPEG, PNG, HEIC, WebP, AVIF, GIF or BMP"
    assert set(UPLOAD_TYPES) == {e for endings in UPLOAD_FORMATS.values() for e in endings}
    assert format_list(["PNG"]) == "PNG" and upload_size_limit() == "20 MB"
    with speaking("es"):
        assert format_list() == "JPEG, PNG, HEIC, WebP, AVIF, GIF o BMP"
        assert format_list(["JPEG", "PNG"]) == "JPEG o PNG"


def test_broken_checkpoints_are_explained_in_spanish(tmp_path):
    from flowerdash.models import checkpoints

    (tmp_path / "foreign").mkdir()
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / "meta.json").write_text("{not json")
    with speaking("es"):
        listing = checkpoints.list_checkpoints(tmp_path, include_default=False)
        with pytest.raises(CheckpointError) as info:
            checkpoints.resolve("nowhere", root=tmp_path)
    reasons = {b.path.name: b.reason for b in listing.broken}
    assert (
        reasons["foreign"] == "foreign no tiene meta.json; no es un punto de control de flowerdash."
    )
    assert reasons["garbled"].startswith("Los metadatos de garbled no se pueden leer: ")
    assert str(info.value).startswith("No hay ningún punto de control llamado 'nowhere'")
    english = checkpoints.list_checkpoints(tmp_path, include_default=False)
    assert {b.path.name: b.reason for b in english.broken}["foreign"] == (
        "foreign has no meta.json; it is not a flowerdash checkpoint."
    )


def test_corrupt_checkpoint_error_speaks_the_language(tmp_path, tiny_checkpoint):
    from flowerdash.models import checkpoints

    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_checkpoint, corrupt)
    (corrupt / "model.keras").write_bytes(b"not a zip at all")
    with speaking("es"), pytest.raises(CheckpointError) as info:
        checkpoints.load_model(corrupt)
    spanish = str(info.value)
    assert spanish.startswith("No se pudo cargar el archivo del modelo de corrupt (")
    assert spanish.endswith("está dañado o no lo escribió flowerdash.")
    assert "could not be loaded" not in spanish and "corrupt or was not" not in spanish
    with pytest.raises(CheckpointError) as info:
        checkpoints.load_model(corrupt)
    assert str(info.value).startswith("The model file of corrupt could not be loaded (")
    assert str(info.value).endswith("it is corrupt or was not written by flowerdash.")


def test_dataset_errors_translate_their_advice_too(tmp_path):
    from flowerdash.data.sources import FolderSource, how_to_fix

    english_advice = how_to_fix()  # no language set: English
    with speaking("es"), pytest.raises(DatasetError) as info:
        FolderSource(tmp_path / "missing")
    assert str(info.value).startswith("La carpeta del conjunto de datos ")
    assert "FLOWERDASH_DATA_DIR" in str(info.value) and english_advice not in str(info.value)
    with pytest.raises(DatasetError) as info:
        FolderSource(tmp_path / "missing")
    assert (
        str(info.value)
        == f"The dataset folder {tmp_path / 'missing'} does not exist. {english_advice}"
    )


def test_training_job_remembers_its_language_for_its_thread():
    from flowerdash.training.config import TrainConfig
    from flowerdash.training.job import TrainingJob

    with speaking("es"):
        with pytest.raises(ConfigError, match="^Las épocas deben ser como mínimo 1.$"):
            TrainConfig(epochs=0)
        job = TrainingJob(TrainConfig(backbone="tiny", epochs=2))
        assert job.describe() == f"entrenamiento {job.id} (tiny, 2 épocas, pendiente, época 0/2)"
    assert job.language == "es"
    assert job.describe() == f"run {job.id} (tiny, 2 epochs, pending, epoch 0/2)"


def test_training_progress_speaks_the_language_of_the_job(data_dir, tmp_path):
    from flowerdash.training.job import train

    small = dict(augment="none", epochs=1, fine_tune_layers=2, train_limit=8)
    with speaking("es"):
        job = train(tiny_config(data_dir, tmp_path / "es", **small))
    assert job.status == "succeeded", job.error
    said = [e.message for e in job.channel.snapshot() if e.message and e.kind != "batch"]
    assert said[0].startswith("Entrenando tiny en ")
    assert "Etapa 1: entrenando la nueva cabeza sobre la red base congelada." in said
    assert any(
        re.fullmatch(r"Etapa 2: ajuste fino de las \d+ capas superiores de la red base\.", m)
        for m in said
    )
    assert "Midiendo la precisión en el conjunto de prueba." in said
    assert re.fullmatch(r"Prueba: top-1 \d+\.\d%, top-5 \d+\.\d%\.", said[-2])
    assert said[-1] == f"Punto de control {job.checkpoint.name} guardado."
    english = train(tiny_config(data_dir, tmp_path / "en", **small))
    assert [e.message for e in english.channel.snapshot()][-1] == (
        f"Saved checkpoint {english.checkpoint.name}."
    )


FLOWERDASH_ERRORS = {
    "FlowerdashError",
    "ConfigError",
    "DatasetError",
    "WeightsError",
    "CheckpointError",
    "ImageError",
    "TrainingError",
    "ExplainError",
}
# The command line is English-only; its own argument errors are not in the catalogs.
CLI_ONLY = "cli"  # the flowerdash/cli package


def test_no_flowerdash_error_is_raised_with_a_literal_english_message():
    bad = []
    for path in sorted((update.ROOT / "flowerdash").rglob("*.py")):
        if CLI_ONLY in path.parts or "locales" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in FLOWERDASH_ERRORS
                and node.args
                and isinstance(node.args[0], ast.JoinedStr | ast.Constant)
            ):
                bad.append(f"{path.relative_to(update.ROOT)}:{node.lineno}")
    assert not bad, f"wrap these messages in _() with .format(): {bad}"
