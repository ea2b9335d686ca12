"""A library that heals itself and never lies: damage, bad arguments, odd paths and read-only disks, each tried on
a fresh copy of a small library through the command line, as a user meets them.

Every case checks the same contract: no Python traceback, one line on stderr for an error, strict JSON on stdout,
and a library that works again after the command the message names.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, demo_photos, photo_folder

N_PHOTOS = 20


def simili(*args: str, home: Path, cwd: Path = REPO, wrap: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIMILI_HOME": str(home), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([*(wrap or []), sys.executable, "-m", "engine", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode != 0:
        assert proc.stderr.startswith("simili: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc


def ok_json(*args: str, home: Path) -> dict:
    proc = simili("--json", *args, home=home)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"{c} in --json output"))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A small indexed library (20 photos), copied afresh by every test that damages it."""
    folder = tmp_path_factory.mktemp("photos")
    photo_folder(folder, demo_photos(per_class=2))
    home = tmp_path_factory.mktemp("template") / "lib"
    assert ok_json("index", str(folder), home=home)["indexed"] == N_PHOTOS
    return home, folder


@pytest.fixture
def lib(template, tmp_path):
    home, folder = template
    shutil.copytree(home, tmp_path / "lib")
    return tmp_path / "lib", folder


def _query(folder: Path) -> str:
    return str(sorted(folder.glob("*.jpg"))[0])


def _works(home: Path, folder: Path) -> None:
    """The library answers queries and says it is healthy."""
    out = ok_json("similar", _query(folder), "-k", "3", home=home)
    assert len(out["results"]) == 3
    assert ok_json("status", home=home)["health"] == {"ok": True, "problems": []}


# -- arguments -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["similar", "x.jpg", "-k", "0"], ["similar", "x.jpg", "-k", "-5"], ["similar", "x.jpg", "-k", "many"],
    ["similar", "x.jpg", "--max-distance", "-3"], ["dupes", "--max-distance", "-1"], ["dupes", "--min-cosine", "nan"],
    ["dupes", "--min-cosine", "2"], ["train", "--seed", "-1"], ["models", "--activate", "0"], ["similar"],
    ["similar", "x.jpg", "--image", "y.jpg"], ["index", "--bits", "12"], ["frobnicate"], ["--home", "", "status"],
])
def test_every_bad_argument_is_one_line_and_exit_2(argv, tmp_path):
    proc = simili(*argv, home=tmp_path / "lib")
    assert proc.returncode == 2
    assert proc.stderr.startswith("simili: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "lib").exists()  # refused before the library is even opened


def test_home_that_is_a_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    proc = simili("--home", str(tmp_path / "afile"), "status", home=tmp_path)
    assert proc.returncode == 2 and "is a file, not a library folder" in proc.stderr


def test_output_into_a_closed_pipe_stops_quietly(lib):
    home, folder = lib
    env = {**os.environ, "SIMILI_HOME": str(home), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "--json", "similar", _query(folder), "-k", "15"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    proc.stdout.close()  # the reader (`| head`) is gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141
    assert err == ""


# -- settings ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", ['[1, 2]', '"text"', '{"settings": 3}', '{"settings": {"similar_k": "x"}}',
                                     '{"settings": {"excluded": 5, "auto_train": "yes", "dupe_min_cosine": 7}}',
                                     '{"settings": {"bits": true, "device": 1}}'])
def test_settings_of_the_wrong_shape_fall_back_and_are_repaired_by_index(lib, content):
    home, folder = lib
    (home / "settings.json").write_text(content)
    out = ok_json("similar", _query(folder), "-k", "2", home=home)
    assert len(out["results"]) == 2
    health = ok_json("status", home=home)["health"]
    assert not health["ok"] and "settings.json" in health["problems"][0]
    ok_json("index", home=home)
    _works(home, folder)


# -- damage -----------------------------------------------------------------------------------------------------------

