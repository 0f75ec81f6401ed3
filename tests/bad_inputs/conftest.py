"""The bad-input table's inputs, made once per session (tests/bad_inputs/helpers.py)."""
import pytest

from tests.bad_inputs.helpers import make_inputs


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("bad-inputs"))
