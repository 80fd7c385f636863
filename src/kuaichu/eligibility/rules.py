"""May this accident be handled by video? (art. 13 and 19). All the rules, in one place.

Each rule has a stable code, the reason the operator and the parties read, and its legal
basis. A rule is broken by an answer the operator recorded, by a registry check failure,
or by the number of vehicles.
"""

from collections.abc import Callable
from dataclasses import dataclass

from kuaichu.eligibility.models import CaseCircumstances
from kuaichu.legal import cite

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
    # (party position, failure code, failure reason) from the latest registry checks.
    check_failures: list[tuple[int, str, str]]
    vehicles: int
    max_vehicles: int


@dataclass(frozen=True)
class Breach:
    code: str
    reason: str
    basis: str


@dataclass(frozen=True)
class Rule:
    code: str
    reason: str
    basis: str
    broken: Callable[[Facts], bool]
    # The circumstance the operator answers for this rule, if it is one of those.
    question: str | None = None


def _asked(code: str, field: str, reason: str, basis: str) -> Rule:
    """A rule broken by the operator's yes to one question in the call."""
    return Rule(code, reason, basis, lambda facts: bool(getattr(facts.circumstances, field)), field)


RULES = (
    _asked("injury", "injury", "有人员受伤或死亡", "art. 13, art. 19"),
    _asked("vehicles_immovable", "vehicles_immovable", "当事人不能自行移动车辆", "art. 13 (5)"),
    _asked("facts_disputed", "facts_disputed", "当事人对事实或成因有争议", "art. 19"),
    _asked(
        "drink_or_drugs",
        "drink_or_drugs_suspected",
        "驾驶人有饮酒或服用国家管制的精神药品、麻醉药品嫌疑",
        "art. 13 (2)",
    ),
    _asked(
        "overload_or_speeding",
        "overload_or_speeding_suspected",
        "驾驶人有从事校车、旅客运输严重超载或严重超速行驶嫌疑",
        "art. 13 (3)",
    ),
    _asked("plate", "plate_missing_or_forged", "机动车无号牌或使用伪造、变造的号牌", "art. 13 (4)"),
    _asked("party_left", "party_left_scene", "一方当事人离开现场", "art. 13 (6)"),
    _asked("deliberate", "deliberate", "有证据证明事故是由一方故意造成", "art. 13 (7)"),
    _asked(
        "public_facility",
        "public_facility_damage_unknown_owner",
        "造成公共设施损坏且无法确定所有人",
        "art. 19",
    ),
    Rule(
        "licence",
        "驾驶人无有效机动车驾驶证或驾驶的机动车与准驾车型不符",
        "art. 13 (1)",
        lambda facts: any(code in LICENCE_FAILURES for _, code, _ in facts.check_failures),
    ),
    Rule(
        "uninsured",
        "机动车未投保交强险或事故当日不在保险期间内",
        "art. 19",
        lambda facts: any(code in INSURANCE_FAILURES for _, code, _ in facts.check_failures),
    ),
    Rule(
        "stolen_or_scrapped",
        "涉事车辆为被盗抢或报废车辆",
        "art. 19",
        lambda facts: any(code in STOLEN_OR_SCRAPPED for _, code, _ in facts.check_failures),
    ),
    Rule(
        "too_many_vehicles",
        "涉事车辆数超过快处规定",
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
        reason = rule.reason
        if rule.code == "too_many_vehicles":
            reason += f"（{facts.vehicles}辆，上限{facts.max_vehicles}辆）"
        details = [
            f"第{p}方：{text}"
            for p, code, text in facts.check_failures
            if code in _DETAIL_CODES.get(rule.code, ())
        ]
        if details:
            reason += "（" + "；".join(details) + "）"
        found.append(Breach(rule.code, reason, rule.basis))
    return found


def transfer_reason(found: list[Breach]) -> str:
    return "不适用视频快处，转现场处置：" + "；".join(f"{b.reason}（依据{cite(b.basis)}）" for b in found)


# The yes/no questions of the console's form, worded as the rule each one tests.
QUESTIONS = {rule.question: rule.reason for rule in RULES if rule.question}
