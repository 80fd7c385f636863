from datetime import date, datetime

from pydantic import BaseModel, computed_field

from kuaichu.cases.catalogue import VehicleType
from kuaichu.eligibility.schemas import EligibilityOut
from kuaichu.registries.schemas import CheckOut


class FoundParty(BaseModel):
    position: int
    designation: str  # 甲, 乙, 丙: as the facts text and the document name the party
    name: str
    phone: str  # masked for roles that don't need it in full
    plate_number: str


class FoundCase(BaseModel):
    """One case a search found; the page opens it by `id`, a person never types that."""

    id: int
    number: str
    state: str
    state_label: str
    jurisdiction_name: str
    reported_at: datetime
    matched_by: str  # number / phone / plate
    matched_by_label: str
    parties: list[FoundParty]


class ActOut(BaseModel):
    code: str
    label: str


class PartyFileOut(BaseModel):
    """One party as the back office reads it: who, which vehicle, what the registries said,
    what the party did (for the liability rules) and where the vehicle was hit."""

    id: int
    position: int
    designation: str
    name: str
    plate_number: str
    vehicle_type: VehicleType
    checks: list[CheckOut]
    acts_recorded: bool  # False: the operator never answered what this party did
    acts: list[ActOut]
    impact_point: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def vehicle_type_label(self) -> str:
        return self.vehicle_type.label()


class ShareFileOut(BaseModel):
    party_id: int
    designation: str
    name: str
    responsibility: str
    responsibility_label: str


class DeterminationFileOut(BaseModel):
    """The determination as made: the shares, the officer's reasoning and the rule applied."""

    decided_at: datetime
    officer: str
    status: str
    status_label: str
    shares: list[ShareFileOut]
    reasoning: str
    rule_label: str | None  # the rules engine's proposal, when one fitted
    rule_basis: str | None
    proposal_accepted: bool | None
    proposal_accepted_label: str
    override_reason: str | None
    # 复核申请期限: parties may apply until the end of this day (Shanghai).
    review_last_day: date
    # Signed just after the determination commits: True until its document is stored.
    document_pending: bool = False


class CaseFileOut(BaseModel):
    """What the officer decides on and the reviewer checks: one read for both pages."""

    id: int
    number: str
    parties: list[PartyFileOut]
    eligibility: EligibilityOut
    determination: DeterminationFileOut | None
