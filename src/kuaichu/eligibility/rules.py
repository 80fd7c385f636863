"""May this accident be handled by video? (art. 13 and 19). All the rules, in one place.

Each rule has a stable code, the reason the operator and the parties read (a catalogue
Text), and its legal basis. A rule is broken by an answer the operator recorded, by a
registry check failure, or by the number of vehicles.
"""

from collections.abc import Callable
from dataclasses import dataclass

from kuaichu.eligibility.models import CaseCircumstances
from kuaichu.legal import cite
from kuaichu.messages import DEFAULT_LOCALE, Listed, Locale, Text, text

LICENCE_FAILURES = frozenset(
    {
        "licence_not_found",
        "licence_name_mismatch",
        "licence_suspended",
        "licence_revoked",
        "licence_cancelled",
        "licence_points_exceeded",
        "licence_expired",
        "licence_class_mismatch",
    }
)
INSURANCE_FAILURES = frozenset({"uninsured", "insurance_not_valid_on_date"})
STOLEN_OR_SCRAPPED = frozenset({"vehicle_stolen", "vehicle_scrapped"})


@dataclass(frozen=True)
class Facts:
    """What the rules look at."""

    circumstances: CaseCircumstances
    # (party position, failure code, failure reason) from the latest registry checks; the reason
    # a Text from the catalogue, or as stored when its params were not kept.
    check_failures: list[tuple[int, str, Text | str]]
    vehicles: int
    max_vehicles: int


@dataclass(frozen=True)
class Breach:
    code: str
    said: Text  # the rule's reason
    basis: str
    # Said after the reason in brackets: the vehicle count, or which party failed which check.
    details: tuple[Text, ...] = ()

    @property
    def full(self) -> Text:
        """The reason with its details in brackets, to be said in any locale."""
        if not self.details:
            return self.said
        return Text(
            "Eligibility.with_details",
            reason=self.said,
            details=Listed("Eligibility.separator", self.details),
        )

    def say(self, locale: Locale = DEFAULT_LOCALE) -> str:
        return self.full.render(locale)

    @property
    def reason(self) -> str:
        """In Chinese: the transfer reason built from it is stored on the case for the record."""
        return self.say()


@dataclass(frozen=True)
class Rule:
    code: str
    reason: Text
    basis: str
    broken: Callable[[Facts], bool]
    # The circumstance the operator answers for this rule, if it is one of those.
    question: str | None = None


def _asked(code: str, field: str, reason: Text, basis: str) -> Rule:
    """A rule broken by the operator's yes to one question in the call."""
    return Rule(code, reason, basis, lambda facts: bool(getattr(facts.circumstances, field)), field)


RULES = (
    _asked("injury", "injury", Text("EligibilityRule.injury"), "art. 13, art. 19"),
    _asked(
        "vehicles_immovable", "vehicles_immovable", Text("EligibilityRule.vehicles_immovable"), "art. 13 (5)"
    ),
    _asked("facts_disputed", "facts_disputed", Text("EligibilityRule.facts_disputed"), "art. 19"),
    _asked(
        "drink_or_drugs",
        "drink_or_drugs_suspected",
        Text("EligibilityRule.drink_or_drugs"),
        "art. 13 (2)",
    ),
    _asked(
        "overload_or_speeding",
        "overload_or_speeding_suspected",
        Text("EligibilityRule.overload_or_speeding"),
        "art. 13 (3)",
    ),
    _asked("plate", "plate_missing_or_forged", Text("EligibilityRule.plate"), "art. 13 (4)"),
    _asked("party_left", "party_left_scene", Text("EligibilityRule.party_left"), "art. 13 (6)"),
    _asked("deliberate", "deliberate", Text("EligibilityRule.deliberate"), "art. 13 (7)"),
    _asked(
        "public_facility",
        "public_facility_damage_unknown_owner",
        Text("EligibilityRule.public_facility"),
        "art. 19",
    ),
    Rule(
        "licence",
        Text("EligibilityRule.licence"),
        "art. 13 (1)",
        lambda facts: any(code in LICENCE_FAILURES for _, code, _ in facts.check_failures),
    ),
    Rule(
        "uninsured",
        Text("EligibilityRule.uninsured"),
        "art. 19",
        lambda facts: any(code in INSURANCE_FAILURES for _, code, _ in facts.check_failures),
    ),
    Rule(
        "stolen_or_scrapped",
        Text("EligibilityRule.stolen_or_scrapped"),
        "art. 19",
        lambda facts: any(code in STOLEN_OR_SCRAPPED for _, code, _ in facts.check_failures),
    ),
    Rule(
        "too_many_vehicles",
        Text("EligibilityRule.too_many_vehicles"),
        "art. 19",
        lambda facts: facts.vehicles > facts.max_vehicles,
    ),
)

# Which check failures explain which rule (the details appended to its reason).
_DETAIL_CODES = {
    "licence": LICENCE_FAILURES,
    "uninsured": INSURANCE_FAILURES,
    "stolen_or_scrapped": STOLEN_OR_SCRAPPED,
}


def breaches(facts: Facts) -> list[Breach]:
    found = []
    for rule in RULES:
        if not rule.broken(facts):
            continue
        details = [
            Text("Eligibility.party_failure", position=p, failure=failure)
            for p, code, failure in facts.check_failures
            if code in _DETAIL_CODES.get(rule.code, ())
        ]
        if rule.code == "too_many_vehicles":
            details = [Text("Eligibility.vehicle_count", vehicles=facts.vehicles, limit=facts.max_vehicles)]
        found.append(Breach(rule.code, rule.reason, rule.basis, tuple(details)))
    return found


def transfer_reason(found: list[Breach], locale: Locale = DEFAULT_LOCALE) -> str:
    """Why the case goes to an officer on the scene; stored on the case in Chinese (the default)."""
    breached = text("Eligibility.separator", locale).join(
        text("Eligibility.breach_basis", locale, reason=b.say(locale), basis=cite(b.basis, locale))
        for b in found
    )
    return text("Eligibility.transfer", locale, breaches=breached)


def questions(locale: Locale) -> dict[str, str]:
    """The yes/no questions of the console's form, worded as the rule each one tests."""
    return {rule.question: rule.reason.render(locale) for rule in RULES if rule.question}
