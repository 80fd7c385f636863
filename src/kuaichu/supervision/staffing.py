"""How many operators a jurisdiction needs: the Erlang C queueing model.

Written here rather than taken from a package: the maintained workforce libraries pull in
data-science stacks for what is a dozen lines, and these are checked against the standard
test vector (tests/test_staffing.py).
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Staffing:
    operators: int
    traffic_erlangs: float
    probability_of_waiting: float
    service_level: float  # share answered within the target time
    average_speed_of_answer: float  # seconds


def erlang_c(operators: int, traffic: float) -> float:
    """Probability that a caller has to wait, for `traffic` Erlangs offered to `operators`."""
    if operators <= traffic:
        return 1.0  # the queue grows without bound
    blocking = 1.0  # Erlang B by its stable recursion, then converted to Erlang C
    for n in range(1, operators + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return operators * blocking / (operators - traffic * (1 - blocking))


def staffing(
    operators: int, calls_per_hour: float, handling_seconds: float, target_seconds: float
) -> Staffing:
    traffic = calls_per_hour / 3600 * handling_seconds
    waiting = erlang_c(operators, traffic)
    if operators <= traffic:
        return Staffing(operators, traffic, 1.0, 0.0, math.inf)
    spare = operators - traffic
    return Staffing(
        operators=operators,
        traffic_erlangs=traffic,
        probability_of_waiting=waiting,
        service_level=1 - waiting * math.exp(-spare * target_seconds / handling_seconds),
        average_speed_of_answer=waiting * handling_seconds / spare,
    )


def operators_needed(
    calls_per_hour: float, handling_seconds: float, target_seconds: float, target_service_level: float
) -> Staffing:
    """The fewest operators answering `target_service_level` of calls within `target_seconds`."""
    if calls_per_hour <= 0:
        return staffing(1, 0.0, max(handling_seconds, 1.0), target_seconds)
    operators = max(1, math.floor(calls_per_hour / 3600 * handling_seconds) + 1)
    while True:
        result = staffing(operators, calls_per_hour, handling_seconds, target_seconds)
        if result.service_level >= target_service_level:
            return result
        operators += 1
