"""Janus CPU per forwarded stream, beside the same streams browser to browser, in one run.

    sudo .venv/bin/python bench/janus.py [--subscribers 4 8] [--settle 10] [--window 20]

One headless Chromium publishes its fake camera and microphone (640x480 VP8, Opus); another
receives that stream N times:
- *SFU*: through a real Janus VideoRoom (each stream its own subscriber handle, so Janus
  forwards N streams);
- *P2P*: straight from the publisher's browser, one RTCPeerConnection per stream (the SDP
  carried by this script; the server forwards nothing).
For each N, after the streams decode and `--settle` seconds for bandwidth estimation to ramp
up, the CPU time (utime + stime from /proc/<pid>/stat) of Janus and of each browser's process
tree is read over `--window` seconds. Reported per forwarded stream: Janus's cores (average,
and the marginal cost between the smallest and largest N, which leaves out what the one
published stream costs Janus whatever N is), the streams one core forwards, and each browser's
CPU per stream in both modes (the P2P publisher encodes once per stream; through Janus once).

Janus, a static file server for the page and the browsers run in a network namespace of their
own (Janus gathers no ICE candidates on loopback: see tests/netns.py and
/work/shared/notes/janus-in-tests.md), so this needs root, janus and Chromium.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from chromium import CHROMIUM, CHROMIUM_ARGS
from netns import NAMESPACE_CHROMIUM_ARGS, Namespace, janus_config, network_namespace, stop
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from kuaichu.media.config import NodeConfig, write

PAGE_FILES = Path(__file__).with_name("janus_page")
VENDOR = Path("/usr/share/javascript")
API_SECRET = "bench-api-secret"
ADMIN_SECRET = "bench-admin-secret"
PAGE_PORT = 8000
ROOM = 4242
TICKS = os.sysconf("SC_CLK_TCK")
# Headless pages count as hidden: keep their timers and media at full rate.
FULL_RATE_ARGS = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding"]


def _wait(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


@contextmanager
def janus(namespace: Namespace, folder: Path) -> Iterator[int]:
    """Janus (VideoRoom and HTTP only, kuaichu.media.config) in the namespace; yields its pid."""
    config = janus_config("kuaichu-bench", API_SECRET, ADMIN_SECRET)
    log = folder / "janus.log"
    # `ip netns exec` execs Janus: the process started is Janus itself.
    command = namespace.command("janus", "-C", str(write(config, folder)), "-F", str(folder), "-L", str(log))
    process = subprocess.Popen([*command, "-N", "-o"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: log.exists() and "HTTP webserver started" in log.read_text(), "Janus to listen")
        yield process.pid
    finally:
        stop(process)


@contextmanager
def page_server(namespace: Namespace, folder: Path) -> Iterator[str]:
    """The page, janus.js and its adapter, served in the namespace."""
    for source in (
        PAGE_FILES / "bench.html",
        PAGE_FILES / "bench.js",
        VENDOR / "janus-gateway" / "janus.js",
        VENDOR / "webrtc-adapter" / "adapter.js",
    ):
        shutil.copy(source, folder / source.name)
    command = namespace.command(sys.executable, "-u", "-m", "http.server", str(PAGE_PORT))
    command += ["--bind", "127.0.0.1", "--directory", str(folder)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    process.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 8000 ..."
    try:
        yield f"http://127.0.0.1:{PAGE_PORT}"
    finally:
        stop(process)


def cpu_seconds(pids: set[int]) -> float:
    """utime + stime of these processes, those that still run."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICKS


