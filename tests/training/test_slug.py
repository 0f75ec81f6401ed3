"""training.names.slug: the dataset folder's and the staged photos' names keep the user's letters, and are
names every file system takes."""
import sys

import pytest

from training import names as N
from training import protocol as P


@pytest.mark.parametrize("name, want", [
    ("phötö 1", "phötö-1"),                      # was "ph-t-1"
    ("pho\u0308to\u0308 1", "phötö-1"),          # macOS's decomposed spelling: the same name
    ("Émile   Zola", "Émile-Zola"),
    ("张伟", "张伟"),
    ("हिन्दी नाम", "हिन्दी-नाम"),                 # vowel signs and virama (combining marks) stay with their letters
    ("Anna_Maria", "Anna-Maria"),                # prepare's identity ends at the first '_'
    ('a/b\\c:d*e?f"g<h>i|j', "a-b-c-d-e-f-g-h-i-j"),
    ("\x00\x1fbad\x7f\n", "bad"),
    ("  ..x.. ", "x"),
    ("", "person"),
    ("...", "person"),
    ("CON", "CON-person"),
    ("con.txt", "con-person.txt"),
    ("Com1", "Com1-person"),
    ("LPT\u00b9", "LPT\u00b9-person"),
    ("nul-2", "nul-2"),
    ("Anna 2", "Anna-2"),                        # ASCII names as before
])
def test_slug_keeps_letters_and_is_safe(name, want):
    assert N.slug(name) == want


def test_slug_is_at_most_60_letters_and_never_ends_in_a_dot():
    s = N.slug("é" * 59 + ". x" * 10)
    assert len(s) <= 60 and not s.endswith((".", "-"))


def test_slug_drops_accents_only_where_the_file_system_cannot_write_them(monkeypatch):
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "ascii")
    assert N.slug("phötö 1") == "photo-1"
    assert N.slug("张伟") == "person"
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "utf-8")
    assert N.slug("phötö 1") == "phötö-1"


def test_the_staged_photos_and_the_self_pairs_step_name_the_same_folder(tmp_path):
    photo = tmp_path / "bild_ä:1.png"
    photo.write_bytes(b"not read here")
    plan = P.make_plan("phötö 1", "attention", photos=[str(photo)])
    dataset = N.unique_path(tmp_path / "datasets", N.slug(plan.name), "")
    assert dataset.name == "phötö-1"
    source = P.source_for(plan, dataset)
    staged = source / "phötö-1"
    assert [p.name for p in staged.iterdir()] == ["000-bild-ä-1.png"]
    if P.uses_self_pairs(plan):
        assert P.prepare_args(plan, source, dataset)[1] == staged
