"""Checkpoints: one folder per run holding ``model.keras`` and ``meta.json``.

Folders are written atomically: everything goes into a hidden temporary folder in the same
directory, which is renamed into place only when complete. Hidden folders are never listed, so
a crash can never leave a half checkpoint that the app would offer.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowerdash.data.classes import NUM_CLASSES
from flowerdash.errors import CheckpointError, ConfigError
from flowerdash.i18n import _
from flowerdash.settings import PROJECT_ROOT, load_settings

if TYPE_CHECKING:
    import keras

MODEL_FILE = "model.keras"
META_FILE = "meta.json"
DEFAULT_NAME = "default"
SHIPPED_DEFAULT = PROJECT_ROOT / "checkpoints" / DEFAULT_NAME
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CheckpointInfo:
    """A listed checkpoint folder and its metadata (the model is not loaded)."""

    path: Path
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return str(self.meta.get("status", "complete"))

    @property
    def test_top1(self) -> float | None:
        value = (self.meta.get("metrics") or {}).get("test", {}).get("top1")
        return None if value is None else float(value)

    @property
    def whole_test_top1(self) -> float | None:
        """Test top-1 when it was measured on the whole test split, else None.

        A run that scored a sample of the test photos (``test_limit``, a quick run) can look far
        better than it is, so only whole-split scores are compared to pick a default.
        """
        test = (self.meta.get("metrics") or {}).get("test") or {}
        total = ((self.meta.get("dataset") or {}).get("split_sizes") or {}).get("test")
        if self.test_top1 is None or not total or int(test.get("n", 0)) < int(total):
            return None
        return self.test_top1

    @property
    def label(self) -> str:
        """A one-line description for pickers: name, status, accuracy, backbone.

        In the current language (English outside the dashboard, e.g. in the CLI). The backbone
        comes last: a narrow picker (the sidebar's) cuts the end of the line.
        """
        parts = [self.name]
        if self.status == "partial":
            parts.append(_("PARTIAL"))
        elif self.status != "complete":
            parts.append(self.status.upper())
        if self.test_top1 is not None:
            parts.append(_("test top-1 {accuracy}").format(accuracy=f"{self.test_top1:.1%}"))
        parts.append(str(self.meta.get("backbone", "?")))
        return " · ".join(parts)


def _created_text(info: CheckpointInfo) -> str:
    """The creation time as ``YYYY-MM-DD HH:MM:SS`` (empty when unknown)."""
    return str(info.meta.get("created", ""))[:19].replace("T", " ")


# What tells equal labels apart, tried in order: the folder holding the checkpoint, when it was
# created, and finally the full path (always unique in a listing).
_DISAMBIGUATORS = (
    lambda info: f"{info.path.parent.name}/" if info.path.parent.name else "",
    _created_text,
    lambda info: str(info.path),
)


def distinct_labels(infos: Sequence[CheckpointInfo]) -> list[str]:
    """Picker labels of ``infos`` (same order), made distinct.

    Two checkpoints can share a label (the same folder name, backbone and accuracy in two
    folders, e.g. a copy of the shipped default). Widgets that select by label would then pick
    the wrong one, so each group of equal labels gets the first detail that tells its members
    apart: the parent folder's name, the creation time, or the full path.
    """
    labels = [info.label for info in infos]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[label].append(i)
    for label, members in groups.items():
        if len(members) < 2:
            continue
        for detail in _DISAMBIGUATORS:
            extras = [detail(infos[i]) for i in members]
            if all(extras) and len(set(extras)) == len(extras):
                break
        for i, extra in zip(members, extras, strict=True):
            labels[i] = f"{label} · {extra}"
    return labels


@dataclass(frozen=True)
class BrokenCheckpoint:
    """A folder that looks like a checkpoint but cannot be used, and why."""

    path: Path
    reason: str


@dataclass
class Listing:
    """Result of :func:`list_checkpoints`: usable checkpoints and the rejected ones."""

    checkpoints: list[CheckpointInfo] = field(default_factory=list)
    broken: list[BrokenCheckpoint] = field(default_factory=list)


NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(name: str) -> None:
    """ConfigError unless ``name`` can name a checkpoint folder (no paths, no odd characters)."""
    if not NAME_PATTERN.match(name):
        raise ConfigError(
            _(
                "The run name may only use letters, digits, dots, dashes and underscores "
                "(up to 64), and must start with a letter or digit."
            )
        )


def check_new_name(name: str, root: str | Path | None = None) -> None:
    """ConfigError unless ``name`` is a valid, unused checkpoint folder name."""
    check_name(name)
    if (checkpoint_root(root) / name).exists():
        raise ConfigError(
            _("A checkpoint named {name} already exists; choose another name.").format(name=name)
        )


def checkpoint_root(root: str | Path | None = None) -> Path:
    """The folder checkpoints are written to and listed from."""
    return Path(root) if root is not None else load_settings().checkpoint_dir


def library_versions() -> dict[str, str]:
    """Versions recorded in every checkpoint."""
    import keras
    import numpy as np
    import tensorflow as tf

    from flowerdash import __version__

    return {
        "flowerdash": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def now_iso() -> str:
    """The current UTC time in ISO 8601, seconds precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_meta(path: str | Path) -> dict[str, Any]:
    """Read and validate a checkpoint folder's metadata."""
    folder = Path(path)
    if not folder.is_dir():
        raise CheckpointError(
            _("The checkpoint {path} does not exist (was it deleted?).").format(path=folder)
        )
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise CheckpointError(
            _("{name} has no {file}; it is not a flowerdash checkpoint.").format(
                name=folder.name, file=META_FILE
            )
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            _("The metadata of {name} is unreadable: {error}").format(name=folder.name, error=exc)
        ) from exc
    if not isinstance(meta, dict):
        raise CheckpointError(
            _("The metadata of {name} is not a JSON object.").format(name=folder.name)
        )
    names = meta.get("class_names")
    if not isinstance(names, list) or len(names) != meta.get("num_classes", NUM_CLASSES):
        raise CheckpointError(
            _("The metadata of {name} has no valid class list; it cannot name predictions.").format(
                name=folder.name
            )
        )
    if not (folder / MODEL_FILE).is_file():
        raise CheckpointError(_("{name} has no {file}.").format(name=folder.name, file=MODEL_FILE))
    return meta


def resolve(checkpoint: str | Path | None, root: str | Path | None = None) -> Path:
    """A checkpoint folder from a path, a name in the checkpoint folder, or None (the default)."""
    if checkpoint is None or str(checkpoint) == DEFAULT_NAME:
        candidate = checkpoint_root(root) / DEFAULT_NAME
        return candidate if candidate.is_dir() else SHIPPED_DEFAULT
    path = Path(checkpoint).expanduser()
    if path.name == MODEL_FILE:
        path = path.parent
    if path.is_dir():
        return path
    named = checkpoint_root(root) / str(checkpoint)
    if named.is_dir():
        return named
    raise CheckpointError(
        _("No checkpoint named {name} (looked for a folder at {path}).").format(
            name=repr(checkpoint), path=path
        )
    )


def list_checkpoints(root: str | Path | None = None, include_default: bool = True) -> Listing:
    """All usable checkpoints (newest first) and the broken ones; never raises for bad folders."""
    folder = checkpoint_root(root)
    listing = Listing()
    candidates = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if include_default and SHIPPED_DEFAULT.is_dir() and SHIPPED_DEFAULT not in candidates:
        candidates.append(SHIPPED_DEFAULT)
    for path in candidates:
        if path.name.startswith("."):
            continue
        try:
            listing.checkpoints.append(CheckpointInfo(path, read_meta(path)))
        except CheckpointError as exc:
            listing.broken.append(BrokenCheckpoint(path, str(exc)))
    listing.checkpoints.sort(key=lambda c: str(c.meta.get("created", "")), reverse=True)
    return listing


def best_measured(checkpoints: Sequence[CheckpointInfo]) -> CheckpointInfo | None:
    """The checkpoint a new session starts with.

    Among complete checkpoints, the best test top-1 measured on the whole test split; the
    shipped default unless another scores strictly better. With nothing measured: the shipped
    default, else the newest complete one, else the newest. A new run is offered, not imposed:
    finishing it does not change what everyone else starts with unless it measures better.
    """
    complete = [c for c in checkpoints if c.status == "complete"]
    # The shipped default first, then newest first: max keeps the first of equal scores.
    ordered = sorted(complete, key=lambda c: c.path.resolve() != SHIPPED_DEFAULT.resolve())
    if ordered:
        return max(ordered, key=lambda c: -1.0 if c.whole_test_top1 is None else c.whole_test_top1)
    return checkpoints[0] if checkpoints else None


def load_model(path: str | Path) -> keras.Model:
    """Load a checkpoint's model with a clear error for a corrupt or foreign file."""
    import keras

    folder = Path(path)
    meta = read_meta(folder)
    try:
        model = keras.saving.load_model(folder / MODEL_FILE, compile=False)
    except Exception as exc:  # corrupt zips, foreign files and version skew raise many types
        raise CheckpointError(
            _(
                "The model file of {name} could not be loaded ({error_type}); "
                "it is corrupt or was not written by flowerdash."
            ).format(name=folder.name, error_type=type(exc).__name__)
        ) from exc
    classes = int(model.outputs[0].shape[-1])
    if classes != len(meta["class_names"]):
        raise CheckpointError(
            _(
                "{name} predicts {classes} classes but its metadata names {named}; "
                "the two do not belong together."
            ).format(name=folder.name, classes=classes, named=len(meta["class_names"]))
        )
    return model


def save_checkpoint(
    model: keras.Model,
    meta: dict[str, Any],
    root: str | Path | None = None,
    name: str | None = None,
) -> Path:
    """Write a checkpoint folder atomically and return its final path."""
    parent = checkpoint_root(root)
    name = name or f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{meta.get('backbone', 'model')}"
    final = parent / name
    if final.exists():
        raise CheckpointError(_("A checkpoint named {name} already exists.").format(name=name))
    tmp = parent / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        full_meta = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "created": now_iso(),
            "num_classes": int(model.outputs[0].shape[-1]),
            "versions": library_versions(),
            **meta,
        }
        _inference_copy(model).save(tmp / MODEL_FILE)
        with open(tmp / META_FILE, "w", encoding="utf-8") as fh:
            json.dump(full_meta, fh, indent=2, default=_json_default)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(
            _(
                "Could not write the checkpoint to {path} ({reason}). "
                "Check that the folder is writable and the disk has space; nothing was changed."
            ).format(path=parent, reason=exc.strerror or exc)
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _inference_copy(model: keras.Model) -> keras.Model:
    """The same architecture and weights without optimizer state (smaller, nothing to resume)."""
    if getattr(model, "optimizer", None) is None:
        return model
    # clone_model would re-compile the copy and bring the optimizer slots back into the file.
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def update_meta(path: str | Path, **updates: Any) -> dict[str, Any]:
    """Merge ``updates`` into a checkpoint's metadata, atomically."""
    folder = Path(path)
    meta = read_meta(folder)
    meta.update(updates)
    tmp = folder / f".{META_FILE}.{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(json.dumps(meta, indent=2, default=_json_default), encoding="utf-8")
        os.replace(tmp, folder / META_FILE)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(
            _("Could not update the metadata of {name}: {error}").format(
                name=folder.name, error=exc
            )
        ) from exc
    return meta


def delete_checkpoint(path: str | Path) -> None:
    """Delete a checkpoint folder; the shipped default cannot be deleted."""
    folder = Path(path).resolve()
    if folder == SHIPPED_DEFAULT.resolve():
        raise CheckpointError(_("The shipped default checkpoint cannot be deleted."))
    read_meta(folder)
    shutil.rmtree(folder)


def clean_stale_temporaries(root: str | Path | None = None) -> int:
    """Remove temporary folders left by an interrupted write; returns how many."""
    folder = checkpoint_root(root)
    removed = 0
    if folder.is_dir():
        for p in folder.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)
            removed += 1
    return removed


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
