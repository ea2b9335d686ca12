"""A camera's RAW+JPEG pair is one photo: shown once, searched once, never offered as copies of each other."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.api import Library
from engine.duplicates.groups import SAME_SHOT
from engine.images.pairs import pair_up, same_moment, same_name
from engine.images.raw import open_raw
from engine.library.schema import SCHEMA_VERSION
from engine.progress import run_to_end
from tests.conftest import demo_photos
from tests.corpus import heic_writable
from tests.rawfiles import write_dng

pytest.importorskip("rawpy")


def _shot(folder: Path, name: str, photo: Path, jpeg: str | None = None, fmt: str = "JPEG") -> Path:
    """A RAW file of the scene of ``photo``, and beside it (``jpeg``) the camera's rendering of it."""
    raw = write_dng(folder / name, scene=np.asarray(Image.open(photo).convert("RGB")))
    if jpeg:
        if fmt == "HEIF":
            import pillow_heif

            pillow_heif.register_heif_opener()
        rendered = open_raw(raw, 10**8)  # the half-size demosaic: the camera's JPEG is full size
        rendered.resize(rendered.info["full_size"]).save(folder / jpeg, fmt, quality=90)
    return raw


def _index(lib: Library, folders=None):
    return run_to_end(lib.index(folders))


def _names(photos) -> list[str]:
    return sorted(Path(p.path).relative_to(Path(p.path).parents[1]).as_posix() for p in photos)


@pytest.mark.parametrize(("a", "b", "pair"), [
    ("/p/IMG_0001.CR2", "/p/IMG_0001.JPG", True),
    ("/p/IMG_0001.nef", "/p/img_0001.jpeg", True),  # the same name in another case
    ("/p/DSC01.ARW", "/p/DSC01.HEIC", True),
    ("/p/a.JPG", "/p/a.dng", True),  # either order
    ("/p/x.RAF", "/p/x.heif", True),
    ("/p/IMG_0001.CR2", "/q/IMG_0001.JPG", False),  # another folder: an export or a copy, not the camera's
    ("/p/IMG_0001.CR2", "/p/IMG_0001.png", False),  # a camera writes no PNG
    ("/p/IMG_0001.CR2", "/p/IMG_0001-edit.jpg", False),
    ("/p/IMG_0001.JPG", "/p/IMG_0001.jpeg", False),  # no RAW file
    ("/p/IMG_0001.CR2", "/p/IMG_0001.dng", False),  # two RAW files
])
def test_which_files_are_a_raw_and_its_camera_jpeg(a, b, pair):
    assert same_name(a, b) is pair


def test_capture_times_decide_when_both_files_record_one():
    assert same_moment("2024-05-01T10:00:00", "2024-05-01T10:00:01.50+02:00") is True  # one clock, as written
    assert same_moment("2024-05-01T10:00:00", "2024-05-01T10:00:05") is False
    assert same_moment(None, "2024-05-01T10:00:00") is None
    raw, jpg = b"/p/IMG_1.CR2", b"/p/IMG_1.JPG"
    asked = []

    def look(a, b):
        asked.append((a, b))
        return True

    assert pair_up([(1, raw, "2024-05-01T10:00:00"), (2, jpg, "2024-05-01T10:00:01")], lambda a, b: False) == {2: 1}
    assert pair_up([(1, raw, "2024-05-01T10:00:00"), (2, jpg, "2024-05-01T11:00:00")], look) == {}
    assert not asked  # the times said no: the pixels were not asked
    assert pair_up([(1, raw, None), (2, jpg, "2024-05-01T11:00:00")], look) == {2: 1} and asked == [(1, 2)]
    assert pair_up([(1, raw, None), (2, jpg, None)], lambda a, b: False) == {}  # another photo under its name
    assert pair_up([(1, raw, None), (2, b"/q/IMG_1.JPG", None)], look) == {}


