"""The three registries behind one interface each, and their two implementations.

`ReferenceRegistry` reads the synthetic registry inside the database (demo, tests);
`HttpRegistry` asks a real registry over JSON, with timeouts, retries and a circuit breaker so
a slow or failing registry costs the operator one fast "unavailable", never a stalled call.
"""

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import httpx
import pybreaker
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kuaichu.messages import DEFAULT_LOCALE, Labelled
from kuaichu.registries.models import RegistryLicence, RegistryPolicy, RegistryVehicle

log = logging.getLogger(__name__)


class RegistryOutage(Labelled):
    """Why a registry could not answer."""

    NO_ANSWER = "no_answer"  # a timeout, a transport or server error, an answer we can't read
    BREAKER_OPEN = "breaker_open"  # it failed too often just now: not asked until the cool-down


class RegistryUnavailable(Exception):
    """The registry could not answer (timeout, error, or the breaker is open)."""

    def __init__(self, cause: RegistryOutage) -> None:
        super().__init__(cause.label(DEFAULT_LOCALE))
        self.cause = cause


@dataclass(frozen=True)
class LicenceRecord:
    number: str
    name: str
    classes: str
    status: str
    valid_until: date


@dataclass(frozen=True)
class VehicleRecord:
    plate_number: str
    plate_type: str  # GA 24.7 code, e.g. 02 (小型汽车)
    owner: str
    vehicle_type: str  # GA 24.4 code, e.g. K33 (小型轿车): what the party's entry is checked against
    status: str
    inspection_valid_until: date


@dataclass(frozen=True)
class PolicyRecord:
    policy_number: str
    insurer_code: str
    insurer_name: str
    plate_number: str
    plate_type: str
    starts_on: date
    ends_on: date


class LicenceRegistry(Protocol):
    def licence(self, number: str) -> LicenceRecord | None: ...


class VehicleRegistry(Protocol):
    def vehicle(self, plate_number: str, plate_type: str) -> VehicleRecord | None: ...


class InsuranceRegistry(Protocol):
    def policies(self, plate_number: str, plate_type: str) -> list[PolicyRecord]: ...


class Registries(LicenceRegistry, VehicleRegistry, InsuranceRegistry, Protocol):
    """One object may serve all three (both implementations here do)."""


class ReferenceRegistry:
    """The registry inside the database, read in its own short read-only session."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def licence(self, number: str) -> LicenceRecord | None:
        with Session(self._engine) as session:
            row = session.get(RegistryLicence, number)
            return (
                None
                if row is None
                else LicenceRecord(row.number, row.name, row.classes, row.status, row.valid_until)
            )

    def vehicle(self, plate_number: str, plate_type: str) -> VehicleRecord | None:
        with Session(self._engine) as session:
            row = session.get(RegistryVehicle, (plate_number, plate_type))
            return (
                None
                if row is None
                else VehicleRecord(
                    row.plate_number,
                    row.plate_type,
                    row.owner,
                    row.vehicle_type,
                    row.status,
                    row.inspection_valid_until,
                )
            )

    def policies(self, plate_number: str, plate_type: str) -> list[PolicyRecord]:
        with Session(self._engine) as session:
            rows = session.scalars(
                select(RegistryPolicy)
                .where(RegistryPolicy.plate_number == plate_number, RegistryPolicy.plate_type == plate_type)
                .order_by(RegistryPolicy.ends_on.desc())
            )
            return [
                PolicyRecord(
                    r.policy_number,
                    r.insurer_code,
                    r.insurer_name,
                    r.plate_number,
                    r.plate_type,
                    r.starts_on,
                    r.ends_on,
                )
                for r in rows
            ]


class HttpRegistry:
    """A real registry's JSON API:

    GET {base}/licences/{number}                      -> licence object, 404 when unknown
    GET {base}/vehicles/{plate_type}/{plate_number}   -> vehicle object, 404 when unknown
    GET {base}/policies?plate_number=..&plate_type=.. -> {"policies": [policy object, ...]}

    Objects carry the fields of the record classes above, dates as ISO strings.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str = "",
        timeout_seconds: float = 2.0,
        retries: int = 1,
        breaker: pybreaker.CircuitBreaker | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_seconds, headers=headers, transport=transport
        )
        self._retries = retries
        self.breaker = breaker or pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30, name="registry")

    def close(self) -> None:
        self._client.close()

    def licence(self, number: str) -> LicenceRecord | None:
        body = self._get(f"/licences/{number}")
        return None if body is None else _licence(body)

    def vehicle(self, plate_number: str, plate_type: str) -> VehicleRecord | None:
        body = self._get(f"/vehicles/{plate_type}/{plate_number}")
        return None if body is None else _vehicle(body)

    def policies(self, plate_number: str, plate_type: str) -> list[PolicyRecord]:
        body = self._get("/policies", {"plate_number": plate_number, "plate_type": plate_type})
        return [_policy(item) for item in (body or {}).get("policies", [])]

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any] | None:
        try:
            return self.breaker.call(self._get_with_retries, path, params)
        except pybreaker.CircuitBreakerError as error:
            raise RegistryUnavailable(RegistryOutage.BREAKER_OPEN) from error
        except (httpx.HTTPError, ValueError, KeyError) as error:
            # The path names a licence or a plate: log the kind of failure only.
            log.warning("registry lookup failed: %s", type(error).__name__)
            raise RegistryUnavailable(RegistryOutage.NO_ANSWER) from error

    def _get_with_retries(self, path: str, params: dict[str, str] | None) -> dict[str, Any] | None:
        # Retries happen inside one breaker call: a lookup that fails after its retries
        # counts once towards opening the breaker.
        attempt = 0
        while True:
            try:
                response = self._client.get(path, params=params)
            except httpx.TransportError:
                if attempt >= self._retries:
                    raise
            else:
                if response.status_code == 404:
                    return None
                if response.status_code < 500 or attempt >= self._retries:
                    response.raise_for_status()
                    return response.json()
            attempt += 1


def _day(value: str) -> date:
    return date.fromisoformat(value)


def _licence(body: dict[str, Any]) -> LicenceRecord:
    return LicenceRecord(
        body["number"], body["name"], body["classes"], body["status"], _day(body["valid_until"])
    )


def _vehicle(body: dict[str, Any]) -> VehicleRecord:
    return VehicleRecord(
        body["plate_number"],
        body["plate_type"],
        body["owner"],
        body["vehicle_type"],
        body["status"],
        _day(body["inspection_valid_until"]),
    )


def _policy(body: dict[str, Any]) -> PolicyRecord:
    return PolicyRecord(
        body["policy_number"],
        body["insurer_code"],
        body["insurer_name"],
        body["plate_number"],
        body["plate_type"],
        _day(body["starts_on"]),
        _day(body["ends_on"]),
    )
