"""Install / remove the freedesktop menu entry and icons for the current user (no root, no system files).

    poseeditor --install-desktop     writes  $XDG_DATA_HOME/applications/poseeditor.desktop
                                             $XDG_DATA_HOME/icons/hicolor/<N>x<N>/apps/poseeditor.png
                                             $XDG_DATA_HOME/icons/hicolor/scalable/apps/poseeditor.svg
    poseeditor --uninstall-desktop   removes exactly those files

XDG_DATA_HOME defaults to ~/.local/share. The entry is made from resources/poseeditor.desktop.in; its Exec line
points at the `poseeditor` launcher of the running environment (a venv's bin/ is not on the menu's PATH), so a
double-click starts the same installation that ran --install-desktop.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
ICON_DIR = RESOURCES / "icons"
TEMPLATE = RESOURCES / "poseeditor.desktop.in"
APP_ID = "poseeditor"


def xdg_data_home() -> Path:
    v = os.environ.get("XDG_DATA_HOME")
    return Path(v) if v and os.path.isabs(v) else Path.home() / ".local" / "share"


def launcher() -> list[str]:
    """The command that starts this installation's app."""
    exe = Path(sys.executable)
    for name in ("poseeditor",):
        cand = exe.parent / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return [str(cand)]
    found = shutil.which("poseeditor")
    if found:
        return [found]
    return [str(exe), "-m", "poseeditor"]


def _png_icons() -> dict[int, Path]:
    out = {}
    for p in ICON_DIR.glob("poseeditor-*.png"):
        try:
            out[int(p.stem.rsplit("-", 1)[1])] = p
        except ValueError:
            continue
    return out


def _targets(data_home: Path) -> dict[str, Path]:
    """Every file --install-desktop writes, keyed by a name (the uninstaller removes these and nothing else)."""
    t = {"desktop": data_home / "applications" / f"{APP_ID}.desktop",
         "svg": data_home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"}
    for n in _png_icons():
        t[f"png{n}"] = data_home / "icons" / "hicolor" / f"{n}x{n}" / "apps" / f"{APP_ID}.png"
    return t


def desktop_entry_text(exec_cmd: list[str] | None = None) -> str:
    cmd = exec_cmd or launcher()
    # Exec quoting per the Desktop Entry spec: arguments with spaces in double quotes
    exec_line = " ".join(f'"{a}"' if any(c in a for c in ' \t"') else a for a in cmd)
    return (TEMPLATE.read_text(encoding="utf-8")
            .replace("@EXEC@", exec_line)
            .replace("@TRYEXEC@", cmd[0])
            .replace("@ICON@", APP_ID))


def _refresh_caches(data_home: Path) -> None:
    """Tell the desktop about the new files when the usual tools exist (they are optional)."""
    for cmd in (["update-desktop-database", str(data_home / "applications")],
                ["gtk-update-icon-cache", "-q", "-t", str(data_home / "icons" / "hicolor")]):
        if shutil.which(cmd[0]):
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def install(data_home: Path | None = None) -> list[Path]:
    data_home = data_home or xdg_data_home()
    targets = _targets(data_home)
    written = []
    targets["desktop"].parent.mkdir(parents=True, exist_ok=True)
    targets["desktop"].write_text(desktop_entry_text(), encoding="utf-8")
    os.chmod(targets["desktop"], 0o755)  # some file managers only launch executable .desktop files
    written.append(targets["desktop"])
    pngs = _png_icons()
    for key, dst in targets.items():
        src = ICON_DIR / "poseeditor.svg" if key == "svg" else pngs.get(int(key[3:])) if key.startswith("png") else None
        if src is None:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        written.append(dst)
    _refresh_caches(data_home)
    return written


def uninstall(data_home: Path | None = None) -> list[Path]:
    data_home = data_home or xdg_data_home()
    removed = []
    for dst in _targets(data_home).values():
        if dst.is_file():
            dst.unlink()
            removed.append(dst)
    _refresh_caches(data_home)
    return removed


def describe(paths: list[Path], verb: str) -> str:
    if not paths:
        return f"nothing to {verb.split()[0].lower()}"
    return f"{verb} {len(paths)} files:\n" + "\n".join(f"  {shlex.quote(str(p))}" for p in paths)
