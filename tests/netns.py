"""A network namespace where Janus gathers ICE candidates and Chromium reaches it, for
tests/janus_stack.py and bench/janus.py (no pytest here, so a bench can import it).

Janus gathers no ICE candidates on a loopback interface, and Chromium offers none there unless
told to (NAMESPACE_CHROMIUM_ARGS). So the namespace has `lo` up and a veth pair whose one end
carries 127.0.0.2/32, the only address Janus gathers candidates on (janus_config).
"""

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chromium import CHROMIUM

from kuaichu.media.config import NodeConfig

JANUS_ADDRESS = "127.0.0.2"
NAMESPACE_CHROMIUM_ARGS = [
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@dataclass(frozen=True)
class Namespace:
    name: str

    def command(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def chromium(self, folder: Path) -> Path:
        """A script in `folder` that runs Chromium in the namespace, for Playwright to launch."""
        wrapper = folder / "chromium"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {self.name} {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        return wrapper


@contextmanager
def network_namespace(prefix: str) -> Iterator[Namespace]:
    """A namespace named `prefix` and a random tail, removed when the block ends."""
    namespace = Namespace(f"{prefix}-{uuid.uuid4().hex[:8]}")
    subprocess.run(["ip", "netns", "add", namespace.name], check=True)
    try:
        for step in (
            ("ip", "link", "set", "lo", "up"),
            ("ip", "link", "add", "kc0", "type", "veth", "peer", "name", "kc1"),
            ("ip", "addr", "add", f"{JANUS_ADDRESS}/32", "dev", "kc0"),
            ("ip", "link", "set", "kc0", "up"),
            ("ip", "link", "set", "kc1", "up"),
        ):
            subprocess.run(namespace.command(*step), check=True)
        yield namespace
    finally:
        subprocess.run(["ip", "netns", "del", namespace.name], check=False)


def janus_config(name: str, api_secret: str, admin_secret: str) -> NodeConfig:
    """Janus's configuration in the namespace: its candidates on the veth end only."""
    return NodeConfig(
        api_secret=api_secret,
        admin_secret=admin_secret,
        rtp_port_range="20000-20999",
        ice_enforce_list=JANUS_ADDRESS,
        name=name,
    )


def stop(process: "subprocess.Popen[Any]") -> None:
    """Terminate a process started in the namespace; kill it if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
