"""Icons: the app icon (resources/icons/poseeditor*.png|svg) and the toolbar's own SVG icons.

The toolbar icons are drawn for this app (resources/icons/actions/*.svg, light strokes for the dark theme), so
the toolbar looks the same on every desktop, with or without an icon theme installed.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QIcon

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"


@lru_cache(maxsize=None)
def app_icon() -> QIcon:
    icon = QIcon()
    for png in sorted(ICON_DIR.glob("poseeditor-*.png")):
        icon.addFile(str(png))
    if icon.isNull():
        icon = QIcon(str(ICON_DIR / "poseeditor.svg"))
    return icon


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    path = ICON_DIR / "actions" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()
