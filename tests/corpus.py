"""Test images made on the fly: natural-looking photos, their near-copies, and a corpus of bad and odd files.

Plain functions (no pytest needed), deterministic, small on disk: ``from tests.corpus import make_photo, ...``.

- :func:`make_photo` writes one synthetic photo (smooth gradients + shapes), different per ``seed``.
- :func:`make_copies` writes a photo's near-duplicates and returns their paths: 50 % size, JPEG quality 50, 10 % crop,
  and a copy whose pixels are turned 90 degrees but tagged EXIF orientation 6, so it looks like the original once
  oriented.
- :func:`make_bad_corpus` writes every awkward case a decoder meets and returns ``{relative name: expected}``, where
  expected is ``"ok"`` or a :class:`engine.errors.DecodeError` code. Cases the platform cannot create (symlinks,
  non-UTF-8 names, HEIC writing) are left out of the returned mapping.
- :func:`unreadable` makes files raise PermissionError while it is active. Tests run as root, where
  ``chmod 000`` does not stop reads, so the ``permission`` code is tested by patching ``open``/``os.open`` instead.

Known content in the corpus (after orientation, as a viewer shows it): ``exif_rot6.jpg``, ``exif_rot8.jpg``,
``exif_rot6.heic`` and ``cmyk.jpg`` are landscape 2:1 images, left half :data:`RED`, right half :data:`BLUE`;
``alpha.png`` and ``palette.png`` are transparent on the left (white once flattened) and blue/red on the right;
``grey16.png`` is a left-to-right 16-bit ramp; the animations start with a red frame.
"""

from __future__ import annotations

import builtins
import io
import os
import random
import struct
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps, features

__all__ = [
    "RED",
    "BLUE",
    "WHITE",
    "TAKEN_AT",
    "make_photo",
    "make_copies",
    "COPY_KINDS",
    "make_bad_corpus",
    "unreadable",
    "heic_writable",
    "float_tiff",
]

RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
TAKEN_AT = "2021:06:05 14:03:22"
"""DateTimeOriginal written into ``exif_rot6.jpg`` (decode reports ``2021-06-05T14:03:22+02:00``)."""

_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769


