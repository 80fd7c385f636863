"""当事人签名确认 (issue 12): before leaving the scene every party reads the recorded facts, the
parties and the stills on their own phone and signs them with a drawn signature under their SMS
login; a change to the facts or the parties voids the signatures made before it; a party may
dispute instead, and the case goes to police on site with their reason. The evacuation waits for
every party's valid signature, and the document lists who signed and when."""

import hashlib
import io
import subprocess
from pathlib import Path

from casework import determined
from conftest import Api
from factories import FACTS, JPEG_BYTES, SIGNATURE_PNG, sign, sign_all, signature_png, signature_upload
from flows import OTHER, REPORTER, collect_evidence, collected_case, in_call_case
from PIL import Image, PngImagePlugin

from kuaichu.clock import local
from kuaichu.evidence.schemas import PURGED_LABEL
from kuaichu.retention.personal import purge_personal_data


async def _confirmation(api: Api, case_id: int, headers: dict[str, str]) -> dict[str, object]:
    response = await api.client.get(f"/api/cases/{case_id}/confirmation", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _statuses(confirmation: dict[str, object]) -> dict[int, str]:
    return {c["position"]: c["status"] for c in confirmation["confirmations"]}  # type: ignore[index]


async def _state(api: Api, case_id: int, headers: dict[str, str]) -> str:
    return (await api.client.get(f"/api/cases/{case_id}", headers=headers)).json()["state"]


async def _signatures_kept(api: Api, case_id: int, headers: dict[str, str]) -> list[dict[str, object]]:
    items = (await api.client.get(f"/api/cases/{case_id}/evidence", headers=headers)).json()
    return [item for item in items if item["kind"] == "signature"]


async def test_the_evacuation_waits_for_every_partys_signature_and_names_who_has_not_signed(api: Api) -> None:
    case_id, operator = await collected_case(api)
    zhang, li = api.party_token(REPORTER), api.party_token(OTHER)

    refused = await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator)
    assert refused.status_code == 409
    assert "当事人1（张伟）尚未签名确认" in refused.json()["detail"]
    assert "当事人2（李娜）尚未签名确认" in refused.json()["detail"]
    assert await _state(api, case_id, operator) == "collected"

    assert (await sign(api.client, case_id, zhang)).status_code == 201
    refused = await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator)
    assert refused.status_code == 409
    assert "李娜" in refused.json()["detail"] and "张伟" not in refused.json()["detail"]
    assert [item["key"] for item in refused.json()["missing"]] == ["signature:2"]

    assert (await sign(api.client, case_id, li)).status_code == 201
    response = await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "evacuated"


async def test_a_signature_is_evidence_with_its_hash_its_signer_and_what_was_signed(api: Api) -> None:
    case_id, operator = await collected_case(api)
    zhang = api.party_token(REPORTER)
    seen = await _confirmation(api, case_id, zhang)
    # What 张伟 reads: the facts, both parties (李娜's phone and licence masked), the stills.
    assert seen["facts"]["address"] == FACTS["address"]  # type: ignore[index]
    own, other = seen["parties"]  # type: ignore[misc]
    assert own["phone"] == REPORTER and other["phone"] == "139****0002"
    assert "*" in other["licence_number"]
    assert {still["kind"] for still in seen["stills"]} >= {"side_by_side", "plate"}  # type: ignore[union-attr]
    assert seen["my_position"] == 1 and seen["may_sign"] is True

    response = await api.client.post(
        f"/api/cases/{case_id}/signature", headers=zhang, **signature_upload(str(seen["content_sha256"]))
    )

    assert response.status_code == 201, response.text
    assert _statuses(response.json()) == {1: "signed", 2: "unsigned"}
    [kept] = await _signatures_kept(api, case_id, operator)
    assert kept["sha256"] == hashlib.sha256(SIGNATURE_PNG).hexdigest()
    assert kept["media_type"] == "image/png" and kept["party_position"] == 1
    content = await api.client.get(f"/api/cases/{case_id}/evidence/{kept['id']}/content", headers=operator)
    assert content.content == SIGNATURE_PNG
    timeline = (await api.client.get(f"/api/cases/{case_id}/timeline", headers=operator)).json()
    [signed] = [event for event in timeline if event["kind"] == "party_signed"]
    assert signed["actor_role"] == "party"
    assert signed["detail"]["content_sha256"] == seen["content_sha256"]
    assert signed["detail"]["sha256"] == kept["sha256"]
    # The operator's console reads each party's status with the time.
    statuses = (await _confirmation(api, case_id, operator))["confirmations"]
    assert statuses[0]["status"] == "signed" and statuses[0]["at"]  # type: ignore[index]
    assert statuses[0]["status_label"] == "已签名"  # type: ignore[index]
    assert statuses[1]["status_label"] == "未确认"  # type: ignore[index]


