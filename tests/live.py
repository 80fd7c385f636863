"""Real server processes for the browser and WebSocket tests: uvicorn, started like production."""

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from conftest import STAFF_PASSWORD, XIHU
from factories import id_number
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.auth.service import create_user
from kuaichu.clock import SystemClock, local
from kuaichu.db import Database
from kuaichu.demo.seed import DEMO_JURISDICTIONS
from kuaichu.geo.service import import_jurisdictions, read_feature_collection
from kuaichu.messages import Locale, messages
from kuaichu.migrate import upgrade
from kuaichu.notify.models import SmsMessage
from kuaichu.notify.templates import Sms
from kuaichu.principal import Role
from kuaichu.registries.synthetic import demo_drivers, load

SECRET = "live-test-secret-of-at-least-thirty-two-bytes"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[str]
    log: list[str]

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http") + "/ws"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(
    data_dir: Path, database_url: str, redis_url: str = "", *, as_deployed: bool = False, **settings: str
) -> LiveServer:
    """One uvicorn process; returns once it is listening. `as_deployed` starts it with the
    production command, `kuaichu serve` (proxy headers trusted from 127.0.0.1, access log on)."""
    port = free_port()
    env = {
        **os.environ,
        "KUAICHU_DATA_DIR": str(data_dir),
        "KUAICHU_DATABASE_URL": database_url,
        "KUAICHU_REDIS_URL": redis_url,
        "KUAICHU_SECRET_KEY": SECRET,
        "KUAICHU_JURISDICTIONS_FILE": str(DEMO_JURISDICTIONS),
        "KUAICHU_SMS_CODE_MIN_INTERVAL_SECONDS": "0",
        "KUAICHU_OUTBOX_POLL_SECONDS": "0.2",
        # Browser tests run at any hour of the real clock: video service all day unless a test says not.
        "KUAICHU_SERVICE_HOURS_START": "00:00",
        "KUAICHU_SERVICE_HOURS_END": "24:00",
        **{f"KUAICHU_{key.upper()}": value for key, value in settings.items()},
    }
    if as_deployed:
        env |= {"KUAICHU_HOST": "127.0.0.1", "KUAICHU_PORT": str(port)}
        command = [str(Path(sys.executable).with_name("kuaichu")), "serve"]
    else:
        command = [sys.executable, "-m", "uvicorn", "--factory", "kuaichu.app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    # One stream: uvicorn logs to stderr, its access log (as deployed) to stdout.
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    log: list[str] = []
    for line in process.stdout:
        log.append(line)
        if "Uvicorn running on" in line:  # bound and serving
            break
    else:
        raise RuntimeError("server did not start:\n" + "".join(log))

    def drain() -> None:  # keep the pipe from filling up
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)

    threading.Thread(target=drain, daemon=True).start()
    return LiveServer(f"http://127.0.0.1:{port}", process, log)


@contextmanager
def servers(
    data_dir: Path,
    database_url: str,
    count: int,
    redis_url: str = "",
    *,
    as_deployed: bool = False,
    **settings: str,
) -> Iterator[list[LiveServer]]:
    started: list[LiveServer] = []
    try:
        for _ in range(count):
            server = start_server(data_dir, database_url, redis_url, as_deployed=as_deployed, **settings)
            started.append(server)
        yield started
    finally:
        for server in started:
            server.stop()


def prepare_database(database_url: str) -> Database:
    """Migrated, with the demo jurisdictions, the demo's named drivers in the reference
    registry and a staff account per role the tests use."""
    upgrade(database_url)
    database = Database(database_url)
    now = SystemClock().now()

    def work(session: Session) -> None:
        jurisdictions = import_jurisdictions(session, read_feature_collection(DEMO_JURISDICTIONS))
        xihu = next(j for j in jurisdictions if j.code == "330106")
        load(session, demo_drivers(local(now).date()))
        session.flush()
        for username, role, name in (
            ("op-live", Role.OPERATOR, "王芳"),
            ("officer-live", Role.OFFICER, "赵刚"),
            ("reviewer-live", Role.REVIEWER, "孙丽"),
        ):
            create_user(
                session,
                username=username,
                password=STAFF_PASSWORD,
                role=role,
                display_name=name,
                jurisdiction_id=xihu.id if role is not Role.REVIEWER else None,
                now=now,
            )

    database.write_sync(work)
    return database


