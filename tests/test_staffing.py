import pytest

from kuaichu.supervision.staffing import erlang_c, operators_needed, staffing


def test_the_standard_erlang_c_test_vector() -> None:
    """100 calls per 30 minutes, 180 s handling, 14 operators."""
    result = staffing(operators=14, calls_per_hour=200, handling_seconds=180, target_seconds=20)
    assert result.traffic_erlangs == pytest.approx(10.0)
    assert result.probability_of_waiting == pytest.approx(0.1741, abs=5e-5)
    assert result.service_level == pytest.approx(0.8884, abs=5e-5)
    assert result.average_speed_of_answer == pytest.approx(7.84, abs=5e-3)


def test_the_fewest_operators_for_the_target() -> None:
    needed = operators_needed(
        calls_per_hour=200, handling_seconds=180, target_seconds=20, target_service_level=0.8
    )
    assert needed.operators == 14
    assert staffing(13, 200, 180, 20).service_level < 0.8 <= needed.service_level


def test_too_few_operators_means_everyone_waits() -> None:
    assert erlang_c(10, 10.0) == 1.0
    assert staffing(9, 200, 180, 20).service_level == 0.0


def test_no_calls_needs_one_operator_on_duty() -> None:
    assert operators_needed(0, 300, 30, 0.9).operators == 1
