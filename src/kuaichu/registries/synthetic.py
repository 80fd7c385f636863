"""A deterministic generator of synthetic registry data (the same seed, the same city).

Realistic names, valid GB 11643 ID numbers from several provinces, conventional and
new-energy plates, and a share of expired, suspended, uninsured, stolen and scrapped cases,
so the demo and the tests meet every check outcome.
"""

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.cases.catalogue import VehicleType
from kuaichu.cases.identifiers import id_check_character
from kuaichu.registries.adapters import LicenceRecord, PolicyRecord, VehicleRecord
from kuaichu.registries.models import RegistryLicence, RegistryPolicy, RegistryVehicle

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅文斌宇浩然子涵欣怡思远嘉俊雨萱晨"
# Regions (GB/T 2260) and the plate prefixes issued there.
REGIONS = (
    ("110105", "京", "ABCEFGHJKLMNPQ"),
    ("310115", "沪", "ABCDEFGHJKLMN"),
    ("330106", "浙", "A"),
    ("330102", "浙", "A"),
    ("330203", "浙", "B"),
    ("440305", "粤", "B"),
    ("440106", "粤", "A"),
    ("320102", "苏", "A"),
    ("510104", "川", "A"),
    ("420102", "鄂", "A"),
)
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
DIGITS = "0123456789"

# (vehicle type, plate type, licence classes that drive it)
FLEET = (
    (VehicleType.SMALL_CAR, "02", "C1"),
    (VehicleType.SMALL_CAR, "02", "C2"),
    (VehicleType.SMALL_CAR, "52", "C1"),
    (VehicleType.SMALL_BUS, "02", "C1"),
    (VehicleType.SMALL_OFF_ROAD, "02", "C1"),
    (VehicleType.LIGHT_TRUCK, "01", "C1"),
    (VehicleType.MEDIUM_BUS, "01", "B1"),
    (VehicleType.HEAVY_TRUCK, "01", "B2"),
    (VehicleType.HEAVY_SEMI_TRAILER_TRACTOR, "01", "A2"),
    (VehicleType.LARGE_BUS, "51", "A1"),
)


@dataclass(frozen=True)
class SyntheticPerson:
    """A driver with a licence, the vehicle they drive and its compulsory policy (if any)."""

    name: str
    phone: str
    licence: LicenceRecord
    vehicle: VehicleRecord
    policy: PolicyRecord | None


def id_number(region: str, birth: date, serial: int) -> str:
    first17 = f"{region}{birth:%Y%m%d}{serial:03d}"
    return first17 + id_check_character(first17)


def _plate(rng: random.Random, province: str, letters: str, plate_type: str) -> str:
    prefix = province + rng.choice(letters)
    if plate_type == "52":  # small new-energy: D (electric) or F (hybrid) first, then 5
        return (
            prefix + rng.choice("DF") + rng.choice(PLATE_LETTERS + DIGITS) + "".join(rng.choices(DIGITS, k=4))
        )
    if plate_type == "51":  # large new-energy: 5 digits, then D or F
        return prefix + "".join(rng.choices(DIGITS, k=5)) + rng.choice("DF")
    tail = rng.choices(DIGITS, k=5)
    for position in rng.sample(range(5), k=rng.choice((0, 1, 1, 2))):  # at most two letters
        tail[position] = rng.choice(PLATE_LETTERS)
    return prefix + "".join(tail)


def generate(
    count: int, insurers: Sequence[tuple[str, str]], today: date, seed: int = 20261125
) -> list[SyntheticPerson]:
    """`count` people, with shares of each failure drawn from one seeded generator."""
    rng = random.Random(seed)
    people: list[SyntheticPerson] = []
    plates: set[str] = set()
    ids: set[str] = set()
    while len(people) < count:
        region, province, letters = rng.choice(REGIONS)
        birth = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 44))
        number = id_number(region, birth, rng.randrange(1, 1000))
        vehicle_type, plate_type, classes = rng.choice(FLEET)
        draw = rng.random()
        # Shares: about 4% expired licence, 3% suspended, 2% revoked, 2% over points,
        # 3% licence class too low, 3% stolen, 2% scrapped, 3% overdue inspection,
        # 5% uninsured, 4% insurance lapsed; the rest are in order.
        licence_status, vehicle_status = "正常", "正常"
        licence_until = today + timedelta(days=rng.randrange(200, 3650))
        inspection_until = today + timedelta(days=rng.randrange(30, 700))
        insured, lapsed = True, False
        if draw < 0.04:
            licence_until = today - timedelta(days=rng.randrange(1, 400))
        elif draw < 0.07:
            licence_status = "暂扣"
        elif draw < 0.09:
            licence_status = "吊销"
        elif draw < 0.11:
            licence_status = "超分"
        elif draw < 0.14:
            # A car licence at the wheel of a large bus.
            vehicle_type, plate_type, classes = VehicleType.LARGE_BUS, "01", "C1"
        elif draw < 0.17:
            vehicle_status = "被盗抢"
        elif draw < 0.19:
            vehicle_status = "报废"
        elif draw < 0.22:
            vehicle_status = "逾期未检验"
            inspection_until = today - timedelta(days=rng.randrange(1, 300))
        elif draw < 0.27:
            insured = False
        elif draw < 0.31:
            lapsed = True
        plate = _plate(rng, province, letters, plate_type)
        if number in ids or plate in plates:
            continue
        ids.add(number)
        plates.add(plate)
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
        insurer_code, insurer_name = rng.choice(insurers)
        starts = (
            today - timedelta(days=rng.randrange(0, 360)) - (timedelta(days=400) if lapsed else timedelta())
        )
        policy = (
            PolicyRecord(
                policy_number=f"PDZA{starts.year}{region}{len(people):06d}",
                insurer_code=insurer_code,
                insurer_name=insurer_name,
                plate_number=plate,
                plate_type=plate_type,
                starts_on=starts,
                ends_on=starts + timedelta(days=364),
            )
            if insured
            else None
        )
        people.append(
            SyntheticPerson(
                name=name,
                phone=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
                licence=LicenceRecord(number, name, classes, licence_status, licence_until),
                vehicle=VehicleRecord(
                    plate, plate_type, name, vehicle_type, vehicle_status, inspection_until
                ),
                policy=policy,
            )
        )
    return people


