"""Nothing outside the library folder is written, unlinked or truncated because of what the library folder holds,
and every damaged catalog or settings file ends in a working library that keeps its folders.

Each case plants something on a fresh small library (altered catalog rows, links where the library keeps its files,
a catalog that is empty or not a database) and checks the photo folder byte for byte afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import demo_photos, photo_folder
from tests.test_real_world import N, indexed  # noqa: F401 (the fixture, shared)
from tests.test_robust_library import ok_json, simili


@pytest.fixture
def lib(indexed):
    home, folder, _ = indexed
    return home, folder


def _digest(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (links as links) and its content hash."""
    out = {}
    for p in sorted(folder.rglob("*")):
        key = str(p.relative_to(folder))
        if p.is_symlink():
            out[key] = "link -> " + os.readlink(p)
        elif p.is_file():
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _works(home: Path, folder: Path, n: int = N) -> None:
    query = str(sorted(folder.glob("*.jpg"))[0])
    assert len(ok_json("similar", query, "-k", "3", home=home)["results"]) == 3
    status = ok_json("status", home=home)
    assert status["indexed"] == n and status["folders"] == [str(folder)], status
    assert status["health"] == {"ok": True, "problems": []}


@pytest.mark.parametrize("planted", ["absolute", "dotdot"])
def test_a_planted_model_row_never_deletes_a_file_outside_the_library(lib, tmp_path, planted):
    home, folder = lib
    outside = tmp_path / "elsewhere" / "photo.jpg"
    outside.parent.mkdir()
    shutil.copyfile(sorted(folder.iterdir())[0], outside)
    file = str(outside) if planted == "absolute" else os.path.relpath(outside, home)
    con = sqlite3.connect(home / "catalog.sqlite")
    with con:
        con.execute("INSERT INTO models (kind, bits, created, file, sha256, n_fit) VALUES ('itq', 64, 'x', ?, 'x', 1)",
                    (file,))
    con.close()
    before = _digest(tmp_path / "elsewhere"), _digest(folder)
    photo_folder(folder, demo_photos(per_class=2)[1::2][:4])  # the library grows: superseded models are dropped
    assert ok_json("index", home=home)["indexed"] == N + 4
    assert outside.is_file() and _digest(tmp_path / "elsewhere") == before[0]
    con = sqlite3.connect(home / "catalog.sqlite")
    assert con.execute("SELECT count(*) FROM models WHERE file=?", (file,)).fetchone()[0] == 0
    con.close()


def test_a_feature_cache_that_is_a_link_to_a_photo_is_never_written_through(lib):
    home, folder = lib
    victim = sorted(folder.iterdir())[0]
    before = _digest(folder)
    (home / "features.f16").unlink()
    (home / "features.f16").symlink_to(victim)
    ok_json("repair", home=home)
    assert _digest(folder) == before  # the photo did not grow
    assert not (home / "features.f16").is_symlink()
    _works(home, folder)


def test_an_index_folder_that_is_a_link_into_the_photos_gets_nothing_written_there(lib):
    home, folder = lib
    shutil.rmtree(home / "index")
    (home / "index").symlink_to(folder, target_is_directory=True)
    before = _digest(folder)
    photo_folder(folder, demo_photos(per_class=2)[1::2][:1])
    after_add = _digest(folder)
    assert ok_json("index", home=home)["indexed"] == N + 1
    assert _digest(folder) == after_add and set(after_add) - set(before)  # only the photo the user added
    assert not list(folder.glob("*.cidx")) and not (home / "index").is_symlink()


def test_a_model_file_that_is_a_link_out_is_removed_not_followed(lib, tmp_path):
    home, folder = lib
    target = tmp_path / "keep-me.onnx"
    target.write_bytes(b"precious")
    (home / "models" / "distillhash-64-99.onnx").symlink_to(target)
    (home / "models" / "distillhash-64-98-encoder.onnx").write_bytes(b"x" * 1000)  # left by a killed export
    (home / "models" / ".distillhash-64-97.onnx.abc.tmp").write_bytes(b"x")
    ok_json("index", home=home)
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in (home / "models").iterdir()) == sorted(
        p.name for p in (home / "models").iterdir() if p.suffix == ".npz")  # only the live model's file remains
    _works(home, folder)


def test_an_empty_catalog_file_keeps_the_folders(lib):
    home, folder = lib
    (home / "catalog.sqlite").write_bytes(b"")
    for end in ("-wal", "-shm"):
        Path(f"{home / 'catalog.sqlite'}{end}").unlink(missing_ok=True)
    status = ok_json("status", home=home)
    assert status["folders"] == [str(folder)]
    assert ok_json("index", home=home)["indexed"] == N
    _works(home, folder)