def make_photo(
    path: str | os.PathLike[str],
    seed: int,
    size: tuple[int, int] = (640, 480),
    *,
    quality: int = 92,
    noise: float = 0.0,
    taken_at: str | None = None,
) -> Path:
    """Write a synthetic, natural-looking photo; same ``seed`` and ``size``, same pixels.

    A smooth four-corner colour gradient with soft ellipses, boxes and a polygon on top, slightly blurred. The
    format follows the suffix (``.jpg``, ``.png``, ``.webp``, ``.heic``...).

    Args:
        path: file to write; parent folders are created.
        seed: picks colours and shapes; different seeds give clearly different pictures.
        size: (width, height) in pixels.
        quality: JPEG/WebP/HEIC quality.
        noise: standard deviation of added Gaussian grain, in 8-bit levels (texture makes realistic file sizes).
        taken_at: EXIF DateTimeOriginal, ``"YYYY:MM:DD HH:MM:SS"``, for formats that carry EXIF.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = _photo_image(seed, size, noise)
    kwargs: dict[str, object] = {}
    if taken_at is not None:
        exif = Image.Exif()
        exif.get_ifd(_EXIF_IFD)[0x9003] = taken_at
        kwargs["exif"] = exif
    _save(img, path, quality=quality, **kwargs)
    return path


COPY_KINDS = ("half", "q50", "crop10", "rot90_exif")
"""What :func:`make_copies` writes, in the order it returns them."""


def make_copies(src: str | os.PathLike[str], dst_dir: str | os.PathLike[str]) -> list[Path]:
    """Write near-duplicates of the photo ``src`` (read upright, its own EXIF orientation applied) into ``dst_dir``.

    Returns:
        Four JPEG paths ``<dst_dir>/<stem>_<kind>.jpg``, one per kind in :data:`COPY_KINDS` order:
        half: resized to 50 % on each side; q50: re-saved at JPEG quality 50; crop10: 10 % trimmed off
        (5 % from each edge, keeping the centre 90 % of each side); rot90_exif: pixels turned 90 degrees
        counter-clockwise and tagged EXIF orientation 6, so an orientation-aware reader shows the original.
    """
    src, dst_dir = Path(src), Path(dst_dir)
    dst_dir.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as im:
        original = ImageOps.exif_transpose(im).convert("RGB")
    w, h = original.size
    out = {k: dst_dir / f"{src.stem}_{k}.jpg" for k in COPY_KINDS}
    original.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS).save(out["half"], quality=90)
    original.save(out["q50"], quality=50)
    dx, dy = round(w * 0.05), round(h * 0.05)
    original.crop((dx, dy, w - dx, h - dy)).save(out["crop10"], quality=90)
    exif = Image.Exif()
    exif[_ORIENTATION] = 6
    original.transpose(Image.Transpose.ROTATE_90).save(out["rot90_exif"], quality=90, exif=exif)
    return [out[k] for k in COPY_KINDS]


def heic_writable() -> bool:
    """True when pillow-heif is installed and has an HEVC encoder, so HEIC test files can be written."""
    try:
        import pillow_heif
    except ImportError:
        return False
    try:
        return bool(pillow_heif.libheif_info().get("HEIF"))
    except Exception:
        return False


def make_bad_corpus(root: str | os.PathLike[str]) -> dict[str, str]:
    """Write the awkward-file corpus into ``root`` (created if needed); return ``{name: expected outcome}``.

    Expected is ``"ok"`` (decodes to a picture) or a DecodeError code. Names are relative to ``root``; the
    non-UTF-8 name is returned as ``os.fsdecode`` gives it (with a surrogate escape), so ``root / name`` works.
    Takes well under a second; the largest file is the 30000x200 panorama (~0.3 MB).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (root / name).write_bytes(data)
        expected[name] = outcome

    # Empty, truncated, not images.
    put("empty.jpg", b"", "empty")
    jpeg = _encode(_photo_image(1, (320, 240)), "JPEG", quality=90)
    put("truncated.jpg", jpeg[: len(jpeg) // 2], "truncated")
    png = _encode(_photo_image(2, (320, 240), noise=4.0), "PNG")
    put("truncated.png", png[: int(len(png) * 0.6)], "truncated")
    frames = [Image.new("RGB", (64, 48), c) for c in (RED, (0, 255, 0), BLUE)]
    webp = _encode(_photo_image(2, (320, 240)), "WEBP", quality=80) if features.check("webp") else b""
    if webp:
        put("truncated.webp", webp[: len(webp) * 2 // 3], "truncated")
    broken = bytearray(_encode(_photo_image(8, (64, 48)), "PNG"))
    start = broken.index(b"IDAT") + 4
    broken[start : start + 2] = b"\x00\x00"  # invalid zlib header: the pixel data cannot be inflated
    put("corrupt.png", bytes(broken), "corrupt")
    put("random.jpg", random.Random(1234).randbytes(4096), "not_image")
    put("text.png", b"This is a text file with a .png name, not a picture.\n" * 4, "not_image")

    # Decompression bombs: tiny files whose headers claim huge sizes.
    put("bomb.png", _png_with_size(_encode(Image.new("L", (16, 16)), "PNG"), 20000, 20000), "too_large")
    put("bomb.jpg", _jpeg_with_size(_encode(Image.new("L", (16, 16)), "JPEG"), 60000, 60000), "too_large")

    # Valid but awkward.
    put("tiny_1x1.png", _encode(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"), "ok")
    put("panorama_30000x200.jpg", _encode(_photo_image(3, (30000, 200)), "JPEG", quality=80), "ok")
    put("grey.jpg", _encode(_photo_image(4, (200, 150)).convert("L"), "JPEG"), "ok")
    put("misnamed_png.jpg", _encode(_photo_image(5, (200, 150)), "PNG"), "ok")
    display = _halves((160, 80), RED, BLUE)
    put("cmyk.jpg", _encode(display.convert("CMYK"), "JPEG", quality=95), "ok")
    ramp = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (64, 1))
    put("grey16.png", _encode(Image.fromarray(ramp), "PNG"), "ok")
    for orientation, turn in ((6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270)):
        exif = Image.Exif()
        exif[_ORIENTATION] = orientation
        if orientation == 6:
            exif.get_ifd(_EXIF_IFD)[0x9003] = TAKEN_AT
            exif.get_ifd(_EXIF_IFD)[0x9011] = "+02:00"
        put(f"exif_rot{orientation}.jpg", _encode(display.transpose(turn), "JPEG", quality=95, exif=exif), "ok")

    rgba = Image.new("RGBA", (80, 40), (0, 0, 0, 0))
    rgba.paste((*BLUE, 255), (40, 0, 80, 40))
    put("alpha.png", _encode(rgba, "PNG"), "ok")
    pal = Image.new("P", (80, 40), 0)
    pal.putpalette([0, 0, 0, *RED] + [0, 0, 0] * 254)
    pal.paste(1, (40, 0, 80, 40))
    put("palette.png", _encode(pal, "PNG", transparency=0), "ok")

    put("animated.gif", _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100), "ok")
    if features.check("webp"):
        webp = _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
        put("animated.webp", webp, "ok")

    # Names and links.
    photo = _encode(_photo_image(6, (120, 90)), "JPEG")
    put("long_" + "n" * 245 + ".jpg", photo, "ok")  # 254 bytes: just under the usual 255-byte limit
    try:
        bad_name = os.fsdecode(b"caf\xe9.jpg")
        (root / bad_name).write_bytes(photo)
        expected[bad_name] = "ok"
    except (OSError, UnicodeError):
        pass  # file systems that insist on UTF-8 names (macOS, Windows)
    try:
        os.symlink("does_not_exist.jpg", root / "broken_link.jpg")
        expected["broken_link.jpg"] = "broken_link"
        os.symlink("loop_b.jpg", root / "loop_a.jpg")
        os.symlink("loop_a.jpg", root / "loop_b.jpg")
        expected["loop_a.jpg"] = "broken_link"
        expected["loop_b.jpg"] = "broken_link"
    except (OSError, NotImplementedError):
        pass  # no symlinks here (Windows without developer mode)

    if heic_writable():
        import pillow_heif

        pillow_heif.register_heif_opener()
        put("photo.heic", _encode(_photo_image(7, (256, 192)), "HEIF", quality=80), "ok")
        exif = Image.Exif()
        exif[_ORIENTATION] = 6
        put("exif_rot6.heic", _encode(display, "HEIF", quality=90, exif=exif), "ok")
        put("IMG_0001.HIF", _encode(_photo_image(8, (256, 192)), "HEIF", quality=80), "ok")  # Canon's HEIF name
    return expected


@contextmanager
def unreadable(paths: Iterable[str | os.PathLike[str]]) -> Iterator[None]:
    """Within the block, opening any of ``paths`` raises PermissionError (as ``chmod 000`` would for a normal user).

    Patches ``builtins.open``, ``io.open`` and ``os.open`` for this process; not for use across threads.
    """
    blocked = {os.path.abspath(os.fsencode(p)) for p in paths}

    def denied(target: object) -> bool:
        try:
            return os.path.abspath(os.fsencode(target)) in blocked  # type: ignore[arg-type]
        except TypeError:
            return False  # file descriptors and other openables

    real_open, real_io_open, real_os_open = builtins.open, io.open, os.open

    def fake_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if denied(file):
            raise PermissionError(13, "Permission denied", os.fsdecode(file))
        return real_open(file, *args, **kwargs)

    def fake_os_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if denied(file):
            raise PermissionError(13, "Permission denied", os.fsdecode(file))
        return real_os_open(file, *args, **kwargs)

    builtins.open = io.open = fake_open
    os.open = fake_os_open
    try:
        yield
    finally:
        builtins.open, io.open, os.open = real_open, real_io_open, real_os_open


# --- helpers ----------------------------------------------------------------------------------------------------------


def _photo_image(seed: int, size: tuple[int, int], noise: float = 0.0) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    corners = rng.integers(0, 256, size=(4, 3)).astype(np.float32)
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    top = corners[0] * (1 - x) + corners[1] * x
    bottom = corners[2] * (1 - x) + corners[3] * x
    base = Image.fromarray((top * (1 - y) + bottom * y).astype(np.uint8), "RGB")

    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    scale = min(w, h)
    for _ in range(int(rng.integers(5, 10))):
        cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        rx, ry = float(rng.uniform(0.08, 0.35) * scale), float(rng.uniform(0.08, 0.35) * scale)
        fill = (*(int(v) for v in rng.integers(0, 256, 3)), int(rng.integers(140, 256)))
        if rng.random() < 0.5:
            draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill)
        else:
            draw.rectangle((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill)
    points = [(float(rng.uniform(0, w)), float(rng.uniform(0, h))) for _ in range(5)]
    draw.polygon(points, fill=(*(int(v) for v in rng.integers(0, 256, 3)), 200))
    base.paste(layer, (0, 0), layer)
    img = base.filter(ImageFilter.GaussianBlur(max(0.5, scale / 300)))
    if noise > 0:
        grain = rng.normal(0.0, noise, size=(h, w, 3)).astype(np.float32)
        img = Image.fromarray(np.clip(np.asarray(img, dtype=np.float32) + grain, 0, 255).astype(np.uint8), "RGB")
    return img


def _halves(size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]) -> Image.Image:
    img = Image.new("RGB", size, left)
    img.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return img


def _encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _save(img: Image.Image, path: Path, **kwargs: object) -> None:
    suffix = path.suffix.lower()
    if suffix in (".heic", ".heif"):
        import pillow_heif

        pillow_heif.register_heif_opener()
    if suffix in (".png", ".gif", ".bmp", ".tif", ".tiff"):
        kwargs.pop("quality", None)
    img.save(path, **kwargs)


def _png_with_size(png: bytes, width: int, height: int) -> bytes:
    """Rewrite the IHDR width and height (and its CRC) of a PNG."""
    ihdr = bytearray(png[12:29])  # b"IHDR" + 13 data bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return png[:12] + bytes(ihdr) + crc + png[33:]


def _jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame header (SOF0) height and width of a baseline JPEG."""
    i = jpeg.index(b"\xff\xc0")
    return jpeg[: i + 5] + struct.pack(">HH", height, width) + jpeg[i + 9 :]


def float_tiff(path: str | os.PathLike[str], width: int = 16, height: int = 12, channels: int = 3,
               bits: int = 32) -> None:
    """A valid, uncompressed floating-point TIFF (SampleFormat 3) of ``channels`` x ``bits``-bit samples."""
    dtype = {16: np.float16, 32: np.float32, 64: np.float64}[bits]
    data = np.random.default_rng(0).random((height, width, channels)).astype(dtype).tobytes()
    n_tags = 11
    extra_at = 8 + len(data) + 2 + 12 * n_tags + 4
    extra = b""

    def shorts(value: int) -> tuple[int, int]:  # (count, value or offset) of a per-channel SHORT tag
        nonlocal extra
        if channels <= 2:
            return channels, value
        offset = extra_at + len(extra)
        extra += struct.pack(f"<{channels}H", *([value] * channels))
        return channels, offset

    def entry(tag: int, typ: int, count: int, value: int) -> bytes:
        if typ == 3 and count == 1:
            return struct.pack("<HHIHH", tag, typ, count, value, 0)
        return struct.pack("<HHII", tag, typ, count, value)

    entries = [entry(256, 4, 1, width), entry(257, 4, 1, height), entry(258, 3, *shorts(bits)),
               entry(259, 3, 1, 1), entry(262, 3, 1, 2 if channels == 3 else 1), entry(273, 4, 1, 8),
               entry(277, 3, 1, channels), entry(278, 4, 1, height), entry(279, 4, 1, len(data)),
               entry(284, 3, 1, 1), entry(339, 3, *shorts(3))]
    ifd = struct.pack("<H", n_tags) + b"".join(entries) + struct.pack("<I", 0)
    Path(path).write_bytes(b"II*\x00" + struct.pack("<I", 8 + len(data)) + data + ifd + extra)
