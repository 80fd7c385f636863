from pydantic import BaseModel, Field, model_validator

from kuaichu.cases.schemas import FactsIn, PartiesIn, ReportIn
from kuaichu.liability.grades import Responsibility
from kuaichu.messages import Text


class AgreedShare(BaseModel):
    position: int = Field(ge=1, le=2)
    responsibility: Responsibility


class SettlementIn(BaseModel):
    """What the reporting party fills in on the phone for both parties."""

    location: ReportIn
    facts: FactsIn
    parties: PartiesIn
    shares: list[AgreedShare] = Field(min_length=2, max_length=2)

    @model_validator(mode="after")
    def _two_vehicles_each_graded_once(self) -> "SettlementIn":
        if len(self.parties.parties) != 2:
            raise ValueError(Text("Settlement.two_vehicles_only"))
        if sorted(s.position for s in self.shares) != [1, 2]:
            raise ValueError(Text("Settlement.one_share_each"))
        return self
