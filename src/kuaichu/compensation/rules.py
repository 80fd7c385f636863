"""Each compulsory insurer's share of the property loss (交强险财产损失赔款分摊).

The steps, each naming its basis:
1. Every vehicle has 交强险, or there is no quick handling to settle (MTLI art. 2).
2. A vehicle's limit is the at-fault tier unless its party bears no responsibility
   (MTLI art. 23; the amounts adjusted on 2020-09-19, LEGAL.md).
3. 互碰自赔 where the jurisdiction adopted it, every party bears some responsibility and each
   loss is within the at-fault property limit: each insurer pays its own insured's loss
   (the insurance associations' practice, on MTLI art. 21).
4. Otherwise each vehicle's insurer pays the *other* parties' losses (MTLI art. 3, art. 21):
   a victim's loss is apportioned among the other vehicles by their limits, and a vehicle's
   limit, where the losses it owes exceed it, is shared in proportion to them.
5. 无责代赔: what a no-fault vehicle owes an at-fault party is paid by that party's own insurer
   on the no-fault insurer's behalf; the insurers settle between themselves.
6. What the limits leave unpaid is borne by commercial insurance or the liable party
   (RTSL art. 76 (1)).

Money is Decimal yuan in whole fen; a proportional share is cut to the fen and the fen left
over go to the largest remainders, so the shares add up exactly and no limit is exceeded.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TypeVar

from kuaichu.errors import Conflict
from kuaichu.legal import Citation
from kuaichu.liability.grades import Responsibility
from kuaichu.messages import Labelled, Text

FEN = Decimal("0.01")
K = TypeVar("K")


class LossHead(Labelled):
    """The three heads of a 交强险 limit (MTLI art. 23)."""

    DEATH_DISABILITY = "death_disability"
    MEDICAL = "medical"
    PROPERTY = "property"


@dataclass(frozen=True)
class Tier:
    at_fault: Decimal
    no_fault: Decimal

    def for_grade(self, grade: Responsibility) -> Decimal:
        return self.no_fault if grade is Responsibility.NONE else self.at_fault


# MTLI art. 23, amounts since 2020-09-19. Injury cases are not quick handling: only the property
# head is applied here; the others are listed so a claim screen can show the whole limit.
LIMITS = {
    LossHead.DEATH_DISABILITY: Tier(Decimal(180000), Decimal(18000)),
    LossHead.MEDICAL: Tier(Decimal(18000), Decimal(1800)),
    LossHead.PROPERTY: Tier(Decimal(2000), Decimal(100)),
}
LIMITS_BASIS = Citation("MTLI art. 23")


class PaymentRule(Labelled):
    THIRD_PARTY = "third_party"
    NO_FAULT_ON_BEHALF = "no_fault_on_behalf"
    MUTUAL_SELF_CLAIM = "mutual_self_claim"


BASIS = {
    PaymentRule.THIRD_PARTY: Citation("MTLI art. 3, art. 21, art. 23"),
    PaymentRule.NO_FAULT_ON_BEHALF: Citation("MTLI art. 21, art. 23"),
    PaymentRule.MUTUAL_SELF_CLAIM: Citation("MTLI art. 21"),
}
EXCESS_BASIS = Citation("RTSL art. 76 (1)")


class NotCovered(Conflict):
    """A vehicle without 交强险: no quick handling, so no split to compute."""


@dataclass(frozen=True)
class Vehicle:
    position: int
    plate_number: str
    responsibility: Responsibility
    insurer_code: str | None
    loss: Decimal


@dataclass(frozen=True)
class Payment:
    """`payer` pays `beneficiary`'s loss; `liable` is the vehicle whose 交强险 bears it, and
    `on_behalf_of` the insurer that owes it when another pays in its place (无责代赔)."""

    payer: str
    liable: int
    beneficiary: int
    amount: Decimal
    rule: PaymentRule
    on_behalf_of: str | None = None

    @property
    def basis(self) -> Citation:
        return BASIS[self.rule]


@dataclass(frozen=True)
class Split:
    vehicles: tuple[Vehicle, ...]
    payments: tuple[Payment, ...]
    mutual_self_claim: bool

    def limit(self, position: int) -> Decimal:
        return LIMITS[LossHead.PROPERTY].for_grade(self._vehicle(position).responsibility)

    def paid_to(self, position: int) -> Decimal:
        return sum((p.amount for p in self.payments if p.beneficiary == position), Decimal(0))

    def excess(self, position: int) -> Decimal:
        """超出交强险部分: what commercial insurance or the liable party bears (RTSL art. 76 (1))."""
        return (self._vehicle(position).loss - self.paid_to(position)).quantize(FEN)

    def _vehicle(self, position: int) -> Vehicle:
        return next(v for v in self.vehicles if v.position == position)


def split(vehicles: Sequence[Vehicle], mutual_self_claim_adopted: bool) -> Split:
    """Who pays what of each vehicle's assessed property loss; NotCovered without 交强险."""
    for vehicle in vehicles:
        if not vehicle.insurer_code:
            raise NotCovered(
                Text("Compensation.uninsured", plate=vehicle.plate_number, law=Citation("MTLI art. 2"))
            )
    if mutual_self_claim_adopted and _mutual(vehicles):
        payments = [
            Payment(_insurer(v), v.position, v.position, v.loss.quantize(FEN), PaymentRule.MUTUAL_SELF_CLAIM)
            for v in vehicles
        ]
        return Split(tuple(vehicles), tuple(p for p in payments if p.amount > 0), True)
    shares = _apportioned(vehicles)
    payments = [
        _payment(liable, victim, amount) for (liable, victim), amount in _capped(vehicles, shares).items()
    ]
    # Read by the vehicle paid for, then the vehicle whose insurance bears it.
    payments.sort(key=lambda p: (p.beneficiary, p.liable))
    return Split(tuple(vehicles), tuple(p for p in payments if p.amount > 0), False)


