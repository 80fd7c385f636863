"""A real Janus for the media tests, with the app and Chromium beside it, in a network namespace
the test makes and removes (tests/netns.py: only there does Janus gather ICE candidates that
Chromium reaches).

Janus, the app server the browser talks to (it reaches Janus's API at 127.0.0.1) and Chromium
(through a wrapper script that Playwright starts) run inside; the test process stays outside and
reads the app's SQLite database and evidence folder directly. Only 127.0.0.0/8 inside the
namespace carries traffic.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS
from conftest import STAFF_PASSWORD
from live import SECRET, LiveServer, login_code, prepare_database, wait_until
from netns import NAMESPACE_CHROMIUM_ARGS, Namespace, janus_config, network_namespace, stop
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.auth.service import create_user
from kuaichu.clock import SystemClock
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.db import Database
from kuaichu.demo.seed import DEMO_JURISDICTIONS
from kuaichu.geo.models import Jurisdiction
from kuaichu.media.config import write
from kuaichu.principal import Role
from kuaichu.settings import JanusNode

requires_janus = pytest.mark.skipif(
    os.geteuid() != 0
    or not Path(CHROMIUM).exists()
    or not all(shutil.which(tool) for tool in ("janus", "janus-pp-rec", "ffmpeg", "ip")),
    reason="needs root (network namespaces), Janus, janus-tools, ffmpeg and Chromium",
)

API_SECRET = "janus-api-secret-of-the-tests"
ADMIN_SECRET = "janus-admin-secret-of-the-tests"
APP_PORT = 8000  # the namespace is new: every port is free
HARNESS = Path(__file__).with_name("janus_harness.js")
# Every other participant's feed on this page shows decoded frames and has a picture size.
ALL_FEEDS_DECODED = """async () => {{
  const room = window.kuaichuRoom;
  if (!room || room.feeds.size !== {count}) return false;
  for (const [feed, entry] of room.feeds) {{
    if (!entry.video || entry.video.videoWidth === 0) return false;
    if ((await room.framesDecoded(feed)) === 0) return false;
  }}
  return true;
}}"""


@contextmanager
def janus(namespace: Namespace, folder: Path) -> Iterator[JanusNode]:
    """Janus with its own configuration folder (kuaichu.media.config), until the block ends."""
    config = janus_config("kuaichu-test", API_SECRET, ADMIN_SECRET)
    configuration = write(config, folder)
    log = folder / "janus.log"
    # -N: no stdout logging, -o: no colours in the log.
    command = namespace.command("janus", "-C", str(configuration), "-F", str(folder), "-L", str(log), "-N")
    command.append("-o")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError("Janus exited:\n" + (log.read_text() if log.exists() else ""))
        return log.exists() and "Admin/monitor HTTP webserver started" in log.read_text()

    try:
        wait_until(listening, what="Janus to listen")
        yield JanusNode(
            name="test-1",
            api_url=f"http://127.0.0.1:{config.api_port}/janus",
            admin_url=f"http://127.0.0.1:{config.admin_port}/admin",
            public_url=f"http://127.0.0.1:{config.api_port}/janus",
        )
    finally:
        stop(process)


def start_app(namespace: Namespace, data_dir: Path, database_url: str, node: JanusNode) -> LiveServer:
    """The app in the namespace, with Janus configured; returns once it listens."""
    env = {
        **os.environ,
        "KUAICHU_DATA_DIR": str(data_dir),
        "KUAICHU_DATABASE_URL": database_url,
        "KUAICHU_SECRET_KEY": SECRET,
        "KUAICHU_JURISDICTIONS_FILE": str(DEMO_JURISDICTIONS),
        "KUAICHU_SMS_CODE_MIN_INTERVAL_SECONDS": "0",
        "KUAICHU_OUTBOX_POLL_SECONDS": "0.2",
        "KUAICHU_SERVICE_HOURS_START": "00:00",
        "KUAICHU_SERVICE_HOURS_END": "24:00",
        "KUAICHU_JANUS_NODES": json.dumps([node.model_dump()]),
        "KUAICHU_JANUS_API_SECRET": API_SECRET,
        "KUAICHU_JANUS_ADMIN_SECRET": ADMIN_SECRET,
        "KUAICHU_JANUS_SWEEP_SECONDS": "0.5",
        # The operators take calls through the API, without a console that would answer the offer.
        "KUAICHU_OFFER_TIMEOUT_SECONDS": "3600",
    }
    command = namespace.command(sys.executable, "-m", "uvicorn", "--factory", "kuaichu.app:create_app")
    command += ["--host", "127.0.0.1", "--port", str(APP_PORT), "--no-access-log"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    log: list[str] = []
    for line in process.stderr:
        log.append(line)
        if "Uvicorn running on" in line:
            break
    else:
        raise RuntimeError("server did not start:\n" + "".join(log))

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)

    threading.Thread(target=drain, daemon=True).start()
    return LiveServer(f"http://127.0.0.1:{APP_PORT}", process, log)


@dataclass
class MediaStack:
    namespace: Namespace
    node: JanusNode
    server: LiveServer
    database: Database
    data_dir: Path
    browser: Browser

    def page(self) -> "Person":
        """A browser context of its own (one person's phone or console) on the app's origin, with
        janus.js, its adapter and the test harness loaded. The harness is injected, so the
        context does not apply the app's CSP (which the product pages will widen for Janus)."""
        context = self.browser.new_context(
            base_url=self.server.url, bypass_csp=True, permissions=["camera", "microphone"]
        )
        page = context.new_page()
        page.goto("/health")
        page.add_script_tag(url="/vendor/adapter.js")
        page.add_script_tag(url="/vendor/janus.js")
        page.add_script_tag(path=str(HARNESS))
        return Person(page, self.database)

    def evidence_file(self, sha256: str) -> Path:
        return self.data_dir / "evidence" / sha256[:2] / sha256[2:4] / sha256


class Person:
    """Someone at a page: logs in and calls the app's API from the page (the app listens
    inside the namespace, where only the browser is)."""

    def __init__(self, page: Page, database: Database) -> None:
        self.page = page
        self.database = database
        self.token = ""

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        answer = self.page.evaluate("([m, p, b, t]) => kc.api(m, p, b, t)", [method, path, body, self.token])
        return answer["status"], answer["body"]

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.api(method, path, body)
        assert status < 300, (status, answer)
        return answer

    def log_in_party(self, phone: str) -> "Person":
        since = SystemClock().now()
        self.ok("POST", "/api/auth/sms-code", {"phone": phone})
        code = login_code(self.database, phone, since)
        self.token = self.ok("POST", "/api/auth/party", {"phone": phone, "code": code})["access_token"]
        self.ok("POST", "/api/consents", {"version": PRIVACY_NOTICE_VERSION})
        return self

    def log_in_staff(self, username: str) -> "Person":
        body = {"username": username, "password": STAFF_PASSWORD}
        self.token = self.ok("POST", "/api/auth/staff", body)["access_token"]
        return self

    def close(self) -> None:
        self.page.evaluate("kc.leave()")
        self.page.context.close()


def add_staff(database: Database, username: str, role: Role, jurisdiction_code: str | None) -> None:
    def work(session: Session) -> None:
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
            display_name=username,
            jurisdiction_id=jurisdiction_id,
            now=SystemClock().now(),
        )

    database.write_sync(work)


@contextmanager
def media_stack(folder: Path) -> Iterator[MediaStack]:
    """Namespace, Janus, the app (SQLite) and Chromium, all stopped and removed afterwards."""
    data_dir = folder / "data"
    database_url = f"sqlite:///{folder / 'kuaichu.db'}"
    database = prepare_database(database_url)
    add_staff(database, "op-live-2", Role.OPERATOR, "330106")
    add_staff(database, "supervisor-live", Role.SUPERVISOR, None)
    with network_namespace("kc-media") as namespace, janus(namespace, folder / "janus") as node:
        server = start_app(namespace, data_dir, database_url, node)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(namespace.chromium(folder)),
                    args=[*CHROMIUM_ARGS, *NAMESPACE_CHROMIUM_ARGS],
                )
                try:
                    yield MediaStack(namespace, node, server, database, data_dir, browser)
                finally:
                    browser.close()
        finally:
            server.stop()
            database.dispose()
