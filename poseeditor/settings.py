"""Where the app keeps its settings, recent files and weights: appdirs' per-user folders.

    config:  appdirs.user_config_dir("PoseEditor")/poseeditor.ini   (QSettings, ini format: readable by hand)
    data:    appdirs.user_data_dir("PoseEditor")/weights/*.safetensors (weights the user keeps for the app)

On Linux appdirs honours XDG_CONFIG_HOME / XDG_DATA_HOME, which is also how the tests keep their own copy.
"""
from __future__ import annotations

import os
from pathlib import Path

import appdirs
from PySide6.QtCore import QByteArray, QSettings

from engine.runtime import APP_NAME  # the per-user folders' one name

MAX_RECENT = 10


def config_dir() -> Path:
    return Path(appdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    return Path(appdirs.user_data_dir(APP_NAME))


def weights_dir() -> Path:
    return data_dir() / "weights"


class Settings:
    """Typed access to the few things the app remembers between runs."""

    def __init__(self, path: Path | None = None):
        path = Path(path) if path else config_dir() / "poseeditor.ini"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.q = QSettings(str(path), QSettings.Format.IniFormat)

    # ----- window ---------------------------------------------------------------------------------------
    def geometry(self, key: str) -> QByteArray | None:
        v = self.q.value(f"window/{key}")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self.q.setValue(f"window/{key}", value)

    # ----- recent files ---------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        v = self.q.value("recent/files", [])
        if isinstance(v, str):  # QSettings gives a plain string for a one-element list
            v = [v]
        return [p for p in (v or []) if isinstance(p, str)]

    def add_recent(self, path) -> list[str]:
        path = str(Path(path).resolve())
        files = [path] + [p for p in self.recent_files() if p != path]
        self.q.setValue("recent/files", files[:MAX_RECENT])
        return files[:MAX_RECENT]

    def clear_recent(self) -> None:
        self.q.setValue("recent/files", [])

    # ----- engine choices -------------------------------------------------------------------------------
    def value(self, key: str, default=None):
        return self.q.value(key, default)

    def set_value(self, key: str, value) -> None:
        self.q.setValue(key, value)

    def backend(self) -> str:
        return str(self.q.value("engine/backend", "warp"))

    def device(self) -> str:
        return str(self.q.value("engine/device", "cpu"))

    def weights_for(self, backend: str) -> str | None:
        v = self.q.value(f"weights/{backend}")
        return str(v) if v and os.path.isfile(str(v)) else None

    def all_weights(self) -> dict[str, str]:
        """backend -> weights file last loaded for it (files that still exist)."""
        self.q.beginGroup("weights")
        keys = self.q.childKeys()
        self.q.endGroup()
        return {k: w for k in keys if (w := self.weights_for(k))}

    def set_weights_for(self, backend: str, path: str | None) -> None:
        if path:
            self.q.setValue(f"weights/{backend}", str(path))
        else:
            self.q.remove(f"weights/{backend}")

    def last_dir(self, kind: str = "photos") -> str:
        v = self.q.value(f"dirs/{kind}")
        return str(v) if v and os.path.isdir(str(v)) else str(Path.home())

    def set_last_dir(self, kind: str, path) -> None:
        p = Path(path)
        self.q.setValue(f"dirs/{kind}", str(p if p.is_dir() else p.parent))

    def sync(self) -> None:
        self.q.sync()
