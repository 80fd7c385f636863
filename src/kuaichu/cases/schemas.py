from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    computed_field,
    model_validator,
)

from kuaichu.cases.catalogue import AccidentType, PlateType, VehicleType, Weather
from kuaichu.cases.identifiers import (
    validate_id_number,
    validate_licence_number,
    validate_phone,
    validate_plate,
)
from kuaichu.messages import DEFAULT_LOCALE, Labelled, Locale, Text, text
from kuaichu.principal import Role


class _Choices(Text):
    """A list's codes with their labels, said in the reader's language (an API client learns
    what to send, a person what it means)."""

    __slots__ = ("kind",)

    def __init__(self, kind: type[Labelled]) -> None:
        super().__init__("Cases.choice_separator")
        self.kind = kind

    def render(self, locale: Locale = DEFAULT_LOCALE) -> str:
        return text("Cases.choice_separator", locale).join(
            text("Cases.choice", locale, code=member.value, label=member) for member in self.kind
        )


def _one_of(kind: type[Labelled], what: Text) -> BeforeValidator:
    """A code of the catalogue list `kind`; anything else is refused with the list."""

    def check(value: object) -> Labelled:
        try:
            return kind(value)
        except ValueError:
            raise ValueError(Text("Cases.one_of", what=what, options=_Choices(kind))) from None

    return BeforeValidator(check)


AccidentTypeCode = Annotated[AccidentType, _one_of(AccidentType, Text("Field.accident_type"))]
WeatherCode = Annotated[Weather, _one_of(Weather, Text("Field.weather"))]
PlateTypeCode = Annotated[PlateType, _one_of(PlateType, Text("Field.plate_type"))]
VehicleTypeCode = Annotated[VehicleType, _one_of(VehicleType, Text("Field.vehicle_type"))]


Phone = Annotated[str, AfterValidator(validate_phone)]


def _written_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < 4:
        raise ValueError(Text("Cases.written_reason_short"))
    return reason


# A reason a member of staff writes for a decision others will read (override, send-back, ...).
WrittenReason = Annotated[str, Field(max_length=500), AfterValidator(_written_reason)]
# The largest row id: primary keys are INTEGER, 32-bit on PostgreSQL.
MAX_ROW_ID = 2**31 - 1
# Row ids in paths: bounded to the column range so an absurd number is a 422, not a database error.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


class ReportIn(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    address: str | None = Field(default=None, max_length=200)


class FactsIn(BaseModel):
    # A time without a zone is ambiguous (UTC or Shanghai?): refused rather than guessed.
    occurred_at: AwareDatetime
    address: str = Field(min_length=2, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    accident_type: AccidentTypeCode
    weather: WeatherCode
    description: str = Field(default="", max_length=2000)


class PartyIn(BaseModel):
    name: str = Field(min_length=2, max_length=32)
    phone: Phone
    id_number: Annotated[str, AfterValidator(validate_id_number)]
    licence_number: Annotated[str, AfterValidator(validate_licence_number)]
    plate_number: str
    plate_type: PlateTypeCode
    vehicle_type: VehicleTypeCode
    insurer_code: str | None = Field(default=None, max_length=16)
    policy_number: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _plate_matches_type(self) -> "PartyIn":
        self.plate_number = validate_plate(self.plate_number, self.plate_type)
        return self


class PartiesIn(BaseModel):
    parties: list[PartyIn] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _distinct(self) -> "PartiesIn":
        plates = [p.plate_number for p in self.parties]
        if len(set(plates)) != len(plates):
            raise ValueError(Text("Cases.plate_twice"))
        return self


class TransferIn(BaseModel):
    reason: str = Field(min_length=2, max_length=500)


class PartyOut(BaseModel):
    id: int
    position: int
    name: str
    phone: str
    id_number: str
    licence_number: str
    plate_number: str
    plate_type: PlateType
    vehicle_type: VehicleType
    insurer_code: str | None
    policy_number: str | None

    # The codes' labels in the reader's language, for the pages.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def plate_type_label(self) -> str:
        return self.plate_type.label()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def vehicle_type_label(self) -> str:
        return self.vehicle_type.label()


class CaseOut(BaseModel):
    id: int
    number: str
    state: str
    state_label: str
    jurisdiction_code: str
    jurisdiction_name: str
    reported_at: datetime
    # In full for the staff handling the case and the reporter; masked for anyone else.
    reporter_phone: str
    report_lat: float
    report_lng: float
    occurred_at: datetime | None
    address: str | None
    accident_type: AccidentType | None
    weather: Weather | None
    description: str | None
    transfer_reason: str | None
    operator_id: int | None
    parties: list[PartyOut]
    allowed_actions: list[str]
    determination: dict[str, Any] | None = None
    review_deadline: datetime | None = None
    # When the reporter agreed to the recording notice (个人信息保护法); the console shows it.
    consented_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accident_type_label(self) -> str | None:
        return self.accident_type.label() if self.accident_type else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def weather_label(self) -> str | None:
        return self.weather.label() if self.weather else None


class TransitionOut(BaseModel):
    """What a state change answers: the new state and what the caller may do next."""

    id: int
    number: str
    state: str
    state_label: str
    allowed_actions: list[str]
    updated_at: datetime


class CaseSummary(BaseModel):
    id: int
    number: str
    state: str
    state_label: str
    reported_at: datetime
    waiting_seconds: int


class TimelineEventOut(BaseModel):
    at: datetime
    kind: str
    label: str
    state: str
    state_label: str
    # Who acted: the role's code (a page says it in its own language) and the label as the
    # viewer may see it (a party sees roles only, staff also the name).
    actor_role: Role
    actor: str
    detail: dict[str, Any]


class ChoiceOut(BaseModel):
    """One entry of a list a person picks from: the code to send, the label to show."""

    code: str
    label: str

    @classmethod
    def of(cls, member: Labelled) -> "ChoiceOut":
        return cls(code=member.value, label=member.label())


class CatalogueOut(BaseModel):
    """The lists the operator picks from, in their order, labelled in the reader's language."""

    accident_types: list[ChoiceOut]
    weather: list[ChoiceOut]
    plate_types: list[ChoiceOut]
    vehicle_types: list[ChoiceOut]

    @classmethod
    def read(cls) -> "CatalogueOut":
        return cls(
            accident_types=[ChoiceOut.of(m) for m in AccidentType],
            weather=[ChoiceOut.of(m) for m in Weather],
            plate_types=[ChoiceOut.of(m) for m in PlateType],
            vehicle_types=[ChoiceOut.of(m) for m in VehicleType],
        )
