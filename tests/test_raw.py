"""Camera RAW files are photos: read upright through LibRaw, indexed and searched like any other."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engine.cli import main
from engine.errors import DecodeError
from engine.images.decode import IMAGE_EXTENSIONS, decode, thumbnail
from engine.images.scan import has_image_suffix
from tests.conftest import demo_photos
from tests.rawfiles import write_dng

pytest.importorskip("rawpy")  # a base dependency: missing only in a broken install


@pytest.mark.parametrize("suffix", [".CR2", ".cr3", ".NEF", ".ARW", ".dng", ".RAF", ".ORF", ".RW2"])
def test_raw_files_are_photos_to_the_scanner_and_the_decoder(suffix):
    assert suffix.lower() in IMAGE_EXTENSIONS and has_image_suffix(f"IMG_0001{suffix}".encode())


def test_a_raw_file_is_read_upright_at_its_full_size(tmp_path):
    upright = decode(str(write_dng(tmp_path / "a.dng")))
    assert (upright.format, upright.width, upright.height) == ("RAW", 384, 256)  # the sensor's size, not a preview's
    red = upright.pixels[:, :, 0].astype(float)
    assert red[:, -20:].mean() > red[:, :20].mean() + 100  # red grows from left to right, as shot
    turned = decode(str(write_dng(tmp_path / "b.dng", orientation=6)))
    assert (turned.width, turned.height) == (256, 384)  # a portrait shot stands up
    red = turned.pixels[:, :, 0].astype(float)
    assert red[-20:].mean() > red[:20].mean() + 100  # turned a quarter clockwise: the left edge is now the top
    small = thumbnail(str(tmp_path / "b.dng"), 96)
    assert small.size[1] == 96 and small.size[0] < 96


def test_a_damaged_raw_file_gets_a_clear_error(tmp_path):
    bad = tmp_path / "IMG_0002.NEF"
    bad.write_bytes(b"this is not a camera file" * 100)
    with pytest.raises(DecodeError) as err:
        decode(str(bad))
    assert err.value.code in ("not_image", "corrupt") and "RAW" in err.value.message


def test_a_folder_of_raw_files_is_indexed_and_searchable(tmp_path, capsys):
    folder = tmp_path / "shoot"
    folder.mkdir()
    write_dng(folder / "IMG_0001.dng")
    write_dng(folder / "IMG_0002.dng", orientation=6)
    for p in demo_photos(per_class=1)[:4]:
        shutil.copyfile(p, folder / p.name)
    (folder / "IMG_0003.CR2").write_bytes(b"\x00" * 4096)
    home = tmp_path / "lib"
    assert main(["--home", str(home), "--json", "-q", "index", str(folder)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["indexed"] == 6 and report["failed"] == 1  # the two DNGs read; the broken CR2 named, not hidden
    assert main(["--home", str(home), "--json", "similar", str(folder / "IMG_0001.dng"), "-k", "3"]) == 0
    best = json.loads(capsys.readouterr().out)["results"][0]
    assert best["path"].endswith("IMG_0002.dng")  # the same scene turned, nearest of all
    assert np.isfinite(best["similarity"])
