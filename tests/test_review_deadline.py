"""The review period at its edges (art. 71), counted in Shanghai dates with the official calendar."""

from datetime import datetime, timedelta

import pytest

from kuaichu.clock import SHANGHAI
from kuaichu.reviews.deadline import last_day_to_apply, review_deadline


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("delivered", "last_day"),
    [
        # Delivered Monday: the day itself is not counted; Thursday is the last day.
        (shanghai(2026, 11, 23, 15, 0), "2026-11-26"),
        # Delivered Wednesday: the third day is Saturday, so the period runs to Monday.
        (shanghai(2026, 11, 25, 10, 0), "2026-11-30"),
        # Delivered 23:30 Shanghai on Tuesday is still Tuesday there (15:30 UTC).
        (shanghai(2026, 11, 24, 23, 30), "2026-11-27"),
        # National Day: delivered 29 Sept 2026, 2 Oct is a holiday, the period ends on the
        # first working day after the holiday, 8 Oct.
        (shanghai(2026, 9, 29, 9, 0), "2026-10-08"),
        # Saturday 10 Oct 2026 is a make-up working day, so a period ending then is not extended.
        (shanghai(2026, 10, 7, 9, 0), "2026-10-10"),
    ],
)
def test_last_day_to_apply(delivered: datetime, last_day: str) -> None:
    assert last_day_to_apply(delivered).isoformat() == last_day


def test_the_period_ends_at_midnight_shanghai_after_the_last_day() -> None:
    deadline = review_deadline(shanghai(2026, 11, 23, 15, 0))
    assert deadline == shanghai(2026, 11, 27, 0, 0)
    assert deadline.utcoffset() == timedelta(0)
