"""No request a user can send causes a server error: schemathesis generates requests from the
OpenAPI document (valid, edge-case and malformed) and sends them to a real server as each role."""

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import STAFF_PASSWORD, XIHU
from live import latest_sms, prepare_database, servers, wait_until

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
PHONE = "13800004444"


def _staff_token(client: httpx.Client, username: str) -> str:
    response = client.post("/api/auth/staff", json={"username": username, "password": STAFF_PASSWORD})
    return response.json()["access_token"]


@pytest.mark.skipif(
    not SCHEMATHESIS.exists() and not shutil.which("schemathesis"), reason="schemathesis missing"
)
def test_generated_requests_never_cause_a_server_error(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(database_url)
    with (
        servers(tmp_path / "data", database_url, 1) as (server,),
        httpx.Client(base_url=server.url) as client,
    ):
        client.post("/api/auth/sms-code", json={"phone": PHONE}).raise_for_status()
        code = wait_until(lambda: latest_sms(database, PHONE), what="login SMS").split("验证码为")[1][:6]
        party = client.post("/api/auth/party", json={"phone": PHONE, "code": code}).json()["access_token"]
        client.post("/api/cases", json=XIHU, headers={"Authorization": f"Bearer {party}"}).raise_for_status()
        for token in (party, _staff_token(client, "op-live"), _staff_token(client, "officer-live")):
            result = subprocess.run(
                [
                    str(SCHEMATHESIS),
                    "run",
                    f"{server.url}/openapi.json",
                    "--checks",
                    "not_a_server_error",
                    "--max-examples",
                    "8",
                    "--exclude-path-regex",
                    "sms-code",
                    "--seed",
                    "1",
                    "-H",
                    f"Authorization: Bearer {token}",
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert result.returncode == 0, result.stdout[-4000:]
        assert not [line for line in server.log if "unhandled error" in line]
    database.dispose()
