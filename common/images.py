"""Open an image file for a lesson, with one-line errors instead of tracebacks.

PIL opens files lazily (``Image.open`` reads only the header, a truncated file fails later, inside a transform):
``open_image`` decodes up front. The course meets modes with dog.png: RGBA (4 channels), palette ("P") or gray
("L") become the 3 channels the model wants with ``.convert("RGB")``. Beyond the course, what phones make: a
photo stored sideways with an EXIF Orientation tag is turned upright, a 16-bit picture is scaled to 8 bits (not
clipped to white), and HEIC (iPhone) is read when pillow-heif is installed.
"""

import functools
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import paths
from .beyond_course.lang import _
from .errors import LessonError

# What counts as a picture when a lesson lists a folder (a stray .DS_Store or Thumbs.db is not)
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
HEIC_EXTENSIONS = (".heic", ".heif")  # iPhone photos: PIL reads them only with pillow-heif
HEIC_HOW = "pip install pillow-heif"


@functools.cache
def heic_reader():
    """True if HEIC photos can be read here: pillow-heif is installed (then registered with PIL)."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def open_image(path, mode="RGB", max_side=None, flag="--image"):
    """Return ``PIL.Image`` converted to ``mode`` (None keeps the file's mode).

    ``max_side`` lets JPEG decoding shrink a huge photo while reading it
    (``Image.draft``), which is much faster than decoding it at full size; the
    size of the file itself stays in ``img.info["full_size"]``.
    """
    path = os.fspath(paths.existing_file(path, flag, "image"))
    if path.lower().endswith(HEIC_EXTENSIONS) and not heic_reader():
        msg = _("{path} is a HEIC photo (iPhone): reading it needs pillow-heif; {how}")
        raise LessonError(msg.format(path=path, how=HEIC_HOW))
    try:
        with warnings.catch_warnings():
            # a big photo (> ~89 megapixels) only warns; we decode it anyway (shrunk, if JPEG)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
            full_size, fmt = img.size, img.format
            if max_side:
                img.draft("RGB", (max_side, max_side))
            img.load()  # decode now: truncated/corrupt files fail here, not later
            # a phone stores a portrait photo sideways plus an EXIF tag saying how to turn it: turn it
            img = ImageOps.exif_transpose(img, in_place=False) if img.getexif().get(0x0112, 1) != 1 else img
    except UnidentifiedImageError:
        msg = _("{path} is not an image PIL can read (is it really a .png/.jpg?)")
        raise LessonError(msg.format(path=path)) from None
    except Image.DecompressionBombError:
        msg = _("{path} is too large to open safely (over {pixels:,} pixels); shrink it with any image editor first")
        raise LessonError(msg.format(path=path, pixels=2 * Image.MAX_IMAGE_PIXELS)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise LessonError(_("{path} is damaged or truncated ({problem})").format(path=path, problem=exc)) from None
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):  # 16-bit gray, 0..65535: convert() would clip
        img = Image.fromarray(np.clip(np.asarray(img, dtype=np.float64) / 257, 0, 255).round().astype(np.uint8))
    img.info["full_size"] = full_size
    img.format = fmt  # kept for the lines that say what the file is (a turned or scaled copy has none)
    if mode and img.mode != mode:
        img = img.convert(mode)  # RGBA/P/L -> RGB: drop alpha, expand palette/gray to 3 channels
    return img


def has_transparency(img):
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def on_white(img):
    """An image with transparent parts as an image viewer shows them: over a white background, RGB."""
    rgba = img.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")
