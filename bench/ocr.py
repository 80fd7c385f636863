"""OCR of plate stills: exact-match accuracy on generated plates, and the time per still.

    .venv/bin/python bench/ocr.py --plates 200

Renders the plates (tests/plate_images.py: every format the operator records, every province
in turn, the CJK font on each format's colours, framed as a 640×480 still), reads the clean half
as rendered and the other half blurred, tilted, noised and JPEG-compressed, and prints:
- exact-match accuracy of the plate number (and of the inferred plate type) on each half;
- the same for `--licences` driving-licence stills (the 18-character 证号);
- the time per still, and its ratio to decoding the same JPEG alone (the work every still
  costs anyway), both measured in this run.
"""

import argparse
import io
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from PIL import Image
from plate_images import (
    FORMATS,
    degrade,
    jpeg,
    licence_number,
    licence_still,
    plate_image,
    plate_number,
    still,
)

from kuaichu.cases.identifiers import PROVINCES
from kuaichu.recognition import engine
from kuaichu.recognition.service import read_still


def samples(count: int, seed: int) -> list[tuple[str, object, bytes, bool]]:
    """`count` stills: formats and provinces in turn, every other one degraded."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        plate_format = FORMATS[index // 2 % len(FORMATS)]
        province = PROVINCES[index // 2 % len(PROVINCES)] if index % 4 < 2 else rng.choice(PROVINCES)
        number = plate_number(plate_format, province, rng)
        frame = still(plate_image(number, plate_format), rng)
        degraded = index % 2 == 1
        data = jpeg(degrade(frame, rng)) if degraded else jpeg(frame)
        out.append((number, plate_format, data, degraded))
    return out


def licences(count: int, seed: int) -> list[tuple[str, bytes, bool]]:
    """`count` driving-licence stills, every other one degraded like the plates."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        number = licence_number(rng)
        data = licence_still(number)
        degraded = index % 2 == 1
        if degraded:
            data = jpeg(degrade(Image.open(io.BytesIO(data)).convert("RGB"), rng))
        out.append((number, data, degraded))
    return out


def read_licences(count: int, seed: int, show_misses: bool) -> None:
    right = Counter()
    total = Counter()
    for number, data, degraded in licences(count, seed):
        half = "degraded" if degraded else "clean"
        reading = read_still(data, "driving_licence")
        total[half] += 1
        right[half] += reading.licence_number == number
        if reading.licence_number != number and show_misses:
            print(f"miss licence {half:8} {number} -> {reading.licence_number} ({reading.raw_text})")
    for half in ("clean", "degraded"):
        print(
            f"licence {half:8}: {right[half]}/{total[half]} exact ({right[half] / max(total[half], 1):.1%})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plates", type=int, default=200)
    parser.add_argument("--licences", type=int, default=20)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    stills = samples(args.plates, args.seed)
    engine.engine()  # loading the model once is not a still's cost
    right = Counter()
    typed = Counter()
    total = Counter()
    ocr_seconds = decode_seconds = 0.0
    for number, plate_format, data, degraded in stills:
        half = "degraded" if degraded else "clean"
        started = time.perf_counter()
        engine.decode(data)
        decode_seconds += time.perf_counter() - started
        started = time.perf_counter()
        reading = read_still(data, "plate")
        ocr_seconds += time.perf_counter() - started
        total[half] += 1
        got = reading.plate_number
        right[half] += got == number
        typed[half] += got == number and reading.plate_type == plate_format.plate_type
        if got != number and args.show_misses:
            print(f"miss {half:8} {plate_format.name:16} {number} -> {got} ({reading.raw_text})")
    for half in ("clean", "degraded"):
        print(
            f"{half:8}: {right[half]}/{total[half]} exact ({right[half] / total[half]:.1%}),"
            f" type also right {typed[half] / total[half]:.1%}"
        )
    count = len(stills)
    print(
        f"time per still: OCR {ocr_seconds / count * 1000:.0f} ms,"
        f" decoding alone {decode_seconds / count * 1000:.1f} ms,"
        f" ratio {ocr_seconds / decode_seconds:.0f}×"
    )
    read_licences(args.licences, args.seed, args.show_misses)


if __name__ == "__main__":
    main()
