"""Reading a plate number out of OCR text with the plate grammar (GA 36-2018, 机动车号牌).

Pure functions, no image work: the OCR engine reads characters, this module decides which of
them form a plate and which plate type (GA 24.7 code) its format and colour say.

The grammar: a province's one-character abbreviation, the issuing authority's letter, then
- five letters or digits (ordinary plates: blue 小型汽车, yellow 大型汽车); or four and a
  closing 挂 (trailer), 学 (driving school) or 警 (police);
- six for new-energy plates: a small car's D/F (or A-K) comes right after the authority's
  letter and is followed by a letter or digit and four digits; a large vehicle's D/F closes
  five digits.
Plates never use I or O, so an OCR's I/O is a 1/0, and a position that must be a digit or a
letter turns the usual look-alikes into what it must be.
"""

import re
from dataclasses import dataclass
from itertools import pairwise

from kuaichu.cases.catalogue import PlateType
from kuaichu.cases.identifiers import PROVINCES, id_check_character

LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
DIGITS = "0123456789"
NEW_ENERGY_MARKS = "DABCEFGHJK"  # D pure electric, F other new energy; A-K reserved
CLOSING_CHARACTERS = "挂学警"

# What the OCR says for a character that cannot stand where it stands.
_AS_DIGIT = {
    "O": "0",
    "D": "0",
    "Q": "0",
    "U": "0",
    "I": "1",
    "L": "1",
    "T": "1",
    "J": "1",
    "Z": "2",
    "S": "5",
    "B": "8",
    "G": "6",
    "A": "4",
}
_AS_LETTER = {"0": "D", "1": "T", "2": "Z", "4": "A", "5": "S", "6": "G", "8": "B", "I": "T", "O": "D"}
# Province characters a CJK recogniser confuses with a look-alike.
_PROVINCE_LOOKALIKES = {
    "渐": "浙",
    "淅": "浙",
    "晉": "晋",
    "魯": "鲁",
    "粵": "粤",
    "贛": "赣",
    "蘇": "苏",
    "遼": "辽",
    "閩": "闽",
    "陝": "陕",
    "泸": "沪",
    "甯": "宁",
    "黔": "贵",
    "滇": "云",
}
# Separators and noise that a plate's printing or the OCR adds between characters.
_NOISE = re.compile(r"[\s·•∙・.,，。:：\-_'\"`|()（）\[\]【】]")

_CONVENTIONAL = re.compile(
    rf"^[{PROVINCES}][{LETTERS}]([{LETTERS}{DIGITS}]{{5}}|[{LETTERS}{DIGITS}]{{4}}[{CLOSING_CHARACTERS}])$"
)
_SMALL_NEW_ENERGY = re.compile(rf"^[{PROVINCES}][{LETTERS}][{NEW_ENERGY_MARKS}][{LETTERS}{DIGITS}]\d{{4}}$")
_LARGE_NEW_ENERGY = re.compile(rf"^[{PROVINCES}][{LETTERS}]\d{{5}}[{NEW_ENERGY_MARKS}]$")


class PlateColour:
    """The plate's background, as the still's pixels show it."""

    BLUE = "blue"
    YELLOW = "yellow"
    GREEN = "green"
    WHITE = "white"


@dataclass(frozen=True)
class PlateReading:
    number: str
    # None when neither format nor colour says it (a police plate: not a type quick handling lists).
    plate_type: PlateType | None


def normalise(raw: str) -> str:
    """The OCR's text without separators, upper case, look-alike province characters fixed."""
    text = _NOISE.sub("", raw).upper()
    return "".join(_PROVINCE_LOOKALIKES.get(ch, ch) for ch in text)


def is_plate(candidate: str) -> bool:
    return any(p.match(candidate) for p in (_CONVENTIONAL, _SMALL_NEW_ENERGY, _LARGE_NEW_ENERGY))


