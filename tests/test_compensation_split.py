"""Who pays what under 交强险: one row per situation, the payments and what is left over."""

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from kuaichu.compensation.rules import NotCovered, PaymentRule, Vehicle, split
from kuaichu.liability.grades import Responsibility
from kuaichu.messages import DEFAULT_LOCALE

FULL, MAIN, EQUAL, MINOR, NONE = (
    Responsibility.FULL,
    Responsibility.MAIN,
    Responsibility.EQUAL,
    Responsibility.MINOR,
    Responsibility.NONE,
)
THIRD, ON_BEHALF, OWN = (
    PaymentRule.THIRD_PARTY,
    PaymentRule.NO_FAULT_ON_BEHALF,
    PaymentRule.MUTUAL_SELF_CLAIM,
)
# Vehicle 1 is insured with PICC, 2 with CPIC, 3 with PAIC.
INSURERS = {1: "PICC", 2: "CPIC", 3: "PAIC"}


def vehicles(*rows: tuple[Responsibility, str]) -> list[Vehicle]:
    return [
        Vehicle(position, f"浙A1000{position}", grade, INSURERS[position], Decimal(loss))
        for position, (grade, loss) in enumerate(rows, 1)
    ]


# (payer, beneficiary position, amount, rule, on behalf of)
Paid = tuple[str, int, str, PaymentRule, str | None]


@dataclass
class Situation:
    name: str
    vehicles: list[Vehicle]
    paid: set[Paid]
    excess: dict[int, str]
    mutual_adopted: bool = False
    mutual_applied: bool = False
    note: str = field(default="")


SITUATIONS = [
    Situation(
        "full_none: the at-fault insurer pays the other car and, 无责代赔, 100 of its own",
        vehicles((FULL, "800"), (NONE, "1500")),
        {("PICC", 2, "1500.00", THIRD, None), ("PICC", 1, "100.00", ON_BEHALF, "CPIC")},
        {1: "700.00", 2: "0.00"},
    ),
    Situation(
        "none_full over the limit: 2,000 paid, the rest beyond 交强险",
        vehicles((NONE, "3000"), (FULL, "50")),
        {("CPIC", 1, "2000.00", THIRD, None), ("CPIC", 2, "50.00", ON_BEHALF, "PICC")},
        {1: "1000.00", 2: "0.00"},
    ),
    Situation(
        "main_minor: the share does not reduce the limit",
        vehicles((MAIN, "500"), (MINOR, "3000")),
        {("PICC", 2, "2000.00", THIRD, None), ("CPIC", 1, "500.00", THIRD, None)},
        {1: "0.00", 2: "1000.00"},
    ),
    Situation(
        "equal without 互碰自赔: each insurer pays the other car",
        vehicles((EQUAL, "1500"), (EQUAL, "800")),
        {("PICC", 2, "800.00", THIRD, None), ("CPIC", 1, "1500.00", THIRD, None)},
        {1: "0.00", 2: "0.00"},
    ),
    Situation(
        "equal with 互碰自赔 adopted: each insurer pays its own car",
        vehicles((EQUAL, "1500"), (EQUAL, "800")),
        {("PICC", 1, "1500.00", OWN, None), ("CPIC", 2, "800.00", OWN, None)},
        {1: "0.00", 2: "0.00"},
        mutual_adopted=True,
        mutual_applied=True,
    ),
    Situation(
        "main_minor with 互碰自赔 adopted but a loss over 2,000: the ordinary split",
        vehicles((MAIN, "2500"), (MINOR, "600")),
        {("PICC", 2, "600.00", THIRD, None), ("CPIC", 1, "2000.00", THIRD, None)},
        {1: "500.00", 2: "0.00"},
        mutual_adopted=True,
    ),
    Situation(
        "full_none with 互碰自赔 adopted: a party without fault, so 无责代赔 instead",
        vehicles((FULL, "900"), (NONE, "1200")),
        {("PICC", 2, "1200.00", THIRD, None), ("PICC", 1, "100.00", ON_BEHALF, "CPIC")},
        {1: "800.00", 2: "0.00"},
        mutual_adopted=True,
    ),
    Situation(
        "nobody at fault: each pays the other within the no-fault limit, no 代赔",
        vehicles((NONE, "300"), (NONE, "50")),
        {("CPIC", 1, "100.00", THIRD, None), ("PICC", 2, "50.00", THIRD, None)},
        {1: "200.00", 2: "0.00"},
    ),
    Situation(
        "an undamaged car: nothing paid to it, nothing by its 代赔",
        vehicles((FULL, "0"), (NONE, "700")),
        {("PICC", 2, "700.00", THIRD, None)},
        {1: "0.00", 2: "0.00"},
    ),
    Situation(
        "three vehicles, one at fault: limits shared by limit, then by what each is owed",
        vehicles((FULL, "3000"), (NONE, "1500"), (NONE, "900")),
        {
            # PICC owed 1500×2000/2100 + 900×2000/2100 = 2285.71 > 2000: 7/8 of each.
            ("PICC", 2, "1250.00", THIRD, None),
            ("PICC", 3, "750.00", THIRD, None),
            # CPIC and PAIC each owe 1500 of vehicle 1's loss (split by their equal limits)
            # and a share of the other no-fault car's: each capped at 100, paid by PICC.
            ("PICC", 1, "97.22", ON_BEHALF, "CPIC"),
            ("PICC", 1, "95.45", ON_BEHALF, "PAIC"),
            ("CPIC", 3, "2.78", THIRD, None),
            ("PAIC", 2, "4.55", THIRD, None),
        },
        {1: "2807.33", 2: "245.45", 3: "147.22"},
    ),
    Situation(
        "three vehicles, all at fault, 互碰自赔 adopted: each insurer its own car",
        vehicles((EQUAL, "1000"), (EQUAL, "2000"), (EQUAL, "0")),
        {("PICC", 1, "1000.00", OWN, None), ("CPIC", 2, "2000.00", OWN, None)},
        {1: "0.00", 2: "0.00", 3: "0.00"},
        mutual_adopted=True,
        mutual_applied=True,
    ),
    Situation(
        "three vehicles, main and two minor, 互碰自赔 off: every limit 2,000",
        vehicles((MAIN, "1200"), (MINOR, "3000"), (MINOR, "600")),
        {
            ("PICC", 2, "1500.00", THIRD, None),
            ("PICC", 3, "300.00", THIRD, None),
            ("CPIC", 1, "600.00", THIRD, None),
            ("CPIC", 3, "300.00", THIRD, None),
            # PAIC owes 600 + 1500 = 2100 > 2000: 20/21 of each.
            ("PAIC", 1, "571.43", THIRD, None),
            ("PAIC", 2, "1428.57", THIRD, None),
        },
        {1: "28.57", 2: "71.43", 3: "0.00"},
    ),
]