async def test_a_change_to_the_facts_after_a_signature_voids_it_until_the_party_signs_again(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    await collect_evidence(api, case_id, operator)
    zhang, li = api.party_token(REPORTER), api.party_token(OTHER)
    before = str((await _confirmation(api, case_id, zhang))["content_sha256"])
    await sign_all(api.client, case_id, api.party_token(REPORTER), api.party_token(OTHER))

    changed = {**FACTS, "description": "乙车追尾甲车，甲车后保险杠受损"}
    response = await api.client.put(f"/api/cases/{case_id}/facts", json=changed, headers=operator)
    assert response.status_code == 200, response.text

    assert _statuses(await _confirmation(api, case_id, operator)) == {1: "stale", 2: "stale"}
    assert (await _confirmation(api, case_id, li))["may_sign"] is True
    # A signature of what the party saw before the change is refused: they read it again.
    stale = await api.client.post(
        f"/api/cases/{case_id}/signature", headers=zhang, **signature_upload(before)
    )
    assert stale.status_code == 409
    assert stale.json()["detail"] == "案件信息已更新，请重新查看后再签名"
    assert await api.client.post(f"/api/cases/{case_id}/collection-complete", headers=operator)
    refused = await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator)
    assert refused.status_code == 409
    assert "当事人1（张伟）签名后事实或当事人信息已更改，需重新签名" in refused.json()["detail"]

    await sign_all(api.client, case_id, api.party_token(REPORTER), api.party_token(OTHER))
    assert (await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator)).status_code == 200


