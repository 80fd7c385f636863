"""Call mechanics through the full server, against a bare websockets echo server, same run.

    .venv/bin/python bench/calls.py [--waiting 200] [--rounds 50]

Measured, each as median and 95th percentile over the rounds:
- *offer*: an operator with its console WebSocket open sets itself available with 200 callers
  waiting; the time until the console receives the offer (HTTP request, the queue transaction
  on SQLite, the bus, the WebSocket push). After each round the call is finished (transfer,
  hang-up) and the next round starts with 200 still waiting.
- *signaling*: a party page sends a signaling message; the time until the operator's page
  receives it (party WebSocket → server → event bus → operator WebSocket).
The baseline for both is the round trip of one message through a bare `websockets` echo
server in its own process (client → server → client, the same hops without any of the work).

    .venv/bin/python bench/calls.py --burst 200 [--window 0] [--operators 10]
        [--database sqlite|postgresql] [--processes 1]

*Burst*: `--burst` callers report at once (spread evenly over `--window` seconds), each from
its own address, while `--operators` operators with their consoles open go 空闲, receive an
offer, spend `--handling` seconds on the call, transfer it and hang up, again and again until
every caller was offered. Reported:
the report's latency (POST /api/calls) and the offer's (from the operator going 空闲, or from
the call's report when the operator was already waiting, to the offer on the console), each
as median, p95, p99. On PostgreSQL `--processes` app processes share Redis; the operators'
and callers' requests are spread over them.

The operators' first 空闲 reaches the server behind the 200 reports (httpx takes longer to
send a request than a phone its prepared bytes), so their first offers wait for the fronts of
every report ahead. `--operators-waiting` starts the burst once every operator waits 空闲
instead: the first offers then count from the calls' reports.

The burst's floor, right after it: the same callers report at once to as many bare handlers
(bench/burst_floor.py) that check the token and, on PostgreSQL, make a report's round trips
(counted on a real report before the burst) as `SELECT 1`. No server that does the report's
SQL in a transaction of its own can answer the burst faster on this machine. On PostgreSQL a
second floor writes the reports waiting together, each statement one executemany over them:
the floor of a batched report.
"""

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import h11
import httpx
from sqlalchemy import event
from sqlalchemy.orm import Session
from stack import (
    REDIS_URL,
    Staff,
    load_average,
    party_headers,
    scratch_database,
    seed_city,
    start_server,
    summary_ms,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from kuaichu.auth.service import TokenService, create_user, party_principal, staff_principal
from kuaichu.calls.availability import ServiceHours
from kuaichu.calls.queue import CallRules, abandon, report_call
from kuaichu.calls.schemas import CallReportIn
from kuaichu.clock import SystemClock
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.consent.service import record_consent
from kuaichu.db import Database
from kuaichu.demo.seed import DEMO_JURISDICTIONS
from kuaichu.geo.service import import_jurisdictions, read_feature_collection
from kuaichu.migrate import upgrade
from kuaichu.principal import Role

SECRET = "bench-secret-of-at-least-thirty-two-bytes"
XIHU = CallReportIn(lat=30.26, lng=120.10)
# Whenever the benchmark runs: all day, and no report limits for its one address.
RULES = CallRules(hours=ServiceHours("00:00", "24:00"), reports_per_address_per_hour=10**6)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def caller_phone(index: int) -> str:
    return f"137{index:08d}"


def prepare(db_path: Path, callers: int, in_call: int) -> tuple[str, str]:
    """Migrated database, one operator, `callers` waiting; the operator's token, and the token
    of caller number `in_call`, whose call (first come, first served) stays open at the end."""
    url = f"sqlite:///{db_path}"
    upgrade(url)
    database = Database(url)
    now = SystemClock().now()
    tokens = TokenService(SECRET, 24, 60)

    def work(session: Session) -> str:
        jurisdictions = import_jurisdictions(session, read_feature_collection(DEMO_JURISDICTIONS))
        session.flush()
        xihu = next(j for j in jurisdictions if j.code == "330106")
        user = create_user(
            session,
            username="op-bench",
            password="bench-password",
            role=Role.OPERATOR,
            display_name="坐席",
            jurisdiction_id=xihu.id,
            now=now,
        )
        for index in range(callers):
            caller = party_principal(caller_phone(index))
            record_consent(session, caller, PRIVACY_NOTICE_VERSION, now)
            report_call(session, caller, XIHU, RULES, now)
        return tokens.issue(staff_principal(user), now)

    operator = database.write_sync(work)
    database.dispose()
    return operator, tokens.issue(party_principal(caller_phone(in_call)), now)


def start_kuaichu(data_dir: Path, db_path: Path, port: int) -> subprocess.Popen[str]:
    env = {
        "KUAICHU_DATA_DIR": str(data_dir),
        "KUAICHU_DATABASE_URL": f"sqlite:///{db_path}",
        "KUAICHU_SECRET_KEY": SECRET,
        "KUAICHU_CALL_SWEEP_SECONDS": "3600",
        "PATH": "/usr/bin:/bin",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "kuaichu.app:create_app", "--port", str(port)]
    return _started(
        subprocess.Popen([*command, "--no-access-log"], env=env, stderr=subprocess.PIPE, text=True)
    )


def start_echo(port: int) -> subprocess.Popen[str]:
    return _started(
        subprocess.Popen(
            [sys.executable, __file__, "--echo-server", str(port)], stderr=subprocess.PIPE, text=True
        )
    )


def _started(process: subprocess.Popen[str]) -> subprocess.Popen[str]:
    assert process.stderr is not None
    for line in process.stderr:
        if "Uvicorn running on" in line or "echo server listening" in line:
            return process
    raise RuntimeError("server did not start")


async def receive(ws: ClientConnection, kind: str) -> dict[str, object]:
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == kind:
            return message


async def socket_url(base: str, token: str) -> str:
    """A page's WebSocket address: a one-time ticket, never the token, in the URL."""
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post("/api/auth/ws-ticket", headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return f"ws{base.removeprefix('http')}/ws?ticket={response.json()['ticket']}"


async def offers(base: str, operator: str, rounds: int) -> list[float]:
    headers = {"Authorization": f"Bearer {operator}"}
    timings = []
    async with (
        httpx.AsyncClient(base_url=base, headers=headers) as http,
        connect(await socket_url(base, operator)) as console,
    ):
        await receive(console, "hello")
        for _ in range(rounds):
            started = time.perf_counter()
            response = await http.put("/api/operators/me/presence", json={"status": "available"})
            response.raise_for_status()
            offer = await receive(console, "offer")
            timings.append(time.perf_counter() - started)
            case_id = offer["case_id"]
            response = await http.post(f"/api/cases/{case_id}/transfer", json={"reason": "基准测试"})
            response.raise_for_status()
            (await http.post(f"/api/calls/{case_id}/hangup")).raise_for_status()
        # Leave one call open for the signaling rounds.
        (await http.put("/api/operators/me/presence", json={"status": "available"})).raise_for_status()
        return timings


async def signaling(base: str, operator: str, party: str, rounds: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base) as http:
        current = (
            await http.get("/api/calls/current", headers={"Authorization": f"Bearer {operator}"})
        ).json()
    case_id = current["case_id"]
    console_url, phone_url = await socket_url(base, operator), await socket_url(base, party)
    async with connect(console_url) as console, connect(phone_url) as phone:
        for ws in (console, phone):
            await ws.send(json.dumps({"type": "join", "case_id": case_id}))
            await receive(ws, "joined")
        timings = []
        for index in range(rounds):
            started = time.perf_counter()
            await phone.send(json.dumps({"type": "signal", "case_id": case_id, "data": {"i": index}}))
            while (await receive(console, "signal"))["data"] != {"i": index}:
                pass
            timings.append(time.perf_counter() - started)
        return timings


async def echo_round_trips(port: int, rounds: int) -> list[float]:
    async with connect(f"ws://127.0.0.1:{port}") as ws:
        timings = []
        for index in range(rounds):
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "signal", "data": {"i": index}}))
            await ws.recv()
            timings.append(time.perf_counter() - started)
        return timings