def wait_until(probe: Callable[[], T | None], timeout: float = 15.0, what: str = "condition") -> T:
    """For state only a query can see (a database row): probe until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


# Frames decoded from the peer (getStats) and a decoded picture size on the <video> element.
FRAMES_ARRIVE = """async () => {
  const pc = window.kuaichuPeer;
  const video = document.getElementById("remote-video");
  if (!pc || !video || video.videoWidth === 0) return false;
  const stats = await pc.getStats();
  let frames = 0;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
  });
  return frames > 5;
}"""


def until_true(page: Page, script: str, timeout: float = 20.0, what: str = "the page's probe") -> None:
    """For an async probe in the page (getStats): Playwright's wait_for_function takes the
    promise an async function returns as a true answer at once, so the probe is run here
    again and again (page.evaluate awaits it) until it answers true."""
    deadline = time.monotonic() + timeout
    while page.evaluate(script) is not True:
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        page.wait_for_timeout(100)


def _login_sms(locale: Locale) -> re.Pattern[str]:
    """The login SMS of `locale` as a pattern: its wording from the catalogue, the code captured."""
    pattern = re.escape(messages(locale)[Sms.LOGIN_CODE.key])
    pattern = pattern.replace(re.escape("{code}"), r"(?P<code>\d{6})", 1)
    return re.compile(re.sub(r"\\\{\w+\\\}", ".*?", pattern))


LOGIN_SMS = [_login_sms(locale) for locale in Locale]


def login_code(database: Database, phone: str, since: datetime) -> str:
    """The code of the login SMS sent to `phone` at or after `since`, once it has arrived.

    Only an SMS worded as a login code counts (in any locale): another SMS to the same phone
    (a determination's, written earlier but delivered late) must not be taken for it."""

    def read(session: Session) -> str | None:
        texts = session.scalars(
            select(SmsMessage.text)
            .where(SmsMessage.phone == phone, SmsMessage.sent_at >= since)
            .order_by(SmsMessage.id.desc())
        )
        for text in texts:
            for pattern in LOGIN_SMS:
                if found := pattern.fullmatch(text):
                    return found["code"]
        return None

    return wait_until(lambda: database.write_sync(read), what=f"the login SMS to {phone}")


# The browser's pages.


def party_context_page(browser: Browser, base_url: str, locale: str = "zh-CN", **options: object) -> Page:
    """A phone at the scene in Xihu, its browser set to `locale`."""
    context = browser.new_context(
        **options,
        base_url=base_url,
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": XIHU["lat"], "longitude": XIHU["lng"]},
        permissions=["geolocation", "camera", "microphone"],
        locale=locale,
    )
    return context.new_page()


def operator_context_page(browser: Browser, base_url: str, **options: object) -> Page:
    context = browser.new_context(
        **options,
        base_url=base_url,
        viewport={"width": 1366, "height": 768},
        permissions=["camera", "microphone"],
    )
    return context.new_page()


def staff_logs_in(page: Page, path: str, username: str) -> str:
    """Logs in on a staff page; returns the page's token for the API steps in between."""
    page.goto(path)
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-view")).to_be_hidden()
    return page.evaluate(f"sessionStorage.getItem('kuaichu.{path.strip('/')}.token')")


def party_logs_in(page: Page, database: Database, phone: str) -> None:
    """The SMS login on the party page."""
    page.goto("/party")
    page.fill("#phone", phone)
    since = SystemClock().now()
    page.click("#send-code")
    page.fill("#code", login_code(database, phone, since))
    page.click("#login")
    expect(page.locator("#home-view")).to_be_visible()


def fill_party(console: Page, index: int, phone: str, plate: str, name: str, serial: str) -> None:
    """The operator types party `index` into the console's parties form."""
    number = id_number(serial=serial)
    for field, value in (
        ("name", name),
        ("phone", phone),
        ("id_number", number),
        ("licence_number", number),
        ("plate_number", plate),
        ("insurer_code", "PICC"),
    ):
        console.fill(f'[name="{field}-{index}"]', value)


@contextmanager
def call_pages(
    browser: Browser, party_url: str, operator_url: str, locale: str = "zh-CN", **options: object
) -> Iterator[tuple[Page, Page]]:
    """The party's phone (its browser set to `locale`) and the operator's console, closed
    afterwards (their sockets too)."""
    party = party_context_page(browser, party_url, locale, **options)
    console = operator_context_page(browser, operator_url, **options)
    try:
        yield party, console
    except Exception as error:
        # What the pages told their users, for a failure's report.
        for name, page in (("party", party), ("console", console)):
            error.add_note(f"{name} page message: {page.locator('#message').text_content()!r}")
        raise
    finally:
        party.context.close()
        console.context.close()
