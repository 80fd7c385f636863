"""The five grades of responsibility and which combinations the rules allow (art. 60, 61)."""

from collections import Counter

from kuaichu.messages import Labelled, Text


class Responsibility(Labelled):
    FULL = "full"
    MAIN = "main"
    EQUAL = "equal"
    MINOR = "minor"
    NONE = "none"


class DeterminationStatus(Labelled):
    IN_FORCE = "in_force"
    # Revoked on review (复核撤销): kept for the record, replaced by a new determination.
    REVOKED = "revoked"


def combination_error(grades: list[Responsibility]) -> Text | None:
    """Why these grades cannot stand together, or None when they can (art. 60).

    One party at fault: that party full, the others none. Several at fault: either all equal,
    or one main and the others minor. No one at fault: all none.
    """
    counts = Counter(grades)
    at_fault = [g for g in grades if g is not Responsibility.NONE]
    if not at_fault:
        return None
    if counts[Responsibility.FULL]:
        if len(at_fault) == 1:
            return None
        return Text("Liability.full_others_none")
    if len(at_fault) == 1:
        return Text("Liability.one_at_fault_full")
    if counts[Responsibility.EQUAL] == len(at_fault):
        return None
    if counts[Responsibility.MAIN] == 1 and counts[Responsibility.MINOR] == len(at_fault) - 1:
        return None
    return Text("Liability.several_at_fault")
