"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and both event buses."""

import os
import re
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from chromium import CHROMIUM, CHROMIUM_ARGS
from fastapi import FastAPI
from playwright.sync_api import Browser, expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.app import create_app
from kuaichu.auth.service import create_user, party_principal
from kuaichu.bus import EventBus, InProcessBus, RedisBus
from kuaichu.clock import SHANGHAI, FrozenClock
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.db import Database
from kuaichu.demo.seed import DEMO_JURISDICTIONS
from kuaichu.geo.models import Jurisdiction
from kuaichu.migrate import upgrade
from kuaichu.notify.models import SmsMessage
from kuaichu.principal import Role
from kuaichu.settings import Settings
from kuaichu.tables import Base
from kuaichu.web.context import AppContext

POSTGRES_ADMIN_URL = os.environ.get("KUAICHU_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KUAICHU_TEST_REDIS", "redis://127.0.0.1:6379/15")
# A real S3 server (SeaweedFS) and a bucket per test: fixtures object_store, evidence_bucket.
pytest_plugins = ["s3"]


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


POSTGRES_UP = _reachable("127.0.0.1", 5432)
REDIS_UP = _reachable("127.0.0.1", 6379)
requires_postgres = pytest.mark.skipif(not POSTGRES_UP, reason="PostgreSQL not reachable")
requires_redis = pytest.mark.skipif(not REDIS_UP, reason="Redis not reachable")

requires_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium not installed")
# How long a page may take to show what a test expects. Playwright's 5 s ceiling was crossed on
# this shared 2-core machine under load (a collection-complete through nginx with two processes
# on PostgreSQL); a ceiling is no timing assertion: a page that shows it sooner passes sooner.
expect.set_options(timeout=15_000)


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=[requires_postgres, pytest.mark.postgres]),
]
BUSES = [
    pytest.param("inprocess", id="inprocess"),
    pytest.param("redis", id="redis", marks=requires_redis),
]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "kuaichu.db"
    upgrade(f"sqlite:///{path}")
    return path


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with scratch_postgres("kuaichu_test") as url:
        upgrade(url)
        yield url


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty database of its own, for tests that start server processes on it."""
    with scratch_postgres("kuaichu_live") as url:
        yield url


def empty_postgres(url: str) -> None:
    """TRUNCATE fires no row triggers, so the append-only audit tables empty too."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, unmigrated database of its own: for tests that walk the migrations."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kuaichu.db'}"
        return
    with scratch_postgres("kuaichu_migration") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database for this test alone."""
    if request.param == "sqlite":
        path = tmp_path / "kuaichu.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture(params=BUSES)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    event_bus: EventBus = (
        InProcessBus()
        if request.param == "inprocess"
        else RedisBus(REDIS_URL, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    )
    yield event_bus
    await event_bus.close()


@pytest.fixture(scope="session")
def live_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server of this session's own, on a unix socket, for the app processes a test
    starts. They publish on the app's fixed channel prefix, and Redis's pub/sub channels are
    shared by all its databases: on the shared Redis, two tests' processes running at once (two
    pytest-xdist workers, each with case 1 in its own database) would hear each other's events."""
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.skip("redis-server not installed")
    directory = tmp_path_factory.mktemp("redis")
    socket_path = directory / "redis.sock"
    process = subprocess.Popen(
        [redis_server, "--port", "0", "--unixsocket", str(socket_path), "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    log: list[str] = []
    for line in process.stdout:
        log.append(line)
        if "ready to accept connections" in line.lower():
            break
    else:
        raise RuntimeError("redis-server did not start:\n" + "".join(log))
    # Its log read on to the end, so that a full pipe never stops the server.
    threading.Thread(target=lambda: log.extend(process.stdout or ()), daemon=True).start()
    try:
        yield f"unix://{socket_path}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(os.environ.get("KUAICHU_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


# The application, driven through HTTP.

SHANGHAI_MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)
XIHU = {"lat": 30.26, "lng": 120.10}  # inside jurisdiction 330106
SHANGCHENG = {"lat": 30.26, "lng": 120.20}  # inside jurisdiction 330102
STAFF_PASSWORD = "correct-horse-42"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(SHANGHAI_MORNING)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-of-at-least-thirty-two-bytes",
        jurisdictions_file=DEMO_JURISDICTIONS,
        run_dispatcher=False,
        sms_code_min_interval_seconds=0,
    )


