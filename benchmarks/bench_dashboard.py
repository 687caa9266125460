"""Dashboard benchmark: how long a student waits at the page's own size.

The README promises that a story (2,000 people, one year) answers in about a
second on a quiet machine. This measures it against a real server
(``python -m cxsim.dashboard`` on 127.0.0.1), POSTing the exact bodies the
page's front end sends when a control moves:

* one student moving a lever (a new run; the network picture is cached), a new
  seed (a new run and a new network picture), and *compare with baseline A* on
  (a new run beside the cached baseline), each the median of ``--repeats``
  requests no cache can answer, and the same request again (cached);
* ``--sessions`` students moving a lever at the same moment, on a server with
  ``--workers`` processes: latency median, 95th percentile and the whole wave.

The load average is printed before and after: above about 0.5 other processes
shared the cores and the figures are pessimistic.

Run by hand, from a checkout with the dashboard extra installed:
    python benchmarks/bench_dashboard.py [--repeats 5] [--sessions 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

# The request bodies are built by the tests' helpers, so the benchmark sends what they check.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_dashboard import run_request
from tests.test_dashboard_browser import start_server, stop_server
from tests.test_dashboard_load import all_at_once, post

from cxsim.dashboard.app import create_app

LEVER = (0, "policy.callback_kept")


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def timed(url: str, body: dict[str, Any]) -> float:
    seconds, response = post(url, body)
    message = response["message"]
    if "cx-ok" not in message["className"]:
        raise RuntimeError(f"the page refused the request: {message['children']}")
    return seconds


def one_student(url: str, app: Any, repeats: int) -> None:
    """Median latency of a lever move, a new seed and a comparison, for one student."""
    cases = {
        "lever moved (picture cached)": lambda k: run_request(app, levers={LEVER: 0.01 * (k + 1)}),
        "new seed (new picture)": lambda k: run_request(app, market={"market.seed": 500 + k}),
        "compare on (baseline cached)": lambda k: run_request(
            app, levers={LEVER: 0.5 + 0.01 * (k + 1)}, compare=True
        ),
    }
    timed(url, run_request(app))  # warm the server: imports, the first picture
    for name, body in cases.items():
        seconds = [timed(url, body(k)) for k in range(repeats)]
        print(
            f"  {name:32s} median {statistics.median(seconds):5.2f} s   "
            f"best {min(seconds):5.2f} s   worst {max(seconds):5.2f} s"
        )
    cached = [timed(url, cases["lever moved (picture cached)"](0)) for _ in range(repeats)]
    print(f"  {'the same settings again (cached)':32s} median {statistics.median(cached):5.2f} s")


def many_students(url: str, app: Any, sessions: int) -> None:
    """All students move a lever at once; each asks for a run nobody else asked for."""
    bodies = [run_request(app, levers={LEVER: round(0.2 + 0.02 * i, 2)}) for i in range(sessions)]
    wave = all_at_once(sessions, lambda i: [timed(url, bodies[i])], timeout=3600)
    if wave.failures or wave.waiting:
        print(f"  {len(wave.failures)} failed, {wave.waiting} unfinished: {wave.failures[:3]}")
    print(f"  {sessions} students at once: {wave.describe()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    app = create_app()
    print(f"load average before: {loadavg()}  (cores: {os.cpu_count()})")
    process, url = start_server()
    try:
        print("one student, the page's own size (2,000 people, one year):")
        one_student(url, app, args.repeats)
    finally:
        stop_server(process)
    process, url = start_server(extra=("--workers", str(args.workers)))
    try:
        timed(url, run_request(app))  # every worker imports on its first request; warm one
        print(f"a classroom, --workers {args.workers}:")
        many_students(url, app, args.sessions)
    finally:
        stop_server(process)
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