async def test_a_party_edited_after_the_signatures_voids_them_too(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    await sign_all(api.client, case_id, api.party_token(REPORTER), api.party_token(OTHER))
    parties = (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()["parties"]
    fields = ("name", "phone", "id_number", "licence_number", "plate_number", "plate_type", "vehicle_type")
    body = {"parties": [{k: p[k] for k in (*fields, "insurer_code", "policy_number")} for p in parties]}
    body["parties"][1]["plate_number"] = "浙A7Q321"
    response = await api.client.put(f"/api/cases/{case_id}/parties", json=body, headers=operator)
    assert response.status_code == 200, response.text

    assert _statuses(await _confirmation(api, case_id, operator)) == {1: "stale", 2: "stale"}


async def test_signing_twice_signing_another_case_and_staff_signing_are_refused(api: Api) -> None:
    case_id, operator = await collected_case(api)
    zhang = api.party_token(REPORTER)
    stranger = api.party_token("13700000009")
    seen = str((await _confirmation(api, case_id, zhang))["content_sha256"])
    assert (await sign(api.client, case_id, zhang)).status_code == 201

    twice = await api.client.post(f"/api/cases/{case_id}/signature", headers=zhang, **signature_upload(seen))
    assert twice.status_code == 409
    assert twice.json()["detail"] == "您已签名确认，无需重复签名"

    other_case = await api.client.post(
        f"/api/cases/{case_id}/signature", headers=stranger, **signature_upload(seen)
    )
    assert other_case.status_code == 404
    assert (await api.client.get(f"/api/cases/{case_id}/confirmation", headers=stranger)).status_code == 404

    for_a_party = await api.client.post(
        f"/api/cases/{case_id}/signature", headers=operator, **signature_upload(seen)
    )
    assert for_a_party.status_code == 403
    assert for_a_party.json()["detail"] == "只有当事人本人可以签名确认或提出异议，工作人员不能代签"
    disputed_for = await api.client.post(
        f"/api/cases/{case_id}/dispute", json={"reason": "代当事人提出异议"}, headers=operator
    )
    assert disputed_for.status_code == 403

    assert len(await _signatures_kept(api, case_id, operator)) == 1
    assert _statuses(await _confirmation(api, case_id, operator)) == {1: "signed", 2: "unsigned"}
    assert await _state(api, case_id, operator) == "collected"


def _png_of(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", **options)
    return out.getvalue()


async def test_an_empty_a_huge_or_a_non_png_signature_is_refused_and_nothing_is_kept(api: Api) -> None:
    case_id, operator = await collected_case(api)
    li = api.party_token(OTHER)
    seen = str((await _confirmation(api, case_id, li))["content_sha256"])
    padding = PngImagePlugin.PngInfo()
    padding.add_text("padding", "x" * 600_000)
    huge = _png_of(Image.open(io.BytesIO(signature_png())), pnginfo=padding)
    cases = {
        "empty": (
            _png_of(Image.new("RGBA", (320, 120), (0, 0, 0, 0))),
            422,
            "签名为空，请在签名框内手写签名",
        ),
        "blank white": (
            _png_of(Image.new("RGB", (320, 120), "white")),
            422,
            "签名为空，请在签名框内手写签名",
        ),
        "huge": (huge, 413, "签名图片过大，不能超过512KB"),
        "too large to send": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 1_200_000, 413, None),
        "a photo": (JPEG_BYTES, 415, "签名须为手写签名的PNG图片"),
        "a broken png": (SIGNATURE_PNG[:60], 415, "签名须为手写签名的PNG图片"),
        "too many pixels": (
            _png_of(Image.new("1", (5000, 10))),
            413,
            "签名图片尺寸过大，边长不能超过4096像素",
        ),
    }
    for name, (png, status, detail) in cases.items():
        response = await api.client.post(
            f"/api/cases/{case_id}/signature", headers=li, **signature_upload(seen, png)
        )
        assert response.status_code == status, (name, response.text)
        if detail:
            assert response.json()["detail"] == detail, name

    bad_hash = await api.client.post(
        f"/api/cases/{case_id}/signature", headers=li, **signature_upload("not-a-hash")
    )
    assert bad_hash.status_code == 422
    assert await _signatures_kept(api, case_id, operator) == []
    assert _statuses(await _confirmation(api, case_id, operator)) == {1: "unsigned", 2: "unsigned"}


async def test_no_signature_after_the_evacuation(api: Api) -> None:
    case_id, operator = await collected_case(api)
    await sign_all(api.client, case_id, api.party_token(REPORTER), api.party_token(OTHER))
    assert (await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator)).status_code == 200
    zhang = api.party_token(REPORTER)
    confirmation = await _confirmation(api, case_id, zhang)
    assert confirmation["may_sign"] is False

    late = await sign(api.client, case_id, zhang)
    disputed = await api.client.post(
        f"/api/cases/{case_id}/dispute", json={"reason": "事后不认可"}, headers=zhang
    )

    assert late.status_code == 409
    assert "不能再签名确认或提出异议" in late.json()["detail"]
    assert disputed.status_code == 409
    assert len(await _signatures_kept(api, case_id, operator)) == 2
    assert await _state(api, case_id, operator) == "evacuated"


async def test_a_dispute_transfers_the_case_with_the_partys_reason_kept_out_of_every_sms(api: Api) -> None:
    case_id, operator = await collected_case(api)
    li = api.party_token(OTHER)
    assert (await sign(api.client, case_id, api.party_token(REPORTER))).status_code == 201
    # A party's text: control and invisible characters go, whitespace collapses.
    typed = "我没有追尾，\u202e是甲车\u200b倒车\n\n撞到我"

    response = await api.client.post(f"/api/cases/{case_id}/dispute", json={"reason": typed}, headers=li)

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "transferred"
    reason = "我没有追尾， 是甲车 倒车 撞到我"
    case = (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()
    assert case["transfer_reason"] == f"当事人2对记录的事故事实有异议：{reason}"
    statuses = (await _confirmation(api, case_id, operator))["confirmations"]
    assert statuses[1]["status"] == "disputed" and statuses[1]["reason"] == reason  # type: ignore[index]
    timeline = (await api.client.get(f"/api/cases/{case_id}/timeline", headers=operator)).json()
    [dispute] = [event for event in timeline if event["kind"] == "dispute"]
    assert dispute["actor_role"] == "party" and dispute["detail"]["reason"] == reason
    for phone in (REPORTER, OTHER):
        texts = await api.sms_to(phone)
        assert any("现场" in text for text in texts)
        assert not any("追尾" in text for text in texts)
    # Transferred: nothing left to sign, and the operator cannot evacuate.
    assert (await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator)).status_code == 409


async def test_a_dispute_needs_a_reason_of_bounded_length(api: Api) -> None:
    case_id, operator = await collected_case(api)
    li = api.party_token(OTHER)
    for reason, status in (("", 422), ("\u200b\u200b\u200b", 422), ("长" * 201, 422)):
        response = await api.client.post(f"/api/cases/{case_id}/dispute", json={"reason": reason}, headers=li)
        assert response.status_code == status, response.text
    assert await _state(api, case_id, operator) == "collected"


async def test_the_document_lists_each_partys_signature_as_jia_and_yi_with_the_time(
    api: Api, tmp_path: Path
) -> None:
    case = await determined(api)
    [document] = (await api.client.get(f"/api/cases/{case.id}/documents", headers=case.li)).json()
    path = tmp_path / "document.pdf"
    path.write_bytes((await api.client.get(document["download_url"], headers=case.li)).content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())

    assert "当事人签名确认" in flat
    # The test's clock stands still: both signed at its time, said in Shanghai time.
    at = local(api.context.clock.now()).strftime("%Y年%m月%d日%H时%M分")
    assert f"甲张伟：已于{at}签名确认" in flat
    assert f"乙李娜：已于{at}签名确认" in flat


async def test_retention_deletes_a_disputes_reason_with_the_cases_other_personal_data(api: Api) -> None:
    case_id, operator = await collected_case(api)
    reason = "我没有追尾，是甲车倒车"
    disputed = await api.client.post(
        f"/api/cases/{case_id}/dispute", json={"reason": reason}, headers=api.party_token(OTHER)
    )
    assert disputed.status_code == 200, disputed.text

    secret = api.context.settings.effective_phone_key_secret
    now = api.context.clock.now()
    purged = await api.context.database.write(lambda s: purge_personal_data(s, case_id, secret, now))

    assert purged["party_confirmations"] == 1
    statuses = (await _confirmation(api, case_id, operator))["confirmations"]
    assert statuses[1]["status"] == "disputed" and statuses[1]["reason"] == PURGED_LABEL  # type: ignore[index]


async def test_a_tab_closed_mid_signature_keeps_nothing_and_the_next_signature_heals(api: Api) -> None:
    case_id, operator = await collected_case(api)
    zhang = api.party_token(REPORTER)
    seen = str((await _confirmation(api, case_id, zhang))["content_sha256"])
    request = api.client.build_request(
        "POST", f"http://kuaichu.test/api/cases/{case_id}/signature", headers=zhang, **signature_upload(seen)
    )
    body = request.read()
    parts = [{"type": "http.request", "body": body[: len(body) // 2], "more_body": True}]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": request.url.path,
        "raw_path": request.url.raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
        "client": ("127.0.0.1", 5000),
        "server": ("kuaichu.test", 80),
    }

    async def receive() -> dict[str, object]:
        return parts.pop(0) if parts else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        pass

    await api.app(scope, receive, send)  # the phone went away half way through the drawing
    assert await _signatures_kept(api, case_id, operator) == []
    assert _statuses(await _confirmation(api, case_id, operator)) == {1: "unsigned", 2: "unsigned"}
    sha256 = hashlib.sha256(SIGNATURE_PNG).hexdigest()
    assert sha256 not in dict(api.context.evidence_store.blobs())

    # A request that stored the drawing and died before its row: the file alone, which no row
    # names; the party signs again and the same drawing is the same file, now named by its row.
    api.context.evidence_store.put(io.BytesIO(SIGNATURE_PNG), len(SIGNATURE_PNG))
    assert (await sign(api.client, case_id, zhang)).status_code == 201
    [kept] = await _signatures_kept(api, case_id, operator)
    assert kept["sha256"] == sha256
    assert api.context.evidence_store.is_intact(sha256)
    assert _statuses(await _confirmation(api, case_id, operator))[1] == "signed"
