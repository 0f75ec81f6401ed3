"""App test fixtures: the app's own QApplication (theme, icon, Qt plugin path fix), private settings folders,
and helpers that drive the real window and wait for its worker threads."""
import pytest


@pytest.fixture(scope="session")
def qapp():
    from poseeditor.app import make_app

    return make_app(["poseeditor-tests"])


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory, monkeypatch):
    """Settings, recent files and installed desktop files go to a temporary home, never the user's."""
    root = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(root / "data"))
    yield root
