"""A city's accidents through the real HTTP and WebSocket stack: how many cases an hour the
deployment carries while the p99 of every request stays under 300 ms.

    .venv/bin/python bench/city.py [--database sqlite|postgresql] [--processes 1]
        [--rates 1000,2000,3000] [--minutes 2] [--operators 8] [--officers 3]

For each rate (cases an hour, arriving evenly for `--minutes`), every case is walked as the
people do it, each from their own address:

- the party (甲) logs in by SMS code (read from the SMS the server sent), agrees to the
  recording notice, reports with one tap, opens the page's WebSocket and watches the case
  (queue position, pushes), joins the call when it is taken and sends its call offer;
- an operator, console WebSocket open, goes 空闲 and gets the offer on the console, joins the
  call and answers, loads the case, records the facts and both parties (甲 and 乙, known to
  the reference registry), runs the registry checks, answers the eligibility questions and
  each party's acts, uploads the six stills the gate asks for (small JPEGs), reads the gate,
  completes the collection, tells the parties to leave (evacuate) and hangs up;
- an officer reads the case and the liability proposal and determines (the document is made
  and signed);
- the party, told on the page, reads the case and its documents and pushes the claim.

Reported per rate: the cases finished, each route's p99 (the worst named) and the offer's
(operator 空闲 → offer on the console), and whether the rate was sustained: every case
finished and every route's p99 under 300 ms. On PostgreSQL `--processes` app processes share
Redis; parties and staff are spread over them (a party and its operator often on different
processes). The load generator runs on the same machine: note the load average printed.
"""

import argparse
import asyncio
import io
import json
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw
from sqlalchemy import select
from stack import (
    REDIS_URL,
    Server,
    Staff,
    accident_day,
    city_drivers,
    load_average,
    party_headers,
    percentile,
    scratch_database,
    seed_city,
    start_insurer,
    start_server,
)
from websockets.asyncio.client import ClientConnection, connect

from kuaichu.clock import SHANGHAI
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.db import Database
from kuaichu.notify.models import SmsMessage
from kuaichu.registries.synthetic import SyntheticPerson

P99_LIMIT = 0.300
XIHU = {"lat": 30.26, "lng": 120.10}
# A small still: a JPEG header (the store checks content, not names) and a few KB of picture.
STILL = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(8 * 1024)


def drawn_signature() -> bytes:
    """A signature as the party page's canvas sends it: a stroke on a transparent PNG."""
    image = Image.new("RGBA", (320, 120), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(20, 90), (80, 30), (140, 80), (300, 50)], fill="black", width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


SIGNATURE = drawn_signature()
STILLS = (
    ("side_by_side", None),
    ("collision_point", None),
    ("vehicle_overview", 1),
    ("vehicle_overview", 2),
    ("plate", 1),
    ("plate", 2),
)
NO_CIRCUMSTANCES = dict.fromkeys(
    (
        "injury",
        "vehicles_immovable",
        "facts_disputed",
        "drink_or_drugs_suspected",
        "overload_or_speeding_suspected",
        "plate_missing_or_forged",
        "party_left_scene",
        "deliberate",
        "public_facility_damage_unknown_owner",
    ),
    False,
)
REAR_END = {
    "parties": [
        {"position": 1, "acts": [], "impact_point": "车尾"},
        {"position": 2, "acts": ["rear_end"], "impact_point": "车头"},
    ]
}
# A call's session description, about the size a browser sends.
SDP = "v=0\r\n" + "a=candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host\r\n" * 24


@dataclass
class Timings:
    """Every request's time by route (method and path template), and the offers'."""

    requests: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    offers: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def worst(self, but: str = "") -> tuple[str, float]:
        """The route with the highest p99 (leaving out `but`)."""
        p99s = ((route, percentile(times, 0.99)) for route, times in self.requests.items() if route != but)
        return max(p99s, key=lambda r: r[1])

    def count(self) -> int:
        return sum(len(times) for times in self.requests.values())


class Client:
    """One person's HTTP client: each request timed under its route's name."""

    def __init__(self, http: httpx.AsyncClient, timings: Timings, headers: dict[str, str]) -> None:
        self.http = http
        self.timings = timings
        self.headers = headers

    async def __call__(self, method: str, url: str, route: str, **options: Any) -> httpx.Response:
        started = time.perf_counter()
        response = await self.http.request(method, url, headers=self.headers, **options)
        self.timings.requests[f"{method} {route}"].append(time.perf_counter() - started)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:300]}")
        return response


