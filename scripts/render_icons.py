"""Render resources/icons/poseeditor.svg to the PNG sizes desktops look for (hicolor theme sizes).

    python scripts/render_icons.py

Writes resources/icons/poseeditor-<N>.png for N in SIZES. Uses Qt's SVG renderer (PySide6), so no extra tool
is needed; run it again after editing the SVG and commit the PNGs.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(svg: Path, size: int, out: Path) -> None:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(p)
    p.end()
    if not img.save(str(out)):
        raise SystemExit(f"cannot write {out}")


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # Qt needs one to paint text and SVG
    assert app is not None
    svg = ICONS / "poseeditor.svg"
    for n in SIZES:
        out = ICONS / f"poseeditor-{n}.png"
        render(svg, n, out)
        print(out.relative_to(ICONS.parents[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
