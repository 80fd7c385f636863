"""What each registry answer means for a party on the accident date: failures with reasons.

Pure functions: the records in, the failures out. A failure's code is stable (eligibility
reads it) and names its text in the catalogue, `RegistryFailure.<code>`, filled from its params.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kuaichu.cases.catalogue import VehicleType, as_vehicle_type
from kuaichu.messages import Text
from kuaichu.registries.adapters import LicenceRecord, PolicyRecord, VehicleRecord

# Which classes (准驾车型) each class on a licence also permits (公安部令第162号, annex 1).
COVERS = {
    "A1": {"A1", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "M"},
    "A2": {"A2", "B1", "B2", "C1", "C2", "C3", "C4", "M"},
    "A3": {"A3", "C1", "C2", "C3", "C4"},
    "B1": {"B1", "C1", "C2", "C3", "C4", "M"},
    "B2": {"B2", "C1", "C2", "C3", "C4", "M"},
    "C1": {"C1", "C2", "C3", "C4"},
    "C2": {"C2"},
    "C3": {"C3", "C4"},
    "C4": {"C4"},
    "D": {"D", "E", "F"},
    "E": {"E", "F"},
    "F": {"F"},
    "M": {"M"},
}

# The class a vehicle type needs. Small passenger cars need C2 (automatic), which C1 also covers.
REQUIRED_CLASS = {
    VehicleType.SMALL_CAR: "C2",
    VehicleType.SMALL_BUS: "C2",
    VehicleType.SMALL_OFF_ROAD: "C2",
    VehicleType.MEDIUM_BUS: "B1",
    VehicleType.LARGE_BUS: "A1",
    VehicleType.LIGHT_TRUCK: "C1",
    VehicleType.MEDIUM_TRUCK: "B2",
    VehicleType.HEAVY_TRUCK: "B2",
    VehicleType.HEAVY_SEMI_TRAILER_TRACTOR: "A2",
    VehicleType.MOTORCYCLE: "E",
}

LICENCE_STATUS_FAILURES = {
    "暂扣": "licence_suspended",
    "吊销": "licence_revoked",
    "注销": "licence_cancelled",
    "超分": "licence_points_exceeded",
}
VEHICLE_STATUS_FAILURES = {
    "被盗抢": "vehicle_stolen",
    "报废": "vehicle_scrapped",
    "查封": "vehicle_seized",
}


# Params that hold a vehicle type's code: a failure says its label.
VEHICLE_TYPE_PARAMS = frozenset({"vehicle_type", "registered", "recorded"})


@dataclass(frozen=True)
class Failure:
    """Why a check failed. The check stores its reason in Chinese (failures[].reason: the record
    of what the operator was shown, kept as it was said); it stores the code and params too, so
    a reader in another language is told the same from the catalogue, RegistryFailure.<code>."""

    code: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def said(self) -> Text:
        return Text(
            f"RegistryFailure.{self.code}",
            **{
                name: as_vehicle_type(value) if name in VEHICLE_TYPE_PARAMS else value
                for name, value in self.params.items()
            },
        )

    @property
    def reason(self) -> str:
        return self.said.render()


@dataclass
class Finding:
    """One check's result: no failures means passed."""

    kind: str
    failures: list[Failure] = field(default_factory=list)
    found: dict[str, Any] = field(default_factory=dict)

    def fail(self, code: str, **params: str) -> None:
        # A param that names a person's data takes its name from privacy.PERSONAL_KEYS
        # (plate_number, policy_number): retention masks it there like everywhere else.
        self.failures.append(Failure(code, params))


def permitted_classes(classes: str) -> set[str]:
    permitted: set[str] = set()
    for token in re.findall(r"[A-Z]\d?", classes.upper()):
        permitted |= COVERS.get(token, {token})
    return permitted


def check_licence(record: LicenceRecord | None, name: str, vehicle_type: str, on: date) -> Finding:
    finding = Finding("licence")
    if record is None:
        finding.fail("licence_not_found")
        return finding
    finding.found = {
        "classes": record.classes,
        "status": record.status,
        "valid_until": str(record.valid_until),
    }
    if record.name != name:
        finding.fail("licence_name_mismatch")
    if record.status in LICENCE_STATUS_FAILURES:
        finding.fail(LICENCE_STATUS_FAILURES[record.status])
    if record.valid_until < on:
        finding.fail("licence_expired", date=record.valid_until.isoformat())
    required = REQUIRED_CLASS.get(vehicle_type)
    if required and required not in permitted_classes(record.classes):
        finding.fail(
            "licence_class_mismatch", classes=record.classes, vehicle_type=vehicle_type, required=required
        )
    return finding


def check_vehicle(record: VehicleRecord | None, plate_number: str, vehicle_type: str, on: date) -> Finding:
    finding = Finding("vehicle")
    if record is None:
        finding.fail("vehicle_not_found", plate_number=plate_number)
        return finding
    finding.found = {
        "owner": record.owner,
        "vehicle_type": record.vehicle_type,
        "status": record.status,
        "inspection_valid_until": str(record.inspection_valid_until),
    }
    if record.status in VEHICLE_STATUS_FAILURES:
        finding.fail(VEHICLE_STATUS_FAILURES[record.status])
    if record.status == "逾期未检验" or record.inspection_valid_until < on:
        finding.fail("vehicle_inspection_overdue", date=record.inspection_valid_until.isoformat())
    if record.vehicle_type != vehicle_type:
        finding.fail("vehicle_type_mismatch", registered=record.vehicle_type, recorded=vehicle_type)
    return finding


def check_insurance(policies: list[PolicyRecord], policy_number: str | None, on: date) -> Finding:
    finding = Finding("insurance")
    if not policies:
        finding.fail("uninsured")
        return finding
    in_force = [p for p in policies if p.starts_on <= on <= p.ends_on]
    if not in_force:
        latest = policies[0]
        finding.fail(
            "insurance_not_valid_on_date",
            starts=latest.starts_on.isoformat(),
            ends=latest.ends_on.isoformat(),
        )
        return finding
    policy = next((p for p in in_force if p.policy_number == policy_number), in_force[0])
    finding.found = {
        "policy_number": policy.policy_number,
        "insurer_code": policy.insurer_code,
        "insurer_name": policy.insurer_name,
        "starts_on": str(policy.starts_on),
        "ends_on": str(policy.ends_on),
    }
    if policy_number and policy.policy_number != policy_number:
        finding.fail("policy_number_mismatch", policy_number=policy.policy_number)
    return finding
