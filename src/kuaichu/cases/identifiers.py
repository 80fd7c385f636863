"""Validation of the identifiers a party gives: phone, ID number, licence, plate.

Hand-written because no maintained library covers Chinese plates and the GB 11643 check
is a dozen lines; each function returns the normalised value or raises ValueError with
a catalogue Text (`Identifiers.*`), said in the reader's language when the request is answered.
"""

import re
from datetime import date

from kuaichu.cases.catalogue import NEW_ENERGY_PLATE_TYPES, PlateType
from kuaichu.messages import Text

PHONE = re.compile(r"^1[3-9]\d{9}$")

# GB 11643-1999: 17 weighted digits and a check character.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Z"  # I and O are never used on plates
_CONVENTIONAL_PLATE = re.compile(rf"^[{PROVINCES}][{_LETTER}][{_LETTER}0-9]{{4}}[{_LETTER}0-9挂学警]$")
# New-energy plates (GA 36-2018): small cars D/F(+A-K) first, large vehicles D/F last.
_NEW_ENERGY_PLATE = re.compile(
    rf"^[{PROVINCES}][{_LETTER}]([DABCEFGHJK][{_LETTER}0-9]\d{{4}}|\d{{5}}[DABCEFGHJK])$"
)


def id_check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def validate_phone(value: str) -> str:
    value = value.strip()
    if not PHONE.match(value):
        raise ValueError(Text("Identifiers.phone_format"))
    return value


def validate_id_number(value: str) -> str:
    value = value.strip().upper()
    if not _ID_SHAPE.match(value):
        raise ValueError(Text("Identifiers.id_number_length"))
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError(Text("Identifiers.id_number_birth_date")) from None
    if id_check_character(value[:17]) != value[17]:
        raise ValueError(Text("Identifiers.id_number_check"))
    return value


def validate_licence_number(value: str) -> str:
    """A mainland driving licence number is the holder's citizen ID number."""
    try:
        return validate_id_number(value)
    except ValueError as error:
        raise ValueError(Text("Identifiers.licence_number", error=error.args[0])) from None


def is_new_energy_plate(plate: str) -> bool:
    return bool(_NEW_ENERGY_PLATE.match(plate))


def validate_plate(plate_number: str, plate_type: str) -> str:
    """The plate must read like a real one and agree with its type (GA 24.7 codes)."""
    plate = plate_number.strip().upper()
    try:
        kind = PlateType(plate_type)
    except ValueError:
        raise ValueError(Text("Identifiers.plate_type_unknown")) from None
    if kind in NEW_ENERGY_PLATE_TYPES:
        if not is_new_energy_plate(plate):
            raise ValueError(Text("Identifiers.new_energy_plate_format"))
    elif not _CONVENTIONAL_PLATE.match(plate):
        raise ValueError(Text("Identifiers.plate_format"))
    return plate
