from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime

# The reference registry: synthetic records standing in for the national databases.


class RegistryLicence(Base):
    """A driving licence (驾驶证) as the licence registry knows it."""

    __tablename__ = "registry_licences"

    number: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    # 准驾车型, e.g. "C1" or "A1A2" (several classes run together, as printed on the licence).
    classes: Mapped[str] = mapped_column(String(16))
    # 正常/暂扣/吊销/注销/超分
    status: Mapped[str] = mapped_column(String(8))
    valid_until: Mapped[date] = mapped_column(Date)


class RegistryVehicle(Base):
    """A registered motor vehicle (机动车) as the vehicle registry knows it."""

    __tablename__ = "registry_vehicles"

    plate_number: Mapped[str] = mapped_column(String(10), primary_key=True)
    plate_type: Mapped[str] = mapped_column(String(2), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    vehicle_type: Mapped[str] = mapped_column(String(16))
    # 正常/被盗抢/报废/查封/逾期未检验
    status: Mapped[str] = mapped_column(String(8))
    inspection_valid_until: Mapped[date] = mapped_column(Date)


class RegistryPolicy(Base):
    """A compulsory insurance policy (交强险保单)."""

    __tablename__ = "registry_policies"
    __table_args__ = (Index("ix_registry_policies_plate", "plate_number", "plate_type"),)

    policy_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    insurer_code: Mapped[str] = mapped_column(String(16))
    insurer_name: Mapped[str] = mapped_column(String(64))
    plate_number: Mapped[str] = mapped_column(String(10))
    plate_type: Mapped[str] = mapped_column(String(2))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)


class RegistryCheck(Base):
    """One party's registry check (licence, vehicle or insurance) on a case, kept with its time."""

    __tablename__ = "registry_checks"
    __table_args__ = (Index("ix_registry_checks_case", "case_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    party_position: Mapped[int]
    # What was checked (a digest of the party's entered data): a re-entered party is checked anew.
    subject: Mapped[str] = mapped_column(String(64))
    # licence / vehicle / insurance
    kind: Mapped[str] = mapped_column(String(16))
    # passed / failed / unavailable (the registry could not be asked)
    outcome: Mapped[str] = mapped_column(String(12))
    # [{"code": "licence_expired", "reason": "驾驶证已于2026-01-01过期", "params": {"date": "2026-01-01"}}]
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # What the registry said, for the console (no ID numbers: the operator has those already).
    found: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime)
