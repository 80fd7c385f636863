from datetime import datetime

from pydantic import BaseModel, Field

from kuaichu.cases.schemas import WrittenReason


class GateItemOut(BaseModel):
    """One thing collection still lacks; `key` names it for an override."""

    key: str
    code: str
    message: str
    party_position: int | None = None
    overridable: bool


class StillOut(BaseModel):
    kind: str
    party_position: int | None
    label: str
    present: bool


class OverrideOut(BaseModel):
    items: list[GateItemOut]
    reason: str
    operator: str
    at: datetime


class CollectionOut(BaseModel):
    # True: nothing blocks collection-complete any more.
    ready: bool
    missing: list[GateItemOut]
    stills: list[StillOut]
    overrides: list[OverrideOut]


class OverrideIn(BaseModel):
    keys: list[str] = Field(min_length=1, max_length=40)
    reason: WrittenReason


class CollectionCompleteIn(BaseModel):
    override: OverrideIn | None = None