def _page_of(db: Path, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()[0]
    finally:
        con.close()


def test_damaged_catalog_page_says_repair_and_repair_brings_it_back(lib):
    home, folder = lib
    db = home / "catalog.sqlite"
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    page = _page_of(db, "photos")
    with open(db, "r+b") as f:
        f.seek((page - 1) * 4096 + 8)
        f.write(np.random.default_rng(1).bytes(4000))
    health = ok_json("status", home=home)["health"]
    assert not health["ok"] and "simili repair" in health["problems"][0]
    for argv in (["similar", _query(folder)], ["dupes"], ["index"]):
        proc = simili(*argv, home=home)
        assert proc.returncode == 1, (argv, proc.stderr)
        assert "damaged" in proc.stderr and "simili repair" in proc.stderr
    assert simili("folders", home=home).returncode == 0  # what does not touch the damaged page still works
    out = ok_json("repair", home=home)
    assert any("rebuilt" in line for line in out["repaired"])
    assert out["report"]["indexed"] == N_PHOTOS
    assert (home / "catalog.sqlite.damaged").exists()
    _works(home, folder)


def test_truncated_feature_cache_is_repaired_by_index_reading_only_lost_photos(lib):
    home, folder = lib
    feats = home / "features.f16"
    row = 1280 * 2
    os.truncate(feats, 15 * row + 100)  # 5 photos lose their features, the cut row is partial
    health = ok_json("status", home=home)["health"]
    assert "cut short" in health["problems"][0] and "simili index" in health["problems"][0]
    proc = simili("--json", "similar", _query(folder), "-k", "19", home=home)
    assert proc.returncode == 1 and "simili repair" in proc.stderr
    out = ok_json("index", home=home)
    assert out["indexed"] == N_PHOTOS
    assert feats.stat().st_size == N_PHOTOS * row  # the 5 lost rows written again, nothing more
    _works(home, folder)


def test_random_bytes_in_the_feature_cache_never_print_nan(lib):
    home, folder = lib
    feats = home / "features.f16"
    feats.write_bytes(np.random.default_rng(0).bytes(feats.stat().st_size))
    proc = simili("--json", "similar", _query(folder), "-k", "5", home=home)
    assert "NaN" not in proc.stdout and "Infinity" not in proc.stdout
    assert proc.returncode == 1 and "damaged" in proc.stderr and "simili repair" in proc.stderr
    assert "damaged" in " ".join(ok_json("repair", home=home)["repaired"])
    # every row was bad: each photo read once more, and repair reclaimed the dead rows
    assert feats.stat().st_size == N_PHOTOS * 1280 * 2
    _works(home, folder)


def test_deleted_model_file_falls_back_on_the_next_index(lib):
    home, folder = lib
    (model,) = list((home / "models").iterdir())
    model.unlink()
    proc = simili("similar", _query(folder), home=home)
    assert proc.returncode == 1 and "simili index" in proc.stderr
    assert "missing" in ok_json("status", home=home)["health"]["problems"][0]
    ok_json("index", home=home)
    _works(home, folder)


def test_deleted_index_file_is_rebuilt_and_saved(lib):
    home, folder = lib
    for f in (home / "index").iterdir():
        f.unlink()
    assert len(ok_json("similar", _query(folder), "-k", "3", home=home)["results"]) == 3
    assert "index file is missing" in ok_json("status", home=home)["health"]["problems"][0]
    ok_json("index", home=home)
    _works(home, folder)


def _read_only(path: Path) -> list[str]:
    """A command prefix that runs with ``path`` mounted read-only (a private mount namespace, as the user)."""
    if not shutil.which("unshare") or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("this system cannot mount a folder read-only for a test (no user namespaces)")
    script = f'mount --bind "{path}" "{path}" && mount -o remount,bind,ro "{path}" "{path}" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", script, "sh"]


@pytest.mark.parametrize("what", ["library folder", "catalog file"])
def test_read_only_library_answers_queries_and_refuses_writes_saying_read_only(lib, what):
    home, folder = lib
    wrap = _read_only(home if what == "library folder" else home / "catalog.sqlite")
    proc = simili("--json", "similar", _query(folder), "-k", "3", home=home, wrap=wrap)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["results"]) == 3
    assert simili("--json", "dupes", home=home, wrap=wrap).returncode == 0
    for argv in (["index"], ["folders", "--remove", str(folder)], ["index", "--bits", "32"]):
        proc = simili(*argv, home=home, wrap=wrap)
        assert proc.returncode == 1 and "read-only" in proc.stderr, proc.stderr
    status = simili("--json", "status", home=home, wrap=wrap)
    assert "read-only" in json.loads(status.stdout)["health"]["problems"][0]
    by_image = simili("--json", "similar", "--image", _query(folder), "-k", "2", home=home, wrap=wrap)
    assert by_image.returncode == 0 and len(json.loads(by_image.stdout)["results"]) == 2
    (home / "concepts.bin").unlink(missing_ok=True)  # an older library: word search describes photos in memory
    by_words = simili("--json", "similar", "--text", "shoes", "-k", "2", home=home, wrap=wrap)
    assert by_words.returncode == 0 and len(json.loads(by_words.stdout)["results"]) == 2, by_words.stderr
    # the app's thumbnails of a read-only library are cached elsewhere
    code = ("import sys; from engine.api import Library; lib = Library(sys.argv[1]);"
            " print(lib.thumbnail_file(sys.argv[2], 128)); lib.close()")
    thumb = subprocess.run([*wrap, sys.executable, "-c", code, str(home), _query(folder)], capture_output=True,
                           text=True, cwd=REPO, timeout=300)
    assert thumb.returncode == 0, thumb.stderr
    assert Path(thumb.stdout.strip()).is_file() and str(home) not in thumb.stdout


