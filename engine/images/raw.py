"""Camera RAW files (CR2, CR3, NEF, ARW, DNG, RAF, ORF, RW2, ...) as Pillow images, through LibRaw (``rawpy``).

A RAW file carries the camera's own rendering of the shot as an embedded preview (a JPEG, usually full size or
close to it): that is what the photographer saw, and it is read first, turned upright by the RAW's orientation.
Where there is none, or it is too small to search by, the sensor data is demosaiced at half size with the camera's
white balance. Either way the result is an upright RGB image whose ``format`` is ``"RAW"``.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from engine.errors import DecodeError
from engine.images.exif import taken_at

__all__ = ["open_raw", "MIN_PREVIEW"]

MIN_PREVIEW = 448  # an embedded preview whose short side is below this is too small: demosaic instead
_FLIP = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}
_MISSING = "camera RAW support is not installed (rawpy)"


def open_raw(path: str | bytes | os.PathLike, max_pixels: int) -> Image.Image:
    """The photo in a RAW file, upright, as an RGB image: ``format`` "RAW", ``info["taken_at"]`` when known and
    ``info["full_size"]``, the upright size of the whole sensor image (the preview or half-size demosaic is smaller)."""
    try:
        import rawpy
    except ImportError:
        raise DecodeError("unsupported", _MISSING) from None
    try:
        with rawpy.imread(os.fsdecode(path)) as raw:
            sizes = raw.sizes
            if sizes.width * sizes.height > max_pixels:
                raise DecodeError("too_large", f"image too large to decode safely: {sizes.width}x{sizes.height} = "
                                               f"{sizes.width * sizes.height:,} pixels (limit {max_pixels:,})")
            full = (sizes.height, sizes.width) if sizes.flip in (5, 6) else (sizes.width, sizes.height)
            im, when = _preview(raw, rawpy)
            if im is None:
                im = Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8))
            elif sizes.flip in _FLIP:
                im = im.transpose(_FLIP[sizes.flip])
    except DecodeError:
        raise
    except rawpy.LibRawFileUnsupportedError:
        raise DecodeError("not_image", "not a camera RAW file LibRaw can read") from None
    except (rawpy.LibRawIOError, rawpy.LibRawDataError, rawpy.LibRawTooBigError) as exc:
        raise DecodeError("corrupt", f"RAW data is damaged ({type(exc).__name__})") from None
    except MemoryError:
        raise DecodeError("too_large", "not enough memory to decode this image") from None
    except Exception as exc:  # LibRaw's other errors, and whatever a hostile file makes it raise
        raise DecodeError("corrupt", f"RAW file cannot be read ({type(exc).__name__})") from None
    out = Image.fromarray(np.asarray(im.convert("RGB")))  # plain pixels: no EXIF left to turn them twice
    out.format = "RAW"
    out.info["taken_at"] = when
    out.info["full_size"] = full
    return out


def _preview(raw, rawpy) -> tuple[Image.Image | None, str | None]:
    """The embedded preview when it is large enough, with the capture time its EXIF gives."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None, None
    except Exception:  # a damaged preview: the sensor data may still be fine
        return None, None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            im = Image.open(io.BytesIO(thumb.data), formats=("JPEG",))
            im.load()
            when = taken_at(im)
        else:
            im, when = Image.fromarray(np.asarray(thumb.data, dtype=np.uint8)), None
    except Exception:
        return None, None
    return (im, when) if min(im.size) >= MIN_PREVIEW else (None, None)