async def socket(client: Client, base: str) -> ClientConnection:
    """A page's WebSocket, opened with a one-time ticket."""
    ticket = (await client("POST", "/api/auth/ws-ticket", "/api/auth/ws-ticket")).json()["ticket"]
    # No keepalive pings: on a starved machine a late pong closes the socket mid-run.
    connection = await connect(f"ws{base.removeprefix('http')}/ws?ticket={ticket}", ping_interval=None)
    await receive(connection, "hello")
    return connection


async def receive(connection: ClientConnection, kind: str, **match: object) -> dict[str, Any]:
    while True:
        message = json.loads(await connection.recv())
        if message.get("type") == kind and all(message.get(k) == v for k, v in match.items()):
            return message


def party_body(person: SyntheticPerson, phone: str) -> dict[str, object]:
    """A driver the reference registry knows, on the phone of this case."""
    assert person.policy is not None
    return {
        "name": person.name,
        "phone": phone,
        "id_number": person.licence.number,
        "licence_number": person.licence.number,
        "plate_number": person.vehicle.plate_number,
        "plate_type": person.vehicle.plate_type,
        "vehicle_type": person.vehicle.vehicle_type,
        "insurer_code": person.policy.insurer_code,
        "policy_number": person.policy.policy_number,
    }


@dataclass
class City:
    """The running deployment and the people in it."""

    bases: list[str]
    database: Database
    timings: Timings
    think: float
    drivers: Sequence[SyntheticPerson]
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    evacuated: "asyncio.Queue[int]" = field(default_factory=asyncio.Queue)
    finished: list[float] = field(default_factory=list)
    reported: dict[int, float] = field(default_factory=dict)  # case: when its report was sent
    offers: list[tuple[int, float, float]] = field(default_factory=list)  # case, 空闲, offer

    def drivers_of(self, case_id: int) -> tuple[SyntheticPerson, SyntheticPerson]:
        """The case's two drivers: a pair of its own while the city has drivers for it."""
        pair = (case_id - 1) % (len(self.drivers) // 2)
        return self.drivers[2 * pair], self.drivers[2 * pair + 1]

    def offer_times(self) -> list[float]:
        """From the operator going 空闲, or from the report when the operator was waiting."""
        return [
            arrived - max(available, self.reported.get(case_id, available))
            for case_id, available, arrived in self.offers
        ]

    def client(self, index: int, headers: dict[str, str]) -> tuple[Client, str]:
        return Client(self.clients[index % len(self.clients)], self.timings, headers), self.bases[
            index % len(self.bases)
        ]

    async def pause(self) -> None:
        await asyncio.sleep(self.think)

    async def login_code(self, phone: str, since: datetime) -> str:
        """The code in the SMS the server sent to `phone`, once the outbox delivered it."""

        def read(session: Any) -> str | None:
            texts = session.scalars(
                select(SmsMessage.text).where(SmsMessage.phone == phone, SmsMessage.sent_at >= since)
            )
            return next((m.group() for t in texts if (m := re.search(r"\d{6}", t))), None)

        deadline = time.monotonic() + 60
        while (code := await self.database.read(read)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no login SMS to {phone}")
            await asyncio.sleep(0.05)
        return code

    async def party(self, index: int) -> None:
        """甲: SMS login, report, watch, join the call, then the determination and the claim."""
        phone = f"139{index:08d}"
        address = {"X-Forwarded-For": f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"}
        page, base = self.client(index, address)
        since = datetime.now(SHANGHAI).replace(microsecond=0)
        await page("POST", "/api/auth/sms-code", "/api/auth/sms-code", json={"phone": phone})
        code = await self.login_code(phone, since)
        login = await page("POST", "/api/auth/party", "/api/auth/party", json={"phone": phone, "code": code})
        page.headers = address | {"Authorization": f"Bearer {login.json()['access_token']}"}
        notice = {"version": PRIVACY_NOTICE_VERSION}
        await page("POST", "/api/consents", "/api/consents", json=notice)
        reporting = time.perf_counter()
        case_id = (await page("POST", "/api/calls", "/api/calls", json=XIHU)).json()["case_id"]
        self.reported[case_id] = reporting
        async with await socket(page, base) as ws:
            await ws.send(json.dumps({"type": "watch", "case_id": case_id}))
            joined = False
            offer = json.dumps({"type": "signal", "case_id": case_id, "data": {"type": "offer", "sdp": SDP}})
            while True:
                message = json.loads(await ws.recv())
                kind = message.get("type")
                taken = kind == "watching" and message.get("state") == "in_call"
                taken |= kind == "case" and message.get("event") == "call_taken"
                if taken and not joined:  # the page joins the call and sends its offer
                    joined = True
                    await ws.send(json.dumps({"type": "join", "case_id": case_id}))
                    await ws.send(offer)
                if kind == "peer" and message.get("event") == "joined":
                    await ws.send(offer)  # the operator joined after it: again, now heard
                # The push of the stored document (its SMS goes out with it): signed just after
                # the determination, which pushes the state change first.
                if kind == "case" and message.get("event") == "determined":
                    break
        path = f"/api/cases/{case_id}"
        await page("GET", path, "/api/cases/{id}")
        await self.pause()
        await page("GET", f"{path}/documents", "/api/cases/{id}/documents")
        await self.pause()
        await page("POST", f"{path}/claim", "/api/cases/{id}/claim")
        self.finished.append(time.perf_counter())

    async def operator(self, index: int, staff: Staff, stop: asyncio.Event) -> None:
        """Takes calls until told to stop: 空闲, the offer, the call, the collection, 撤离."""
        console_client, base = self.client(index, staff.headers)
        async with await socket(console_client, base) as console:
            while not stop.is_set():
                went_available = time.perf_counter()
                body = {"status": "available"}
                await console_client(
                    "PUT", "/api/operators/me/presence", "/api/operators/me/presence", json=body
                )
                offered = asyncio.ensure_future(receive(console, "offer"))
                stopped = asyncio.ensure_future(stop.wait())
                await asyncio.wait({offered, stopped}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                if not offered.done():
                    offered.cancel()
                    return
                case_id = int(offered.result()["case_id"])
                self.offers.append((case_id, went_available, time.perf_counter()))
                await self.collect(console_client, console, case_id)

    async def collect(self, console_client: Client, console: ClientConnection, case_id: int) -> None:
        path = f"/api/cases/{case_id}"
        await console.send(json.dumps({"type": "join", "case_id": case_id}))
        try:  # the party's page joins once told the call was taken
            await asyncio.wait_for(receive(console, "signal", case_id=case_id), timeout=30)
            answer = {"type": "signal", "case_id": case_id, "data": {"type": "answer", "sdp": SDP}}
            await console.send(json.dumps(answer))
        except TimeoutError:
            self.timings.errors.append(f"case {case_id}: the party never joined the call")
        case = (await console_client("GET", path, "/api/cases/{id}")).json()
        phone = case["reporter_phone"]
        facts = {
            "occurred_at": datetime.now(SHANGHAI).replace(microsecond=0).isoformat(),
            "address": "西湖区文三路与学院路交叉口",
            "accident_type": "rear_end",
            "weather": "clear",
            "description": "乙车追尾甲车，两车尾部、前部轻微受损",
        }
        first, second = self.drivers_of(case_id)
        parties = {"parties": [party_body(first, phone), party_body(second, "136" + phone[3:])]}
        steps: list[tuple[str, str, str, dict[str, Any]]] = [
            ("PUT", f"{path}/facts", "/api/cases/{id}/facts", {"json": facts}),
            ("PUT", f"{path}/parties", "/api/cases/{id}/parties", {"json": parties}),
            ("POST", f"{path}/checks", "/api/cases/{id}/checks", {}),
            ("PUT", f"{path}/circumstances", "/api/cases/{id}/circumstances", {"json": NO_CIRCUMSTANCES}),
            ("PUT", f"{path}/liability-facts", "/api/cases/{id}/liability-facts", {"json": REAR_END}),
        ]
        for kind, position in STILLS:
            data = {"kind": kind, "lat": "30.26", "lng": "120.10"}
            if position:
                data["party_position"] = str(position)
            files = {"file": ("still.jpg", STILL, "image/jpeg")}
            steps.append(
                ("POST", f"{path}/evidence", "/api/cases/{id}/evidence", {"data": data, "files": files})
            )
        steps += [
            ("GET", f"{path}/collection", "/api/cases/{id}/collection", {}),
            ("POST", f"{path}/collection-complete", "/api/cases/{id}/collection-complete", {}),
        ]
        for method, url, route, options in steps:
            await self.pause()
            await console_client(method, url, route, **options)
        # Each party signs the record on their phone before the operator lets them leave.
        for signer in (phone, "136" + phone[3:]):
            await self.sign(case_id, path, signer)
        await console_client("POST", f"{path}/evacuate", "/api/cases/{id}/evacuate")
        await console_client("POST", f"/api/calls/{case_id}/hangup", "/api/calls/{id}/hangup")
        await self.evacuated.put(case_id)

    async def sign(self, index: int, path: str, phone: str) -> None:
        """A party reads the record on their phone and signs it with a drawn signature."""
        await self.pause()
        party, _ = self.client(index, party_headers(phone))
        seen = (await party("GET", f"{path}/confirmation", "/api/cases/{id}/confirmation")).json()
        files = {"file": ("signature.png", SIGNATURE, "image/png")}
        data = {"content_sha256": seen["content_sha256"]}
        await party("POST", f"{path}/signature", "/api/cases/{id}/signature", files=files, data=data)

    async def officer(self, index: int, staff: Staff) -> None:
        """Determines the evacuated cases as they come: 乙 ran into 甲, 乙 bears it all."""
        desk, _ = self.client(index, staff.headers)
        while True:
            case_id = await self.evacuated.get()
            path = f"/api/cases/{case_id}"
            parties = (await desk("GET", path, "/api/cases/{id}")).json()["parties"]
            await self.pause()
            await desk("GET", f"{path}/liability-proposal", "/api/cases/{id}/liability-proposal")
            await self.pause()
            shares = [
                {"party_id": parties[0]["id"], "responsibility": "none"},
                {"party_id": parties[1]["id"], "responsibility": "full"},
            ]
            body = {"shares": shares, "reasoning": "乙车未与前车保持足以采取紧急制动措施的安全距离，追尾甲车"}
            await desk("POST", f"{path}/determination", "/api/cases/{id}/determination", json=body)


async def run_rate(
    servers: list[Server],
    url: str,
    operators: list[Staff],
    officers: list[Staff],
    rate: float,
    args: argparse.Namespace,
    first: int,
    arrivals: int,
    drivers: Sequence[SyntheticPerson],
) -> tuple[Timings, int, float]:
    """`arrivals` cases arriving evenly at `rate` an hour; returns the timings, how many cases
    finished and the seconds from the first arrival until the last one finished."""
    timings = Timings()
    database = Database(url)
    async with AsyncExitStack() as stack:
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=s.url, timeout=120, limits=limits))
            for s in servers
        ]
        city = City([s.url for s in servers], database, timings, args.think, drivers, clients)
        stop = asyncio.Event()
        staff = [asyncio.create_task(city.operator(i, s, stop)) for i, s in enumerate(operators)]
        staff += [asyncio.create_task(city.officer(i, s)) for i, s in enumerate(officers)]
        interval = 3600 / rate
        began = time.perf_counter()
        parties = []
        for number in range(arrivals):
            await asyncio.sleep(max(0.0, began + number * interval - time.perf_counter()))
            parties.append(asyncio.create_task(city.party(first + number)))
        done, pending = await asyncio.wait(parties, timeout=args.drain)
        elapsed = (max(city.finished) if city.finished else time.perf_counter()) - began
        for task in done:
            if task.exception() is not None:
                timings.errors.append(repr(task.exception())[:300])
        for task in pending:
            task.cancel()
        if pending:
            timings.errors.append(f"{len(pending)} cases unfinished {args.drain:g} s after the last arrival")
        stop.set()
        for task in staff[len(operators) :]:
            if task.done():  # an officer stopped on a failed request
                timings.errors.append(f"officer: {task.exception()!r}"[:300])
            task.cancel()
        for outcome in await asyncio.gather(*staff[: len(operators)], return_exceptions=True):
            if isinstance(outcome, BaseException):
                timings.errors.append(f"operator: {outcome!r}"[:300])
        timings.offers = city.offer_times()
    database.dispose()
    return timings, len(city.finished), elapsed


def parse_rates(rates: str) -> Iterator[float]:
    for rate in rates.split(","):
        yield float(rate)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--rates", default="1000,2000,3000", help="cases an hour, one run each")
    parser.add_argument("--minutes", type=float, default=2.0, help="how long cases arrive at each rate")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds allowed after the last arrival")
    parser.add_argument("--operators", type=int, default=8)
    parser.add_argument("--officers", type=int, default=3)
    parser.add_argument("--think", type=float, default=0.05, help="seconds between one person's requests")
    parser.add_argument("--warmup", type=int, default=10, help="cases walked untimed before the first rate")
    args = parser.parse_args()
    if args.database == "sqlite" and args.processes != 1:
        sys.exit("SQLite is one process (PostgreSQL takes several)")
    print(
        f"{args.database}, {args.processes} process(es), {args.operators} operators, {args.officers} officers"
    )
    print(f"start: {load_average()}")
    rows = []
    with tempfile.TemporaryDirectory() as temp, scratch_database(args.database, Path(temp)) as url:
        insurer = start_insurer()
        cases = args.warmup + sum(int(rate * args.minutes / 60) for rate in parse_rates(args.rates))
        drivers = city_drivers(accident_day(), 2 * cases)
        operators, officers = seed_city(url, args.operators, args.officers, f"{insurer.url}/claims", drivers)
        redis = REDIS_URL if args.processes > 1 else ""
        settings = {"outbox_poll_seconds": "0.2", "sms_code_min_interval_seconds": "0"}
        servers = [start_server(Path(temp) / "data", url, redis, **settings) for _ in range(args.processes)]
        try:
            # Untimed: the first requests of a process compile queries and fill caches.
            asyncio.run(run_rate(servers, url, operators, officers, 3600, args, 0, args.warmup, drivers))
            first = args.warmup
            for rate in parse_rates(args.rates):
                arrivals = int(rate * args.minutes / 60)
                timings, finished, elapsed = asyncio.run(
                    run_rate(servers, url, operators, officers, rate, args, first, arrivals, drivers)
                )
                first += arrivals
                rows.append((rate, timings, finished, elapsed, load_average()))
                report(rows[-1], arrivals)
        finally:
            for server in [*servers, insurer]:
                server.stop()
    for index, server in enumerate(servers):
        trouble = [line.rstrip() for line in server.log if "Error" in line or "Exception" in line]
        if trouble:
            print(f"server {index}: {len(trouble)} error lines, the first: {trouble[:3]}")
    summary(rows, args)


def report(row: tuple[float, Timings, int, float, str], arrived: int) -> None:
    rate, timings, finished, elapsed, load = row
    route, worst = timings.worst()
    print(
        f"\n{rate:.0f} cases/h: {finished}/{arrived} finished, the last {elapsed:.0f} s after the first "
        f"arrived; {timings.count()} requests; {load}"
    )
    for name, times in sorted(timings.requests.items()):
        print(
            f"  {name:48} n={len(times):5}  median {statistics.median(times) * 1000:6.1f} ms"
            f"  p99 {percentile(times, 0.99) * 1000:7.1f} ms"
        )
    offers = percentile(timings.offers, 0.99) * 1000
    print(f"  {'offer (空闲 → offer on the console)':48} n={len(timings.offers):5}  p99 {offers:7.1f} ms")
    print(f"  worst p99: {route} {worst * 1000:.0f} ms")
    for error in timings.errors[:10]:
        print(f"  ! {error}")


# Its document is made and signed after its transaction (kuaichu.documents.DocumentJob), on the
# same event loop: the route kept apart in the summary, as it was when it signed inside it.
DETERMINATION = "POST /api/cases/{id}/determination"


def summary(rows: list[tuple[float, Timings, int, float, str]], args: argparse.Namespace) -> None:
    print(
        "\n| cases/h | finished | worst request p99 | worst but the determination | offer p99 "
        "| sustained | load after |"
    )
    print("|---|---|---|---|---|---|---|")
    sustained = {True: 0.0, False: 0.0}  # counting the determination or not
    for rate, timings, finished, _, load in rows:
        route, worst = timings.worst()
        other, worst_other = timings.worst(but=DETERMINATION)
        done = finished == int(rate * args.minutes / 60) and not timings.errors
        for counting, p99 in ((True, worst), (False, worst_other)):
            if done and p99 < P99_LIMIT:
                sustained[counting] = max(sustained[counting], rate)
        verdict = "yes" if done and worst < P99_LIMIT else "no"
        offers = percentile(timings.offers, 0.99) * 1000
        print(
            f"| {rate:.0f} | {finished} | {worst * 1000:.0f} ms ({route}) "
            f"| {worst_other * 1000:.0f} ms ({other}) | {offers:.0f} ms | {verdict} "
            f"| {load.removeprefix('load average ')} |"
        )
    limit = f"{P99_LIMIT * 1000:.0f} ms"
    print(f"\nsustained: {sustained[True]:.0f} cases/hour with every request's p99 under {limit}")
    but = "every request's but the determination's"
    print(f"sustained: {sustained[False]:.0f} cases/hour with {but} p99 under {limit}")


if __name__ == "__main__":
    main()