def process_tree(marker: str) -> set[int]:
    """The browser started with `marker` among its arguments, and all its descendants."""
    parent_of: dict[int, int] = {}
    roots = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent_of[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if marker.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                roots.add(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    tree = set(roots)
    grown = True
    while grown:
        children = {pid for pid, parent in parent_of.items() if parent in tree} - tree
        grown = bool(children)
        tree |= children
    return tree


@dataclass
class Browsers:
    publisher: Page
    subscriber: Page
    base: str

    def trees(self) -> tuple[set[int], set[int]]:
        return process_tree("--kc-bench=publisher"), process_tree("--kc-bench=subscriber")


@contextmanager
def browsers(playwright: Playwright, namespace: Namespace, folder: Path, base: str) -> Iterator[Browsers]:
    wrapper = namespace.chromium(folder)
    launched: list[Browser] = []
    try:
        for role in ("publisher", "subscriber"):
            args = [*CHROMIUM_ARGS, *NAMESPACE_CHROMIUM_ARGS, *FULL_RATE_ARGS, f"--kc-bench={role}"]
            launched.append(playwright.chromium.launch(executable_path=str(wrapper), args=args))
        pages = []
        for browser in launched:
            page = browser.new_context(permissions=["camera", "microphone"]).new_page()
            page.goto(f"{base}/bench.html")
            pages.append(page)
        yield Browsers(pages[0], pages[1], base)
    finally:
        for browser in launched:
            browser.close()


@dataclass
class Sample:
    mode: str
    streams: int
    janus: float  # cores
    publisher: float
    subscriber: float
    kbps: float  # video per stream, as received
    fps: float  # decoded per stream
    size: str


def measure(mode: str, streams: int, janus_pid: int, pages: Browsers, settle: float, window: float) -> Sample:
    """CPU of Janus and of each browser over `window` seconds, once every stream decodes."""
    _wait(lambda: pages.subscriber.evaluate("kcb.received()")["decoding"] >= streams, f"{streams} streams")
    time.sleep(settle)  # bandwidth estimation ramps the bitrate up over the first seconds
    publisher, subscriber = pages.trees()
    before = (cpu_seconds({janus_pid}), cpu_seconds(publisher), cpu_seconds(subscriber))
    received = pages.subscriber.evaluate("kcb.received()")
    start = time.monotonic()
    time.sleep(window)
    after = (cpu_seconds({janus_pid}), cpu_seconds(publisher), cpu_seconds(subscriber))
    elapsed = time.monotonic() - start
    now = pages.subscriber.evaluate("kcb.received()")
    cores = [(b - a) / elapsed for a, b in zip(before, after, strict=True)]
    return Sample(
        mode,
        streams,
        *cores,
        kbps=(now["bytes"] - received["bytes"]) * 8 / 1000 / elapsed / streams,
        fps=(now["frames"] - received["frames"]) / elapsed / streams,
        size=f"{now['width']}x{now['height']}",
    )


def through_janus(
    pages: Browsers, janus_pid: int, counts: list[int], settle: float, window: float
) -> list[Sample]:
    server = f"http://127.0.0.1:{NodeConfig(API_SECRET, ADMIN_SECRET).api_port}/janus"
    feed = pages.publisher.evaluate(
        "([s, k, a, r]) => kcb.publish(s, k, a, r)", [server, API_SECRET, ADMIN_SECRET, ROOM]
    )
    samples, subscribed = [], 0
    for count in counts:
        pages.subscriber.evaluate(
            "([s, k, r, f, n]) => kcb.subscribe(s, k, r, f, n)",
            [server, API_SECRET, ROOM, feed, count - subscribed],
        )
        subscribed = count
        samples.append(measure("sfu", count, janus_pid, pages, settle, window))
    pages.subscriber.evaluate("kcb.leave()")
    pages.publisher.evaluate("kcb.leave()")
    return samples


def browser_to_browser(
    pages: Browsers, janus_pid: int, counts: list[int], settle: float, window: float
) -> list[Sample]:
    samples, connected = [], 0
    for count in counts:
        for i in range(connected, count):
            offer = pages.publisher.evaluate("(i) => kcb.p2pOffer(i)", i)
            answer = pages.subscriber.evaluate("([i, sdp]) => kcb.p2pAnswer(i, sdp)", [i, offer])
            pages.publisher.evaluate("([i, sdp]) => kcb.p2pAccept(i, sdp)", [i, answer])
        connected = count
        samples.append(measure("p2p", count, janus_pid, pages, settle, window))
    return samples


def report(samples: list[Sample]) -> None:
    print(
        f"{'mode':5} {'N':>3} {'janus %core':>11} {'/stream':>8} {'pub %core':>9} {'/stream':>8} "
        f"{'sub %core':>9} {'/stream':>8} {'kbps/str':>8} {'fps':>5} size"
    )
    for s in samples:
        n = s.streams
        print(
            f"{s.mode:5} {n:>3} {s.janus * 100:>11.2f} {s.janus * 100 / n:>8.2f} {s.publisher * 100:>9.1f} "
            f"{s.publisher * 100 / n:>8.1f} {s.subscriber * 100:>9.1f} {s.subscriber * 100 / n:>8.1f} "
            f"{s.kbps:>8.0f} {s.fps:>5.1f} {s.size}"
        )
    sfu = [s for s in samples if s.mode == "sfu"]
    p2p = [s for s in samples if s.mode == "p2p"]
    low, high = sfu[0], sfu[-1]
    average = high.janus / high.streams
    print(
        f"\nJanus per forwarded stream (N={high.streams}): {average * 100:.2f} % of a core "
        f"-> {1 / average:.0f} streams per core (goal >= 100)"
    )
    forwarded = high.kbps * high.streams / 1000
    print(
        f"Janus per forwarded video Mbit/s (N={high.streams}, {forwarded:.1f} Mbit/s): "
        f"{high.janus * 100 / forwarded:.2f} % of a core"
    )
    if high.streams > low.streams:
        marginal = (high.janus - low.janus) / (high.streams - low.streams)
        if marginal > 0:
            print(
                f"Janus marginal per stream (N={low.streams}->{high.streams}): {marginal * 100:.2f} % "
                f"-> {1 / marginal:.0f} streams per core"
            )
        else:
            print(f"Janus marginal per stream (N={low.streams}->{high.streams}): below the noise")
    for a, b in zip(sfu, p2p, strict=False):
        print(
            f"N={a.streams}: server forwards {a.janus * 100:.2f} % (SFU) vs {b.janus * 100:.2f} % (P2P, "
            f"nothing forwarded); publisher browser {a.publisher * 100:.0f} % (SFU) vs "
            f"{b.publisher * 100:.0f} % (P2P, one encode per stream)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("janus") or not Path(CHROMIUM).exists():
        sys.exit("needs root (a network namespace), janus and Chromium")
    counts = sorted(set(args.subscribers))
    with tempfile.TemporaryDirectory(prefix="kc-janus-bench-") as tmp:
        folder = Path(tmp)
        (folder / "janus").mkdir()
        (folder / "www").mkdir()
        with (
            network_namespace("kc-bench") as namespace,
            janus(namespace, folder / "janus") as janus_pid,
            page_server(namespace, folder / "www") as base,
            sync_playwright() as playwright,
            browsers(playwright, namespace, folder, base) as pages,
        ):
            samples = through_janus(pages, janus_pid, counts, args.settle, args.window)
            samples += browser_to_browser(pages, janus_pid, counts, args.settle, args.window)
    report(samples)


if __name__ == "__main__":
    main()
