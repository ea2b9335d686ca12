"""engine.images.decode: every awkward file gives the expected result, pixels are upright and sensible, errors are typed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.images import decode as dec
from engine.images.decode import IMAGE_EXTENSIONS, MAX_PIXELS, Decoded, decode, file_fingerprint, thumbnail
from engine.images.exif import iso_datetime
from engine.images.formats import RAW_EXTENSIONS
from engine.errors import DecodeError

from tests.corpus import (
    BLUE,
    COPY_KINDS,
    RED,
    TAKEN_AT,
    heic_writable,
    make_bad_corpus,
    make_copies,
    make_photo,
    unreadable,
)

needs_heic = pytest.mark.skipif(not heic_writable(), reason="pillow-heif cannot write HEIC here")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("bad")
    return root, make_bad_corpus(root)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_photo(tmp_path_factory.mktemp("photo") / "p.jpg", seed=11, size=(1600, 1200), noise=3.0)


def outcome(path: Path | str | bytes, **kwargs: object) -> str:
    try:
        result = decode(path, **kwargs)  # type: ignore[arg-type]
    except DecodeError as exc:
        assert exc.message and "\n" not in exc.message and exc.message == str(exc)
        return exc.code
    assert isinstance(result, Decoded)
    assert result.pixels.shape == (224, 224, 3) and result.pixels.dtype == np.uint8
    assert result.width >= 1 and result.height >= 1 and result.frames >= 1 and 1 <= result.orientation <= 8
    return "ok"


def mean_rgb(pixels: np.ndarray) -> np.ndarray:
    return pixels.reshape(-1, 3).mean(axis=0)


def assert_colour(pixels: np.ndarray, rgb: tuple[int, int, int], tol: float = 12.0) -> None:
    got = mean_rgb(pixels)
    assert np.abs(got - np.array(rgb)).max() < tol, f"mean colour {got.round(1)} is not {rgb}"


# --- the corpus ----------------------------------------------------------------------------------------------------


def test_corpus_covers_the_cases(corpus: tuple[Path, dict[str, str]]) -> None:
    _, expected = corpus
    codes = set(expected.values())
    assert {"ok", "empty", "truncated", "not_image", "too_large", "corrupt"} <= codes
    if sys.platform.startswith("linux"):
        assert "broken_link" in codes and any("\udce9" in name for name in expected)


def test_every_corpus_file_gives_its_expected_outcome(corpus: tuple[Path, dict[str, str]]) -> None:
    root, expected = corpus
    got = {name: outcome(root / name) for name in expected}
    wrong = {name: (want, got[name]) for name, want in expected.items() if got[name] != want}
    assert not wrong, f"(expected, got): {wrong}"


def test_thumbnail_has_the_same_error_contract(corpus: tuple[Path, dict[str, str]]) -> None:
    root, expected = corpus
    for name, want in expected.items():
        try:
            thumb = thumbnail(root / name, 64)
            got = "ok"
            assert thumb.mode == "RGB" and max(thumb.size) <= 64
        except DecodeError as exc:
            got = exc.code
        assert got == want, name


def test_bombs_are_refused_from_the_header(corpus: tuple[Path, dict[str, str]], photo: Path) -> None:
    root, _ = corpus
    with pytest.raises(DecodeError, match="400,000,000 pixels"):
        decode(root / "bomb.png")
    # Our own limit, checked before any pixel is decoded (Pillow's is twice as lax and only warns below 2x): no
    # decoder runs at all (checked by the calls, not by the clock, which a loaded machine makes slow).
    from PIL import ImageFile

    loads = []
    real_load = ImageFile.ImageFile.load
    ImageFile.ImageFile.load = lambda self, *a, **k: loads.append(self) or real_load(self, *a, **k)
    try:
        with pytest.raises(DecodeError) as info:
            decode(photo, max_pixels=1_000_000)
    finally:
        ImageFile.ImageFile.load = real_load
    assert info.value.code == "too_large" and "1600x1200 = 1,920,000 pixels" in info.value.message
    assert loads == []
    assert MAX_PIXELS > 100_000_000


def test_permission_denied(photo: Path) -> None:
    # Tests run as root, where chmod 000 does not stop reads: the corpus helper makes open() refuse instead.
    with unreadable([photo]):
        for call in (lambda: decode(photo), lambda: thumbnail(photo, 32), lambda: file_fingerprint(photo)):
            with pytest.raises(DecodeError) as info:
                call()
            assert info.value.code == "permission"
    assert outcome(photo) == "ok"


def test_missing_folder_and_fifo(tmp_path: Path) -> None:
    assert outcome(tmp_path / "gone.jpg") == "io"
    (tmp_path / "dir.jpg").mkdir()
    assert outcome(tmp_path / "dir.jpg") == "not_image"
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.jpg")
        assert outcome(tmp_path / "pipe.jpg") == "not_image"  # and does not block waiting for a writer


def test_paths_as_bytes_and_str(corpus: tuple[Path, dict[str, str]]) -> None:
    root, _ = corpus
    assert outcome(os.fsencode(root / "exif_rot6.jpg")) == "ok"
    assert outcome(str(root / "exif_rot6.jpg")) == "ok"


# --- pixels and metadata ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, orientation", [("exif_rot6.jpg", 6), ("exif_rot8.jpg", 8)])
def test_exif_orientation_is_applied(corpus: tuple[Path, dict[str, str]], name: str, orientation: int) -> None:
    root, _ = corpus
    d = decode(root / name, size=64)
    assert (d.orientation, d.width, d.height, d.format) == (orientation, 160, 80, "JPEG")
    assert_colour(d.pixels[:, :24], RED)
    assert_colour(d.pixels[:, -24:], BLUE)
    thumb = np.asarray(thumbnail(root / name, 40))
    assert thumb.shape == (20, 40, 3)
    assert_colour(thumb[:, :15], RED)
    assert_colour(thumb[:, -15:], BLUE)


def test_taken_at(corpus: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, _ = corpus
    assert decode(root / "exif_rot6.jpg").taken_at == TAKEN_AT.replace(":", "-", 2).replace(" ", "T") + "+02:00"
    assert decode(root / "exif_rot8.jpg").taken_at is None
    p = make_photo(tmp_path / "t.jpg", seed=1, size=(64, 48), taken_at="2019:12:31 23:59:58")
    assert decode(p).taken_at == "2019-12-31T23:59:58"
    assert iso_datetime("0000:00:00 00:00:00") is None
    assert iso_datetime(b"2020:02:29 10:00:00\x00", b"-05:00") == "2020-02-29T10:00:00-05:00"


def test_cmyk_and_16_bit_give_sensible_colours(corpus: tuple[Path, dict[str, str]]) -> None:
    root, _ = corpus
    cmyk = decode(root / "cmyk.jpg", size=64)
    assert_colour(cmyk.pixels[:, :24], RED, tol=25)
    assert_colour(cmyk.pixels[:, -24:], BLUE, tol=25)
    ramp = decode(root / "grey16.png").pixels[:, :, 0].astype(int)
    row = ramp[112]
    assert np.all(np.diff(row) >= 0) and row[-1] - row[0] > 40  # still a ramp, not flat black or white
    assert 100 < row.mean() < 156  # centre of a 0..65535 ramp is mid grey
    assert np.array_equal(decode(root / "grey16.png").pixels[..., 0], decode(root / "grey16.png").pixels[..., 2])


def test_high_bit_depth_modes(tmp_path: Path) -> None:
    f = np.tile(np.linspace(0.0, 1.0, 256, dtype=np.float32), (256, 1))
    Image.fromarray(f, "F").save(tmp_path / "f.tif")
    i = np.tile(np.linspace(0, 40000, 256).astype(np.int32), (256, 1))
    Image.fromarray(i, "I").save(tmp_path / "i.tif")
    for name in ("f.tif", "i.tif"):
        row = decode(tmp_path / name).pixels[112, :, 0].astype(int)
        assert np.all(np.diff(row) >= 0) and row[0] < 5 and row[-1] > 150, name


def test_transparency_over_white(corpus: tuple[Path, dict[str, str]]) -> None:
    root, _ = corpus
    for name, right in (("alpha.png", BLUE), ("palette.png", RED)):
        px = decode(root / name, size=64).pixels
        assert_colour(px[:, :24], (255, 255, 255), tol=3)
        assert_colour(px[:, -24:], right, tol=3)


def test_animations_give_the_first_frame(corpus: tuple[Path, dict[str, str]]) -> None:
    root, expected = corpus
    for name in ("animated.gif", "animated.webp"):
        if name in expected:
            d = decode(root / name)
            assert d.frames == 3
            assert_colour(d.pixels, RED, tol=3)


def test_tiny_and_panorama(corpus: tuple[Path, dict[str, str]]) -> None:
    root, _ = corpus
    tiny = decode(root / "tiny_1x1.png")
    assert (tiny.width, tiny.height) == (1, 1) and np.all(tiny.pixels == [10, 200, 30])
    pano = decode(root / "panorama_30000x200.jpg")
    assert (pano.width, pano.height) == (30000, 200)
    assert thumbnail(root / "panorama_30000x200.jpg", 300).size == (300, 2)
    assert thumbnail(root / "tiny_1x1.png", 300).size == (1, 1)  # never enlarged


@needs_heic
def test_heic(corpus: tuple[Path, dict[str, str]]) -> None:
    root, _ = corpus
    d = decode(root / "photo.heic")
    assert (d.format, d.width, d.height) == ("HEIF", 256, 192)
    # pillow-heif writes the picture upright (the tag is kept for information): decode must not turn it again.
    r = decode(root / "exif_rot6.heic", size=64)
    assert (r.width, r.height, r.orientation) == (160, 80, 6)
    assert_colour(r.pixels[:, :24], RED, tol=20)
    assert_colour(r.pixels[:, -24:], BLUE, tol=20)
    assert thumbnail(root / "exif_rot6.heic", 40).size == (40, 20)


@needs_heic
def test_heic_without_pillow_heif(corpus: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = corpus
    monkeypatch.setattr(dec, "_heif_ok", False)
    with pytest.raises(DecodeError) as info:
        decode(root / "photo.heic")
    assert info.value.code == "unsupported"
    assert info.value.message == "HEIC support is not installed (pillow-heif)"


def test_draft_matches_a_full_decode(photo: Path) -> None:
    d = decode(photo)
    with Image.open(photo) as im:
        full = im.convert("RGB")
    w, h = full.size
    s = min(w, h)
    box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
    ref = np.asarray(full.resize((224, 224), Image.Resampling.BICUBIC, box=box), dtype=np.int16)
    diff = np.abs(ref - d.pixels.astype(np.int16))
    assert diff.mean() < 1.5 and np.percentile(diff, 99) < 8


def test_copies_look_like_the_original(photo: Path, tmp_path: Path) -> None:
    copies = make_copies(photo, tmp_path)
    assert [p.name for p in copies] == [f"p_{kind}.jpg" for kind in COPY_KINDS]
    original = decode(photo).pixels.astype(np.int16)
    for kind, path in zip(COPY_KINDS, copies):
        d = decode(path)
        if kind == "rot90_exif":
            assert d.orientation == 6 and (d.width, d.height) == (1600, 1200)
        diff = np.abs(d.pixels.astype(np.int16) - original).mean()
        assert diff < (12 if kind == "crop10" else 4), kind


def test_different_seeds_give_different_photos(tmp_path: Path) -> None:
    a = decode(make_photo(tmp_path / "a.png", seed=1, size=(96, 64))).pixels.astype(np.int16)
    b = decode(make_photo(tmp_path / "b.png", seed=2, size=(96, 64))).pixels.astype(np.int16)
    a2 = decode(make_photo(tmp_path / "a2.png", seed=1, size=(96, 64))).pixels.astype(np.int16)
    assert np.array_equal(a, a2) and np.abs(a - b).mean() > 20


# --- thumbnails, fingerprints, extensions ----------------------------------------------------------------------------


def test_thumbnail_respects_max_side(photo: Path) -> None:
    for side in (1, 64, 200, 5000):
        t = thumbnail(photo, side)
        assert t.mode == "RGB" and max(t.size) == min(side, 1600)
        assert abs(t.size[0] / t.size[1] - 4 / 3) < 0.05 or side < 10


def test_fingerprint(photo: Path, tmp_path: Path) -> None:
    size = photo.stat().st_size
    fp = file_fingerprint(photo, size)
    assert fp == file_fingerprint(photo) and len(fp) == 32 and int(fp, 16) >= 0
    moved = tmp_path / "renamed elsewhere.jpg"
    shutil.copyfile(photo, moved)
    assert file_fingerprint(moved, size) == fp
    data = bytearray(moved.read_bytes())
    data[-3] ^= 0xFF
    moved.write_bytes(bytes(data))
    assert file_fingerprint(moved) != fp
    small = tmp_path / "small.bin"
    small.write_bytes(b"abc")
    before = file_fingerprint(small)
    small.write_bytes(b"abd")
    assert file_fingerprint(small) != before
    with pytest.raises(DecodeError) as info:
        file_fingerprint(tmp_path / "missing.jpg")
    assert info.value.code == "io"


def test_image_extensions() -> None:
    raster = {".jpg", ".jpeg", ".jpe", ".png", ".heic", ".heif", ".hif", ".avif", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
    assert raster | set(RAW_EXTENSIONS) == set(IMAGE_EXTENSIONS)
    assert {".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2"} <= set(RAW_EXTENSIONS)
    assert not raster & set(RAW_EXTENSIONS)
    assert all(e == e.lower() and e.startswith(".") for e in IMAGE_EXTENSIONS)


def test_engine_decode_imports_neither_qt_nor_torch() -> None:
    code = (
        "import sys, engine.images.decode; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'PyQt5', 'PyQt6', 'shiboken6')]; "
        "assert not bad, bad"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)
