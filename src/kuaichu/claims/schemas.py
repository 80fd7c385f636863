from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, Field, computed_field, field_validator, model_validator

from kuaichu.messages import Labelled, Text

# The most a vehicle's assessed loss may be, in yuan: far beyond any quick-handling accident,
# so a slip of the keyboard (a phone number, fen sent as yuan twice over) is refused, not paid.
MAX_LOSS = Decimal(1_000_000)


class ClaimStep(Labelled):
    """A claim's status (Claim.status): its last step, in the order they happen. The party
    pushes the claim; the insurer reports every step after."""

    PUSHED = "pushed"
    SURVEYOR_ASSIGNED = "surveyor_assigned"
    CONTACTED = "contacted"
    ASSESSED = "assessed"
    PAID = "paid"

    def reached(self, step: "ClaimStep") -> bool:
        """Whether this status is `step` or a step after it."""
        order = list(ClaimStep)
        return order.index(self) >= order.index(step)


# The steps an insurer reports: all but the party's push.
InsurerStep = Literal[ClaimStep.SURVEYOR_ASSIGNED, ClaimStep.CONTACTED, ClaimStep.ASSESSED, ClaimStep.PAID]


class ClaimOut(BaseModel):
    id: int
    case_id: int
    party_id: int
    insurer_code: str
    insurer_name: str | None = None
    pushed_at: datetime
    status: ClaimStep

    # 定损 reported (assessed, or paid since): the party page then shows who pays what. A flag
    # rather than a list of statuses in the page, so the steps and their order live here only.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def loss_assessed(self) -> bool:
        return self.status.reached(ClaimStep.ASSESSED)


class VehicleLoss(BaseModel):
    """定损: one vehicle's property loss, in yuan to the fen ("1234.50" or 1234.5)."""

    plate_number: str = Field(min_length=1, max_length=16)
    amount: Decimal

    @field_validator("amount", mode="before")
    @classmethod
    def _yuan_to_the_fen(cls, value: object) -> Decimal:
        """A number or numeric string, 0 to MAX_LOSS, at most two decimals; never NaN, never
        a float's binary noise (a float is read as its shortest decimal form)."""
        try:
            amount = Decimal(str(value)) if isinstance(value, int | float | str) else None
        except InvalidOperation:
            amount = None
        if (
            isinstance(value, bool)
            or amount is None
            or not amount.is_finite()
            or not Decimal(0) <= amount <= MAX_LOSS
            or amount != amount.quantize(Decimal("0.01"))
        ):
            raise ValueError(Text("Claims.loss_amount", most=f"{MAX_LOSS:,}"))
        return amount.quantize(Decimal("0.01"))


class ProgressIn(BaseModel):
    status: InsurerStep
    note: str = Field(default="", max_length=500)
    # With the 定损 step, the loss of each vehicle the insurer assessed (and only with it).
    losses: list[VehicleLoss] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _losses_with_the_assessment(self) -> "ProgressIn":
        if self.status is ClaimStep.ASSESSED and not self.losses:
            raise ValueError(Text("Claims.losses_required"))
        if self.status is not ClaimStep.ASSESSED and self.losses:
            raise ValueError(Text("Claims.losses_only_assessed"))
        plates = [loss.plate_number for loss in self.losses]
        if len(set(plates)) != len(plates):
            raise ValueError(Text("Claims.loss_plate_twice"))
        return self


class PaymentOut(BaseModel):
    """One payment of the split: who pays whose loss, how much, by which rule and law."""

    payer_insurer_code: str
    payer_insurer_name: str | None
    liable_plate: str
    beneficiary_plate: str
    amount: Decimal
    rule: str
    rule_label: str
    on_behalf_of_insurer_code: str | None
    on_behalf_of_insurer_name: str | None
    basis: str


class VehicleSplitOut(BaseModel):
    plate_number: str
    responsibility: str
    responsibility_label: str
    insurer_code: str
    property_limit: Decimal
    limit_basis: str
    loss: Decimal
    paid: Decimal
    # 超出交强险部分: borne by commercial insurance or the liable party.
    excess: Decimal
    excess_note: str


class CompensationOut(BaseModel):
    """Who pays what (交强险), once every vehicle's loss is assessed; until then `pending`
    lists the plates still waiting for 定损."""

    complete: bool
    pending: list[str]
    # Why there is no split at all (a vehicle without 交强险: no quick handling).
    refused: str | None = None
    mutual_self_claim: bool = False
    mutual_self_claim_label: str | None = None
    vehicles: list[VehicleSplitOut] = []
    payments: list[PaymentOut] = []
