from datetime import datetime
from typing import Any

from pydantic import BaseModel, computed_field

from kuaichu.cases.catalogue import VehicleType, as_vehicle_type
from kuaichu.messages import Labelled


class RegistryKind(Labelled):
    """The three registries each party is checked against, in the order they are shown."""

    LICENCE = "licence"
    VEHICLE = "vehicle"
    INSURANCE = "insurance"


class CheckOutcome(Labelled):
    PASSED = "passed"
    FAILED = "failed"
    # The registry did not answer: the check is to be run again, nothing is concluded.
    UNAVAILABLE = "unavailable"


class FailureOut(BaseModel):
    code: str
    reason: str  # in Chinese, as stored for the record
    # With the code, the catalogue's RegistryFailure.<code> says it in the reader's language
    # (empty for checks stored before the params were).
    params: dict[str, str] = {}


class CheckOut(BaseModel):
    party_position: int
    party_name: str
    plate_number: str
    kind: RegistryKind
    kind_label: str
    outcome: CheckOutcome
    failures: list[FailureOut]
    found: dict[str, Any]
    checked_at: datetime


class LookupOut(BaseModel):
    """What the registries know of a driver or vehicle, to fill the party's form (查询预填)."""

    name: str | None
    licence_number: str | None
    licence_status: str | None
    plate_number: str | None
    plate_type: str | None
    vehicle_type: str | None
    insurer_code: str | None
    insurer_name: str | None
    policy_number: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def vehicle_type_label(self) -> str | None:
        """The registry's vehicle type as the reader says it (a code outside the list as it is)."""
        if self.vehicle_type is None:
            return None
        kind = as_vehicle_type(self.vehicle_type)
        return kind.label() if isinstance(kind, VehicleType) else kind