def plate_type_of(number: str, colour: str | None = None) -> PlateType | None:
    """The GA 24.7 type a valid plate's format says; the colour tells a blue small car from a
    yellow large vehicle, which share one format (blue when the colour is unknown: the most common)."""
    if _SMALL_NEW_ENERGY.match(number):
        return PlateType.SMALL_NEW_ENERGY
    if _LARGE_NEW_ENERGY.match(number):
        return PlateType.LARGE_NEW_ENERGY
    closing = number[-1]
    if closing == "挂":
        return PlateType.TRAILER
    if closing == "学":
        return PlateType.DRIVING_SCHOOL
    if closing == "警":
        return None
    return PlateType.LARGE if colour == PlateColour.YELLOW else PlateType.SMALL


def _fit(ch: str, slot: str) -> str | None:
    """What the character at a layout's slot really is: itself when it fits, else its look-alike."""
    fits = {"P": PROVINCES, "L": LETTERS, "D": DIGITS, "N": NEW_ENERGY_MARKS, "C": CLOSING_CHARACTERS}
    allowed = fits.get(slot, LETTERS + DIGITS)
    if ch in allowed:
        return ch
    if slot in "PC":
        return None
    lookalike = {"D": _AS_DIGIT, "X": {"O": "0", "I": "1"}}.get(slot, _AS_LETTER).get(ch)
    return lookalike if lookalike and lookalike in allowed else None


def _repair(candidate: str, layout: str) -> tuple[str, int] | None:
    """The candidate fitted to one layout (P province, L letter, D digit, X either, N new-energy
    mark, C closing character) and how many characters had to change; None when one cannot fit."""
    fitted = [_fit(ch, slot) for ch, slot in zip(candidate, layout, strict=True)]
    if None in fitted:
        return None
    text = "".join(fitted)  # type: ignore[arg-type]
    return text, sum(a != b for a, b in zip(text, candidate, strict=True))


# The layouts, most specific first: a new-energy plate's eighth character settles it.
_LAYOUTS = ("PLNXDDDD", "PLDDDDDN", "PLXXXXC", "PLXXXXX")


def _candidates(text: str) -> list[tuple[str, int]]:
    """Every stretch of the text that starts at a province character and fits a layout, with
    the number of characters fitting it changed."""
    found = []
    for start, ch in enumerate(text):
        if ch not in PROVINCES:
            continue
        for layout in _LAYOUTS:
            stretch = text[start : start + len(layout)]
            # A plate runs to the end of its characters: 7 of 8 are no plate.
            cut_short = text[start + len(layout) : start + len(layout) + 1] in set(LETTERS + DIGITS + "OI")
            repaired = _repair(stretch, layout) if len(stretch) == len(layout) and not cut_short else None
            if repaired and is_plate(repaired[0]):
                found.append(repaired)
    return found


def read_plate(lines: list[str], colours: list[str | None] | None = None) -> PlateReading | None:
    """The plate the OCR's lines show (`colours`: each line's ground): each line alone, then
    consecutive lines joined (a two-row plate reads as two lines). The reading that changed
    fewest characters wins, then the longer (an 8-character new-energy plate over the 7 it
    starts with)."""
    texts = [normalise(line) for line in lines]
    grounds = colours or [None] * len(texts)
    single = [(text, grounds[i]) for i, text in enumerate(texts)]
    joined = [(a + b, grounds[i]) for i, (a, b) in enumerate(pairwise(texts))]
    for group in (single, joined):
        found = [(number, changed, ground) for text, ground in group for number, changed in _candidates(text)]
        if found:
            number, _, ground = min(found, key=lambda f: (f[1], -len(f[0])))
            return PlateReading(number, plate_type_of(number, ground))
    return None


_ID_LAYOUT = "D" * 17
_ID_CHECK = DIGITS + "X"


def read_licence_number(lines: list[str]) -> str | None:
    """A driving licence's 证号 (the holder's citizen ID number, GB 11643): 17 digits and a check
    character that must agree with them, so a misread digit is caught rather than suggested."""
    text = "".join(normalise(line) for line in lines)
    for start in range(len(text) - 17):
        digits = _repair(text[start : start + 17], _ID_LAYOUT)
        check = "X" if text[start + 17] == "×" else text[start + 17]
        if digits and check in _ID_CHECK and id_check_character(digits[0]) == check:
            return digits[0] + check
    return None
