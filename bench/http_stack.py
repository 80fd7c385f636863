"""Transitions and case reads through the full HTTP stack, against a bare baseline, same run.

    .venv/bin/python bench/http_stack.py [--cases 400] [--concurrency 8]

Both servers run as their own uvicorn process on the same SQLite file (WAL), one after the
other, driven by the same client. Reported: requests per second of each and the ratios
full/bare against two baselines (bench/bare_server.py): the same SQL as the full stack (the
issue's definition: the goal for both is at least 0.5) and the minimal one of the earlier
sessions (the case's rows alone: no session check, no audit entry).
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy.orm import Session

from kuaichu.auth.service import TokenService, create_user, party_principal, staff_principal
from kuaichu.cases.schemas import ReportIn
from kuaichu.cases.service import report_case
from kuaichu.clock import SystemClock
from kuaichu.db import Database
from kuaichu.demo.seed import DEMO_JURISDICTIONS
from kuaichu.geo.service import import_jurisdictions, locate, read_feature_collection
from kuaichu.migrate import upgrade
from kuaichu.principal import Role

SECRET = "bench-secret-of-at-least-thirty-two-bytes"
BENCH_DIR = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(db_path: Path, cases: int) -> tuple[list[int], str]:
    """Migrated database with one operator and 3 x cases queued cases; the operator's token."""
    url = f"sqlite:///{db_path}"
    upgrade(url)
    database = Database(url)
    now = SystemClock().now()

    def work(session: Session) -> tuple[list[int], str]:
        (jurisdiction, *_) = import_jurisdictions(session, read_feature_collection(DEMO_JURISDICTIONS))
        user = create_user(
            session,
            username="op",
            password="bench-password",
            role=Role.OPERATOR,
            display_name="坐席",
            jurisdiction_id=jurisdiction.id,
            now=now,
        )
        point = ReportIn(lat=30.26, lng=120.10)
        located = locate(session, point.lat, point.lng)
        ids = [
            report_case(session, party_principal(f"138{i:08d}"), point, located, now).id
            for i in range(3 * cases)
        ]
        token = TokenService(SECRET, 24, 60).issue(staff_principal(user), now)
        return ids, token

    result = database.write_sync(work)
    database.dispose()
    return result


def start(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Generous: on a loaded shared machine importing the app and migrating take well over 30 s.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start: {process.stderr.read().decode() if process.stderr else ''}")


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far, all its threads, user and system (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def rate(
    requests: list[Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]], concurrency: int, server: int
) -> tuple[float, float]:
    """Requests per second, and the server process's CPU milliseconds per request: a figure the
    other load on a shared machine disturbs much less than the rate."""
    queue = list(requests)
    async with httpx.AsyncClient(timeout=60) as client:

        async def worker() -> None:
            while queue:
                response = await queue.pop()(client)
                response.raise_for_status()

        began, cpu_before = time.perf_counter(), cpu_seconds(server)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - began, cpu_seconds(server) - cpu_before
        return len(requests) / elapsed, 1000 * cpu / len(requests)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "kuaichu.db"
        ids, token = prepare(db_path, args.cases)
        full_ids, bare_ids, same_sql_ids = (
            ids[: args.cases],
            ids[args.cases : 2 * args.cases],
            ids[2 * args.cases :],
        )
        full_port, bare_port = free_port(), free_port()
        env = os.environ | {
            "KUAICHU_DATA_DIR": tmp,
            "KUAICHU_SECRET_KEY": SECRET,
            "KUAICHU_PORT": str(full_port),
            "KUAICHU_RUN_DISPATCHER": "false",
        }
        full = start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "kuaichu.app:create_app",
                "--port",
                str(full_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            full_port,
            env,
        )
        bare = start(
            [sys.executable, str(BENCH_DIR / "bare_server.py"), str(db_path), str(bare_port)], bare_port, env
        )
        headers = {"Authorization": f"Bearer {token}"}
        full_base, bare_base = f"http://127.0.0.1:{full_port}", f"http://127.0.0.1:{bare_port}"
        try:
            servers = {"full": full.pid, "same": bare.pid, "minimal": bare.pid}
            results = asyncio.run(
                measure(
                    full_base,
                    bare_base,
                    headers,
                    (full_ids, bare_ids, same_sql_ids),
                    args.concurrency,
                    servers,
                )
            )
        finally:
            full.terminate()
            bare.terminate()
    for name, measured in results.items():
        full_rate, same_rate, minimal_rate = (measured[which][0] for which in ("full", "same", "minimal"))
        print(
            f"{name:<12} full stack {full_rate:8.1f}/s   bare same SQL {same_rate:8.1f}/s   "
            f"ratio {full_rate / same_rate:.2f}   bare minimal {minimal_rate:8.1f}/s   "
            f"ratio {full_rate / minimal_rate:.2f}"
        )
    for name, measured in results.items():
        print(
            f"{name:<12} server CPU per request: full stack {measured['full'][1]:.2f} ms, "
            f"bare same SQL {measured['same'][1]:.2f} ms, bare minimal {measured['minimal'][1]:.2f} ms"
        )


async def measure(
    full_base: str,
    bare_base: str,
    headers: dict[str, str],
    ids: tuple[list[int], list[int], list[int]],
    concurrency: int,
    servers: dict[str, int],
) -> dict[str, dict[str, tuple[float, float]]]:
    """For each hot path and each server (full stack, bare same SQL, bare minimal): requests per
    second and the server's CPU milliseconds per request."""
    full_ids, minimal_ids, same_sql_ids = ids
    Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]

    def call(method: str, url: str, **kwargs: object) -> Call:
        return lambda c: c.request(method, url, **kwargs)  # type: ignore[arg-type]

    def takes(which: str, chosen: list[int]) -> list[Call]:
        return {
            "full": [call("POST", f"{full_base}/api/cases/{i}/take", headers=headers) for i in chosen],
            "same": [call("POST", f"{bare_base}/same-sql/take/{i}") for i in chosen],
            "minimal": [call("POST", f"{bare_base}/take/{i}") for i in chosen],
        }[which]

    def reads(which: str, chosen: list[int]) -> list[Call]:
        return {
            "full": [call("GET", f"{full_base}/api/cases/{i}", headers=headers) for i in chosen],
            "same": [call("GET", f"{bare_base}/same-sql/cases/{i}") for i in chosen],
            "minimal": [call("GET", f"{bare_base}/cases/{i}") for i in chosen],
        }[which]

    chosen = {"full": full_ids, "same": same_sql_ids, "minimal": minimal_ids}
    order = ["minimal", "same", "full"]
    half = len(full_ids) // 2
    # Alternate halves and orders so no side always runs on a warmer machine.
    take_runs = [
        (which, await rate(takes(which, chosen[which][part]), concurrency, servers[which]))
        for part, sequence in ((slice(None, half), order), (slice(half, None), order[::-1]))
        for which in sequence
    ]
    read_runs = [
        (which, await rate(reads(which, chosen[which]), concurrency, servers[which]))
        for sequence in (order, order[::-1])
        for which in sequence
    ]
    return {"transition": _averaged(take_runs), "case read": _averaged(read_runs)}


def _averaged(runs: list[tuple[str, tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    """Each server's two runs (one per half, or per order), averaged."""
    pairs: dict[str, list[tuple[float, float]]] = {}
    for which, measured in runs:
        pairs.setdefault(which, []).append(measured)
    return {
        which: (sum(r for r, _ in both) / len(both), sum(c for _, c in both) / len(both))
        for which, both in pairs.items()
    }


if __name__ == "__main__":
    main()