def test_the_raw_file_is_the_copy_kept_whatever_the_jpeg_has_more_of():
    from engine.duplicates.keeping import keep_order
    from engine.duplicates.verdicts import Verdicts
    from engine.types import Photo, PhotoId

    raw = Photo(PhotoId(1), "/gone/IMG_1.CR2", 4000, 3000, 25_000_000, 2.0, "2024-05-01T10:00:00")
    jpeg = Photo(PhotoId(2), "/gone/elsewhere/IMG_1.jpg", 6000, 4500, 30_000_000, 1.0, "2024-05-01T09:00:00")
    assert keep_order(Verdicts(None, {1: raw, 2: jpeg}, {}), {}, [2, 1]) == [1, 2]


@pytest.fixture
def shoot(tmp_path) -> tuple[Path, list[Path]]:
    """A camera folder: two RAW+JPEG pairs (one in HEIF where it can be written), a RAW whose JPEG name holds
    another photo, photos of their own, and in a subfolder an export of the first shot."""
    demo = demo_photos(per_class=1)
    folder = tmp_path / "shoot"
    (folder / "exports").mkdir(parents=True)
    _shot(folder, "IMG_0001.dng", demo[0], "IMG_0001.JPG")
    shutil.copyfile(folder / "IMG_0001.JPG", folder / "exports" / "IMG_0001.JPG")
    _shot(folder, "img_0002.DNG", demo[1], "IMG_0002.heic" if heic_writable() else "IMG_0002.jpg",
          "HEIF" if heic_writable() else "JPEG")
    _shot(folder, "IMG_0003.dng", demo[2])
    shutil.copyfile(demo[7], folder / "IMG_0003.JPG")  # another shot given its name: a photo of its own
    for p in demo[3:7]:
        shutil.copyfile(p, folder / f"other-{p.name}")
    return folder, demo


def test_a_raw_and_its_camera_jpeg_are_one_photo(tmp_path, shoot):
    folder, _ = shoot
    lib = Library(tmp_path / "lib")
    report = _index(lib, [folder])
    second = "IMG_0002.heic" if heic_writable() else "IMG_0002.jpg"
    assert report.companions == 2 and report.indexed == lib.photo_count() == 11 - 2
    shown = _names(lib.photos())
    assert "shoot/IMG_0001.JPG" not in shown and f"shoot/{second}" not in shown  # the grid shows each shot once
    assert {"shoot/IMG_0001.dng", "shoot/img_0002.DNG", "shoot/IMG_0003.dng", "shoot/IMG_0003.JPG",
            "exports/IMG_0001.JPG"} <= set(shown)
    by_name = {Path(p.path).name: p for p in lib.photos()}
    assert by_name["IMG_0001.dng"].companion == str(folder / "IMG_0001.JPG")  # the other file is known
    assert by_name["img_0002.DNG"].companion == str(folder / second)
    assert by_name["IMG_0003.dng"].companion is None  # its JPEG is another photo
    assert lib.status().indexed == 9

    raw, jpeg = folder / "IMG_0001.dng", folder / "IMG_0001.JPG"
    found = [n.photo.path for n in lib.similar(raw, k=20)]
    assert str(jpeg) not in found and found[0] == str(folder / "exports" / "IMG_0001.JPG")
    assert [n.photo.path for n in lib.similar(jpeg, k=20)] == found  # the JPEG is searched as its shot
    assert lib.photo_at(jpeg) is not None  # still a known file of the library
    from gui.itemmodels import photo_tooltip

    assert "also saved by the camera as IMG_0001.JPG" in photo_tooltip(by_name["IMG_0001.dng"])
    assert "also saved" not in photo_tooltip(by_name["IMG_0003.dng"])

    groups = lib.duplicates()
    paths = [[m.photo.path for m in g.members] for g in groups]
    assert not any(str(jpeg) in g for g in paths)  # the camera's JPEG is never a copy to trash
    export = next(g for g in groups if str(folder / "exports" / "IMG_0001.JPG") in [m.photo.path for m in g.members])
    assert export.sure and export.members[0].photo.path == str(raw) and export.members[0].keep  # the RAW is kept
    assert not export.members[1].keep
    lib.close()


