"""`kuaichu backup` / `kuaichu restore`: a running SQLite deployment is backed up (SQLite's online
backup, the evidence, the key files) and restored into a fresh data directory with the same
cases, evidence and audit chain; PostgreSQL is pointed at pg_dump; nothing is overwritten or
restored from a damaged backup."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from conftest import STAFF_PASSWORD, XIHU, Api
from factories import JPEG_BYTES, upload_jpeg

from kuaichu.app import create_app
from kuaichu.clock import FrozenClock
from kuaichu.principal import Role
from kuaichu.settings import Settings

# Backups are of SQLite deployments.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _kuaichu(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kuaichu.cli", *args], env=env, capture_output=True, text=True, check=False
    )


def _env(data_dir: Path, database_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUAICHU_")}
    env["KUAICHU_DATA_DIR"] = str(data_dir)
    if database_url:
        env["KUAICHU_DATABASE_URL"] = database_url
    return env


def _rows(database: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    connection.close()
    return rows


async def _case_with_a_still(api: Api) -> tuple[int, dict[str, object]]:
    reporter = await api.agreed_party("13800000001")
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    assert (await api.client.post(f"/api/cases/{case_id}/take", headers=operator)).status_code == 200
    item = (await upload_jpeg(api.client, operator, case_id, kind="plate")).json()
    return case_id, item


@sqlite_only
async def test_a_running_deployment_is_restored_with_the_same_cases_evidence_and_audit_chain(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    _, item = await _case_with_a_still(api)
    live = _env(settings.data_dir, settings.database_url)
    backup_dir = tmp_path / "backup"

    # The server is running (the app above holds the database open) while it is backed up.
    backed_up = _kuaichu(live, "backup", str(backup_dir))
    assert backed_up.returncode == 0, backed_up.stderr
    assert "1 evidence files" in backed_up.stdout
    assert "audit-key.pub.pem" in backed_up.stdout
    assert "audit signing key" in backed_up.stdout  # kept apart from the data, and said so
    assert not (backup_dir / "keys" / "audit-key.pem").exists()

    restored_dir = tmp_path / "restored" / "data"
    fresh = _env(restored_dir)
    restored = _kuaichu(fresh, "restore", str(backup_dir))
    assert restored.returncode == 0, restored.stderr
    assert "put the audit signing key back" in restored.stdout

    original_chain = _kuaichu(live, "audit", "verify")
    restored_chain = _kuaichu(fresh, "audit", "verify")
    assert restored_chain.returncode == 0, restored_chain.stderr
    assert "audit chain intact" in restored_chain.stdout
    assert restored_chain.stdout == original_chain.stdout  # the same entries, checkpoints and key

    database = Path(settings.effective_database_url.removeprefix("sqlite:///"))
    for table in ("cases", "evidence_items", "audit_entries"):
        assert _rows(restored_dir / "kuaichu.db", table) == _rows(database, table)
    sha256 = str(item["sha256"])
    assert (restored_dir / "evidence" / sha256[:2] / sha256[2:4] / sha256).read_bytes() == JPEG_BYTES

    again = _kuaichu(fresh, "restore", str(backup_dir))
    assert again.returncode == 2
    assert "not empty" in again.stderr
    forced = _kuaichu(fresh, "restore", "--force", str(backup_dir))
    assert forced.returncode == 0, forced.stderr


@sqlite_only
async def test_a_backup_with_the_audit_signing_key_brings_the_service_back(
    api: Api, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    case_id, item = await _case_with_a_still(api)
    backup_dir = tmp_path / "backup"
    backed_up = _kuaichu(
        _env(settings.data_dir, settings.database_url), "backup", "--with-audit-signing-key", str(backup_dir)
    )
    assert backed_up.returncode == 0, backed_up.stderr
    restored_dir = tmp_path / "restored" / "data"
    assert _kuaichu(_env(restored_dir), "restore", str(backup_dir)).returncode == 0

    restored = Settings(data_dir=restored_dir, secret_key=settings.secret_key, run_dispatcher=False)
    app = create_app(restored, clock)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kuaichu.test") as client:
            login = await client.post(
                "/api/auth/staff", json={"username": "op-xihu", "password": STAFF_PASSWORD}
            )
            assert login.status_code == 200, login.text
            operator = {"Authorization": f"Bearer {login.json()['access_token']}"}
            listed = (await client.get(f"/api/cases/{case_id}/evidence", headers=operator)).json()
            assert [e["sha256"] for e in listed] == [item["sha256"]]
            served = await client.get(f"/api/cases/{case_id}/evidence/{item['id']}/content", headers=operator)
            assert served.status_code == 200
            assert served.content == JPEG_BYTES
    assert _kuaichu(_env(restored_dir), "audit", "verify").returncode == 0


def test_a_postgresql_deployment_is_pointed_at_pg_dump(tmp_path: Path) -> None:
    env = _env(tmp_path / "data", "postgresql://postgres@127.0.0.1:5432/kuaichu")
    result = _kuaichu(env, "backup", str(tmp_path / "backup"))
    assert result.returncode == 2
    assert "pg_dump --format=custom" in result.stderr
    assert "pg_restore" in result.stderr
    assert not (tmp_path / "backup").exists()


@sqlite_only
async def test_a_damaged_backup_is_refused_and_nothing_is_restored(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    _, item = await _case_with_a_still(api)
    backup_dir = tmp_path / "backup"
    assert _kuaichu(_env(settings.data_dir, settings.database_url), "backup", str(backup_dir)).returncode == 0
    sha256 = str(item["sha256"])
    blob = backup_dir / "evidence" / sha256[:2] / sha256[2:4] / sha256
    blob.write_bytes(blob.read_bytes().replace(b"JFIF", b"JFIX"))

    restored_dir = tmp_path / "restored" / "data"
    result = _kuaichu(_env(restored_dir), "restore", str(backup_dir))
    assert result.returncode == 2
    assert "damaged" in result.stderr
    assert not restored_dir.exists()


@sqlite_only
async def test_a_backup_never_writes_into_a_directory_that_holds_something(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    occupied = tmp_path / "backup"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("last week's")
    result = _kuaichu(_env(settings.data_dir, settings.database_url), "backup", str(occupied))
    assert result.returncode == 2
    assert "not empty" in result.stderr
    assert [path.name for path in occupied.iterdir()] == ["notes.txt"]
