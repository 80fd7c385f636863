import pytest

from kuaichu.cases.identifiers import (
    id_check_character,
    validate_id_number,
    validate_phone,
    validate_plate,
)


def test_the_gb11643_check_character_of_the_standard_example() -> None:
    assert id_check_character("11010519491231002") == "X"
    assert validate_id_number("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("110105194912310021", "校验位"),
        ("11010519491331002X", "出生日期"),
        ("1101051949123100", "18位"),
    ],
)
def test_wrong_id_numbers_are_refused_with_a_reason(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_id_number(value)


@pytest.mark.parametrize(
    ("plate", "plate_type"),
    [("浙A12345", "02"), ("沪B8G2K3", "02"), ("浙AD12345", "52"), ("粤B12345F", "51"), ("京A1234学", "16")],
)
def test_real_looking_plates_are_accepted(plate: str, plate_type: str) -> None:
    assert validate_plate(plate.lower(), plate_type) == plate


@pytest.mark.parametrize(
    ("plate", "plate_type"),
    [("浙AI2345", "02"), ("A123456", "02"), ("浙A12345", "52"), ("浙AD12345", "02"), ("浙A123", "02")],
)
def test_malformed_plates_or_a_plate_of_the_wrong_type_are_refused(plate: str, plate_type: str) -> None:
    with pytest.raises(ValueError):
        validate_plate(plate, plate_type)


def test_phone_numbers_must_be_mainland_mobiles() -> None:
    assert validate_phone(" 13812345678 ") == "13812345678"
    for wrong in ("12812345678", "1381234567", "+8613812345678"):
        with pytest.raises(ValueError):
            validate_phone(wrong)