@pytest.mark.parametrize("situation", SITUATIONS, ids=[s.name for s in SITUATIONS])
def test_who_pays_what(situation: Situation) -> None:
    result = split(situation.vehicles, situation.mutual_adopted)
    paid = {(p.payer, p.beneficiary, str(p.amount), p.rule, p.on_behalf_of) for p in result.payments}
    assert paid == situation.paid
    assert {v.position: str(result.excess(v.position)) for v in situation.vehicles} == situation.excess
    assert result.mutual_self_claim is situation.mutual_applied
    for payment in result.payments:
        assert "机动车交通事故责任强制保险条例" in payment.basis.render(DEFAULT_LOCALE)


def test_each_limit_is_used_up_to_the_fen_and_never_beyond() -> None:
    result = split(vehicles((FULL, "9000"), (NONE, "9000"), (NONE, "9000")), False)
    paid_by = {1: Decimal(0), 2: Decimal(0), 3: Decimal(0)}
    for payment in result.payments:
        paid_by[payment.liable] += payment.amount
    assert paid_by == {1: Decimal(2000), 2: Decimal(100), 3: Decimal(100)}
    assert sum(result.excess(position) for position in (1, 2, 3)) == Decimal(27000 - 2200)


def test_a_vehicle_without_compulsory_insurance_is_refused() -> None:
    cars = vehicles((FULL, "800"), (NONE, "1500"))
    cars[1] = Vehicle(2, "浙A10002", NONE, None, Decimal(1500))
    with pytest.raises(NotCovered) as refused:
        split(cars, mutual_self_claim_adopted=True)
    said = refused.value.message.render(DEFAULT_LOCALE)
    assert "浙A10002" in said
    assert "《机动车交通事故责任强制保险条例》第2条" in said
    assert refused.value.status == 409