def _insurer(vehicle: Vehicle) -> str:
    assert vehicle.insurer_code  # checked first in split()
    return vehicle.insurer_code


def _mutual(vehicles: Sequence[Vehicle]) -> bool:
    """互碰自赔 applies: two or more vehicles, each party at fault, each loss within the
    at-fault property limit (every vehicle insured was checked before)."""
    limit = LIMITS[LossHead.PROPERTY].at_fault
    return len(vehicles) > 1 and all(
        v.responsibility is not Responsibility.NONE and v.loss <= limit for v in vehicles
    )


def _limit(vehicle: Vehicle) -> Decimal:
    return LIMITS[LossHead.PROPERTY].for_grade(vehicle.responsibility)


def _allocate(total: Decimal, weights: dict[K, Decimal]) -> dict[K, Decimal]:
    """`total` shared in proportion to `weights`, in whole fen that add up to it exactly: each
    share cut down to the fen, the fen left over going to the largest remainders."""
    exact = {key: total * weight / sum(weights.values()) for key, weight in weights.items()}
    shares = {key: amount.quantize(FEN, rounding=ROUND_DOWN) for key, amount in exact.items()}
    left = int((total.quantize(FEN) - sum(shares.values(), Decimal(0))) / FEN)
    for key in sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)[:left]:
        shares[key] += FEN
    return shares


def _apportioned(vehicles: Sequence[Vehicle]) -> dict[tuple[Vehicle, Vehicle], Decimal]:
    """Each victim's loss shared among the other vehicles in proportion to their limits
    (two vehicles: the other one owes it all)."""
    shares = {}
    for victim in vehicles:
        others = {(liable, victim): _limit(liable) for liable in vehicles if liable is not victim}
        if others:
            shares |= _allocate(victim.loss, others)
    return shares


def _capped(
    vehicles: Sequence[Vehicle], shares: dict[tuple[Vehicle, Vehicle], Decimal]
) -> dict[tuple[Vehicle, Vehicle], Decimal]:
    """A vehicle's insurer pays at most its limit in all; over it, the limit is shared among
    the victims in proportion to what each was owed."""
    capped = {}
    for liable in vehicles:
        owed = {pair: amount for pair, amount in shares.items() if pair[0] is liable}
        over = sum(owed.values(), Decimal(0)) > _limit(liable)
        capped |= _allocate(_limit(liable), owed) if over else owed
    return capped


def _payment(liable: Vehicle, victim: Vehicle, amount: Decimal) -> Payment:
    """无责代赔: a no-fault vehicle's share of an at-fault party's loss is paid by that party's
    own insurer for it; otherwise the liable vehicle's insurer pays."""
    no_fault = Responsibility.NONE
    if liable.responsibility is no_fault and victim.responsibility is not no_fault:
        return Payment(
            _insurer(victim),
            liable.position,
            victim.position,
            amount,
            PaymentRule.NO_FAULT_ON_BEHALF,
            on_behalf_of=_insurer(liable),
        )
    return Payment(_insurer(liable), liable.position, victim.position, amount, PaymentRule.THIRD_PARTY)
