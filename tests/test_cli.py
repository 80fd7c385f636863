"""The commands an engineer runs: `kuaichu demo`, `kuaichu user add`, `kuaichu db upgrade`."""

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from kuaichu.audit.models import AuditEntry
from kuaichu.auth.models import User
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.db import Database

KUAICHU = [sys.executable, "-m", "kuaichu.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUAICHU_")}
    return env | {"KUAICHU_DATA_DIR": str(data_dir)}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        # The test runs at any hour of the real clock: video service all day.
        all_day = {"KUAICHU_SERVICE_HOURS_START": "00:00", "KUAICHU_SERVICE_HOURS_END": "24:00"}
        process = subprocess.Popen(
            [*KUAICHU, "demo", "--port", str(port)],
            env=_env(tmp_path / "data") | all_day,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_serving(base, process)
            yield base, log
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_serving(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "kuaichu demo exited"
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError("kuaichu demo did not start serving")


def _wait_for_log(log: Path, pattern: str) -> re.Match[str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(encoding="utf-8"))
        if match:
            return match
        time.sleep(0.1)  # the log is a file written by another process: nothing to await
    raise TimeoutError(pattern)


def test_the_demo_serves_its_city_and_prints_the_logins(demo: tuple[str, Path]) -> None:
    base, log = demo
    printed = _wait_for_log(log, r"Staff logins \(password (\S+)\)")
    password = printed.group(1)
    assert "op-330106" in log.read_text(encoding="utf-8")
    operator = httpx.post(f"{base}/api/auth/staff", json={"username": "op-330106", "password": password})
    assert operator.status_code == 200

    # A party logs in with the code the demo's SMS gateway writes to the log.
    assert httpx.post(f"{base}/api/auth/sms-code", json={"phone": "13800138000"}).status_code == 202
    code = _wait_for_log(log, r"SMS to 138\*\*\*\*8000 .*验证码为(\d{6})").group(1)
    assert "13800138000" not in log.read_text(encoding="utf-8")
    login = httpx.post(f"{base}/api/auth/party", json={"phone": "13800138000", "code": code})
    assert login.status_code == 200
    party = {"Authorization": f"Bearer {login.json()['access_token']}"}
    notice = {"version": PRIVACY_NOTICE_VERSION}
    assert httpx.post(f"{base}/api/consents", json=notice, headers=party).status_code == 201
    case = httpx.post(f"{base}/api/calls", json={"lat": 30.33, "lng": 120.15}, headers=party)
    assert case.status_code == 201, case.text
    assert case.json()["service"]["jurisdiction_name"] == "拱墅区"


def test_user_add_creates_a_staff_account_that_can_log_in(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    result = subprocess.run(
        [*KUAICHU, "user", "add", "wang", "--role", "supervisor", "--name", "王监管"],
        input="a-long-password\na-long-password\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "created user wang" in result.stdout
    again = subprocess.run(
        [*KUAICHU, "user", "add", "wang", "--role", "supervisor", "--name", "王监管"],
        input="a-long-password\na-long-password\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1
    assert "用户名已存在" in again.stderr


def test_user_add_refuses_an_operator_without_a_jurisdiction(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *KUAICHU,
            "user",
            "add",
            "li",
            "--role",
            "operator",
            "--name",
            "李坐席",
            "--password",
            "long-enough-1",
        ],
        env=_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "必须属于一个辖区" in result.stderr


def upgrade_with(tmp_path: Path, setting: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`kuaichu db upgrade` with one setting more."""
    env = _env(tmp_path / "data") | setting
    return subprocess.run([*KUAICHU, "db", "upgrade"], env=env, capture_output=True, text=True, check=False)


def test_a_setting_out_of_its_bounds_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    too_large = str(5 * 1024**3 + 1)  # the S3 store sets a blob aside with one CopyObject: 5 GiB
    result = upgrade_with(tmp_path, {"KUAICHU_EVIDENCE_MAX_BYTES": too_large})
    assert result.returncode == 1
    assert "error: KUAICHU_EVIDENCE_MAX_BYTES: " in result.stderr
    assert "5368709120" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "kuaichu.db").exists()


def test_a_nested_setting_out_of_its_bounds_names_its_variable_and_where_within_it(tmp_path: Path) -> None:
    nodes = '[{"name": "janus-1", "api_url": "http://j1:8088/janus", "admin_url": "http://j1:7088/admin"}]'
    result = upgrade_with(tmp_path, {"KUAICHU_JANUS_NODES": nodes})
    assert result.returncode == 1
    # The variable the deployment sets, not one made of the location (KUAICHU_JANUS_NODES_0_...).
    assert "error: KUAICHU_JANUS_NODES: [0].public_url: Field required" in result.stderr
    assert "KUAICHU_JANUS_NODES_0" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "kuaichu.db").exists()


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    for _ in range(2):
        result = subprocess.run(
            [*KUAICHU, "db", "upgrade"],
            env=_env(tmp_path / "data"),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "kuaichu.db").exists()


def test_the_demo_banner_names_its_drivers_and_what_their_checks_will_find(demo: tuple[str, Path]) -> None:
    base, log = demo
    _wait_for_log(log, r"Demo drivers")
    text = log.read_text(encoding="utf-8")
    lines = {
        name: next(line for line in text.splitlines() if f" {name} " in line) for name in ("张伟", "王强")
    }
    # A clean case: name, phone, ID (the licence number too) and plate, every check passes.
    for expected in ("13800000001", "330106198503121231", "浙A12345", "核验全部通过"):
        assert expected in lines["张伟"], expected
    # A failing one: the licence registry has 王强's licence suspended.
    for expected in ("13700000003", "330106198503127895", "浙AD12345", "驾驶证状态为“暂扣”"):
        assert expected in lines["王强"], expected
    # The addresses printed are the ones the demo serves on (its --port).
    assert f"{base}/workbench" in text


def test_user_deactivate_role_and_password_end_the_accounts_sessions(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")

    def kuaichu(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        entered = f"{password}\n{password}\n" if password else None
        result = subprocess.run(
            [*KUAICHU, *args], input=entered, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        return result

    kuaichu("user", "add", "zhao", "--role", "supervisor", "--name", "赵监管", password="a-long-password")
    database = Database(f"sqlite:///{tmp_path / 'data' / 'kuaichu.db'}")

    def account() -> tuple[bool, str, int]:
        user = database.write_sync(lambda s: s.scalars(select(User).where(User.username == "zhao")).one())
        return user.active, user.role, user.session_version

    assert account() == (True, "supervisor", 0)
    assert "is now admin" in kuaichu("user", "role", "zhao", "admin").stdout
    assert account() == (True, "admin", 1)
    kuaichu("user", "password", "zhao", password="another-long-password")
    assert account() == (True, "admin", 2)
    assert "deactivated zhao" in kuaichu("user", "deactivate", "zhao").stdout
    assert account() == (False, "admin", 3)
    actions = database.write_sync(lambda s: list(s.scalars(select(AuditEntry.action))))
    assert {"user_role_changed", "user_password_changed", "user_deactivated"} <= set(actions)
    database.dispose()
