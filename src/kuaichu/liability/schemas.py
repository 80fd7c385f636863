from pydantic import BaseModel, Field, model_validator

from kuaichu.cases.schemas import MAX_ROW_ID, WrittenReason
from kuaichu.liability.grades import Responsibility
from kuaichu.liability.rules import Act
from kuaichu.messages import Text


class ShareIn(BaseModel):
    party_id: int = Field(ge=1, le=MAX_ROW_ID)
    responsibility: Responsibility


class DeterminationIn(BaseModel):
    shares: list[ShareIn] = Field(min_length=1, max_length=10)
    reasoning: str = Field(default="", max_length=2000)
    # Required when the shares differ from the rules engine's proposal.
    override_reason: str | None = Field(default=None, max_length=2000)


class OfficerReasonIn(BaseModel):
    """Why the officer sends a case back or moves it to the ordinary procedure."""

    reason: WrittenReason


class PartyActsIn(BaseModel):
    position: int = Field(ge=1, le=10)
    acts: list[Act] = Field(default_factory=list, max_length=10)
    impact_point: str = Field(default="", max_length=32)  # 碰撞部位, e.g. 车头、车尾左侧


class LiabilityFactsIn(BaseModel):
    parties: list[PartyActsIn] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _distinct(self) -> "LiabilityFactsIn":
        positions = [p.position for p in self.parties]
        if len(set(positions)) != len(positions):
            raise ValueError(Text("Liability.party_twice"))
        return self


class ProposedShareOut(BaseModel):
    party_id: int
    position: int
    name: str
    responsibility: Responsibility
    responsibility_label: str


class ProposalOut(BaseModel):
    """The rules engine's proposal, or why there is none (the officer then decides alone)."""

    rule: str | None
    label: str | None
    basis: str | None
    shares: list[ProposedShareOut]
    message: str
