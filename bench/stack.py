"""What the benchmarks that drive real server processes share: a scratch database (SQLite
file or a PostgreSQL database of its own), the city's people in it, uvicorn processes started
like production, tokens, percentiles and the machine's load.

Not a test helper: tests/live.py needs the test suite's conftest and Playwright; this needs
nothing beyond the project."""

import os
import socket
import statistics
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import uvicorn
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kuaichu.auth.service import TokenService, create_insurer, create_user, party_principal, staff_principal
from kuaichu.cases.catalogue import VehicleType
from kuaichu.clock import SystemClock, local
from kuaichu.db import Database
from kuaichu.demo.seed import DEMO_JURISDICTIONS
from kuaichu.geo.service import import_jurisdictions, read_feature_collection
from kuaichu.migrate import upgrade
from kuaichu.principal import Role
from kuaichu.registries.synthetic import SyntheticPerson, demo_drivers, generate, load

SECRET = "bench-secret-of-at-least-thirty-two-bytes"
PASSWORD = "bench-password-42"
POSTGRES_ADMIN_URL = os.environ.get("KUAICHU_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KUAICHU_BENCH_REDIS", "redis://127.0.0.1:6379/14")
XIHU_CODE = "330106"
TOKENS = TokenService(SECRET, 24, 24 * 60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def scratch_database(backend: str, directory: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file in `directory`, or a PostgreSQL database of
    its own (127.0.0.1:5432), dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'kuaichu.db'}"
        upgrade(url)
        yield url
        return
    name = f"kuaichu_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Staff:
    username: str
    id: int
    headers: dict[str, str]


INSURERS = (("PICC", "中国人民财产保险"), ("CPIC", "中国太平洋财产保险"), ("PAIC", "中国平安财产保险"))


def city_drivers(today: date, count: int) -> list[SyntheticPerson]:
    """`count` different drivers, each in order in the registries (licence, vehicle and policy
    in force) at the wheel of a small car: a city's accidents are between different people, and
    the same two drivers in every case would make each case name all the others in its
    cross-case signals (kuaichu.signals), which no city's traffic looks like."""
    drawn = generate(count * 10, INSURERS, today, seed=2026)
    fit = [
        person
        for person in drawn
        if person.licence.status == "正常"
        and person.licence.valid_until > today
        and person.vehicle.status == "正常"
        and person.vehicle.vehicle_type == VehicleType.SMALL_CAR
        and person.vehicle.inspection_valid_until > today
        and person.policy is not None
        and person.policy.starts_on <= today <= person.policy.ends_on
    ]
    if len(fit) < count:
        raise ValueError(f"only {len(fit)} drivers in order among {len(drawn)} drawn")
    return fit[:count]


def seed_city(
    url: str,
    operators: int,
    officers: int,
    webhook_url: str | None = None,
    drivers: Sequence[SyntheticPerson] = (),
) -> tuple[list[Staff], list[Staff]]:
    """The demo jurisdictions, the demo's drivers and `drivers` in the reference registry, their
    insurers (claims pushed to `webhook_url`), and Xihu's operators and officers (with tokens, as
    if logged in)."""
    database = Database(url)
    now = SystemClock().now()

    def work(session: Session) -> tuple[list[Staff], list[Staff]]:
        jurisdictions = import_jurisdictions(session, read_feature_collection(DEMO_JURISDICTIONS))
        xihu = next(j for j in jurisdictions if j.code == XIHU_CODE)
        load(session, [*demo_drivers(local(now).date()), *drivers])
        for code, name in INSURERS:
            create_insurer(session, code=code, name=name, webhook_url=webhook_url, now=now)
        made: dict[Role, list[Staff]] = {Role.OPERATOR: [], Role.OFFICER: []}
        for role, count, prefix in ((Role.OPERATOR, operators, "op"), (Role.OFFICER, officers, "officer")):
            for index in range(count):
                user = create_user(
                    session,
                    username=f"{prefix}-{index}",
                    password=PASSWORD,
                    role=role,
                    display_name=f"{prefix}{index}",
                    jurisdiction_id=xihu.id,
                    badge_number=f"{10000 + index}" if role is Role.OFFICER else None,
                    now=now,
                )
                session.flush()
                session.refresh(user)  # the session version the database gave it
                token = TOKENS.issue(staff_principal(user), now)
                made[role].append(Staff(user.username, user.id, {"Authorization": f"Bearer {token}"}))
        return made[Role.OPERATOR], made[Role.OFFICER]

    staff = database.write_sync(work)
    database.dispose()
    return staff


def party_headers(phone: str) -> dict[str, str]:
    """A phone logged in (for benchmarks that measure something else than the SMS login)."""
    return {"Authorization": f"Bearer {TOKENS.issue(party_principal(phone), SystemClock().now())}"}


def accident_day() -> date:
    return local(SystemClock().now()).date()


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    log: list[str]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(data_dir: Path, database_url: str, redis_url: str = "", **settings: str) -> Server:
    """One uvicorn process as deployed (no access log, proxy headers from 127.0.0.1, so each
    simulated phone can come from its own address); returns once it listens."""
    port = free_port()
    env = {
        **os.environ,
        "KUAICHU_DATA_DIR": str(data_dir),
        "KUAICHU_DATABASE_URL": database_url,
        "KUAICHU_REDIS_URL": redis_url,
        "KUAICHU_SECRET_KEY": SECRET,
        "KUAICHU_SMS_CODE_MIN_INTERVAL_SECONDS": "0",
        "KUAICHU_SERVICE_HOURS_START": "00:00",
        "KUAICHU_SERVICE_HOURS_END": "24:00",
        **{f"KUAICHU_{key.upper()}": value for key, value in settings.items()},
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "kuaichu.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return _listening(Server(f"http://127.0.0.1:{port}", process, []), port)


def _listening(server: Server, port: int) -> Server:
    """Once the process listens on `port` (--log-level warning hides "Uvicorn running on")."""
    process = server.process
    threading.Thread(target=lambda: server.log.extend(process.stdout or []), daemon=True).start()
    # Up to about five minutes: on the shared machine under a load of 30 and more, importing the
    # app and migrating a scratch database alone took over a minute.
    for _ in range(3000):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return server
        except OSError:
            if process.poll() is not None:
                break
            threading.Event().wait(0.1)
    process.kill()
    raise RuntimeError("server did not start:\n" + "".join(server.log))


def start_insurer() -> Server:
    """An insurer's system that takes every claim pushed to POST /claims (its own process)."""
    port = free_port()
    command = [sys.executable, __file__, "insurer", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return _listening(Server(f"http://127.0.0.1:{port}", process, []), port)


def _insurer(port: int) -> None:
    async def claim(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"received": request.headers.get("webhook-id")})

    app = Starlette(routes=[Route("/claims", claim, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (p99 of 100 values is the 99th)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def summary_ms(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"median {statistics.median(values) * 1000:7.1f} ms  p95 {percentile(values, 0.95) * 1000:7.1f}"
        f"  p99 {percentile(values, 0.99) * 1000:7.1f}  max {max(values) * 1000:7.1f}  (n={len(values)})"
    )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


if __name__ == "__main__" and sys.argv[1:2] == ["insurer"]:
    _insurer(int(sys.argv[2]))
