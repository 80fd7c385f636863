"""Calls that heal: the network goes away in the middle of a call and comes back; the video
flows again without anyone pressing a button.

What is cut is real: the media runs only through a TURN relay (coturn, started here, with the
time-limited credentials the server hands the pages; the server tells them
`ice_transport_policy: relay`), and the relay is frozen (SIGSTOP) for
5, 15 and 30 seconds while the party's browser is offline (CDP network emulation). Chromium's
offline emulation alone does not touch WebRTC media or an open WebSocket, so on its own it
would cut nothing. Each length is cut three times in one call; the time from the network's
return to frames flowing on both sides again is printed.
"""

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import STAFF_PASSWORD, requires_chromium
from live import call_pages, free_port, login_code, prepare_database, servers
from playwright.sync_api import Browser, CDPSession, Page, expect

from kuaichu.clock import SystemClock
from kuaichu.db import Database

PHONE = "13800007777"
TURNSERVER = shutil.which("turnserver")
requires_coturn = pytest.mark.skipif(TURNSERVER is None, reason="coturn (turnserver) not installed")

# New frames decoded on the page's current peer connection within a quarter of a second.
FRAMES_FLOWING = """async () => {
  const count = async (pc) => {
    let frames = 0;
    (await pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
    });
    return frames;
  };
  const pc = window.kuaichuPeer;
  const video = document.getElementById("remote-video");
  if (!pc || pc.connectionState !== "connected" || !video || video.videoWidth === 0) return false;
  const before = await count(pc);
  await new Promise((resolve) => setTimeout(resolve, 250));
  return pc === window.kuaichuPeer && (await count(pc)) - before >= 2;
}"""


def wait_for_frames(page: Page, flowing: bool = True, timeout: float = 60.0) -> None:
    """Playwright's wait_for_function takes a pending promise for a true answer, so an async
    probe (getStats) is polled here; each probe itself watches frames for 250 ms."""
    deadline = time.monotonic() + timeout
    while page.evaluate(FRAMES_FLOWING) != flowing:
        if time.monotonic() > deadline:
            what = "never flowed" if flowing else "never stopped"
            raise TimeoutError(f"video frames {what} within {timeout} s")


TURN_SECRET = "relay-shared-secret-for-the-test"
OFFLINE = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
ONLINE = {**OFFLINE, "offline": False}


