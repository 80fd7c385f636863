"""Small builders for request bodies, and a case walked to a given state."""

import io
from datetime import date
from typing import Any

import httpx
from PIL import Image, ImageDraw

from kuaichu.cases.catalogue import AccidentType, PlateType, VehicleType, Weather
from kuaichu.cases.identifiers import id_check_character
from kuaichu.registries.synthetic import demo_drivers

ACCIDENT_DAY = date(2026, 11, 25)

# A JPEG as a camera writes it starts with SOI + APP0 "JFIF"; content sniffing reads this.
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 512


def id_number(region: str = "330106", birth: str = "19850312", serial: str = "123") -> str:
    first17 = region + birth + serial
    return first17 + id_check_character(first17)


def party_body(phone: str, plate: str, name: str = "张伟", serial: str = "123") -> dict[str, Any]:
    number = id_number(serial=serial)
    return {
        "name": name,
        "phone": phone,
        "id_number": number,
        "licence_number": number,
        "plate_number": plate,
        "plate_type": PlateType.SMALL,
        "vehicle_type": VehicleType.SMALL_CAR,
        "insurer_code": "PICC",
        "policy_number": "PDZA202633010600001",
    }


FACTS = {
    "occurred_at": "2026-11-25T09:50:00+08:00",
    "address": "西湖区文三路与学院路交叉口",
    "accident_type": AccidentType.REAR_END,
    "weather": Weather.CLEAR,
    "description": "乙车追尾甲车，两车尾部、前部轻微受损",
}


async def upload_jpeg(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    case_id: int,
    kind: str = "side_by_side",
    party_position: int | None = None,
) -> httpx.Response:
    data = {"kind": kind, "lat": "30.26", "lng": "120.10"}
    if party_position is not None:
        data["party_position"] = str(party_position)
    return await client.post(
        f"/api/cases/{case_id}/evidence",
        headers=headers,
        files={"file": ("scene.jpg", JPEG_BYTES, "image/jpeg")},
        data=data,
    )


def demo_party(name: str) -> dict[str, object]:
    """A party as the reference registry knows them (the demo's named drivers)."""
    person = next(p for p in demo_drivers(ACCIDENT_DAY) if p.name == name)
    return {
        "name": person.name,
        "phone": person.phone,
        "id_number": person.licence.number,
        "licence_number": person.licence.number,
        "plate_number": person.vehicle.plate_number,
        "plate_type": person.vehicle.plate_type,
        "vehicle_type": person.vehicle.vehicle_type,
        "insurer_code": person.policy.insurer_code if person.policy else None,
        "policy_number": person.policy.policy_number if person.policy else None,
    }


def signature_png(width: int = 320, height: int = 120) -> bytes:
    """A signature as the party page's canvas sends it: a stroke on a transparent PNG."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(20, 90), (80, 30), (140, 80), (220, 40), (300, 70)], fill="black", width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


SIGNATURE_PNG = signature_png()


def signature_upload(content_sha256: str, png: bytes = SIGNATURE_PNG) -> dict[str, Any]:
    """The multipart body the party page posts: the drawing and the hash of what was read."""
    files = {"file": ("signature.png", png, "image/png")}
    return {"files": files, "data": {"content_sha256": content_sha256}}


async def sign(client: httpx.AsyncClient, case_id: int, party: dict[str, str]) -> httpx.Response:
    """One party reads what they confirm on their phone and signs it."""
    seen = (await client.get(f"/api/cases/{case_id}/confirmation", headers=party)).json()
    return await client.post(
        f"/api/cases/{case_id}/signature", headers=party, **signature_upload(seen["content_sha256"])
    )


async def sign_all(client: httpx.AsyncClient, case_id: int, *parties: dict[str, str]) -> None:
    """Each party (logged in on their own phone) signs, as the evacuation asks of every party."""
    for party in parties:
        response = await sign(client, case_id, party)
        assert response.status_code == 201, response.text


def sign_all_live(client: httpx.Client, case_id: int, *parties: dict[str, str]) -> None:
    """`sign_all` against a live server."""
    for party in parties:
        seen = client.get(f"/api/cases/{case_id}/confirmation", headers=party).json()
        upload = signature_upload(seen["content_sha256"])
        response = client.post(f"/api/cases/{case_id}/signature", headers=party, **upload)
        assert response.status_code == 201, response.text
