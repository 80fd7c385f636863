"""The plate grammar that turns OCR text into a plate number and its type (GA 36-2018, GA 24.7)."""

import numpy as np
import pytest
from plate_images import FORMATS, plate_image

from kuaichu.cases.catalogue import PlateType
from kuaichu.cases.identifiers import validate_plate
from kuaichu.recognition.engine import ground_colour
from kuaichu.recognition.plates import PlateColour, PlateReading, normalise, read_licence_number, read_plate


@pytest.mark.parametrize(
    ("lines", "colours", "expected"),
    [
        (["浙A·12345"], [PlateColour.BLUE], PlateReading("浙A12345", PlateType.SMALL)),
        (["鲁B·3X27C"], [PlateColour.YELLOW], PlateReading("鲁B3X27C", PlateType.LARGE)),
        (["苏E·1234挂"], [PlateColour.YELLOW], PlateReading("苏E1234挂", PlateType.TRAILER)),
        (["沪A·5678学"], [PlateColour.YELLOW], PlateReading("沪A5678学", PlateType.DRIVING_SCHOOL)),
        (["粤B·D12345"], [PlateColour.GREEN], PlateReading("粤BD12345", PlateType.SMALL_NEW_ENERGY)),
        (["京A·FA1234"], [PlateColour.GREEN], PlateReading("京AFA1234", PlateType.SMALL_NEW_ENERGY)),
        (["川A·12345D"], [PlateColour.GREEN], PlateReading("川A12345D", PlateType.LARGE_NEW_ENERGY)),
        (["京A·0123警"], [PlateColour.WHITE], PlateReading("京A0123警", None)),
    ],
)
def test_each_format_reads_with_the_type_it_says(
    lines: list[str], colours: list[str], expected: PlateReading
) -> None:
    reading = read_plate(lines, colours)
    assert reading == expected
    if reading.plate_type:
        assert validate_plate(reading.number, reading.plate_type) == reading.number


def test_a_blue_or_unknown_ground_is_a_small_car_and_yellow_a_large_vehicle() -> None:
    assert read_plate(["浙A12345"]).plate_type is PlateType.SMALL
    assert read_plate(["浙A12345"], [PlateColour.YELLOW]).plate_type is PlateType.LARGE


def test_a_two_row_plate_reads_as_its_two_lines_joined() -> None:
    assert read_plate(["浙A", "12345"]).number == "浙A12345"


@pytest.mark.parametrize(
    ("ocr", "plate"),
    [
        ("浙A·1234O", "浙A12340"),  # plates have no O: it is a zero
        ("浙A·I2345", "浙A12345"),  # nor I: a one
        ("浙0·12345", "浙D12345"),  # the authority's place holds a letter
        ("粤B·DI2345", "粤BD12345"),  # a new-energy plate's last four are digits
        ("粤B·0S2345", "粤BDS2345"),  # its third place is the D/F mark
        ("京A12345O", "京A12345D"),  # eight characters: a large new-energy plate's closing D
        ("渐A 12345", "浙A12345"),  # a look-alike province character
        ("浙 A · 1 2 3 4 5", "浙A12345"),  # spaces and the dot are no characters
    ],
)
def test_look_alikes_become_what_their_place_must_hold(ocr: str, plate: str) -> None:
    assert read_plate([ocr]).number == plate


def test_the_reading_that_changes_fewest_characters_wins() -> None:
    # 琼N88579D fits the large new-energy layout as read; the small one would change two characters.
    assert read_plate(["琼N·88579D"]).number == "琼N88579D"


def test_the_plate_is_found_among_other_text() -> None:
    assert read_plate(["停车场", "出口", "浙A·8B8C9", "2026-11-26"]).number == "浙A8B8C9"


@pytest.mark.parametrize("lines", [[], ["没有号牌"], ["A12345"], ["浙12345"], ["浙AB"], ["X浙"]])
def test_text_that_is_no_plate_reads_as_nothing(lines: list[str]) -> None:
    assert read_plate(lines) is None


def test_normalise_drops_separators_and_upper_cases() -> None:
    assert normalise(" 浙a·12-345 ") == "浙A12345"


def test_a_licence_number_must_carry_its_check_character() -> None:
    assert (
        read_licence_number(["中华人民共和国机动车驾驶证", "证号 11010519491231002X"]) == "11010519491231002X"
    )
    assert read_licence_number(["证号 110105I9491231002X"]) == "11010519491231002X"  # I is a 1
    assert read_licence_number(["证号 110105194912310021"]) is None  # the check character disagrees
    assert read_licence_number(["姓名 张伟"]) is None


@pytest.mark.parametrize(
    ("name", "colour"),
    [
        ("small", PlateColour.BLUE),
        ("large", PlateColour.YELLOW),
        ("small_new_energy", PlateColour.GREEN),
        ("large_new_energy", PlateColour.GREEN),
        ("police", PlateColour.WHITE),
    ],
)
def test_the_ground_colour_is_read_off_the_text_box(name: str, colour: str) -> None:
    plate_format = next(f for f in FORMATS if f.name == name)
    image = plate_image("京A12345" if "energy" not in name else "京AD12345", plate_format)
    box = ((10.0, 20.0), (image.width - 10.0, 20.0), (image.width - 10.0, 120.0), (10.0, 120.0))
    assert ground_colour(np.asarray(image), box) == colour
