"""A still's perceptual hash (imagehash's pHash on Pillow): the same picture gives (nearly) the
same 64 bits after re-encoding, resizing or a slight change of brightness."""

from typing import BinaryIO

import imagehash
from PIL import Image, UnidentifiedImageError

# pHash reads a 32x32 grey copy: a JPEG is decoded at a fraction of its size (draft mode).
DRAFT_SIZE = (128, 128)


def perceptual_hash(file: BinaryIO) -> str | None:
    """16 hex digits, or None for what is no picture or a flat one (a blank frame carries no
    likeness worth matching: every blank frame hashes alike)."""
    file.seek(0)
    try:
        with Image.open(file) as image:
            image.draft("L", DRAFT_SIZE)
            value = str(imagehash.phash(image.convert("L")))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    bits = int(value, 16).bit_count()
    return None if bits in (0, 64) else value
