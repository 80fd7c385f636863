from pydantic import BaseModel, Field

from kuaichu.liability.grades import Responsibility


class ShareIn(BaseModel):
    party_id: int
    responsibility: Responsibility


class DeterminationIn(BaseModel):
    shares: list[ShareIn] = Field(min_length=1, max_length=10)
    reasoning: str = Field(default="", max_length=2000)
