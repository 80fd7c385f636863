"""A claim reaches the insurer's own system: signed, verifiable, once, even after an outage."""

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import Api
from flows import determined_case
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kuaichu.auth.models import Insurer
from kuaichu.auth.service import create_insurer
from kuaichu.clock import FrozenClock
from kuaichu.notify.models import OutboxMessage
from kuaichu.principal import Role
from kuaichu.settings import Settings

RECEIVER = Path(__file__).parent / "insurer_receiver.py"


@pytest.fixture
def clock() -> FrozenClock:
    # The receiver checks the signed timestamp against its own wall clock (replay window).
    return FrozenClock(datetime.now(UTC))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The clock is the wall clock's: the service is open whatever the hour the suite runs at.
    return settings.model_copy(update={"service_hours_start": "00:00", "service_hours_end": "24:00"})


class Receiver:
    def __init__(self, tmp_path: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/claims"
        self.record = tmp_path / "received.jsonl"
        self.secret = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), str(self.port), self.secret, str(self.record)]
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.post(self.url, content=b"{}")
                return
            except httpx.TransportError:
                time.sleep(0.1)  # another process starting: nothing to await
        raise TimeoutError("receiver did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def received(self) -> list[dict[str, object]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    receiver = Receiver(tmp_path)
    yield receiver
    receiver.stop()


async def _register(api: Api, code: str, url: str) -> tuple[str, dict[str, str]]:
    def create(session: Session) -> tuple[str, str]:
        insurer, key = create_insurer(
            session, code=code, name=f"{code}保险", webhook_url=url, now=api.context.clock.now()
        )
        return insurer.webhook_secret or "", key

    secret, key = await api.context.database.write(create)
    return secret, {"X-API-Key": key}


async def test_a_claim_is_pushed_signed_and_delivered_once_after_an_outage(
    api: Api, receiver: Receiver, clock: FrozenClock
) -> None:
    receiver.secret, _ = await _register(api, "CPIC", receiver.url)
    case = await determined_case(api)  # 李娜 (party 2, insured with CPIC) bears full responsibility
    response = await api.client.post(f"/api/cases/{case.id}/claim", headers=case.reporter)
    assert response.status_code == 201, response.text
    # Party 1 bears none: its claim goes to party 2's insurer.
    assert response.json()["insurer_code"] == "CPIC"

    await api.deliver_outbox()  # the receiver is down: the push fails and waits its turn
    failed = await api.context.database.read(
        lambda s: s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook")).one()
    )
    assert failed.status == "pending" and failed.attempts == 1
    assert "unreachable" in (failed.last_error or "")

    receiver.start()
    clock.advance(timedelta(seconds=10))
    await api.deliver_outbox()
    clock.advance(timedelta(hours=2))
    await api.deliver_outbox()  # nothing left to send

    received = receiver.received()
    assert len(received) == 1
    claim = received[0]["claim"]
    assert claim["event"] == "claim.pushed"
    assert claim["claimant"]["plate_number"] == "浙A12345"
    assert [r["label"] for r in claim["responsibility"]] == ["无责任", "全部责任"]


async def test_the_receiver_refuses_a_forged_push(receiver: Receiver) -> None:
    receiver.secret = "whsec_" + "A" * 43 + "="
    receiver.start()
    forged = httpx.post(
        receiver.url,
        content=b'{"event":"claim.pushed"}',
        headers={
            "webhook-id": "x",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,AAAA",
        },
    )
    assert forged.status_code == 401
    assert receiver.received() == []


async def test_insurer_a_cannot_fetch_insurer_bs_package(api: Api) -> None:
    case = await determined_case(api)
    _, picc = await _register(api, "PICC", "http://127.0.0.1:9/none")
    _, cpic = await _register(api, "CPIC", "http://127.0.0.1:9/none")
    claim_id = (await api.client.post(f"/api/cases/{case.id}/claim", headers=case.reporter)).json()["id"]
    package = await api.client.get(f"/api/insurer/claims/{claim_id}/package", headers=cpic)
    assert package.status_code == 200
    assert package.json()["case_number"]
    assert (await api.client.get(f"/api/insurer/claims/{claim_id}/package", headers=picc)).status_code == 404
    assert (await api.client.get(f"/api/cases/{case.id}/evidence", headers=picc)).status_code == 404
    evidence = package.json()["evidence"][0]["content"]
    assert (await api.client.get(evidence, headers=cpic)).status_code == 200


async def test_the_party_sees_each_step_the_insurer_reports(api: Api) -> None:
    case = await determined_case(api)
    _, cpic = await _register(api, "CPIC", "http://127.0.0.1:9/none")
    claim_id = (await api.client.post(f"/api/cases/{case.id}/claim", headers=case.reporter)).json()["id"]
    progress = f"/api/insurer/claims/{claim_id}/progress"
    pushed = await api.client.post(progress, json={"status": "pushed"}, headers=cpic)
    assert pushed.status_code == 422  # the push is the party's step, never the insurer's
    # 定损 comes with the assessed loss of each vehicle the insurer assessed: here 张伟's.
    losses = {"assessed": {"losses": [{"plate_number": "浙A12345", "amount": "1200.00"}]}}
    # The party page shows who pays what once a claim's loss is assessed: it reads the flag.
    for step, assessed in (
        ("surveyor_assigned", False),
        ("contacted", False),
        ("assessed", True),
        ("paid", True),
    ):
        response = await api.client.post(progress, json={"status": step} | losses.get(step, {}), headers=cpic)
        assert response.status_code == 200, response.text
        assert response.json()["loss_assessed"] is assessed, step
    back = await api.client.post(progress, json={"status": "contacted"}, headers=cpic)
    assert back.status_code == 409
    timeline = (await api.client.get(f"/api/cases/{case.id}/timeline", headers=case.reporter)).json()
    steps = [e["detail"]["label"] for e in timeline if e["kind"] == "claim_progress"]
    assert steps == ["已指派查勘员", "查勘员已联系您", "定损完成", "赔款已支付"]
    assert any("理赔有新进度" in text for text in await api.sms_to("13800000001"))
    seen = (await api.client.get(f"/api/cases/{case.id}/claims", headers=case.reporter)).json()
    assert [(c["insurer_name"], c["status"], c["loss_assessed"]) for c in seen] == [
        ("CPIC保险", "paid", True)
    ]
    stranger = await api.client.get(f"/api/cases/{case.id}/claims", headers=api.party_token("13700000000"))
    assert stranger.status_code == 404


async def test_a_dead_letter_is_shown_to_the_supervisor_and_resent(api: Api, clock: FrozenClock) -> None:
    case = await determined_case(api)
    await _register(api, "CPIC", "http://127.0.0.1:9/none")
    await api.client.post(f"/api/cases/{case.id}/claim", headers=case.reporter)
    for _ in range(api.context.settings.outbox_max_attempts):
        await api.deliver_outbox()
        clock.advance(timedelta(hours=2))
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)
    dead = (await api.client.get("/api/supervision/dead-letters", headers=supervisor)).json()
    assert [d["target"] for d in dead] == ["CPIC"]

    await api.context.database.write(
        lambda s: s.execute(
            update(Insurer).where(Insurer.code == "CPIC").values(webhook_url="http://127.0.0.1:9/x")
        )
    )
    resend = f"/api/supervision/dead-letters/{dead[0]['id']}/resend"
    response = await api.client.post(resend, headers=supervisor)
    assert response.status_code == 202
    assert (await api.client.get("/api/supervision/dead-letters", headers=supervisor)).json() == []
    again = await api.client.post(resend, headers=supervisor)
    assert again.status_code == 409
