"""Reading photos for indexing, thumbnails and queries: fast, orientation-correct, and safe on bad files.

Fast: JPEGs are decoded at a reduced DCT scale (``Image.draft``) and HEIF files from an embedded thumbnail when one
is big enough, so a 12 MP JPEG costs a few tens of milliseconds. Correct: EXIF orientation is applied, CMYK, 16-bit,
float, palette and alpha images become plain 8-bit RGB (transparency over white), animations give their first
frame, HEIC/HEIF goes through pillow-heif. Safe: every failure is a :class:`~engine.errors.DecodeError` with a
short ``code`` and a one-line message; the pixel count is checked from the header before anything is decoded.

Nothing here changes Pillow's global settings except registering the pillow-heif opener (once, on the first HEIF
file). Callers may run :func:`decode` from several threads: Pillow releases the GIL while decoding and resizing.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Union

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from engine.errors import DecodeError
from engine.images.exif import metadata as _metadata
from engine.images.formats import IMAGE_EXTENSIONS, is_raw
from engine.images.raw import open_raw
from engine.images.tiffprobe import tiff_samples

__all__ = [
    "Decoded",
    "decode",
    "thumbnail",
    "file_fingerprint",
    "heif_available",
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
]

PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
Pixels = npt.NDArray[np.uint8]

MAX_PIXELS = 178_956_970
"""Largest width x height decoded (Pillow's own default limit, ~179 MP); larger files fail with ``too_large``."""

RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 3.0  # box-reduce first while the remaining factor stays >= 3: near-bicubic quality, much faster
FRAME = 96  # side of Decoded.frame, the whole photo in grey for the near-duplicate check
FINGERPRINT_CHUNK = 64 * 1024

# Formats Pillow may identify a file as. Anything else (PSD, ICO, EPS, ...) is "not an image" for Simili, which also
# keeps Pillow's rarely used parsers away from untrusted files.
_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "DIB", "TIFF", "HEIF", "AVIF")
_DRAFT_FORMATS = frozenset({"JPEG", "MPO", "HEIF"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"})
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_HEIF_MISSING = "HEIC support is not installed (pillow-heif)"


@dataclass(frozen=True, eq=False)
class Decoded:
    """One photo ready for the encoder.

    Attributes:
        pixels: uint8 array (size, size, 3), RGB: shorter side resized to ``size``, then centre-cropped.
        width: pixel width of the original, as it is seen (after EXIF orientation).
        height: pixel height of the original, as it is seen (after EXIF orientation).
        orientation: the EXIF orientation tag (1..8); 1 when absent.
        taken_at: EXIF DateTimeOriginal as ISO-8601 (``2023-07-14T18:02:11``, with ``+02:00`` when the camera
            recorded an offset), or None.
        format: Pillow's format name: ``JPEG``, ``PNG``, ``HEIF``, ``WEBP``, ``GIF``, ``TIFF``, ``BMP``, ``MPO``...
        frames: number of frames (1 for a still image).
        frame: the whole photo (not only the centre square) as a ``FRAME`` x ``FRAME`` grey image, squashed to a
            square, upright; the near-duplicate check (``engine.images.signature.frame_signature``) works on it.
    """

    pixels: Pixels
    width: int
    height: int
    orientation: int
    taken_at: str | None
    format: str
    frames: int
    frame: Pixels | None = None


def decode(path: PathArg, size: int = 224, *, max_pixels: int = MAX_PIXELS) -> Decoded:
    """Read one photo as a ``size`` x ``size`` RGB square (short side to ``size``, centre crop).

    Raises:
        DecodeError: for every reason the file cannot be read; ``code`` says which (see engine.errors).
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    with _opened(path, max_pixels) as im:
        fmt = im.format or "unknown"
        frames = _frame_count(im)  # before load: counting GIF frames seeks back to frame 0
        raw_w, raw_h = im.info.get("full_size", im.size) if fmt == "RAW" else im.size
        # The largest DCT scale (1/2, 1/4, 1/8) that keeps the short side >= size; orientation does not matter
        # because the request is square.
        orientation, taken_at, pre_rotated = _load(im, (size, size))
        rgb = _rgb_or_rgba(im)
        out = _square(rgb, size)
        frame = _flatten(rgb.resize((FRAME, FRAME), RESAMPLE, reducing_gap=REDUCING_GAP)).convert("L")
    if not pre_rotated and orientation in _TRANSPOSE:
        # A centred square crop commutes with flips and quarter turns, so turning the small result is exact.
        out = out.transpose(_TRANSPOSE[orientation])
        frame = frame.transpose(_TRANSPOSE[orientation])  # a squashed square turns the same way
    width, height = (raw_h, raw_w) if orientation >= 5 and not pre_rotated else (raw_w, raw_h)
    pixels = np.array(out, dtype=np.uint8)
    return Decoded(pixels, width, height, orientation, taken_at, fmt, frames, np.array(frame, dtype=np.uint8))


def thumbnail(path: PathArg, max_side: int, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """An RGB image no larger than ``max_side`` on its long side, upright, aspect kept; small images are not enlarged.

    Raises:
        DecodeError: as :func:`decode`.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    with _opened(path, max_pixels) as im:
        w, h = im.size
        scale = min(1.0, max_side / max(w, h))
        tw, th = max(1, round(w * scale)), max(1, round(h * scale))
        # Decode at 2x the final size at least, as Image.thumbnail does, for display quality.
        orientation, _, pre_rotated = _load(im, (min(w, 2 * tw), min(h, 2 * th)) if scale < 1.0 else None)
        if pre_rotated:
            orientation = 1
        out = _rgb_or_rgba(im)
        if out.size != (tw, th):
            out = out.resize((tw, th), RESAMPLE, reducing_gap=REDUCING_GAP)
        out = _flatten(out)
        if out is im:
            out = out.copy()  # detach from the file we are about to close
    if orientation in _TRANSPOSE:
        out = out.transpose(_TRANSPOSE[orientation])
    return out


def file_fingerprint(path: PathArg, size: int | None = None) -> str:
    """A content fingerprint that recognises a moved or renamed file without decoding it.

    blake2b (16-byte digest, 32 hex characters) over the file size and every byte of the file, so that a different
    file of the same size never passes for a moved photo (only new or changed files are fingerprinted, and they
    are about to be decoded anyway). ``size`` is the byte size the caller already has from ``os.stat``; when None
    it is read from the open file.

    Raises:
        DecodeError: ``permission``, ``broken_link``, ``io`` or ``not_image`` (not a regular file).
    """
    with _open_regular(path) as (fp, actual_size):
        n = actual_size if size is None else size
        digest = hashlib.blake2b(digest_size=16)
        digest.update(int(n).to_bytes(8, "little", signed=False))
        try:
            for block in iter(lambda: fp.read(FINGERPRINT_CHUNK * 16), b""):
                digest.update(block)
        except OSError as exc:

            raise _os_error(exc, path) from None
    return digest.hexdigest()


# --- HEIF -------------------------------------------------------------------------------------------------------

_heif_lock = threading.Lock()
_heif_ok: bool | None = None


def heif_available() -> bool:
    """True when HEIC/HEIF files can be read; registers the pillow-heif opener with Pillow on the first call."""
    global _heif_ok
    if _heif_ok is None:
        with _heif_lock:
            if _heif_ok is None:
                try:
                    import pillow_heif

                    pillow_heif.register_heif_opener(thumbnails=True, depth_images=False, aux_images=False)
                    _heif_ok = True
                except Exception:  # ImportError, or a native library that fails to load
                    _heif_ok = False
    return _heif_ok


def _is_heif(head: bytes) -> bool:
    """An ISO-BMFF ``ftyp`` box naming a HEIF brand (and, for the generic mif1/msf1 brands, not AVIF)."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return False
    major = head[8:12]
    if major not in _HEIF_BRANDS:
        return False
    if major in (b"mif1", b"msf1"):
        box = head[: int.from_bytes(head[0:4], "big")]
        compatible = {box[i : i + 4] for i in range(16, len(box) - 3, 4)}
        return not compatible & {b"avif", b"avis"}
    return True


# --- opening and errors -------------------------------------------------------------------------------------------


@contextmanager
def _open_regular(path: PathArg) -> Iterator[tuple[IO[bytes], int]]:
    """Open a regular file for binary reading (never blocks on a FIFO); yields the file and its byte size."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _os_error(exc, path) from None
    try:
        st = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise _os_error(exc, path) from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise DecodeError("not_image", f"{what}, not an image file")
    with os.fdopen(fd, "rb") as fp:
        yield fp, st.st_size


def _os_error(exc: OSError, path: PathArg) -> DecodeError:
    """Map an operating-system error to a DecodeError."""
    if isinstance(exc, PermissionError):
        return DecodeError("permission", "permission denied: the file cannot be read")
    if exc.errno == errno.ELOOP:
        return DecodeError("broken_link", "symbolic link loop: the link points back to itself")
    if isinstance(exc, FileNotFoundError):
        try:
            dangling = os.path.islink(path)
        except (OSError, ValueError):
            dangling = False
        if dangling:
            return DecodeError("broken_link", "broken symbolic link: its target does not exist")
        return DecodeError("io", "file not found (moved or deleted?)")
    if exc.errno == errno.ENAMETOOLONG:
        return DecodeError("io", "file name too long for this system")
    if isinstance(exc, IsADirectoryError):
        return DecodeError("not_image", "a folder, not an image file")
    reason = exc.strerror or str(exc) or type(exc).__name__
    return DecodeError("io", f"read error: {_one_line(reason)}")


@contextmanager
def _opened(path: PathArg, max_pixels: int) -> Iterator[Image.Image]:
    """Open ``path`` with Pillow after the cheap checks; turn every failure inside the block into a DecodeError."""
    with _open_regular(path) as (fp, nbytes):
        if nbytes == 0:
            raise DecodeError("empty", "file is empty (0 bytes)")
        if is_raw(os.fspath(path)):
            im = open_raw(path, max_pixels)
            try:
                yield im
            finally:
                im.close()
            return
        try:
            head = fp.read(64)
            fp.seek(0)
        except OSError as exc:
            raise _os_error(exc, path) from None
        if _is_heif(head) and not heif_available():
            raise DecodeError("unsupported", _HEIF_MISSING)
        im = None
        try:
            im = Image.open(fp, formats=_open_formats())
            w, h = im.size
            if w < 1 or h < 1:
                raise DecodeError("corrupt", f"image header gives an impossible size {w}x{h}")
            if w * h > max_pixels:
                raise DecodeError(
                    "too_large", f"image too large to decode safely: {w}x{h} = {w * h:,} pixels (limit {max_pixels:,})"
                )
            yield im
        except DecodeError:
            raise
        except Image.DecompressionBombError as exc:
            m = re.search(r"\((\d+) pixels\)", str(exc))
            count = f"{int(m.group(1)):,} pixels" if m else "too many pixels"
            raise DecodeError(
                "too_large", f"image too large to decode safely: {count} (limit {max_pixels:,})"
            ) from None
        except UnidentifiedImageError:
            raise _unidentified(fp, head, nbytes) from None
        except MemoryError:
            raise DecodeError("too_large", "not enough memory to decode this image") from None
        except OSError as exc:
            if exc.errno is not None:  # a real read error from the disk, not a decoder complaint
                raise _os_error(exc, path) from None
            raise _broken(exc, fp, head, nbytes, im) from None
        except Exception as exc:  # decoders raise SyntaxError, ValueError, struct.error, zlib.error, EOFError...
            raise _broken(exc, fp, head, nbytes, im) from None
        finally:
            if im is not None:
                im.close()


def _open_formats() -> tuple[str, ...]:
    Image.init()
    return tuple(f for f in _FORMATS if f in Image.OPEN)


def _kind_from_magic(head: bytes) -> str | None:
    """The format a file claims to be from its first bytes, for error messages."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM"):
        return "BMP"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head[4:8] == b"ftyp":
        return "HEIF" if _is_heif(head) else "ISO media"
    return None


def _looks_cut(fp: IO[bytes], head: bytes, nbytes: int) -> bool:
    """True when the file ends before its format says it should (no end marker, or shorter than declared)."""
    kind = _kind_from_magic(head)
    try:
        fp.seek(max(0, nbytes - 16))
        tail = fp.read(16)
    except (OSError, ValueError):
        return False
    if kind == "JPEG":
        return b"\xff\xd9" not in tail
    if kind == "PNG":
        return b"IEND" not in tail
    if kind == "GIF":
        return not tail.rstrip(b"\x00").endswith(b";")
    if kind == "WEBP":
        return int.from_bytes(head[4:8], "little") + 8 > nbytes
    return False


def _unidentified(fp: IO[bytes], head: bytes, nbytes: int) -> DecodeError:
    kind = _kind_from_magic(head)
    if kind is None:
        return DecodeError("not_image", "not an image file, or a format Simili does not read")
    if _looks_cut(fp, head, nbytes):
        return DecodeError("truncated", f"{kind} file is truncated: the header ends early")
    if kind == "ISO media":
        return DecodeError("unsupported", "ISO media file (video or AVIF variant) that Simili cannot read")
    layout = tiff_samples(fp) if kind == "TIFF" else None
    if layout:  # a header that reads well but a sample layout Pillow has no decoder for
        return DecodeError("unsupported", f"TIFF with {layout} is not supported")
    return DecodeError("corrupt", f"{kind} header is damaged")


def _broken(exc: BaseException, fp: IO[bytes], head: bytes, nbytes: int, im: Image.Image | None) -> DecodeError:
    kind = (im.format if im is not None else None) or _kind_from_magic(head) or "image"
    detail = _one_line(str(exc)) or type(exc).__name__
    cut = isinstance(exc, EOFError) or "truncated" in detail or "end of file" in detail.lower()
    if cut or _looks_cut(fp, head, nbytes):
        return DecodeError("truncated", f"{kind} file is truncated: the image data ends early")
    return DecodeError("corrupt", f"{kind} data is damaged ({detail})")


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- metadata -------------------------------------------------------------------------------------------------------


def _load(im: Image.Image, draft: tuple[int, int] | None) -> tuple[int, str | None, bool]:
    """Decode the pixels (at reduced scale when ``draft`` is given and the format can); return :func:`_metadata`.

    Metadata is read before loading (TIFF reads sub-IFDs from the file, which is let go after loading), except
    for PNG, where Pillow loads the pixels to find an eXIf chunk placed after them: there a damaged image must
    fail in ``load`` here, not inside the metadata reader that tolerates errors.
    """
    if im.format == "RAW":  # already upright (engine.images.raw)
        return 1, im.info.get("taken_at"), True
    early = im.format != "PNG"
    meta = _metadata(im) if early else None
    if draft is not None and im.format in _DRAFT_FORMATS:
        im.draft("RGB", draft)
    im.load()
    return meta if meta is not None else _metadata(im)


def _frame_count(im: Image.Image) -> int:
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except Exception:  # a damaged later frame must not fail the first one
        return 1


# --- pixels ---------------------------------------------------------------------------------------------------------


def _rgb_or_rgba(im: Image.Image) -> Image.Image:
    """The image as RGB, or RGBA when it carries transparency (flattened after resizing)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(im)), "L").convert("RGB")
    if mode in ("RGBA", "LA", "La", "PA", "RGBa") or im.has_transparency_data:
        return im if mode == "RGBA" else im.convert("RGBA")
    try:
        return im.convert("RGB")  # L, 1, P, CMYK (Adobe inversion handled by the JPEG plugin), YCbCr, RGBX, HSV
    except ValueError:
        raise DecodeError("unsupported", f"colour mode {mode} is not supported") from None


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """High bit depth greyscale to 8 bits: 16-bit data keeps its full scale; other ranges are stretched."""
    if a.dtype.kind == "u" and a.dtype.itemsize == 2:
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    is_float = a.dtype.kind == "f"
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if is_float and 0.0 <= lo and hi <= 1.0:
        scaled = a * 255.0  # float images in [0, 1]
    elif 0.0 <= lo and hi <= 255.0:
        scaled = a
    elif 0.0 <= lo and hi <= 65535.0:
        scaled = a / 257.0  # 16-bit data held in a 32-bit mode
    else:
        scaled = (a - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _flatten(im: Image.Image) -> Image.Image:
    """RGBA over white, as RGB."""
    if im.mode != "RGBA":
        return im
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, im).convert("RGB")


def _square(im: Image.Image, size: int) -> Image.Image:
    """Short side to ``size`` and centre crop in one resampling step.

    Cropping in source coordinates first means a 30000x200 panorama or a 1x1 image never builds a huge
    intermediate image.
    """
    w, h = im.size
    s = min(w, h)
    box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
    out = im.resize((size, size), RESAMPLE, box=box, reducing_gap=REDUCING_GAP)
    return _flatten(out)
