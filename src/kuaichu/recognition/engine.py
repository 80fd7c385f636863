"""The OCR engine: RapidOCR (PP-OCR models shipped inside the `rapidocr` wheel, run by
onnxruntime on the CPU; nothing is downloaded and no picture leaves the server).

The model loads once per process, on first use, and is shared; onnxruntime sessions are
safe to call from several threads, the lock only guards the loading. Every call is blocking
CPU work: callers run it off the event loop (kuaichu.recognition.service's worker pool).
"""

import io
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from kuaichu.errors import InvalidInput
from kuaichu.messages import Text
from kuaichu.recognition.plates import PlateColour

# A video frame or a phone photo is well under this; a larger picture is refused, not decoded
# (a decompression bomb would otherwise take the worker's memory).
MAX_PIXELS = 40_000_000
# Larger stills are scaled down to this long a side before anything else.
MAX_SIDE = 1600
# The text detector scales a picture's short side to this: a video still's own size (upscaling
# a 480-line frame to the default 736 tripled the time and read no better, bench/ocr.py).
DETECTOR_SIDE = 480
# No direction classifier: it only turns text read upside down, and a still of a plate or a
# licence held up to the camera is never upside down (it cost a third of each still's time).
PARAMS = {
    "Global.log_level": "error",
    "Global.max_side_len": MAX_SIDE,
    "Global.use_cls": False,
    "Det.limit_side_len": DETECTOR_SIDE,
}

_engine: Any = None
_loading = threading.Lock()


@dataclass(frozen=True)
class TextLine:
    text: str
    score: float
    # The line's box: four (x, y) corners, clockwise from the top left.
    box: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class OcrResult:
    lines: list[TextLine]
    # Each line's ground colour (kuaichu.recognition.plates.PlateColour), None when unclear.
    colours: list[str | None]


def engine() -> Any:
    """The process's one RapidOCR instance, loaded on first use."""
    global _engine
    if _engine is None:
        with _loading:
            if _engine is None:
                from rapidocr import RapidOCR  # the import itself loads onnxruntime: only when needed

                _engine = RapidOCR(params=PARAMS)
    return _engine


def decode(data: bytes) -> np.ndarray:
    """The picture as RGB pixels; a file that is no picture, or too large a one, is refused."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InvalidInput(Text("Recognition.too_large", pixels=MAX_PIXELS // 1_000_000))
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise InvalidInput(Text("Recognition.not_an_image")) from None


def read(pixels: np.ndarray) -> OcrResult:
    """The lines of text the picture shows, each with the colour of the ground it is printed on."""
    result = engine()(pixels)
    if result.txts is None:
        return OcrResult([], [])
    lines = [
        TextLine(text, float(score), tuple((float(x), float(y)) for x, y in box))
        for text, score, box in zip(result.txts, result.scores, result.boxes, strict=True)
    ]
    return OcrResult(lines, [ground_colour(pixels, line.box) for line in lines])


def ground_colour(pixels: np.ndarray, box: tuple[tuple[float, float], ...]) -> str | None:
    """A plate's colour from the pixels of its text box: the characters are thin, the ground
    fills most of the box, so the box's median hue and saturation are the plate's."""
    xs = [int(x) for x, _ in box]
    ys = [int(y) for _, y in box]
    crop = pixels[max(min(ys), 0) : max(ys), max(min(xs), 0) : max(xs)]
    if crop.size == 0:
        return None
    hsv = np.asarray(Image.fromarray(crop).convert("HSV")).reshape(-1, 3)
    hue, saturation, value = (float(np.median(hsv[:, i])) for i in range(3))
    if saturation < 60:
        return PlateColour.WHITE if value > 150 else None
    # PIL's hue runs 0-255 around the circle: yellow about 30-45, green 60-110, blue 140-180.
    if 20 <= hue < 55:
        return PlateColour.YELLOW
    if 55 <= hue < 120:
        return PlateColour.GREEN
    if 120 <= hue < 190:
        return PlateColour.BLUE
    return None
