"""The rooms stay readable: no source file over 600 lines, no import circle at import time."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "training", "poseeditor")
MAX_LINES = 600


def _modules() -> dict:
    mods = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            parts = p.relative_to(ROOT).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return mods


def _imports(name: str, path: Path, mods: dict) -> set:
    """Modules of ours that ``name`` imports when it is imported (module level; a function's lazy import runs later
    and makes no circle)."""
    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(pkg[:len(pkg) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module
            found = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        out.update(m for m in found if m in mods and m != name)
    return out


def test_no_source_file_is_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in _modules().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these along their seams: {long}"


def test_no_import_circle():
    mods = _modules()
    graph = {m: _imports(m, p, mods) for m, p in mods.items()}

    def reaches(start, goal, seen):
        for nxt in graph[start]:
            if nxt == goal:
                return [start, goal]
            if nxt not in seen:
                seen.add(nxt)
                path = reaches(nxt, goal, seen)
                if path:
                    return [start] + path
        return None

    circles = [c for m in graph if (c := reaches(m, m, set()))]
    assert not circles, f"import circles: {circles[:3]}"


def test_the_check_sees_a_circle(tmp_path, monkeypatch):
    # the circle finder must find one when there is one (a test that cannot fail proves nothing)
    mods = {"engine.a": tmp_path / "a.py", "engine.b": tmp_path / "b.py"}
    mods["engine.a"].write_text("from . import b\n")
    mods["engine.b"].write_text("from .a import thing\n")
    assert _imports("engine.a", mods["engine.a"], mods) == {"engine.b"}
    assert _imports("engine.b", mods["engine.b"], mods) == {"engine.a"}
