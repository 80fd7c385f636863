"""Issue 13's figures in one run: every benchmark one after the other, each one's output kept,
then one table of the figures against their goals.

    .venv/bin/python bench/run_all.py [--quick] [--log bench-run.log]

- transition and case read ratios (bench/http_stack.py), goals >= 0.5;
- signed documents per second against a bare reportlab page signed by pyHanko with the same
  key (bench/documents.py), goal >= 0.5;
- offer p99 with 200 callers in a burst, on SQLite and on PostgreSQL, goal < 100 ms, and the
  report p99 on PostgreSQL in the same burst, goal < 300 ms (bench/calls.py --burst);
- beside each burst, its floor (bench/burst_floor.py): the report p99 of a bare handler that
  only checks the token and, on PostgreSQL, makes the report's round trips as `SELECT 1`, one
  report at a time and in batches;
- the cases an hour sustained while every request's p99 stays under 300 ms, on SQLite and on
  PostgreSQL with two app processes (bench/city.py), goal >= 2000.

The machine's load average is printed beside each step: the figures are ratios or latencies
measured on whatever else runs at the time.
"""

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from stack import load_average

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Figure:
    name: str
    pattern: str  # the figure is the pattern's first group, in the step's output
    goal: str
    met: str  # "min" (figure >= target), "max" (figure < target), or "info" (no goal: a floor)
    target: float = 0.0


@dataclass(frozen=True)
class Step:
    command: list[str]
    figures: list[Figure]


def steps(quick: bool) -> list[Step]:
    cases = "300" if quick else "600"
    rates = "2000" if quick else "1000,2000,3000,4000"
    minutes = "1" if quick else "2"
    sustained = r"sustained: (\d+) cases/hour with every request's p99"
    offer_p99 = r"offer .*?p99\s+([\d.]+)"
    floor_p99 = r"floor .*?p99\s+([\d.]+)"
    city = ["--rates", rates, "--minutes", minutes]
    return [
        Step(
            ["http_stack.py", "--cases", cases],
            [
                Figure("transition / bare, same SQL", r"transition .*? ratio ([\d.]+)", ">= 0.5", "min", 0.5),
                Figure("case read / bare, same SQL", r"case read .*? ratio ([\d.]+)", ">= 0.5", "min", 0.5),
                Figure("transition / bare, minimal", r"transition .* ratio ([\d.]+)", ">= 0.5", "min", 0.5),
                Figure("case read / bare, minimal", r"case read .* ratio ([\d.]+)", ">= 0.5", "min", 0.5),
            ],
        ),
        Step(
            ["documents.py", "--documents", "30" if quick else "60"],
            [
                Figure(
                    "signed documents / bare signed page", r"ratio full/bare: ([\d.]+)", ">= 0.5", "min", 0.5
                )
            ],
        ),
        Step(
            ["calls.py", "--burst", "200", "--database", "sqlite"],
            [
                Figure("offer p99 ms, 200-caller burst, SQLite", offer_p99, "< 100", "max", 100),
                Figure("floor: report p99 ms, bare handler, no database", floor_p99, "", "info"),
            ],
        ),
        Step(
            ["calls.py", "--burst", "200", "--database", "postgresql"],
            [
                Figure("offer p99 ms, 200-caller burst, PostgreSQL", offer_p99, "< 100", "max", 100),
                Figure(
                    "report p99 ms, same burst, PostgreSQL", r"report .*?p99\s+([\d.]+)", "< 300", "max", 300
                ),
                Figure("floor: report p99 ms, bare handler, the round trips only", floor_p99, "", "info"),
                Figure(
                    "floor: the same, reports written in batches", r"batched .*?p99\s+([\d.]+)", "", "info"
                ),
            ],
        ),
        Step(
            ["city.py", "--database", "sqlite", *city],
            [Figure("cases/hour, every p99 < 300 ms, SQLite", sustained, ">= 2000", "min", 2000)],
        ),
        Step(
            ["city.py", "--database", "postgresql", "--processes", "2", *city],
            [Figure("cases/hour, every p99 < 300 ms, PostgreSQL x2", sustained, ">= 2000", "min", 2000)],
        ),
    ]


def run(step: Step, log: Path) -> tuple[str, str, str]:
    command = [sys.executable, str(BENCH / step.command[0]), *step.command[1:]]
    before = load_average()
    print(f"$ .venv/bin/python bench/{' '.join(step.command)}   ({before})", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = load_average()
    with log.open("a") as out:
        out.write(f"\n$ bench/{' '.join(step.command)}\n{before}\n{done.stdout}{done.stderr[-3000:]}")
        out.write(f"{after}\n")
    if done.returncode != 0:
        print(f"  failed ({done.returncode}): {done.stderr.strip()[-500:]}", flush=True)
    return done.stdout, before, after


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer cases and one city rate (2000/h)")
    parser.add_argument("--log", type=Path, default=Path("bench-run.log"), help="every step's full output")
    args = parser.parse_args()
    args.log.write_text("")
    rows = []
    for step in steps(args.quick):
        output, before, after = run(step, args.log)
        for figure in step.figures:
            found = re.search(figure.pattern, output)
            value = float(found.group(1)) if found else None
            if value is None:
                verdict = "no figure"
            elif figure.met == "info":
                verdict = "floor"
            elif figure.met == "min":
                verdict = "met" if value >= figure.target else "not met"
            else:
                verdict = "met" if value < figure.target else "not met"
            shown = "—" if value is None else f"{value:g}"
            load = f"{before.split(' on ')[0]} → {after.split(' on ')[0].removeprefix('load average ')}"
            rows.append(f"| {figure.name} | {shown} | {figure.goal} | {verdict} | {load} |")
    print("\n| figure | measured | goal | | load (1, 5, 15 min) before → after |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nevery step's output: {args.log}")


if __name__ == "__main__":
    main()