class Api:
    """A test's view of the running app: an HTTP client plus the few levers a test needs."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @property
    def context(self) -> AppContext:
        return self.app.state.context

    async def deliver_outbox(self) -> int:
        return await self.app.state.dispatcher.run_once()

    async def documents_made(self) -> int:
        """Await the document job: every determination's document made, signed and stored (the
        job also runs by itself when a determination commits; this waits for that run too)."""
        return await self.app.state.documents.run_once()

    async def signals_recomputed(self) -> int:
        """Await the signal job: every case another case's cross-case finding named computed
        again (the job also runs by itself when a collection-complete or an evacuation commits;
        this waits for that run too). Returns how many cases this run computed."""
        return await self.app.state.signal_job.run_once()

    async def sms_to(self, phone: str) -> list[str]:
        await self.deliver_outbox()

        def texts(session: Session) -> list[str]:
            query = select(SmsMessage.text).where(SmsMessage.phone == phone).order_by(SmsMessage.id)
            return list(session.scalars(query))

        return await self.context.database.read(texts)

    async def party(self, phone: str) -> dict[str, str]:
        """Log a party in the way a phone does: ask for a code, read the SMS, send it back."""
        response = await self.client.post("/api/auth/sms-code", json={"phone": phone})
        assert response.status_code == 202, response.text
        code = re.findall(r"验证码为(\d{6})", (await self.sms_to(phone))[-1])[0]
        response = await self.client.post("/api/auth/party", json={"phone": phone, "code": code})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def party_token(self, phone: str) -> dict[str, str]:
        """A party already logged in, for tests of many callers (the SMS login has its own)."""
        token = self.context.tokens.issue(party_principal(phone), self.context.clock.now())
        return {"Authorization": f"Bearer {token}"}

    async def agreed_party(self, phone: str) -> dict[str, str]:
        """A party logged in who has read and agreed to the recording notice (个人信息保护法),
        as the page asks before the first call."""
        headers = self.party_token(phone)
        body = {"version": PRIVACY_NOTICE_VERSION}
        response = await self.client.post("/api/consents", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return headers

    async def staff(self, username: str, role: Role, jurisdiction_code: str | None = None) -> dict[str, str]:
        """Create a staff account and log it in."""

        def create(session: Session) -> None:
            jurisdiction_id = (
                session.scalar(select(Jurisdiction.id).where(Jurisdiction.code == jurisdiction_code))
                if jurisdiction_code
                else None
            )
            create_user(
                session,
                username=username,
                password=STAFF_PASSWORD,
                role=role,
                display_name=f"{username}姓名",
                jurisdiction_id=jurisdiction_id,
                badge_number="10086" if role is Role.OFFICER else None,
                now=self.context.clock.now(),
            )

        await self.context.database.write(create)
        response = await self.client.post(
            "/api/auth/staff", json={"username": username, "password": STAFF_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def api(settings: Settings, clock: FrozenClock, database: Database) -> AsyncIterator[Api]:
    app = create_app(settings, clock)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kuaichu.test") as client:
            yield Api(app, client)


@pytest.fixture
async def taken_call(api: Api) -> tuple[int, dict[str, str]]:
    """A party reported by video call and the Xihu operator took it; nothing is recorded yet.
    Gives the case id and the operator's headers."""
    reporter = await api.agreed_party("13800000001")
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    await api.client.post(f"/api/cases/{case_id}/take", headers=operator)
    return case_id, operator


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, driven by Playwright (its own browser download does not work here)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