def summary(name: str, full: list[float], bare: list[float]) -> None:
    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95) - 1]

    full_ms, bare_ms = statistics.median(full) * 1000, statistics.median(bare) * 1000
    print(
        f"{name:10} full median {full_ms:7.2f} ms (p95 {p95(full) * 1000:7.2f}) | "
        f"bare echo median {bare_ms:6.2f} ms (p95 {p95(bare) * 1000:6.2f}) | "
        f"ratio full/bare {full_ms / bare_ms:6.1f}"
    )


async def echo_server(port: int) -> None:
    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async with serve(echo, "127.0.0.1", port):
        print("echo server listening", file=sys.stderr, flush=True)
        await asyncio.Future()


def consent_all(url: str, phones: list[str]) -> None:
    database = Database(url)
    now = SystemClock().now()

    def work(session: Session) -> None:
        for phone in phones:
            record_consent(session, party_principal(phone), PRIVACY_NOTICE_VERSION, now)

    database.write_sync(work)
    database.dispose()


class Phone:
    """One caller's phone in the burst: its own connection and its report's bytes, both ready
    before the burst, so that reporting costs the load generator one write and one read.

    Each phone of a real burst has its own CPU. With httpx, building and sending 200 requests
    from this one process took about 0.3 s of the generator's CPU, which stood between the
    first callers and the server: the first report left the generator a third of a second
    after its caller "pressed", and the offers to the operators already waiting counted it."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.address = httpx.URL(base)
        self.connection = h11.Connection(h11.CLIENT)
        body = json.dumps({"lat": XIHU.lat, "lng": XIHU.lng}).encode()
        fields = {"Host": self.address.netloc.decode(), "Content-Type": "application/json"}
        fields |= headers | {"Content-Length": str(len(body))}
        request = h11.Request(method="POST", target="/api/calls", headers=list(fields.items()))
        self.request = b"".join(
            self.connection.send(event) or b"" for event in (request, h11.Data(data=body), h11.EndOfMessage())
        )

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.address.host, self.address.port)

    async def report(self) -> tuple[int, dict[str, object]]:
        """POST /api/calls: the answer's status and body."""
        self.writer.write(self.request)
        status, body = 0, b""
        while True:
            event = self.connection.next_event()
            if event is h11.NEED_DATA:
                self.connection.receive_data(await self.reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.writer.close()
                return status, json.loads(body)


async def burst(
    bases: list[str],
    operators: list[Staff],
    phones: list[str],
    window: float,
    handling: float,
    operators_waiting: bool = False,
) -> dict[str, list[float]]:
    """Every phone reports (spread over `window` s) while the operators take offers in turn.
    With `operators_waiting`, the burst starts once every operator waits 空闲."""
    reported_at: dict[str, float] = {}
    case_phone: dict[int, str] = {}
    report_times: list[float] = []
    offers: list[tuple[int, float, float]] = []  # case, operator went 空闲, offer arrived
    all_offered = asyncio.Event()
    waiting = asyncio.Barrier(len(operators) + 1)  # the operators and the burst

    async def report(index: int, phone: str, device: Phone) -> None:
        await asyncio.sleep(window * index / len(phones))
        reported_at[phone] = time.perf_counter()
        status, answer = await device.report()
        assert status == 201, (status, answer)
        report_times.append(time.perf_counter() - reported_at[phone])
        case_phone[int(answer["case_id"])] = phone  # type: ignore[call-overload]

    async def operate(http: httpx.AsyncClient, console: ClientConnection) -> None:
        first = True
        while not all_offered.is_set():
            available = time.perf_counter()
            (await http.put("/api/operators/me/presence", json={"status": "available"})).raise_for_status()
            if first and operators_waiting:
                await waiting.wait()
            first = False
            offered = asyncio.ensure_future(receive(console, "offer"))
            finished = asyncio.ensure_future(all_offered.wait())
            await asyncio.wait({offered, finished}, return_when=asyncio.FIRST_COMPLETED)
            finished.cancel()
            if not offered.done():
                offered.cancel()
                return
            offer = offered.result()
            offers.append((int(offer["case_id"]), available, time.perf_counter()))
            if len(offers) >= len(phones):
                all_offered.set()
            await asyncio.sleep(handling)  # the call
            path = f"/api/cases/{offer['case_id']}"
            (await http.post(f"{path}/transfer", json={"reason": "基准测试"})).raise_for_status()
            (await http.post(f"/api/calls/{offer['case_id']}/hangup")).raise_for_status()

    async def burst_after_desks(calls: list[Coroutine[Any, Any, None]]) -> None:
        if operators_waiting:
            await waiting.wait()
        await asyncio.gather(*calls)

    async with AsyncExitStack() as stack:
        desks = []
        for index, staff in enumerate(operators):  # consoles open before the burst
            base = bases[index % len(bases)]
            http = await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, headers=staff.headers, timeout=120)
            )
            console = await stack.enter_async_context(
                # No keepalive pings: on a starved machine a late pong closed the console mid-burst.
                connect(await socket_url(base, staff.headers["Authorization"].split()[1]), ping_interval=None)
            )
            await receive(console, "hello")
            desks.append(operate(http, console))
        # Each phone from its own address (the server trusts X-Forwarded-For from 127.0.0.1).
        devices = [
            Phone(
                bases[i % len(bases)],
                party_headers(phone) | {"X-Forwarded-For": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"},
            )
            for i, phone in enumerate(phones)
        ]
        await asyncio.gather(*(device.open() for device in devices))
        calls = [
            report(i, phone, device) for i, (phone, device) in enumerate(zip(phones, devices, strict=True))
        ]
        await asyncio.wait_for(asyncio.gather(*desks, burst_after_desks(calls)), timeout=600)
    # An offer to an operator already waiting counts from the call's report.
    offer_times = [
        arrived - max(available, reported_at[case_phone[case]]) for case, available, arrived in offers
    ]
    return {"report": report_times, "offer": offer_times}


async def warm_up(bases: list[str], phones: list[str]) -> None:
    """A deployed server has served reports before a burst comes: each process takes one
    report (its statements compiled, its connections open), whose caller hangs up at once."""
    async with httpx.AsyncClient(timeout=120) as http:
        for base, phone in zip(bases, phones, strict=True):
            headers = party_headers(phone)
            reported = await http.post(
                f"{base}/api/calls", json={"lat": XIHU.lat, "lng": XIHU.lng}, headers=headers
            )
            reported.raise_for_status()
            hung_up = await http.post(
                f"{base}/api/calls/{reported.json()['case_id']}/abandon", headers=headers
            )
            hung_up.raise_for_status()


def report_round_trips(url: str, phone: str) -> int:
    """A report's round trips to the database (BEGIN, each statement, COMMIT), counted on a
    report that offers nothing, as most of a burst's do; its caller leaves the queue again."""
    database = Database(url)
    statements: list[str] = []
    event.listen(database.writer, "before_cursor_execute", lambda *call: statements.append(call[2]))
    party, now = party_principal(phone), SystemClock().now()
    joined = database.write_sync(lambda s: report_call(s, party, XIHU, RULES, now, "10.255.255.255"))
    counted = len(statements) + 2
    database.write_sync(lambda s: abandon(s, party, joined.case.id, now))
    database.dispose()
    return counted


async def floor_burst(bases: list[str], phones: list[str]) -> list[float]:
    """The same burst's reports to the floor servers (bench/burst_floor.py): their latencies.
    Each server answers one report first, as the full stack's do (warm_up)."""
    for base in bases:
        warm = Phone(base, party_headers(phones[0]))
        await warm.open()
        await warm.report()
    devices = [Phone(bases[i % len(bases)], party_headers(phone)) for i, phone in enumerate(phones)]
    await asyncio.gather(*(device.open() for device in devices))
    times: list[float] = []

    async def report(device: Phone) -> None:
        began = time.perf_counter()
        status, answer = await device.report()
        assert status == 201, (status, answer)
        times.append(time.perf_counter() - began)

    await asyncio.gather(*(report(device) for device in devices))
    return times


def run_floor(
    url: str, processes: int, phones: list[str], round_trips: int, batched: bool = False
) -> list[float]:
    """The floor servers, one per app process: with `round_trips` to PostgreSQL (per report, or
    per batch of reports), or none."""
    ports = [free_port() for _ in range(processes)]
    command = [sys.executable, str(Path(__file__).parent / "burst_floor.py")]
    database = [url, *(["batched"] if batched else [])] if round_trips else []
    servers = [
        _started(
            subprocess.Popen(
                [*command, str(port), str(round_trips), *database],
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        for port in ports
    ]
    try:
        return asyncio.run(floor_burst([f"http://127.0.0.1:{port}" for port in ports], phones))
    finally:
        for server in servers:
            server.terminate()
            server.wait()


def run_burst(args: argparse.Namespace) -> None:
    print(f"before: {load_average()}")
    with tempfile.TemporaryDirectory() as temp, scratch_database(args.database, Path(temp)) as url:
        operators, _ = seed_city(url, args.operators, 0)
        phones = [caller_phone(index) for index in range(args.burst)]
        early = [caller_phone(args.burst + index) for index in range(args.processes)]
        counted = caller_phone(args.burst + args.processes)
        consent_all(url, [*phones, *early, counted])
        # On PostgreSQL a round trip is a wait on another process; SQLite's statements are calls.
        round_trips = report_round_trips(url, counted) if args.database == "postgresql" else 0
        redis = REDIS_URL if args.processes > 1 else ""
        servers = [
            start_server(Path(temp) / "data", url, redis, call_sweep_seconds="3600", run_dispatcher="false")
            for _ in range(args.processes)
        ]
        try:
            asyncio.run(warm_up([s.url for s in servers], early))
            timings = asyncio.run(
                burst(
                    [s.url for s in servers],
                    operators,
                    phones,
                    args.window,
                    args.handling,
                    args.operators_waiting,
                )
            )
        finally:
            for server in servers:
                server.stop()
        floor = run_floor(url, args.processes, phones, round_trips)
        batched = run_floor(url, args.processes, phones, round_trips, batched=True) if round_trips else []
    operators = "waiting 空闲" if args.operators_waiting else "going 空闲 with the burst"
    print(
        f"{args.burst} callers in {args.window:g} s, {args.operators} operators {operators} "
        f"({args.handling:g} s a call), {args.database}, {args.processes} process(es); "
        f"after: {load_average()}"
    )
    print(f"report  {summary_ms(timings['report'])}")
    print(f"offer   {summary_ms(timings['offer'])}")
    said = f"{round_trips} round trips to PostgreSQL" if round_trips else "no database"
    print(f"floor   {summary_ms(floor)}   (bare handler: token, body, {said})")
    if batched:
        print(f"batched {summary_ms(batched)}   (the same, the reports waiting written together)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiting", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--burst", type=int, default=0, help="callers reporting at once (burst mode)")
    parser.add_argument("--window", type=float, default=0.0, help="seconds the burst's reports spread over")
    parser.add_argument("--operators", type=int, default=10)
    parser.add_argument("--handling", type=float, default=1.0, help="seconds an operator spends on a call")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--operators-waiting", action="store_true", help="burst once all wait 空闲")
    parser.add_argument("--echo-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(echo_server(args.echo_server))
        return
    if args.burst:
        run_burst(args)
        return
    with tempfile.TemporaryDirectory() as temp:
        db_path = Path(temp) / "kuaichu.db"
        # Enough callers that `waiting` are still in the queue at the last round.
        operator, party = prepare(db_path, args.waiting + args.rounds + 1, in_call=args.rounds)
        kuaichu_port, echo_port = free_port(), free_port()
        processes = [start_kuaichu(Path(temp) / "data", db_path, kuaichu_port), start_echo(echo_port)]
        try:
            base = f"http://127.0.0.1:{kuaichu_port}"
            offer_times = asyncio.run(offers(base, operator, args.rounds))
            signal_times = asyncio.run(signaling(base, operator, party, args.rounds * 4))
            echo_times = asyncio.run(echo_round_trips(echo_port, args.rounds * 4))
        finally:
            for process in processes:
                process.terminate()
                process.wait()
    print(f"{args.waiting}+ callers waiting, {args.rounds} offer rounds, {args.rounds * 4} signaling rounds")
    summary("offer", offer_times, echo_times)
    summary("signaling", signal_times, echo_times)


if __name__ == "__main__":
    main()