# -- paths ------------------------------------------------------------------------------------------------------------

def test_folder_with_dotdot_is_stored_canonical_and_counted_once(template, tmp_path):
    _, folder = template
    home = tmp_path / "lib"
    (tmp_path / "elsewhere").mkdir()
    odd = os.path.relpath(folder, tmp_path / "elsewhere") + "/../" + folder.name
    proc = simili("--json", "index", odd, home=home, cwd=tmp_path / "elsewhere")
    assert proc.returncode == 0, proc.stderr
    assert ok_json("folders", home=home)["folders"] == [str(folder.resolve())]
    assert len(ok_json("similar", _query(folder), "-k", "3", home=home)["results"]) == 3
    again = ok_json("index", str(folder), home=home)
    assert again["added"] == 0 and again["indexed"] == N_PHOTOS
    assert ok_json("folders", home=home)["folders"] == [str(folder.resolve())]
    assert ok_json("dupes", home=home)["groups"] == []


def _nested_library(tmp_path) -> tuple[Path, Path]:
    """(photo folder with 12 photos and a subfolder of the rest, library that indexed the outer folder)."""
    root = tmp_path / "photos"
    photos = demo_photos(per_class=2)
    photo_folder(root, photos[:12])
    photo_folder(root / "sub", photos[12:])
    home = tmp_path / "lib"
    ok_json("index", str(root), home=home)
    return root, home


def test_folder_and_its_subfolder_one_photo_one_row(tmp_path):
    root, home = _nested_library(tmp_path)
    feats = home / "features.f16"
    size = feats.stat().st_size
    assert ok_json("index", str(root / "sub"), home=home)["added"] == 0
    for _ in range(2):
        out = ok_json("index", home=home)
        assert out["added"] == out["updated"] == 0 and out["indexed"] == N_PHOTOS
    assert feats.stat().st_size == size
    assert len(ok_json("folders", home=home)["folders"]) == 2
    unknown = simili("folders", "--remove", str(tmp_path), home=home)
    assert unknown.returncode == 1 and "not a folder of this library" in unknown.stderr
    # forgetting the subfolder keeps its photos: the parent still covers them
    assert ok_json("folders", "--remove", str(root / "sub"), home=home)["removed_photos"] == 0
    assert ok_json("index", home=home)["indexed"] == N_PHOTOS
    assert feats.stat().st_size == size


def test_folder_and_subfolder_stored_by_an_older_simili_are_merged_not_read_again(tmp_path):
    root, home = _nested_library(tmp_path)
    con = sqlite3.connect(home / "catalog.sqlite")  # as an older Simili stored `simili index photos photos/sub`:
    with con:  # the subfolder's row, its photos still under the outer folder
        con.execute("INSERT INTO folders (path, added) VALUES (?, '2026-01-01T00:00:00')", (str(root / "sub").encode(),))
        ids = dict(con.execute("SELECT CAST(path AS TEXT), id FROM photos").fetchall())
    con.close()
    size = (home / "features.f16").stat().st_size
    out = ok_json("index", home=home)
    assert (out["added"], out["removed"], out["updated"], out["moved"]) == (0, 0, 0, 0), out
    assert out["indexed"] == N_PHOTOS
    assert (home / "features.f16").stat().st_size == size  # nothing read again, no feature stored twice
    con = sqlite3.connect(home / "catalog.sqlite")
    after = dict(con.execute("SELECT CAST(path AS TEXT), id FROM photos").fetchall())
    owners = dict(con.execute("SELECT CAST(f.path AS TEXT), count(*) FROM photos p JOIN folders f ON f.id = p.folder_id"
                              " GROUP BY f.id").fetchall())
    con.close()
    assert after == ids  # one photo, one row, the same row as before
    assert owners == {str(root): 12, str(root / "sub"): N_PHOTOS - 12}
    assert ok_json("dupes", home=home)["groups"] == []


def _bmp_pair(a: Path, b: Path) -> None:
    """Two different photos of the same byte size whose first and last 64 KiB are identical."""
    rng = np.random.default_rng(3)
    from PIL import Image

    base = (rng.random((300, 300, 3)) * 255).astype(np.uint8)
    Image.fromarray(base).save(a)
    other = base.copy()
    other[120:180] = 255 - other[120:180]
    Image.fromarray(other).save(b)
    da, db = a.read_bytes(), b.read_bytes()
    assert len(da) == len(db) and da[:65536] == db[:65536] and da[-65536:] == db[-65536:] and da != db


