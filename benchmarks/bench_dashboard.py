"""Dashboard benchmark: how long a student waits at the page's own size, and what is sent.

The README promises that a story (2,000 people, one year) answers in about a
second on a quiet machine. This measures it against a real server
(``python -m cxsim.dashboard`` on 127.0.0.1), POSTing the exact bodies the
page's front end sends when a control moves:

* one student moving a lever (a new run; the network picture is cached), a new
  seed (a new run and a new network picture), and *compare with baseline A* on
  (a new run beside the cached baseline), each the median of ``--repeats``
  requests no cache can answer, and the same request again (cached);
* ``--sessions`` students moving a lever at the same moment, on a server with
  ``--workers`` processes: latency median, 95th percentile and the whole wave;
* the bytes of each answer (the run callback's JSON, as the server sent it).

``--before SRC`` also measures the server of another checkout's ``src`` folder
(e.g. an older commit's, from ``git archive``, with its ``scenarios/`` beside it)
in the same run, the two servers taking turns at each measurement: the machine is
shared, so only figures measured side by side compare.
The request bodies are built from each server's own list of callbacks.

The load average is printed before and after: above about 0.5 other processes
shared the cores and the figures are pessimistic.

Run by hand, from a checkout with the dashboard extra installed:
    python benchmarks/bench_dashboard.py [--repeats 5] [--sessions 30] [--workers 2]
        [--before /tmp/old/src]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# The request bodies are built by the tests' helpers, so the benchmark sends what they check.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_dashboard import run_request
from tests.test_dashboard_browser import start_server, stop_server
from tests.test_dashboard_load import all_at_once, post_sized

LEVER = (0, "policy.callback_kept")


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


class Server:
    """A dashboard server started from a ``src`` folder (``None``: this checkout's)."""

    def __init__(self, label: str, src: str | None, workers: int) -> None:
        env = dict(os.environ)
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(":")
        self.label = label
        self.process, self.url = start_server(extra=("--workers", str(workers)), env=env)
        with urllib.request.urlopen(self.url + "_dash-dependencies", timeout=30) as answer:
            callbacks = json.loads(answer.read())
        # What run_request needs of an app: its callbacks, keyed by their outputs.
        self.page = SimpleNamespace(callback_map={c["output"]: c for c in callbacks})
        self.sizes: list[int] = []

    def request(self, **changes: Any) -> dict[str, Any]:
        return run_request(self.page, **changes)

    def timed(self, body: dict[str, Any]) -> float:
        seconds, response, size = post_sized(self.url, body)
        message = response["message"]
        if "cx-ok" not in message["className"]:
            raise RuntimeError(f"the page refused the request: {message['children']}")
        self.sizes.append(size)
        return seconds

    def stop(self) -> None:
        stop_server(self.process)


def one_student(server: Server, repeats: int) -> None:
    """Median latency of a lever move, a new seed and a comparison, for one student."""
    cases = {
        "lever moved (picture cached)": lambda k: server.request(levers={LEVER: 0.01 * (k + 1)}),
        "new seed (new picture)": lambda k: server.request(market={"market.seed": 500 + k}),
        "compare on (baseline cached)": lambda k: server.request(
            levers={LEVER: 0.5 + 0.01 * (k + 1)}, compare=True
        ),
    }
    server.timed(server.request())  # warm the server: imports, the first picture
    for name, body in cases.items():
        seconds = [server.timed(body(k)) for k in range(repeats)]
        print(
            f"  {name:32s} median {statistics.median(seconds):5.2f} s   "
            f"best {min(seconds):5.2f} s   worst {max(seconds):5.2f} s"
        )
    cached = [server.timed(cases["lever moved (picture cached)"](0)) for _ in range(repeats)]
    print(f"  {'the same settings again (cached)':32s} median {statistics.median(cached):5.2f} s")


def many_students(server: Server, sessions: int) -> None:
    """All students move a lever at once; each asks for a run nobody else asked for."""
    bodies = [server.request(levers={LEVER: round(0.2 + 0.02 * i, 2)}) for i in range(sessions)]
    wave = all_at_once(sessions, lambda i: [server.timed(bodies[i])], timeout=3600)
    if wave.failures or wave.waiting:
        print(f"  {len(wave.failures)} failed, {wave.waiting} unfinished: {wave.failures[:3]}")
    print(f"  {sessions} students at once: {wave.describe()}")


def one_student_on(label: str, src: str | None, args: argparse.Namespace) -> None:
    print(f"{label}: one student, the page's own size (2,000 people, one year), --workers 0:")
    server = Server(label, src, 0)
    try:
        one_student(server, args.repeats)
    finally:
        server.stop()


def classroom_on(label: str, src: str | None, args: argparse.Namespace) -> None:
    print(f"{label}: a classroom, --workers {args.workers}:")
    server = Server(label, src, args.workers)
    try:
        server.timed(server.request())  # every worker imports on its first request; warm one
        server.sizes.clear()
        many_students(server, args.sessions)
    finally:
        server.stop()
    sizes = server.sizes
    print(
        f"  bytes per answer as sent (run callback): median {statistics.median(sizes):,.0f}, "
        f"largest {max(sizes):,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--before",
        metavar="SRC",
        default=None,
        help="also measure the server of this src folder (another checkout's), first",
    )
    args = parser.parse_args()

    print(f"load average before: {loadavg()}  (cores: {os.cpu_count()})")
    checkouts: list[tuple[str, str | None]] = [("this checkout", None)]
    if args.before is not None:  # the two servers take turns, one kind of load at a time
        checkouts.insert(0, (f"before ({args.before})", str(Path(args.before).resolve())))
    for phase in (one_student_on, classroom_on):
        for label, src in checkouts:
            phase(label, src, args)
            print(f"  (load average: {loadavg()})")
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
