"""OCR on the operator's stills: a plate or driving-licence still is read off the request path,
suggested (never filled in) and flagged when the party data recorded disagrees with it."""

import io

import httpx
from conftest import XIHU, Api
from factories import JPEG_BYTES, party_body
from PIL import Image
from plate_images import FORMATS, licence_still, plate_still

from kuaichu.principal import Role
from kuaichu.retention.personal import purge_personal_data

SMALL_CAR = next(f for f in FORMATS if f.name == "small")
SMALL_NEW_ENERGY = next(f for f in FORMATS if f.name == "small_new_energy")
LICENCE = "11010519491231002X"


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    case_id: int,
    kind: str,
    data: bytes,
    position: int | None = None,
) -> int:
    form = {"kind": kind} | ({"party_position": str(position)} if position else {})
    response = await client.post(
        f"/api/cases/{case_id}/evidence",
        headers=headers,
        files={"file": ("still.jpg", data, "image/jpeg")},
        data=form,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def read(api: Api, headers: dict[str, str], case_id: int, evidence_id: int) -> dict:
    """Ask for the still to be read (answered at once), then wait for the worker's result."""
    started = await api.client.post(f"/api/cases/{case_id}/readings/{evidence_id}", headers=headers)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "pending"
    reading = started.json()
    while reading["status"] == "pending":  # each GET waits for the worker's result
        done = await api.client.get(f"/api/cases/{case_id}/readings/{evidence_id}?wait=30", headers=headers)
        assert done.status_code == 200, done.text
        reading = done.json()
    return reading


async def record_party(api: Api, operator: dict[str, str], case_id: int, plate: str, licence: str) -> None:
    body = party_body("13800000001", plate) | {"licence_number": licence, "id_number": licence}
    response = await api.client.put(
        f"/api/cases/{case_id}/parties", json={"parties": [body]}, headers=operator
    )
    assert response.status_code == 200, response.text


async def test_a_plate_still_suggests_its_number_and_type_and_fills_nothing(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    evidence_id = await upload(
        api.client, operator, case_id, "plate", plate_still("粤BD12345", SMALL_NEW_ENERGY), None
    )
    reading = await read(api, operator, case_id, evidence_id)
    assert reading["status"] == "read"
    assert reading["plate_number"] == "粤BD12345"
    assert reading["plate_type"] == "52"
    assert reading["plate_type_label"] == "小型新能源汽车"
    assert reading["mismatch"] == []
    # A suggestion: the case's party data is what the operator recorded, nothing else.
    case = (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()
    assert case["parties"] == []
    listed = (await api.client.get(f"/api/cases/{case_id}/readings", headers=operator)).json()
    assert [r["plate_number"] for r in listed] == ["粤BD12345"]


async def test_a_licence_still_suggests_its_number(api: Api, taken_call: tuple[int, dict[str, str]]) -> None:
    case_id, operator = taken_call
    await record_party(api, operator, case_id, "浙A12345", LICENCE)
    evidence_id = await upload(api.client, operator, case_id, "driving_licence", licence_still(LICENCE), 1)
    reading = await read(api, operator, case_id, evidence_id)
    assert reading["licence_number"] == LICENCE
    assert reading["party_position"] == 1
    assert reading["mismatch"] == []


async def test_a_recorded_plate_the_still_contradicts_is_flagged_for_the_operator_and_the_officer(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    await record_party(api, operator, case_id, "浙A12346", LICENCE)
    evidence_id = await upload(api.client, operator, case_id, "plate", plate_still("浙A12345", SMALL_CAR), 1)
    reading = await read(api, operator, case_id, evidence_id)
    assert reading["mismatch"] == ["plate_number"]
    assert reading["mismatch_text"] == "与照片不符：登记为浙A12346，照片显示浙A12345"
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    seen = (await api.client.get(f"/api/cases/{case_id}/readings", headers=officer)).json()
    assert seen[0]["mismatch"] == ["plate_number"]
    # The operator corrects the party to what the still shows: the flag goes.
    await record_party(api, operator, case_id, "浙A12345", LICENCE)
    again = (await api.client.get(f"/api/cases/{case_id}/readings/{evidence_id}", headers=officer)).json()
    assert again["mismatch"] == []


async def test_what_cannot_be_read_is_refused_clearly_and_changes_nothing(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    overview = await upload(api.client, operator, case_id, "vehicle_overview", JPEG_BYTES)
    response = await api.client.post(f"/api/cases/{case_id}/readings/{overview}", headers=operator)
    assert response.status_code == 422
    assert response.json()["detail"] == "只能识别号牌照片和驾驶证照片"

    huge = io.BytesIO()
    Image.new("L", (9000, 9000)).save(huge, "PNG")  # 81 megapixels in a small file
    big = await upload(api.client, operator, case_id, "plate", huge.getvalue())
    response = await api.client.post(f"/api/cases/{case_id}/readings/{big}", headers=operator)
    assert response.status_code == 422
    assert "图片过大" in response.json()["detail"]

    broken = await upload(api.client, operator, case_id, "plate", JPEG_BYTES[:200])
    response = await api.client.post(f"/api/cases/{case_id}/readings/{broken}", headers=operator)
    assert response.status_code == 422
    assert response.json()["detail"] == "该文件不是可识别的图片"

    assert (await api.client.get(f"/api/cases/{case_id}/readings", headers=operator)).json() == []


async def test_another_cases_still_is_not_found(api: Api, taken_call: tuple[int, dict[str, str]]) -> None:
    case_id, operator = taken_call
    evidence_id = await upload(
        api.client, operator, case_id, "plate", plate_still("浙A12345", SMALL_CAR), None
    )
    other_reporter = await api.agreed_party("13800000009")
    other_case = (await api.client.post("/api/calls", json=XIHU, headers=other_reporter)).json()["case_id"]
    response = await api.client.post(f"/api/cases/{other_case}/readings/{evidence_id}", headers=operator)
    assert response.status_code in (403, 404)
    assert response.json()["detail"]
    response = await api.client.get(f"/api/cases/{case_id}/readings/{evidence_id}", headers=operator)
    assert response.status_code == 404
    assert response.json()["detail"] == "这张照片尚未识别"


async def test_the_readings_are_no_route_for_a_party(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    evidence_id = await upload(
        api.client, operator, case_id, "plate", plate_still("浙A12345", SMALL_CAR), None
    )
    party = api.party_token("13800000001")
    assert (
        await api.client.post(f"/api/cases/{case_id}/readings/{evidence_id}", headers=party)
    ).status_code == 404
    assert (await api.client.get(f"/api/cases/{case_id}/readings", headers=party)).status_code == 404


async def test_retention_masks_what_the_stills_read_with_the_rest_of_the_personal_data(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    await record_party(api, operator, case_id, "浙A12345", LICENCE)
    evidence_id = await upload(api.client, operator, case_id, "plate", plate_still("浙A12345", SMALL_CAR), 1)
    await read(api, operator, case_id, evidence_id)
    secret = api.context.settings.effective_phone_key_secret
    now = api.context.clock.now()
    tables = await api.context.database.write(lambda s: purge_personal_data(s, case_id, secret, now))
    assert tables["still_readings"] == 1
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    reading = (await api.client.get(f"/api/cases/{case_id}/readings", headers=officer)).json()[0]
    assert reading["plate_number"] == "浙A****5"
    assert reading["mismatch"] == []
