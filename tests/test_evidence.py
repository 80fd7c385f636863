"""Evidence upload: checked by content, limited in size, stored by SHA-256, on the timeline."""

import hashlib

from conftest import XIHU, Api
from factories import JPEG_BYTES, upload_jpeg
from sqlalchemy import select

from kuaichu.audit.models import AuditEntry
from kuaichu.principal import Role

PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 256


async def _case_in_call(api: Api) -> tuple[int, dict[str, str], dict[str, str]]:
    reporter = await api.agreed_party("13800000001")
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    assert (await api.client.post(f"/api/cases/{case_id}/take", headers=operator)).status_code == 200
    return case_id, reporter, operator


async def test_a_still_is_stored_by_its_hash_and_served_back(api: Api) -> None:
    case_id, _, operator = await _case_in_call(api)
    response = await upload_jpeg(api.client, operator, case_id, kind="plate")
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["sha256"] == hashlib.sha256(JPEG_BYTES).hexdigest()
    assert item["media_type"] == "image/jpeg"
    assert item["kind"] == "plate"
    assert item["lat"] == 30.26
    served = await api.client.get(f"/api/cases/{case_id}/evidence/{item['id']}/content", headers=operator)
    assert served.content == JPEG_BYTES
    assert served.headers["content-type"] == "image/jpeg"
    stored = api.context.settings.evidence_dir / item["sha256"][:2] / item["sha256"][2:4] / item["sha256"]
    assert stored.read_bytes() == JPEG_BYTES
    timeline = (await api.client.get(f"/api/cases/{case_id}/timeline", headers=operator)).json()
    assert timeline[-1]["kind"] == "evidence_added"
    assert timeline[-1]["detail"]["kind"] == "plate"


async def test_a_file_is_judged_by_its_content_not_its_name(api: Api) -> None:
    case_id, _, operator = await _case_in_call(api)
    response = await api.client.post(
        f"/api/cases/{case_id}/evidence",
        headers=operator,
        files={"file": ("photo.jpg", b"#!/bin/sh\nrm -rf /\n" * 20, "image/jpeg")},
        data={"kind": "other"},
    )
    assert response.status_code == 415
    assert (await api.client.get(f"/api/cases/{case_id}/evidence", headers=operator)).json() == []
    renamed_png = await api.client.post(
        f"/api/cases/{case_id}/evidence",
        headers=operator,
        files={"file": ("photo.jpg", PNG_BYTES, "image/jpeg")},
        data={"kind": "other"},
    )
    assert renamed_png.json()["media_type"] == "image/png"


async def test_an_oversized_upload_is_refused(api: Api) -> None:
    case_id, _, operator = await _case_in_call(api)
    api.context.settings.evidence_max_bytes = 1024
    response = await api.client.post(
        f"/api/cases/{case_id}/evidence",
        headers=operator,
        files={"file": ("big.jpg", JPEG_BYTES + b"\x00" * 4096, "image/jpeg")},
        data={"kind": "other"},
    )
    assert response.status_code == 413
    assert (await api.client.get(f"/api/cases/{case_id}/evidence", headers=operator)).json() == []


async def test_an_unknown_evidence_kind_is_a_clear_error(api: Api) -> None:
    case_id, _, operator = await _case_in_call(api)
    response = await upload_jpeg(api.client, operator, case_id, kind="selfie")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "kind"


async def test_a_party_may_add_photos_while_waiting(api: Api) -> None:
    reporter = await api.agreed_party("13800000001")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    response = await upload_jpeg(api.client, reporter, case_id, kind="vehicle_overview")
    assert response.status_code == 201
    assert response.json()["uploaded_by"] == "party"


async def test_a_stored_file_changed_on_disk_is_refused_and_recorded(api: Api) -> None:
    case_id, _, operator = await _case_in_call(api)
    item = (await upload_jpeg(api.client, operator, case_id)).json()
    sha = item["sha256"]
    stored = api.context.settings.evidence_dir / sha[:2] / sha[2:4] / sha
    stored.write_bytes(JPEG_BYTES.replace(b"JFIF", b"JFIX"))
    response = await api.client.get(f"/api/cases/{case_id}/evidence/{item['id']}/content", headers=operator)
    assert response.status_code == 409
    assert "校验失败" in response.json()["detail"]
    actions = await api.context.database.read(
        lambda s: list(s.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case_id)))
    )
    assert actions[-1] == "evidence_hash_mismatch"
