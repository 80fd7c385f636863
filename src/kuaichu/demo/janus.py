"""The demo's own Janus, when the `janus` package is installed: calls then go through its
VideoRoom and are recorded on the server; without it the demo's calls stay browser to browser.

Janus runs from a configuration folder under the demo's data directory (kuaichu.media.config),
with fresh API and admin secrets each run, and stops with the demo. Janus gathers no ICE
candidates on a loopback interface: it needs another address on this machine (a LAN, Wi-Fi or
container interface), which a browser on the same machine reaches it at. Without one the demo
keeps P2P.
"""

import ctypes
import logging
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kuaichu.media.config import LIBRARIES, NodeConfig, write
from kuaichu.settings import JanusNode

log = logging.getLogger(__name__)

API_PORT = 8088
ADMIN_PORT = 7088
READY_LINE = "Admin/monitor HTTP webserver started"
START_SECONDS = 10.0
# Janus's own log line when it found an address to gather candidates on.
LOCAL_IP_LINE = "as local IP"
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class DemoJanus:
    node: JanusNode
    api_secret: str
    admin_secret: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        _stop(self.process)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def start(data_dir: Path, api_port: int = API_PORT, admin_port: int = ADMIN_PORT) -> DemoJanus | None:
    """Start Janus for the demo (it stops when the demo's process ends), or say why not and
    return None (the demo stays P2P)."""
    if not shutil.which("janus") or not LIBRARIES.exists():
        log.info("janus is not installed: calls run browser to browser (P2P)")
        return None
    if not (_port_free(api_port) and _port_free(admin_port)):
        log.warning("ports %s/%s are taken (another Janus?): calls run P2P", api_port, admin_port)
        return None
    folder = data_dir / "janus"
    config = NodeConfig(
        api_secret=secrets.token_urlsafe(24),
        admin_secret=secrets.token_urlsafe(24),
        api_port=api_port,
        admin_port=admin_port,
        rtp_port_range="20000-20999",
        name="kuaichu-demo",
    )
    janus_config = write(config, folder)
    logfile = folder / "janus.log"
    logfile.unlink(missing_ok=True)
    command = ["janus", "-C", str(janus_config), "-F", str(folder), "-L", str(logfile), "-N", "-o"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent
    )
    started = DemoJanus(_node(config), config.api_secret, config.admin_secret, process)
    deadline = time.monotonic() + START_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        text = logfile.read_text() if logfile.exists() else ""
        if READY_LINE in text:
            if LOCAL_IP_LINE not in text or "Using 127." in text:
                log.warning("Janus found no address but loopback to gather candidates on: calls run P2P")
                _stop(process)
                return None
            log.info("Janus started (log: %s): calls go through it and are recorded on the server", logfile)
            return started
        time.sleep(0.1)
    log.warning("Janus did not start (see %s): calls run P2P", logfile)
    _stop(process)
    return None


def _node(config: NodeConfig) -> JanusNode:
    return JanusNode(
        name="demo",
        api_url=f"http://{config.ip}:{config.api_port}/janus",
        admin_url=f"http://{config.ip}:{config.admin_port}/admin",
        public_url=f"http://{config.ip}:{config.api_port}/janus",
    )


def _die_with_parent() -> None:
    """Janus stops when the demo does, however it ends (uvicorn re-raises SIGTERM after its
    shutdown, so no exit handler of the demo would run)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
