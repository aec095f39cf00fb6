"""Where flowerdash finds its dataset, backbone weights and checkpoints.

Precedence for each setting: environment variable, then the settings file, then the default.
The settings file is TOML, found at ``$FLOWERDASH_SETTINGS`` or ``./flowerdash.toml``::

    data_dir = "../shared/datasets/oxford_flowers102"
    weights_dir = "../shared/weights"
    checkpoint_dir = "checkpoints"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flowerdash.errors import ConfigError
from flowerdash.i18n import _

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENV_DATA_DIR = "FLOWERDASH_DATA_DIR"
ENV_WEIGHTS_DIR = "FLOWERDASH_WEIGHTS_DIR"
ENV_CHECKPOINT_DIR = "FLOWERDASH_CHECKPOINT_DIR"
ENV_SETTINGS = "FLOWERDASH_SETTINGS"


@dataclass(frozen=True)
class Settings:
    """Resolved locations; ``data_dir`` None means "use TensorFlow Datasets (online)"."""

    data_dir: Path | None
    weights_dir: Path | None
    checkpoint_dir: Path
    source: str  # where the data setting came from: "env", "file" or "default"


def _read_file() -> tuple[dict, Path | None]:
    explicit = os.environ.get(ENV_SETTINGS)
    path = Path(explicit) if explicit else Path.cwd() / "flowerdash.toml"
    if not path.is_file():
        if explicit:
            raise ConfigError(
                _("The settings file {path} named by {variable} does not exist.").format(
                    path=path, variable=ENV_SETTINGS
                )
            )
        return {}, None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            _("The settings file {path} could not be read: {error}").format(path=path, error=exc)
        ) from exc


def _resolve(value: str | None, base: Path) -> Path | None:
    if not value:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def load_settings() -> Settings:
    """Resolve settings from the environment and the optional settings file."""
    data, file_path = _read_file()
    file_base = file_path.parent if file_path else Path.cwd()
    env = os.environ

    def pick(env_name: str, key: str) -> tuple[Path | None, str]:
        if env.get(env_name):
            return _resolve(env[env_name], Path.cwd()), "env"
        if data.get(key):
            return _resolve(str(data[key]), file_base), "file"
        return None, "default"

    data_dir, source = pick(ENV_DATA_DIR, "data_dir")
    weights_dir, _ = pick(ENV_WEIGHTS_DIR, "weights_dir")
    checkpoint_dir, _ = pick(ENV_CHECKPOINT_DIR, "checkpoint_dir")
    return Settings(
        data_dir=data_dir,
        weights_dir=weights_dir,
        checkpoint_dir=checkpoint_dir or PROJECT_ROOT / "checkpoints",
        source=source,
    )