def test_the_jpeg_alone_becomes_a_photo_again_and_the_raw_alone_stays_one(tmp_path, shoot):
    folder, _ = shoot
    lib = Library(tmp_path / "lib")
    _index(lib, [folder])
    (folder / "IMG_0001.dng").unlink()  # the photographer deleted the RAW file later
    jpeg = folder / "IMG_0001.JPG"
    for p in (folder / "img_0002.DNG").parent.glob("IMG_0002.*"):
        p.unlink()  # ... and the other shot's JPEG
    report = _index(lib)
    assert report.removed == 2 and report.companions == 0 and lib.photo_count() == 11 - 2
    shown = _names(lib.photos())
    assert "shoot/IMG_0001.JPG" in shown and "shoot/IMG_0001.dng" not in shown
    assert lib.photo_at(folder / "img_0002.DNG").companion is None  # the RAW alone is a photo like any other
    found = lib.similar(folder / "exports" / "IMG_0001.JPG", k=5)
    assert found[0].photo.path == str(jpeg)  # searchable again, found first as the copy it is
    assert any(str(jpeg) in [m.photo.path for m in g.members] for g in lib.duplicates() if g.sure)
    lib.close()


def test_a_pair_not_recognised_is_still_never_offered_as_copies(tmp_path, shoot, monkeypatch):
    from engine.jobs import pairing

    monkeypatch.setattr(pairing, "LOOK_ALIKE", 1.01)  # no capture times and no pixel check: nothing is paired
    folder, _ = shoot
    lib = Library(tmp_path / "lib")
    met = False
    assert _index(lib, [folder]).companions == 0 and lib.photo_count() == 11
    raw, jpeg, export = folder / "IMG_0001.dng", folder / "IMG_0001.JPG", folder / "exports" / "IMG_0001.JPG"
    assert lib.similar(raw, k=2)[0].photo.path in (str(jpeg), str(export))  # the pixels are the same
    for g in lib.duplicates():
        paths = [m.photo.path for m in g.members]
        if str(raw) in paths and str(jpeg) in paths:  # shown together only through the export, both kept
            assert g.members[0].photo.path == str(raw)
            shown = next(m for m in g.members if m.photo.path == str(jpeg))
            assert shown.keep and shown.differences == [SAME_SHOT]
            met = True
    assert met  # the export joined them in one group: the case where both are listed
    lib.close()


def test_a_library_written_before_pairs_gains_them_on_the_next_index(tmp_path, shoot):
    """A library indexed by a Simili that read RAW files but knew no pairs: both files were photos of their own."""
    folder, _ = shoot
    lib = Library(tmp_path / "lib")
    _index(lib, [folder])
    lib.close()
    con = sqlite3.connect(tmp_path / "lib" / "catalog.sqlite")
    con.executescript("DROP INDEX photos_companion_of; DROP INDEX photos_shown; DROP INDEX photos_raw; ALTER TABLE photos DROP COLUMN companion_of;"
                      " UPDATE meta SET value='3' WHERE key='schema_version'")
    con.close()
    lib = Library(tmp_path / "lib")  # the catalog is brought up to date as it opens
    assert lib.store.catalog.get_meta("schema_version") == str(SCHEMA_VERSION) == "4"
    assert lib.photo_count() == 11 and lib.store.catalog.companion_links() == {}
    report = _index(lib)
    assert report.companions == 2 and report.added == report.updated == 0  # paired without reading a file again
    assert lib.photo_count() == 9 and len(lib.store.models.index()) == 9  # and out of the search index
    lib.close()


def test_a_pair_moved_together_stays_one_photo_without_being_read_again(tmp_path, shoot):
    folder, _ = shoot
    lib = Library(tmp_path / "lib")
    _index(lib, [folder])
    (folder / "2024").mkdir()
    for name in ("IMG_0001.dng", "IMG_0001.JPG"):
        (folder / name).rename(folder / "2024" / name)
    report = _index(lib)
    assert report.moved == 2 and report.added == 0 and report.companions == 2
    moved = lib.photo_at(folder / "2024" / "IMG_0001.dng")
    assert moved.companion == str(folder / "2024" / "IMG_0001.JPG") and lib.photo_count() == 9
    lib.close()
