from pydantic import BaseModel


class CircumstancesIn(BaseModel):
    """Each question the operator answers in the call; all must be answered."""

    injury: bool
    vehicles_immovable: bool
    facts_disputed: bool
    drink_or_drugs_suspected: bool
    overload_or_speeding_suspected: bool
    plate_missing_or_forged: bool
    party_left_scene: bool
    deliberate: bool
    public_facility_damage_unknown_owner: bool


class ReasonOut(BaseModel):
    code: str
    reason: str
    basis: str


class EligibilityOut(BaseModel):
    # None while something the rules need is still missing (see `missing`).
    eligible: bool | None
    reasons: list[ReasonOut]
    missing: list[str]
    notes: list[str]
    # Pre-filled for 转现场处置 when the case is not eligible.
    transfer_reason: str | None