def test_a_different_file_of_the_same_size_is_not_taken_for_a_moved_photo(tmp_path):
    folder = tmp_path / "photos"
    photo_folder(folder, demo_photos(per_class=1))
    spare = tmp_path / "spare.bmp"
    _bmp_pair(folder / "a.bmp", spare)
    home = tmp_path / "lib"
    ok_json("index", str(folder), home=home)
    (folder / "a.bmp").unlink()
    shutil.copyfile(spare, folder / "b.bmp")
    out = ok_json("index", home=home)
    assert out["moved"] == 0 and out["added"] == 1 and out["removed"] == 1
    (folder / "b.bmp").rename(folder / "c.bmp")  # a real move is still recognised
    out = ok_json("index", home=home)
    assert out["moved"] == 1 and out["added"] == 0


# -- decoding ---------------------------------------------------------------------------------------------------------

def test_index_reads_what_similar_image_reads():
    from engine.images.decode import IMAGE_EXTENSIONS
    from engine.images.scan import _SUFFIXES

    assert {s.decode() for s in _SUFFIXES} == set(IMAGE_EXTENSIONS)
    assert ".avif" in IMAGE_EXTENSIONS


def test_avif_photo_is_indexed(tmp_path):
    from PIL import Image, features

    if not features.check("avif"):
        pytest.skip("this Pillow cannot write AVIF")
    folder = tmp_path / "photos"
    photo_folder(folder, demo_photos(per_class=1))
    Image.open(demo_photos(per_class=1)[0]).save(folder / "copy.avif")
    out = ok_json("index", str(folder), home=tmp_path / "lib")
    assert out["failed"] == 0 and out["indexed"] == 11


def test_valid_float_tiff_is_unsupported_not_damaged(tmp_path):
    from engine.images.decode import decode
    from engine.errors import DecodeError
    from tests.corpus import float_tiff

    for channels, bits in ((3, 32), (1, 64), (3, 16)):
        path = tmp_path / f"f{channels}-{bits}.tif"
        float_tiff(path, channels=channels, bits=bits)
        with pytest.raises(DecodeError) as err:
            decode(path)
        assert err.value.code == "unsupported" and "floating-point" in err.value.message
    float_tiff(tmp_path / "grey.tif", channels=1, bits=32)  # the layout Pillow does read
    assert decode(tmp_path / "grey.tif").pixels.shape == (224, 224, 3)


def test_nothing_from_the_library_folder_is_unpickled():
    """Library files are read as npz without pickles, ONNX, JSON, SQLite and raw floats; checkpoints weights-only."""
    import re

    for path in sorted((REPO / "engine").glob("*.py")):
        text = path.read_text()
        assert "import pickle" not in text and "pickle.load" not in text, path
        assert "allow_pickle=True" not in text, path
        for call in re.findall(r"torch\.load\(.*", text):  # the rest of the line
            assert "weights_only=True" in call, (path, call)
        for call in re.findall(r"np\.load\(.*", text):
            assert "allow_pickle=False" in call, (path, call)


def test_damaged_thumbnail_is_made_again(tmp_path):
    from PIL import Image

    from engine.library.thumbcache import ThumbCache

    cache = ThumbCache(tmp_path / "thumbs")
    photo = str(demo_photos(per_class=1)[0])
    first = cache.get(photo, 128)
    whole = first.read_bytes()
    first.write_bytes(whole[: len(whole) // 2])  # cut short, as a full disk or a crash leaves it
    again = cache.get(photo, 128)
    assert again == first and again.read_bytes() == whole
    with Image.open(again) as im:
        im.load()


def test_folder_stored_unnormalised_by_an_older_simili_is_respelled_on_index(lib):
    home, folder = lib
    odd = f"{folder}/../{folder.name}"
    con = sqlite3.connect(home / "catalog.sqlite")  # as an older Simili stored `simili index photos/../photos`
    with con:
        con.execute("UPDATE folders SET path=?", (odd.encode(),))
        con.execute("UPDATE photos SET path=CAST(? || substr(CAST(path AS TEXT), ?) AS BLOB)",
                    (odd, len(str(folder)) + 1))
    con.close()
    size = (home / "features.f16").stat().st_size
    out = ok_json("index", str(folder), home=home)
    assert out["added"] == 0 and out["indexed"] == N_PHOTOS
    assert ok_json("folders", home=home)["folders"] == [str(folder)]
    assert (home / "features.f16").stat().st_size == size
    _works(home, folder)
