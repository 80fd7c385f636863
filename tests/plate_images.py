"""Rendered plate and driving-licence stills for the OCR tests and bench/ocr.py: every plate
format on its own colours (GA 36-2018), in the CJK font, framed like a video still of a car's
back, optionally degraded the way a phone's video degrades it (blur, tilt, noise, JPEG)."""

import io
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from kuaichu.cases.catalogue import PlateType
from kuaichu.cases.identifiers import id_check_character
from kuaichu.recognition.plates import LETTERS

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
BLUE = (18, 62, 176)
YELLOW = (250, 196, 20)
WHITE = (240, 240, 240)
GREEN = (60, 180, 90)
LIGHT_GREEN = (225, 245, 225)
BLACK = (15, 15, 15)
RED = (200, 20, 20)


@dataclass(frozen=True)
class PlateFormat:
    name: str
    plate_type: PlateType | None
    ground: tuple[int, int, int]
    ink: tuple[int, int, int]
    two_rows: bool = False


FORMATS = (
    PlateFormat("small", PlateType.SMALL, BLUE, WHITE),
    PlateFormat("large", PlateType.LARGE, YELLOW, BLACK),
    PlateFormat("trailer", PlateType.TRAILER, YELLOW, BLACK),
    PlateFormat("driving_school", PlateType.DRIVING_SCHOOL, YELLOW, BLACK),
    PlateFormat("small_new_energy", PlateType.SMALL_NEW_ENERGY, GREEN, BLACK),
    PlateFormat("large_new_energy", PlateType.LARGE_NEW_ENERGY, GREEN, BLACK),
    PlateFormat("motorcycle", PlateType.MOTORCYCLE, YELLOW, BLACK, two_rows=True),
    PlateFormat("police", None, WHITE, BLACK),
)


def plate_number(plate_format: PlateFormat, province: str, rng: random.Random) -> str:
    """A random plate of the format: at most two letters among the five (GA 36-2018)."""
    authority = rng.choice(LETTERS)
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if plate_format.name == "small_new_energy":
        return f"{province}{authority}{rng.choice('DF')}{rng.choice(LETTERS + '0123456789')}{digits(4)}"
    if plate_format.name == "large_new_energy":
        return f"{province}{authority}{digits(5)}{rng.choice('DF')}"
    closing = {"trailer": "挂", "driving_school": "学", "police": "警"}.get(plate_format.name)
    body = list(digits(4 if closing else 5))
    for index in rng.sample(range(len(body)), rng.choice((0, 0, 1, 2))):
        body[index] = rng.choice(LETTERS)
    return f"{province}{authority}{''.join(body)}{closing or ''}"


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT, size)


def plate_image(number: str, plate_format: PlateFormat) -> Image.Image:
    """The plate itself: its ground, a frame line, the characters with the dot after the
    authority's letter (two rows for a motorcycle: province and letter above)."""
    if plate_format.two_rows:
        image = Image.new("RGB", (220, 140), plate_format.ground)
        draw = ImageDraw.Draw(image)
        draw.rectangle((3, 3, 216, 136), outline=plate_format.ink, width=2)
        draw.text((110, 30), number[:2], font=_font(38), fill=plate_format.ink, anchor="mm")
        draw.text((110, 95), number[2:], font=_font(60), fill=plate_format.ink, anchor="mm")
        return image
    width = 480 if len(number) == 8 else 440
    image = Image.new("RGB", (width, 140), plate_format.ground)
    draw = ImageDraw.Draw(image)
    if plate_format.name.endswith("new_energy"):
        # New-energy plates fade from light at the top (small cars) to the green below.
        for y in range(140):
            share = y / 139 if plate_format.name == "small_new_energy" else 0.6 + 0.4 * y / 139
            colour = tuple(int(a + (b - a) * share) for a, b in zip(LIGHT_GREEN, GREEN, strict=True))
            draw.line((0, y, width, y), fill=colour)
    draw.rectangle((4, 4, width - 5, 135), outline=plate_format.ink, width=3)
    text = f"{number[:2]}·{number[2:]}"
    ink = plate_format.ink
    if number.endswith("警"):
        draw.text((width // 2 - 25, 70), text[:-1], font=_font(78), fill=ink, anchor="mm")
        draw.text((width - 45, 70), "警", font=_font(78), fill=RED, anchor="mm")
    else:
        draw.text((width // 2, 70), text, font=_font(78 if len(number) == 7 else 74), fill=ink, anchor="mm")
    return image


def still(plate: Image.Image, rng: random.Random) -> Image.Image:
    """A 640×480 frame: the plate on a car's bumper, at the size a still of a plate gives."""
    body = rng.choice(((200, 200, 205), (40, 40, 45), (150, 20, 25), (230, 230, 230), (70, 90, 120)))
    frame = Image.new("RGB", (640, 480), body)
    draw = ImageDraw.Draw(frame)
    draw.rectangle((0, 380, 640, 480), fill=(70, 70, 72))  # the road under the bumper
    scale = rng.uniform(0.8, 1.2)
    plate = plate.resize((int(plate.width * scale), int(plate.height * scale)))
    x = rng.randint(10, 630 - plate.width)
    y = rng.randint(60, 370 - plate.height)
    frame.paste(plate, (x, y))
    return frame


def degrade(image: Image.Image, rng: random.Random) -> Image.Image:
    """What a phone's video does to a still: fewer pixels on the plate (from further away),
    out of focus, tilted, grainy, compressed."""
    share = rng.uniform(0.6, 0.85)
    small = image.resize((int(image.width * share), int(image.height * share)), Image.BILINEAR)
    image = small.resize(image.size, Image.BILINEAR)
    tilted = image.rotate(rng.uniform(-8, 8), resample=Image.BICUBIC, expand=False, fillcolor=(90, 90, 90))
    blurred = tilted.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 1.8)))
    noise = Image.effect_noise(blurred.size, rng.uniform(18, 30)).convert("RGB")
    grainy = Image.blend(blurred, noise, 0.12)
    return Image.open(io.BytesIO(jpeg(grainy, quality=rng.randint(45, 70))))


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def plate_still(number: str, plate_format: PlateFormat, seed: int = 0) -> bytes:
    """A clean still of one plate as JPEG bytes."""
    return jpeg(still(plate_image(number, plate_format), random.Random(seed)))


def licence_number(rng: random.Random) -> str:
    """A citizen ID number with a valid check character (the driving licence's 证号)."""
    born = f"{rng.randint(1960, 2002)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = f"330106{born}{rng.randint(0, 999):03d}"
    return first17 + id_check_character(first17)


def licence_still(number: str, name: str = "张伟") -> bytes:
    """A driving licence's front (中华人民共和国机动车驾驶证) as a still: its lines of text."""
    card = Image.new("RGB", (640, 420), (236, 232, 220))
    draw = ImageDraw.Draw(card)
    draw.text((320, 40), "中华人民共和国机动车驾驶证", font=_font(30), fill=BLACK, anchor="mm")
    draw.text((40, 100), f"证号 {number}", font=_font(32), fill=BLACK)
    draw.text((40, 160), f"姓名 {name}", font=_font(28), fill=BLACK)
    draw.text((40, 210), "准驾车型 C1", font=_font(28), fill=BLACK)
    draw.text((40, 260), "有效期限 2020-01-01 至 2030-01-01", font=_font(28), fill=BLACK)
    return jpeg(card)
