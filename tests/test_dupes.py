"""Duplicates a user can trust with the delete key: the demo folder, copies of a demo photo, the pixel check."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from bench._aligner import align
from engine.api import Library
from engine.cli import main
from engine.duplicates import groups as duplicates
from engine.duplicates import lookalikes, verdicts
from engine.images.signature import frame_signature
from engine.types import DuplicateGroup
from tests.test_library import run

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"
SHIRTS = (DEMO / "images" / "shirt" / "5ec1221f-a52f-4602-9c2c-ed4c81a26708.jpg",
          DEMO / "images" / "shirt" / "74f6f921-e67e-4562-89ea-c059034c1a31.jpg")
ORIGINAL = DEMO / "images" / "shoes" / "0dd87e47-ca85-4d5c-9fd1-59f5a01eb656.jpg"


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory):
    extra = tmp_path_factory.mktemp("copies")
    im = Image.open(ORIGINAL).convert("RGB")
    im.resize((im.width // 2, im.height // 2)).save(extra / "half-q50.jpg", quality=50)
    ImageOps.mirror(ImageOps.grayscale(im)).save(extra / "mirrored-grey.png")
    home = tmp_path_factory.mktemp("lib")
    lib = Library(home)
    run(lib.index([DEMO, extra]))
    yield lib, home, extra
    lib.close()


def _groups(lib, sure=True):
    return [{Path(m.photo.path) for m in g.members} for g in lib.duplicates() if g.sure == sure]


def test_the_two_demo_shirts_are_never_grouped(demo_library):
    lib, *_ = demo_library
    assert all(not set(SHIRTS) <= g for g in _groups(lib))
    assert all(not set(SHIRTS) <= g for g in _groups(lib, sure=False))


def test_demo_folder_proposes_no_group_of_different_photos(demo_library):
    lib, _, extra = demo_library
    family = {ORIGINAL, extra / "half-q50.jpg", extra / "mirrored-grey.png"}
    assert _groups(lib) == [family]  # the demo photos themselves are all different shots


def test_copies_are_grouped_with_the_original_kept_and_their_differences_said(demo_library):
    lib, _, _extra = demo_library
    group = next(g for g in lib.duplicates() if g.sure)
    kept = [m for m in group.members if m.keep]
    assert [Path(m.photo.path) for m in kept] == [ORIGINAL] == [Path(group.members[0].photo.path)]
    said = {Path(m.photo.path).name: m.differences for m in group.members}
    assert {"smaller copy", "recompressed"} <= set(said["half-q50.jpg"])
    assert {"black-and-white", "mirrored"} <= set(said["mirrored-grey.png"])


def test_dupes_json_lists_members_with_path_keep_and_differences(demo_library, capsys):
    _, home, extra = demo_library
    assert main(["--home", str(home), "--json", "dupes"]) in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert out["keep_rule"] == DuplicateGroup.KEEP_RULE
    [group] = out["groups"]
    assert [m["keep"] for m in group] == [True, False, False]
    assert {Path(m["path"]) for m in group} == {ORIGINAL, extra / "half-q50.jpg", extra / "mirrored-grey.png"}
    assert all(isinstance(m["differences"], list) for m in group) and group[0]["differences"] == []


def _sig(im: Image.Image) -> tuple[bytes, float]:
    frame = np.asarray(im.convert("L").resize((96, 96), Image.Resampling.BICUBIC))
    return frame_signature(frame), im.width / im.height


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_alignment_finds_mirrors_crops_and_straightened_copies_and_rejects_another_shot():
    im = Image.open(ORIGINAL).convert("RGB")
    w, h = im.size
    a = _sig(im)
    mirror = align(*a[:1], *_sig(ImageOps.mirror(_jpeg(im, 10)))[:1], a[1], a[1])
    assert mirror.mirrored and mirror.detail > 0.7
    crop = im.crop((int(0.1 * w), int(0.1 * h), int(0.9 * w), int(0.9 * h)))
    c = _sig(crop)
    found = align(a[0], c[0], a[1], c[1])
    assert found.inner == 1 and 0.7 < found.width < 0.9 and found.detail > 0.7
    other = _sig(Image.open(SHIRTS[1]).convert("RGB"))
    shirt = _sig(Image.open(SHIRTS[0]).convert("RGB"))
    assert align(shirt[0], other[0], shirt[1], other[1]).detail < 0.66


@pytest.mark.parametrize("radius", [0, 1, 6, 10])
def test_near_pairs_match_brute_force(monkeypatch, radius):
    from engine.duplicates import lookalikes

    monkeypatch.setattr(lookalikes, "NEAREST", 10**6)
    rng = np.random.default_rng(3)
    centres = rng.integers(0, 2, (40, 64)).astype(bool)
    bits = centres[rng.integers(0, 40, 2000)] ^ (rng.random((2000, 64)) < 0.04)
    codes = np.packbits(bits, axis=1)
    dist = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    want = {(i, j) for i, j in zip(*np.nonzero(dist <= radius)) if i < j}
    for left, right in (lookalikes.near_pairs(codes, radius), lookalikes.flat_pairs(codes, radius)):
        got = list(zip(left.tolist(), right.tolist()))
        assert len(got) == len(set(got)) and set(got) == want  # exact, each pair once


def test_frame_hash_is_close_for_a_black_and_white_copy_and_far_for_another_photo():
    from engine.images.signature import frame_hash

    im = Image.open(ORIGINAL).convert("RGB")
    grey = _sig(_jpeg(ImageOps.grayscale(im).convert("RGB"), 30))[0]
    other = _sig(Image.open(SHIRTS[0]).convert("RGB"))[0]
    h = _sig(im)[0]

    def dist(a, b):
        return ((frame_hash(a) ^ frame_hash(b)) & (2**64 - 1)).bit_count()

    assert dist(h, grey) <= 6 < dist(h, other)


def test_near_pairs_keep_only_the_nearest_of_each_photo():
    from engine.duplicates import lookalikes

    rng = np.random.default_rng(4)
    bits = rng.integers(0, 2, (1, 64)).astype(bool) ^ (rng.random((200, 64)) < 0.03)  # one burst of 200
    left, right = lookalikes.near_pairs(np.packbits(bits, axis=1), 10)
    both = np.bincount(np.r_[left, right], minlength=200)
    assert 0 < len(left) <= 200 * lookalikes.NEAREST and both.min() >= lookalikes.NEAREST
    assert both.max() < 200 - 1  # not every pair of the burst


def test_a_library_without_frames_is_read_as_having_none_and_gains_them_on_write(tmp_path):
    from engine.library.catalog import Catalog

    catalog = Catalog(tmp_path / "catalog.sqlite")
    folder = catalog.add_folder(tmp_path)
    catalog.insert_indexed(folder, [(b"/x/a.jpg", 1, 0, 0, 10, 10)])
    [(pid, _)] = catalog.without_frame()
    catalog.db.execute("DROP TABLE frames")
    catalog.db.execute("CREATE TABLE frames (id INTEGER PRIMARY KEY, frame BLOB NOT NULL)")  # an early build's shape
    assert catalog.frames_of([pid]) == {} and len(catalog.frame_hashes()[0]) == 0
    assert [i for i, _ in catalog.without_frame()] == [pid]
    catalog.set_frames([(pid, b"f" * 8, -5)])
    assert catalog.frames_of([pid]) == {pid: b"f" * 8} and catalog.frame_hashes()[1].tolist() == [-5]


def test_a_frame_that_cannot_be_read_is_marked_and_not_tried_again(tmp_path, monkeypatch):
    """An older library filling its frames: a photo whose frame fails to decode is marked, not decoded again on
    every index run, and stays out of the duplicate check."""
    import engine.images.decode
    from engine.api import Library
    from engine.errors import DecodeError
    from tests.conftest import demo_photos, photo_folder

    folder = tmp_path / "p"
    photo_folder(folder, demo_photos(per_class=1)[:3])
    with Library(tmp_path / "lib") as lib:
        for _ in lib.index([folder]):
            pass
        catalog = lib.store.catalog
        pid = lib.photos()[0].id
        with catalog.transaction():
            catalog.db.execute("DELETE FROM frames WHERE id = ?", (pid,))  # as if indexed by an older Simili
        calls = []

        def failing(path, size=224, **kw):
            calls.append(path)
            raise DecodeError("corrupt", "cannot read it now")

        monkeypatch.setattr(engine.images.decode, "decode", failing)
        for _ in range(2):
            for _ in lib.index():
                pass
        assert len(calls) == 1
        assert pid not in catalog.frames_of([pid]) and pid not in catalog.frame_hashes()[0].tolist()
        assert all(pid not in [m.photo.id for m in g.members] for g in lib.duplicates())


# -- stored pixel checks: duplicates open in seconds after indexing ----------------------------------------------

FAMILY = {"original.jpg", "crop.jpg", "mirror-half.jpg"}


def _sure_names(lib) -> list[set[str]]:
    return [{Path(m.photo.path).name for m in g.members} for g in lib.duplicates() if g.sure]


def _never(*args, **kwargs):
    raise AssertionError("a pixel check was measured again")


def test_index_runs_measure_the_checks_so_duplicates_need_no_alignment(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    for n, photo in enumerate(sorted(DEMO.glob("images/*/*.jpg"))[:160]):
        if photo != ORIGINAL:
            (folder / photo.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(photo, folder / photo.parent.name / photo.name)
    im = Image.open(ORIGINAL).convert("RGB")
    w, h = im.size
    im.save(folder / "original.jpg", quality=95)
    im.crop((int(0.08 * w), int(0.08 * h), int(0.92 * w), int(0.92 * h))).save(folder / "crop.jpg", quality=90)
    ImageOps.mirror(im).resize((w // 2, h // 2)).save(folder / "mirror-half.jpg", quality=85)
    lib = Library(tmp_path / "lib")
    run(lib.index([folder]))
    checks = lib.store.catalog.copy_matches()
    assert checks
    with monkeypatch.context() as m:
        m.setattr(verdicts, "match", _never)
        m.setattr(verdicts, "view_of", _never)
        m.setattr(lookalikes, "near_pairs", _never)  # nor the look-alike search: its answer is stored too
        assert _sure_names(lib) == [FAMILY]
        m.setattr(duplicates, "group_job", _never)
        run(lib.index())  # nothing changed: no search at all

    im.resize((200, round(200 * h / w))).save(folder / "thumb.jpg", quality=60)
    steps, _ = run(lib.index())
    assert any(p.stage == "dupes" for p in steps)
    with monkeypatch.context() as m:
        m.setattr(verdicts, "match", _never)
        m.setattr(verdicts, "view_of", _never)
        assert _sure_names(lib) == [FAMILY | {"thumb.jpg"}]

    crop = lib.photo_at(folder / "crop.jpg").id
    assert any(crop in pair for pair in lib.store.catalog.copy_matches())
    (folder / "crop.jpg").unlink()
    run(lib.index())
    assert lib.store.catalog.copy_matches() and not any(crop in pair for pair in lib.store.catalog.copy_matches())
    lib.close()


def test_a_stored_check_counts_only_while_its_photos_are_unchanged(demo_library):
    lib, _, extra = demo_library
    catalog = lib.store.catalog
    key = tuple(sorted((lib.photo_at(ORIGINAL).id, lib.photo_at(extra / "half-q50.jpg").id)))
    stamp, _ = catalog.copy_matches()[key]
    different = ("none", 0, 0.0, 1.0, 0.0, 0, 0.0, 0.0)  # what the check says of two different photos
    family = {ORIGINAL.name, "half-q50.jpg", "mirrored-grey.png"}
    with catalog.transaction():
        catalog.set_copy_matches([(*key, stamp, different)])
    # the stored verdict decided: the half-size copy joins only through the black-and-white one, never marked
    group = next(g for g in lib.duplicates() if g.sure)
    half = next(m for m in group.members if Path(m.photo.path).name == "half-q50.jpg")
    assert half.keep and {Path(m.photo.path).name for m in group.members} == family
    with catalog.transaction():
        catalog.set_copy_matches([(*key, stamp ^ 1, different)])  # measured on other files: not trusted
    group = next(g for g in lib.duplicates() if g.sure)
    assert [m.keep for m in group.members] == [True, False, False]
    assert catalog.copy_matches()[key][0] == stamp  # and measured again


def test_stored_tables_of_another_shape_are_replaced_not_fatal(demo_library):
    lib, _, _extra = demo_library
    catalog = lib.store.catalog
    with catalog.transaction():
        for table in ("copy_matches", "look_alikes"):
            catalog.db.execute(f"DROP TABLE IF EXISTS {table}")
            catalog.db.execute(f"CREATE TABLE {table} (a INTEGER, b INTEGER, verdict TEXT)")
            catalog.db.execute(f"INSERT INTO {table} VALUES (1, 2, 'same')")
    assert catalog.copy_matches() == {}
    family = {ORIGINAL.name, "half-q50.jpg", "mirrored-grey.png"}
    assert family in _sure_names(lib)  # measured again, and stored in the table's own shape
    assert catalog.copy_matches() and family in _sure_names(lib)


def test_similar_photos_put_confirmed_copies_first_with_percentages_in_order(demo_library):
    lib, _, extra = demo_library
    lib.duplicates()  # the pixel checks are stored
    copies = {extra / "half-q50.jpg", extra / "mirrored-grey.png"}
    for query in (ORIGINAL, extra / "mirrored-grey.png"):  # the black-and-white copy finds the other through it
        found = lib.similar(query, k=6)
        assert {Path(n.photo.path) for n in found[:2]} == ({ORIGINAL} | copies) - {query}
        assert all(n.similarity >= 98.5 for n in found[:2])
        percents = [n.similarity for n in found]
        assert percents == sorted(percents, reverse=True)


def test_only_a_sure_stored_check_lifts_a_photo_in_similar_photos(demo_library):
    lib, _, extra = demo_library
    catalog = lib.store.catalog
    lib.duplicates()
    original, grey = lib.photo_at(ORIGINAL).id, lib.photo_at(extra / "mirrored-grey.png").id
    key = (min(original, grey), max(original, grey))
    stamp, verdict = catalog.copy_matches()[key]
    assert duplicates.copies_of(catalog, original)[grey] > 0.7

    def grey_percent() -> float:
        return next((n.similarity for n in lib.similar(ORIGINAL, k=50) if n.photo.id == grey), 0.0)

    with catalog.transaction():
        catalog.db.execute("DELETE FROM copy_matches WHERE a = ? OR b = ?", (grey, grey))
    assert grey not in duplicates.copies_of(catalog, original)
    assert grey_percent() < 98.5  # its features alone: not a near-identical photo
    with catalog.transaction():
        catalog.set_copy_matches([(*key, stamp ^ 1, verdict)])  # measured on other files: not trusted
    assert grey_percent() < 98.5
    with catalog.transaction():
        catalog.set_copy_matches([(*key, stamp, verdict)])
    assert grey_percent() >= 98.5


# -- the copy decision on local detail, three answers, the keep rule, files, remembered decisions (issue 21) ------

from engine.duplicates import matching
from tests.conftest import SHARED_DATA

BURST = [SHARED_DATA / "grocery-train" / "images" / "Packages" / "Juice" / "Tropicana-Apple-Juice" /
         f"Tropicana-Apple-Juice_{n:03d}.jpg" for n in (8, 9)]


def _rotated_black(im: Image.Image, degrees: float = 6) -> Image.Image:
    """Rotated in its own frame, black corners left, same pixel size as the original (what the issue saw kept)."""
    return im.rotate(degrees, resample=Image.Resampling.BICUBIC)


def _captioned(im: Image.Image) -> Image.Image:
    from PIL import ImageDraw

    band = im.height // 8
    out = ImageOps.expand(im, border=(0, 0, 0, band), fill=(255, 255, 255))
    ImageDraw.Draw(out).text((10, im.height + band // 4), "Summer 2023 - best day ever!", fill=(20, 20, 20))
    return out


def _view(im: Image.Image) -> matching.View:
    return matching.view_of(np.asarray(im.convert("RGB")))


def test_local_detail_joins_every_edit_and_never_two_garments_on_one_cloth():
    im = Image.open(ORIGINAL).convert("RGB")
    w, h = im.size
    edits = {"jpeg": _jpeg(im, 35), "half": im.resize((w // 2, h // 2)), "crop88": im.crop(
        (w * 6 // 100, h * 6 // 100, w * 94 // 100, h * 94 // 100)), "rotated": _rotated_black(im),
        "caption": _captioned(im), "grey": ImageOps.grayscale(im), "mirror": ImageOps.mirror(im)}
    original = _view(im)
    for name, edit in edits.items():
        found = matching.match(original, _view(edit))
        assert found.verdict == "copy", (name, found)
        assert found.mirrored == (name == "mirror")
    assert matching.match(original, _view(edits["rotated"])).angle == pytest.approx(-6, abs=1.5)
    # a 60 % crop keeps too little of the photo to be called a copy of it
    assert matching.match(original, _view(im.crop((w // 5, h // 5, w * 4 // 5, h * 4 // 5)))).verdict != "copy"
    shirts = [Image.open(p).convert("RGB") for p in SHIRTS]  # two shirts of one cut on one background
    assert matching.match(_view(shirts[0]), _view(shirts[1])).verdict == "none"
    assert matching.match(_view(ImageOps.grayscale(shirts[0])), _view(shirts[1])).verdict == "none"


@pytest.mark.skipif(not BURST[0].exists(), reason="needs the shared grocery photos")
def test_two_shots_of_one_shelf_seconds_apart_are_similar_shots_not_copies():
    a, b = (Image.open(p).convert("RGB") for p in BURST)
    found = matching.match(_view(a), _view(b))
    assert found.verdict == "similar" and found.texture < matching.COPY[1]
    assert matching.match(_view(a), _view(_jpeg(a, 40))).verdict == "copy"  # while a copy of one shot is a copy


def _exif_jpeg(im: Image.Image, path: Path, when: str | None, subsec: str | None = None, quality: int = 90) -> None:
    exif = Image.Exif()
    if when:
        ifd = exif.get_ifd(0x8769)
        ifd[0x9003] = when
        if subsec:
            ifd[0x9291] = subsec
    im.save(path, quality=quality, exif=exif.tobytes())


def test_capture_times_read_with_their_fraction_of_a_second(tmp_path):
    from engine.images.exif import taken_at

    im = Image.new("RGB", (32, 32), (200, 10, 10))
    _exif_jpeg(im, tmp_path / "a.jpg", "2024:05:01 10:00:00", "25")
    _exif_jpeg(im, tmp_path / "b.jpg", "2024:05:01 10:00:00")
    assert taken_at(Image.open(tmp_path / "a.jpg")) == "2024-05-01T10:00:00.25"
    assert taken_at(Image.open(tmp_path / "b.jpg")) == "2024-05-01T10:00:00"


@pytest.fixture
def family(tmp_path):
    """A folder with a demo photo and its copies (one rotated in its own frame with black corners, same pixel
    size), a symbolic link to the original (hard links: tests/test_dupes_hardlinks.py), two shots of one burst
    (camera times 0.4 s apart), and unrelated demo photos; indexed."""
    folder = tmp_path / "photos"
    folder.mkdir()
    im = Image.open(ORIGINAL).convert("RGB")
    w, h = im.size
    im.save(folder / "original.jpg", quality=95)
    _rotated_black(im).save(folder / "rotated.jpg", quality=95)
    _captioned(im).save(folder / "caption.jpg", quality=90)
    im.crop((w * 6 // 100, h * 6 // 100, w * 94 // 100, h * 94 // 100)).save(folder / "crop.jpg", quality=90)
    ImageOps.grayscale(im).save(folder / "grey.png")
    (folder / "link.jpg").symlink_to(folder / "original.jpg")
    (folder / "other").mkdir()
    for photo in SHIRTS:
        shutil.copy(photo, folder / "other" / photo.name)
    shot = Image.open(next(p for p in sorted((DEMO / "images" / "hat").glob("*.jpg")))).convert("RGB")
    _exif_jpeg(shot, folder / "burst-1.jpg", "2024:05:01 10:00:00", "10", quality=92)
    _exif_jpeg(_jpeg(shot, 80), folder / "burst-2.jpg", "2024:05:01 10:00:00", "50", quality=92)
    lib = Library(tmp_path / "lib")
    run(lib.index([folder]))
    yield lib, folder
    lib.close()


def _names(g) -> list[str]:
    return [Path(m.photo.path).name for m in g.members]


def test_the_fullest_cleanest_copy_is_kept_and_links_are_never_trash(family):
    lib, folder = family
    copies = [g for g in lib.duplicates() if g.sure]
    [group] = [g for g in copies if "rotated.jpg" in _names(g)]
    names = _names(group)
    assert names[0] in ("original.jpg", "link.jpg") and group.members[0].keep
    assert Path(group.members[0].photo.path).resolve() == (folder / "original.jpg").resolve()
    assert set(names) >= {"rotated.jpg", "caption.jpg", "crop.jpg", "grey.png"}
    assert not ({"original.jpg", "link.jpg"} <= set(names))  # two paths of one file are one photo
    said = dict(zip(names, (m.differences for m in group.members)))
    assert "rotated, with black corners" in said["rotated.jpg"] and "cropped" in said["crop.jpg"]
    assert "with borders or a caption" in said["caption.jpg"] and "black-and-white" in said["grey.png"]
    trash = [Path(m.photo.path) for m in group.members if not m.keep]
    assert all(not p.is_symlink() and p.resolve() != (folder / "original.jpg").resolve() for p in trash)


def test_burst_shots_are_similar_shots_with_nothing_marked_and_a_best_shot_suggested(family, capsys):
    lib, _folder = family
    found = lib.duplicates()
    assert all("burst-1.jpg" not in _names(g) for g in found if g.sure)
    [shots] = [g for g in found if not g.sure and "burst-1.jpg" in _names(g)]
    assert set(_names(shots)) == {"burst-1.jpg", "burst-2.jpg"} and all(m.keep for m in shots.members)
    assert shots.suggestion.startswith("suggested as the best shot")
    assert main(["--home", str(lib.home), "--json", "dupes"]) in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert out["maybe"] == [s["photos"] for s in out["similar_shots"]]
    [entry] = [s for s in out["similar_shots"] if any(Path(m["path"]).name == "burst-1.jpg" for m in s["photos"])]
    assert entry["best"] == entry["photos"][0]["path"] and all(m["keep"] for m in entry["photos"])
    assert all(not {Path(m["path"]).name for m in g} & {"burst-1.jpg", "burst-2.jpg"} for g in out["groups"])


def test_a_photo_that_cannot_be_reached_is_never_kept_nor_offered(family):
    lib, folder = family
    (folder / "original.jpg").rename(folder / "moved-away.jpg.bak")  # the catalog still lists it, the link dangles
    [group] = [g for g in lib.duplicates() if g.sure and "rotated.jpg" in _names(g)]
    assert not {"original.jpg", "link.jpg"} & set(_names(group))
    assert all(Path(m.photo.path).exists() for m in group.members)


def test_not_copies_is_remembered_through_a_reindex(family, capsys):
    lib, folder = family
    home = lib.home
    assert any(g.sure and "grey.png" in _names(g) for g in lib.duplicates())
    lib.close()
    assert main(["--home", str(home), "dupes", "--not-copies", str(folder / "grey.png"),
                 str(folder / "original.jpg")]) in (0, None)
    assert "not be grouped again" in capsys.readouterr().out
    lib2 = Library(home)
    try:
        [group] = [g for g in lib2.duplicates() if g.sure and "rotated.jpg" in _names(g)]
        grey = next((m for m in group.members if Path(m.photo.path).name == "grey.png"), None)
        assert grey is None or grey.keep  # never offered against the photo the user said it is not a copy of
        run(lib2.index())
        with lib2.store.catalog.transaction():
            lib2.store.catalog.db.execute("DELETE FROM copy_matches")  # measured again from nothing: still refused
        [group] = [g for g in lib2.duplicates() if g.sure and "rotated.jpg" in _names(g)]
        grey = next((m for m in group.members if Path(m.photo.path).name == "grey.png"), None)
        assert grey is None or grey.keep
    finally:
        lib2.close()


def test_an_original_whose_edge_is_a_flat_floor_is_kept_over_its_recompressed_copy(tmp_path):
    """The demo dress's bottom rows are a near-flat floor: the band test reads a band on the original and none on its
    JPEG q50 copy (noise tips it). A band every copy shows is part of the picture, so the original is kept, and it
    is not said to have borders or a caption (found on the screenshot set: the q50 copy was kept)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    src = DEMO / "images" / "dress" / "06a00c0f-5f9a-410d-a7da-3881a9df3a71.jpg"
    shutil.copyfile(src, folder / "original.jpg")
    im = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
    w, h = im.size
    im.resize((w // 2, h // 2), Image.Resampling.LANCZOS).save(folder / "half.jpg", quality=90)
    im.save(folder / "q50.jpg", quality=50)
    im.crop((w // 20, h // 20, w - w // 20, h - h // 20)).save(folder / "crop10.jpg", quality=90)
    with Library(tmp_path / "lib") as lib:
        run(lib.index([folder]))
        [group] = [g for g in lib.duplicates() if g.sure]
    names = _names(group)
    assert names[0] == "original.jpg" and group.members[0].keep, names
    assert set(names) == {"original.jpg", "half.jpg", "q50.jpg", "crop10.jpg"}
    assert not any("with borders or a caption" in m.differences for m in group.members)
