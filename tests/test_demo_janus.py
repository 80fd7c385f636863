"""The demo's own Janus: started from a folder under the demo's data directory when the
`janus` package is installed, with its secrets set; without it the demo's calls stay P2P."""

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from live import wait_until

from kuaichu.demo import janus as demo_janus

requires_janus = pytest.mark.skipif(not shutil.which("janus"), reason="needs the janus package")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@requires_janus
def test_the_demo_starts_janus_with_its_secrets_and_stops_it(tmp_path: Path) -> None:
    started = demo_janus.start(tmp_path, api_port=free_port(), admin_port=free_port())
    assert started is not None
    try:
        config = (tmp_path / "janus" / "janus.jcfg").read_text()
        assert f'api_secret = "{started.api_secret}"' in config
        assert f'admin_secret = "{started.admin_secret}"' in config
        # Without the API secret Janus opens no session; with it, it does.
        refused = httpx.post(started.node.api_url, json={"janus": "create", "transaction": "t1"}).json()
        assert refused["janus"] == "error"
        body = {"janus": "create", "transaction": "t2", "apisecret": started.api_secret}
        assert httpx.post(started.node.api_url, json=body).json()["janus"] == "success"
    finally:
        started.stop()
    assert started.process.poll() is not None


def test_without_janus_installed_the_demo_calls_browser_to_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no janus binary on it
    assert demo_janus.start(tmp_path) is None
    assert not (tmp_path / "janus").exists()


@requires_janus
def test_the_demos_janus_ends_with_the_demo_however_it_ends(tmp_path: Path) -> None:
    script = (
        "import sys, time; from pathlib import Path; from kuaichu.demo import janus; "
        f"s = janus.start(Path({str(tmp_path)!r}), api_port={free_port()}, admin_port={free_port()}); "
        "print(s.process.pid, flush=True); time.sleep(600)"
    )
    demo = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert demo.stdout is not None
    janus_pid = int(demo.stdout.readline())
    demo.kill()  # no exit handler runs
    demo.wait()

    def gone() -> bool:
        try:  # ended, or ended and not yet reaped
            return Path(f"/proc/{janus_pid}/stat").read_text().split()[2] == "Z"
        except FileNotFoundError:
            return True

    assert wait_until(gone, what="Janus to end with the demo")