def load(session: Session, people: Iterable[SyntheticPerson]) -> int:
    """Add the people's records to the reference registry; records already there are kept."""
    people = list(people)
    known_licences = set(session.scalars(select(RegistryLicence.number)))
    known_vehicles = {
        (plate, kind)
        for plate, kind in session.execute(select(RegistryVehicle.plate_number, RegistryVehicle.plate_type))
    }
    known_policies = set(session.scalars(select(RegistryPolicy.policy_number)))
    added = 0
    for person in people:
        licence, vehicle, policy = person.licence, person.vehicle, person.policy
        if licence.number not in known_licences:
            session.add(RegistryLicence(**vars(licence)))
            known_licences.add(licence.number)
            added += 1
        if (vehicle.plate_number, vehicle.plate_type) not in known_vehicles:
            session.add(RegistryVehicle(**vars(vehicle)))
            known_vehicles.add((vehicle.plate_number, vehicle.plate_type))
        if policy is not None and policy.policy_number not in known_policies:
            session.add(RegistryPolicy(**vars(policy)))
            known_policies.add(policy.policy_number)
    session.flush()
    return added


def demo_drivers(today: date) -> list[SyntheticPerson]:
    """The demo's named people (their phones log in on the party page), one per check outcome."""
    birth = date(1985, 3, 12)
    rows = (
        # name, phone, serial, plate, plate type, vehicle, classes, licence status, vehicle status, insurer
        ("张伟", "13800000001", 123, "浙A12345", "02", VehicleType.SMALL_CAR, "C1", "正常", "正常", "PICC"),
        ("李娜", "13900000002", 456, "浙A54321", "02", VehicleType.SMALL_CAR, "C1", "正常", "正常", "CPIC"),
        ("王强", "13700000003", 789, "浙AD12345", "52", VehicleType.SMALL_CAR, "C1", "暂扣", "正常", "PAIC"),
        ("刘洋", "13600000004", 321, "浙A88B66", "01", VehicleType.LARGE_BUS, "C1", "正常", "正常", "PICC"),
        ("陈静", "13500000005", 654, "浙A6C789", "02", VehicleType.SMALL_CAR, "C2", "正常", "被盗抢", "CPIC"),
        ("赵敏", "13400000006", 987, "浙A3E579", "02", VehicleType.SMALL_CAR, "C1", "正常", "正常", None),
    )
    names = {"PICC": "中国人民财产保险", "CPIC": "中国太平洋财产保险", "PAIC": "中国平安财产保险"}
    people = []
    for index, (
        name,
        phone,
        serial,
        plate,
        plate_type,
        vehicle_type,
        classes,
        licence,
        status,
        insurer,
    ) in enumerate(rows, start=1):
        number = id_number("330106", birth, serial)
        policy = (
            PolicyRecord(
                f"PDZA{today.year}33010600{index:03d}",
                insurer,
                names[insurer],
                plate,
                plate_type,
                today - timedelta(days=100),
                today + timedelta(days=264),
            )
            if insurer
            else None
        )
        people.append(
            SyntheticPerson(
                name=name,
                phone=phone,
                licence=LicenceRecord(number, name, classes, licence, today + timedelta(days=2000)),
                vehicle=VehicleRecord(
                    plate, plate_type, name, vehicle_type, status, today + timedelta(days=300)
                ),
                policy=policy,
            )
        )
    return people


def seed_reference_registry(session: Session, insurers: Sequence[tuple[str, str]], today: date) -> int:
    """The demo's registry: its named people first, then a synthetic city of 500 drivers."""
    return load(session, demo_drivers(today) + generate(500, insurers, today))
