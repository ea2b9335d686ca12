"""Photo folders as they are in the real world: drives that come and go, folders renamed by the user, photos touched
or fixed later, NAS litter, odd names and dates. Each case runs on a fresh small library through the command line.

The promise checked everywhere: a photo leaves the library only when its folder could be read and the file is gone
(or the user removed the folder); a photo whose content is unchanged is never read again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine.progress import run_to_end
from tests.conftest import demo_photos, photo_folder
from tests.test_robust_library import ok_json, simili

N = 10


@pytest.fixture
def indexed(tmp_path):
    """A library (``lib``) of ``N`` photos in ``photos/``; returns (home, folder, the first index run's report)."""
    folder = tmp_path / "photos"
    photo_folder(folder, demo_photos(per_class=1))
    home = tmp_path / "lib"
    report = ok_json("index", str(folder), home=home)
    assert report["indexed"] == N and report["added"] == N
    return home, folder, report


def _feature_bytes(home: Path) -> int:
    return (home / "features.f16").stat().st_size


def test_an_unplugged_drive_whose_mount_point_stays_empty_is_offline_not_emptied(indexed, tmp_path):
    home, folder, _ = indexed
    away = tmp_path / "drive-contents"
    shutil.move(str(folder), str(away))
    folder.mkdir()  # the mount point stays behind, empty
    size = _feature_bytes(home)
    report = ok_json("index", home=home)
    assert report["removed"] == 0 and report["indexed"] == N and report["offline"] == [str(folder)]
    status = ok_json("status", home=home)
    assert status["offline"] == [str(folder)] and status["indexed"] == N
    human = simili("status", home=home).stdout
    assert f"{folder} (offline)" in human
    query = str(folder / sorted(os.listdir(away))[0])
    shutil.rmtree(folder)
    away.rename(folder)  # the drive is back
    report = ok_json("index", home=home)
    assert report["added"] == 0 and report["updated"] == 0 and report["removed"] == 0 and report["offline"] == []
    assert report["unchanged"] == N and _feature_bytes(home) == size  # nothing was read again
    assert len(ok_json("similar", query, "-k", "3", home=home)["results"]) == 3


def test_results_of_an_offline_folder_say_so(indexed, tmp_path):
    home, folder, _ = indexed
    query = sorted(folder.iterdir())[0]
    away = tmp_path / "away"
    shutil.copytree(folder, away)
    shutil.rmtree(folder)
    out = ok_json("similar", "--image", str(away / query.name), "-k", "3", home=home)
    assert out["results"] and all(r["offline"] for r in out["results"])
    assert "offline" in simili("similar", "--image", str(away / query.name), "-k", "1", home=home).stdout


def test_a_subfolder_that_is_now_empty_keeps_its_photos(tmp_path):
    folder = tmp_path / "photos"
    photo_folder(folder / "usb", demo_photos(per_class=1)[:4])
    photo_folder(folder, demo_photos(per_class=1)[4:])
    home = tmp_path / "lib"
    assert ok_json("index", str(folder), home=home)["indexed"] == N
    for f in (folder / "usb").iterdir():
        f.unlink()  # what a drive mounted at photos/usb looks like once it is unplugged
    report = ok_json("index", home=home)
    assert report["removed"] == 0 and report["indexed"] == N
    (folder / "usb").rmdir()  # the subfolder itself deleted: its photos are gone
    assert ok_json("index", home=home)["removed"] == 4


def test_a_folder_that_cannot_be_listed_keeps_its_photos(indexed, monkeypatch):
    from engine.api import Library

    home, folder, _ = indexed
    real = os.scandir

    def refused(path="."):
        if os.fsencode(path) == os.fsencode(folder):
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", refused)
    with Library(home) as lib:
        report = run_to_end(lib.index())
    assert report.removed == 0 and report.indexed == N and report.offline == (str(folder),)


def test_a_folder_renamed_by_the_user_is_not_read_again_and_leaves_no_ghosts(indexed, tmp_path):
    home, folder, _ = indexed
    size = _feature_bytes(home)
    renamed = tmp_path / "Pictures"
    folder.rename(renamed)
    report = ok_json("index", str(renamed), home=home)
    assert report["moved"] == N and report["added"] == 0 and report["indexed"] == N
    assert _feature_bytes(home) == size
    query = sorted(renamed.iterdir())[0]
    results = ok_json("similar", str(query), "-k", "20", "--max-distance", "64", home=home)["results"]
    assert all(Path(r["path"]).parent == renamed for r in results)  # no ghost of the old name
    assert len(results) == N - 1


def test_a_photo_moved_between_library_folders_keeps_its_row(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    photos = demo_photos(per_class=1)
    photo_folder(a, photos[:5])
    photo_folder(b, photos[5:])
    home = tmp_path / "lib"
    assert ok_json("index", str(a), str(b), home=home)["indexed"] == N
    size = _feature_bytes(home)
    moving = sorted(a.iterdir())[0]
    moving.rename(b / moving.name)
    report = ok_json("index", home=home)
    assert report["moved"] == 1 and report["added"] == 0 and report["removed"] == 0
    assert _feature_bytes(home) == size


def test_touching_every_photo_reads_none_again(indexed):
    home, folder, _ = indexed
    size = _feature_bytes(home)
    for f in folder.iterdir():
        os.utime(f, (1_600_000_000, 1_600_000_000))
    report = ok_json("index", home=home)
    assert report["updated"] == 0 and report["unchanged"] == N and _feature_bytes(home) == size
    again = ok_json("index", home=home)  # the new dates were recorded: no fingerprinting the next time either
    assert again["unchanged"] == N and _feature_bytes(home) == size


def test_a_permission_fixed_later_is_tried_again(indexed, monkeypatch):
    from engine.api import Library
    from engine.images import decode as dec

    home, folder, _ = indexed
    victim = sorted(folder.iterdir())[0]
    victim.write_bytes(victim.read_bytes() + b"\0")  # a new photo there, not yet read
    real = dec._open_regular

    def denied(path, *a, **k):
        if os.fspath(path) == str(victim):
            raise dec.DecodeError("permission", "permission denied")
        return real(path, *a, **k)

    monkeypatch.setattr(dec, "_open_regular", denied)
    with Library(home) as lib:
        run_to_end(lib.index())
        assert [f.code for f in lib.failures()] == ["permission"]
    monkeypatch.setattr(dec, "_open_regular", real)  # chmod 644: the mtime does not change
    with Library(home) as lib:
        report = run_to_end(lib.index())
        assert report.failed == 0 and report.indexed == N and not lib.failures()


def test_a_file_dated_after_2262_does_not_stop_the_index(indexed):
    home, folder, _ = indexed
    far = sorted(folder.iterdir())[0]
    os.utime(far, ns=(2**63 - 1, 2**63 - 1))
    report = ok_json("index", home=home)
    assert report["indexed"] == N
    assert ok_json("status", home=home)["health"]["ok"]


def test_an_empty_folder_name_is_refused_not_taken_for_the_current_folder(indexed):
    home, _, _ = indexed
    before = ok_json("folders", home=home)["folders"]
    for argv in (["index", ""], ["folders", "--remove", ""], ["index", "  "]):
        proc = simili(*argv, home=home)
        assert proc.returncode != 0 and "no folder given" in proc.stderr
    assert ok_json("folders", home=home)["folders"] == before


def test_nas_and_system_litter_never_enters_the_library(tmp_path):
    folder = tmp_path / "photos"
    photos = demo_photos(per_class=1)[:4]
    photo_folder(folder, photos)
    for litter in ("@eaDir/IMG_1.jpg", "#recycle/old.jpg", "$RECYCLE.BIN/S-1-5/x.jpg", ".Trash-1000/files/y.jpg",
                   "#snapshot/GMT+01/z.jpg", "sub/@eaDir/a.jpg/SYNOPHOTO_THUMB_XL.jpg"):
        dst = folder / litter
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photos[0], dst)
    shutil.copyfile(photos[1], folder / "SYNOPHOTO_THUMB_M.jpg")
    shutil.copyfile(photos[1], folder / "._IMG_2.jpg")
    home = tmp_path / "lib"
    assert ok_json("index", str(folder), home=home)["indexed"] == 4
    # editable: a name the user adds is skipped too, and one taken out is scanned again
    (folder / "Backup").mkdir()
    shutil.copyfile(photos[2], folder / "Backup" / "b.jpg")
    out = ok_json("folders", "--skip", "Backup", "--unskip", "#recycle", home=home)
    assert "Backup" in out["skipped_names"] and "#recycle" not in out["skipped_names"]
    assert ok_json("index", home=home)["indexed"] == 5  # #recycle/old.jpg now, Backup/b.jpg not


def test_a_file_name_cannot_write_escape_sequences_to_the_terminal(tmp_path):
    folder = tmp_path / "photos"
    src = demo_photos(per_class=1)
    photo_folder(folder, src[:3])
    evil = folder / "evil\x1b]0;pwned\x07\x1b[2J\nline.jpg"
    shutil.copyfile(src[3], evil)
    home = tmp_path / "lib"
    assert ok_json("index", str(folder), home=home)["indexed"] == 4
    human = simili("similar", str(folder / sorted(os.listdir(folder))[0]), "-k", "5", "--max-distance", "64",
                   home=home).stdout
    assert "\x1b" not in human and "\x07" not in human
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J\\nline.jpg" in human
    result_lines = [line for line in human.splitlines() if line.lstrip()[:1].isdigit()]
    assert len(result_lines) == 3  # one line per result, the newline in the name escaped
    header = simili("similar", str(evil), "-k", "1", "--max-distance", "64", home=home).stdout.splitlines()[0]
    assert "\x1b" not in header and "evil\\x1b" in header
    out = ok_json("similar", "--max-distance", "64", str(folder / sorted(os.listdir(folder))[0]), home=home)
    assert str(evil) in [r["path"] for r in out["results"]]  # JSON keeps the exact name


def test_dead_feature_rows_are_reclaimed_by_repair_and_by_index_past_the_share(indexed):
    home, folder, _ = indexed
    row_bytes = 1280 * 2
    photos = sorted(folder.iterdir())
    query = str(photos[-1])
    before = ok_json("similar", query, "-k", "5", home=home)["results"]
    for p in photos[:3]:  # changed photos get new rows; their old rows are dead
        p.write_bytes(p.read_bytes() + b"\0")
    assert ok_json("index", home=home)["updated"] == 3
    assert _feature_bytes(home) == (N + 3) * row_bytes  # 3 of 13 rows dead: under the 25 % share, kept
    ok_json("repair", home=home)
    assert _feature_bytes(home) == N * row_bytes
    after = ok_json("similar", query, "-k", "5", home=home)["results"]
    assert [r["path"] for r in after] == [r["path"] for r in before]
    assert [r["similarity"] for r in after] == pytest.approx([r["similarity"] for r in before], abs=1.0)
    for p in photos[:5]:  # 5 of 15 rows dead: past the share, the index run reclaims them itself
        p.write_bytes(p.read_bytes() + b"\0")
    assert ok_json("index", home=home)["updated"] == 5
    assert _feature_bytes(home) == N * row_bytes


def test_a_compaction_killed_before_its_swap_is_finished_when_the_library_opens(indexed):
    from engine.library.catalog import Catalog
    from engine.library.compact import finish_swap

    home, folder, _ = indexed
    f16 = home / "features.f16"
    data = f16.read_bytes()
    catalog = Catalog(home / "catalog.sqlite")
    try:
        (home / "features.f16.new").write_bytes(data[: len(data) // 2])  # killed before the catalog changed
        finish_swap(catalog, f16)
        assert not (home / "features.f16.new").exists() and f16.read_bytes() == data
        (home / "features.f16.new").write_bytes(data)  # killed after the catalog changed, before the swap
        f16.write_bytes(b"old layout")
        catalog.set_meta("features_swap", "1")
        finish_swap(catalog, f16)
        assert f16.read_bytes() == data and catalog.get_meta("features_swap") == "0"
    finally:
        catalog.close()
    assert len(ok_json("similar", str(sorted(folder.iterdir())[0]), "-k", "3", home=home)["results"]) == 3


def test_photos_deeper_than_the_systems_longest_path_are_reported_not_lost(indexed):
    """A folder nested past PATH_MAX (made through directory handles, as a sync tool or an archive can) cannot be
    listed: it is named as unreadable with the reason, its photos are not counted as gone or failed, and the rest of
    the library is indexed as before."""
    home, folder, _ = indexed
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for depth in range(25):  # 25 names of 200 characters: over 4,096 bytes on every common system
            name = f"{depth:02d}" + "d" * 198
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        photo = os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(photo, Path(demo_photos(per_class=1)[0]).read_bytes())
        os.close(photo)
    finally:
        os.close(fd)
    report = ok_json("index", home=home)
    assert report["indexed"] == N and report["removed"] == 0 and report["failed"] == 0
    unreadable = report["unreadable_folders"]
    assert unreadable and all(u["path"].startswith(str(folder)) for u in unreadable)
    assert any("too long" in u["message"] for u in unreadable), unreadable
    result = simili("index", home=home)  # human output: the reason once, no log line with raw bytes
    assert result.returncode == 0 and "too long" in result.stderr + result.stdout
    assert "b'" not in result.stderr and "WARNING" not in result.stderr
