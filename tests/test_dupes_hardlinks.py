"""Files are files (issue 21.3): two hard links of one file are one photo, never a group to trash from.

A hard link is what `jdupes -L`, `rdfind -makehardlinks` or `cp -l` leave: two names, one file. Sending either
name to the trash frees nothing and, in a group with other copies, could take the only copy of the pixels. The
symbolic-link case is in tests/test_dupes.py (``family``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from engine.api import Library
from engine.cli import main
from tests.test_dupes import DEMO, ORIGINAL, SHIRTS, _names, _rotated_black
from tests.test_library import run

HAT = min((DEMO / "images" / "hat").glob("*.jpg"))  # in no other folder of the test


def _inode(path: str | Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


@pytest.fixture
def linked(tmp_path):
    """A folder with a photo and a hard link to it in another folder, a rotated copy of the photo beside them, and
    two unrelated demo photos; indexed. A second folder holds only a photo and its hard link."""
    folder, alone = tmp_path / "photos", tmp_path / "alone"
    (folder / "album").mkdir(parents=True)
    alone.mkdir()
    im = Image.open(ORIGINAL).convert("RGB")
    im.save(folder / "original.jpg", quality=95)
    try:
        os.link(folder / "original.jpg", folder / "album" / "same-file.jpg")
    except OSError as exc:  # a file system without hard links
        pytest.skip(f"no hard links here: {exc}")
    _rotated_black(im).save(folder / "rotated.jpg", quality=95)
    for photo in SHIRTS:
        shutil.copy(photo, folder / photo.name)
    shutil.copy(HAT, alone / "hat.jpg")
    os.link(alone / "hat.jpg", alone / "hat-linked.jpg")
    lib = Library(tmp_path / "lib")
    run(lib.index([folder, alone]))
    yield lib, folder, alone
    lib.close()


def test_both_names_are_indexed_so_the_check_means_something(linked):
    lib, folder, _alone = linked
    paths = {Path(p.path).name for p in lib.store.catalog.photos_by_ids(
        [r[0] for r in lib.store.catalog.db.execute("SELECT id FROM photos WHERE status='ok'")]).values()}
    assert {"original.jpg", "same-file.jpg", "hat.jpg", "hat-linked.jpg"} <= paths
    assert _inode(folder / "original.jpg") == _inode(folder / "album" / "same-file.jpg")


def test_two_hard_links_of_one_file_are_never_a_group(linked):
    lib, _, _ = linked
    found = lib.duplicates()
    assert not any({"hat.jpg", "hat-linked.jpg"} & set(_names(g)) for g in found)  # alone: no group at all
    assert not any({"original.jpg", "same-file.jpg"} <= set(_names(g)) for g in found)


def test_with_a_real_copy_one_name_stands_for_the_file_and_neither_goes_to_the_trash(linked):
    lib, folder, _ = linked
    [group] = [g for g in lib.duplicates() if g.sure and "rotated.jpg" in _names(g)]
    file = _inode(folder / "original.jpg")
    members = [m for m in group.members if _inode(m.photo.path) == file]
    assert len(members) == 1 and members[0].keep  # one name of the file, kept: the clean original
    assert group.members[0] is members[0]
    trash = [m.photo.path for m in group.members if not m.keep]
    assert [Path(p).name for p in trash] == ["rotated.jpg"]
    assert all(_inode(p) != file for p in trash)
    assert len({_inode(m.photo.path) for m in group.members}) == len(group.members)  # no file twice


def test_dupes_json_never_lists_one_file_twice_nor_offers_it(linked, capsys):
    lib, folder, _ = linked
    assert main(["--home", str(lib.home), "-q", "--json", "dupes"]) in (0, None)
    out = json.loads(capsys.readouterr().out)
    file = _inode(folder / "original.jpg")
    for g in out["groups"] + [s["photos"] for s in out["similar_shots"]]:
        inodes = [_inode(m["path"]) for m in g]
        assert len(set(inodes)) == len(inodes)
        assert all(m["keep"] for m in g if _inode(m["path"]) == file)