class Relay:
    """A coturn TURN relay on loopback with a fixed user; freeze() cuts every relayed packet."""

    def __init__(self, workdir: Path, *options: str) -> None:
        self.port = free_port()
        low = 50000 + (self.port % 100) * 100
        self.process = subprocess.Popen(
            [
                str(TURNSERVER),
                "-n",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                f"--listening-port={self.port}",
                f"--min-port={low}",
                f"--max-port={low + 99}",
                "--use-auth-secret",  # time-limited credentials, as deployed
                f"--static-auth-secret={TURN_SECRET}",
                "--realm=kuaichu.test",
                "--allow-loopback-peers",
                "--no-stun-backward-compatibility",
                *options,
                f"--pidfile={workdir / 'turnserver.pid'}",
                f"--log-file={workdir / 'turnserver.log'}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # coturn has no readiness signal; it binds in well under this
        assert self.process.poll() is None, (workdir / "turnserver.log").read_text(errors="replace")

    @property
    def settings(self) -> dict[str, str]:
        """The server's TURN settings: the pages get credentials from it on their socket."""
        return {
            "turn_urls": json.dumps([f"turn:127.0.0.1:{self.port}?transport=udp"]),
            "turn_secret": TURN_SECRET,
        }

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    turn = Relay(tmp_path)
    yield turn
    turn.stop()


def start_call(party: Page, console: Page, database: Database, frames: bool = True) -> None:
    console.goto("/console")
    console.fill("#username", "op-live")
    console.fill("#password", STAFF_PASSWORD)
    console.click("#login-form button[type=submit]")
    console.click("#go-available")
    expect(console.locator("#me-status")).to_have_text("空闲")
    party.goto("/party")
    party.fill("#phone", PHONE)
    since = SystemClock().now()
    party.click("#send-code")
    party.fill("#code", login_code(database, PHONE, since))
    party.click("#login")
    party.click("#report")
    party.click("#consent-agree")  # the notice of what is recorded, agreed
    expect(party.locator("#call-view")).to_be_visible(timeout=15_000)
    if not frames:
        expect(party.locator("#call-state")).to_have_text("已接通交警坐席", timeout=30_000)
        return
    wait_for_frames(party, timeout=30)
    wait_for_frames(console, timeout=30)
    # Only the relay carries the media: cutting it cuts the call.
    kinds = party.evaluate("""async () => {
      const kinds = [];
      (await window.kuaichuPeer.getStats()).forEach((r) => {
        if (r.type === "local-candidate") kinds.push(r.candidateType);
      });
      return kinds;
    }""")
    assert kinds and set(kinds) == {"relay"}, kinds


def cut_and_recover(party: Page, console: Page, cdp: CDPSession, relay: Relay, seconds: int) -> float:
    """The network goes for `seconds`; returns how long after its return video flows again."""
    cdp.send("Network.emulateNetworkConditions", OFFLINE)
    relay.freeze()
    try:
        wait_for_frames(party, flowing=False, timeout=15)
        # Both sides say what is happening, and offer 重新连接 (nobody presses it here).
        expect(party.locator("#call-state")).to_contain_text("正在", timeout=15_000)
        expect(party.locator("#reconnect")).to_be_visible(timeout=15_000)
        expect(console.locator("#reconnect")).to_be_visible(timeout=15_000)
        time.sleep(seconds)  # the length of the outage is what this test is about
    finally:
        relay.thaw()
        cdp.send("Network.emulateNetworkConditions", ONLINE)
    back = time.monotonic()
    wait_for_frames(party, timeout=60)
    wait_for_frames(console, timeout=60)
    recovered = time.monotonic() - back
    expect(party.locator("#call-state")).to_have_text("已接通交警坐席")
    expect(party.locator("#reconnect")).to_be_hidden()
    expect(console.locator("#reconnect")).to_be_hidden()
    return recovered


@requires_chromium
@requires_coturn
@pytest.mark.slow
@pytest.mark.parametrize("seconds", [5, 15, 30])
def test_video_flows_again_after_the_network_returns(
    browser: Browser, tmp_path: Path, relay: Relay, seconds: int
) -> None:
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    try:
        with (
            servers(
                tmp_path / "data",
                url,
                1,
                **relay.settings,
                ice_transport_policy="relay",
                service_hours_start="00:00",
                service_hours_end="24:00",
            ) as (server,),
            call_pages(browser, server.url, server.url) as (party, console),
        ):
            start_call(party, console, database)
            cdp = party.context.new_cdp_session(party)
            times = [cut_and_recover(party, console, cdp, relay, seconds) for _ in range(3)]
            print(f"\n{seconds} s offline: video again after " + ", ".join(f"{t:.1f} s" for t in times))
            # Still the same case and the same operator: the call was kept through the outage.
            expect(console.locator("#call-view")).to_be_visible()
    finally:
        database.dispose()


@requires_chromium
@requires_coturn
def test_a_weak_link_suggests_voice_only(browser: Browser, tmp_path: Path) -> None:
    """A relay that lets only a trickle through (coturn's per-session bandwidth cap): the
    party's page reads the loss and the bitrate and suggests 仅语音; one tap switches."""
    narrow = Relay(tmp_path, "--max-bps=12000")
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    try:
        with (
            servers(tmp_path / "data", url, 1, ice_transport_policy="relay", **narrow.settings) as (server,),
            call_pages(browser, server.url, server.url) as (party, console),
        ):
            start_call(party, console, database, frames=False)
            weak = party.locator('#banners [data-banner="weak"]')
            expect(weak).to_contain_text("建议切换为仅语音", timeout=30_000)
            weak.get_by_role("button", name="切换为仅语音").click()
            expect(party.locator("#message")).to_have_text("已切换为仅语音")
            expect(weak).to_be_hidden()
    finally:
        narrow.stop()
        database.dispose()