@pytest.mark.parametrize("content", ["random", "zeros", "jpeg", "text", "link"])
def test_a_catalog_that_is_not_a_database_is_rebuilt_by_repair_keeping_the_folders(lib, content):
    home, folder = lib
    db = home / "catalog.sqlite"
    for end in ("", "-wal", "-shm"):
        Path(f"{db}{end}").unlink(missing_ok=True)
    photo = sorted(folder.iterdir())[0]
    if content == "link":
        db.symlink_to(photo)
    else:
        db.write_bytes({"random": os.urandom(50_000), "zeros": bytes(40_000), "jpeg": photo.read_bytes(),
                        "text": b"these are not the photos you are looking for\n" * 100}[content])
    before = _digest(folder)
    first = simili("status", home=home)  # one line either way, never a traceback
    assert first.returncode == 0 or "repair" in first.stderr
    repair = simili("repair", home=home)
    assert repair.returncode == 0, repair.stderr
    assert _digest(folder) == before
    assert ok_json("status", home=home)["folders"] == [str(folder)]
    _works(home, folder)


def test_settings_nested_too_deep_fall_back_and_are_repaired(lib):
    home, folder = lib
    (home / "settings.json").write_text("[" * 100_000 + "]" * 100_000)
    health = ok_json("status", home=home)["health"]
    assert not health["ok"] and "settings.json" in health["problems"][0]
    ok_json("repair", home=home)
    _works(home, folder)


def test_a_home_of_an_unknown_user_is_one_plain_line(tmp_path):
    proc = simili("--home", "~nosuchuser-simili/lib", "status", home=tmp_path / "unused")
    assert proc.returncode != 0 and "unexpected" not in proc.stderr and "user" in proc.stderr


def test_model_files_are_named_by_number_not_by_the_clock(lib, monkeypatch):
    import time

    from engine.library.store import Store

    home, _ = lib
    monkeypatch.setattr(time, "strftime", lambda *a, **k: "20261107-013000")  # the clock set back to one second
    store = Store(home)
    try:
        first = store.models.new_file("itq-64", ".npz")
        first.write_bytes(b"x")
        second = store.models.new_file("itq-64", ".npz")
        assert second != first and not second.exists() and second.parent == home / "models"
        head = store.models.new_file("distillhash-64", ".onnx", also=("-encoder.onnx",))
        (head.parent / (head.stem + "-encoder.onnx")).write_bytes(b"x")
        assert store.models.new_file("distillhash-64", ".onnx", also=("-encoder.onnx",)) != head
    finally:
        first.unlink()
        store.close()


def test_library_warnings_stay_off_stderr_with_json_and_quiet(tmp_path):
    from PIL import Image

    folder = tmp_path / "photos"
    photo_folder(folder, demo_photos(per_class=1)[:3])
    im = Image.new("P", (96, 96))
    im.putpalette([i % 256 for i in range(768)])
    im.save(folder / "palette.png", transparency=bytes(range(256)))  # Pillow warns when it converts this one
    proc = simili("--json", "-q", "index", str(folder), home=tmp_path / "lib")
    assert proc.returncode == 0 and json.loads(proc.stdout)["indexed"] == 4
    assert "Warning" not in proc.stderr and "PIL" not in proc.stderr, proc.stderr


def test_a_full_disk_still_answers_searches_and_says_full_for_writes(lib, tmp_path):
    import subprocess

    home, folder = lib
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("this machine cannot mount a small disk to fill (needs root)")
    try:
        shutil.copytree(home, disk / "lib", symlinks=True, ignore=shutil.ignore_patterns("cache"))
        # fill the disk to the last byte; unbuffered, so that closing the file has nothing left to flush (a buffered
        # file kept the chunk that did not fit and raised "No space left" again on close: CI failed at random)
        with open(disk / "fill", "wb", buffering=0) as f:
            for chunk in (65536, 4096, 1):
                try:
                    while f.write(bytes(chunk)):
                        pass
                except OSError:
                    pass
        query = str(sorted(folder.glob("*.jpg"))[0])
        assert len(ok_json("similar", query, "-k", "3", home=disk / "lib")["results"]) == 3
        assert ok_json("status", home=disk / "lib")["indexed"] == N
        proc = simili("index", home=disk / "lib")
        assert proc.returncode == 1 and "disk" in proc.stderr and "full" in proc.stderr
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
