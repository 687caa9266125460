"""Thirty students at once: concurrent sessions' callbacks, each answered with its own settings.

Each simulated session POSTs the page's run callback to a real server (a
``python -m cxsim.dashboard`` subprocess on 127.0.0.1) with its own market size,
seed and policy, then changes a lever and POSTs again, the way a browser does.
Every answer must be a good run of exactly that session's settings: sessions
must not mix. The latency median and 95th percentile are printed (run with
``-s`` to see them).
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("dash", reason="the dashboard extra (dash) is not installed")

from cxsim.dashboard.app import create_app
from tests.test_dashboard import run_request
from tests.test_dashboard_browser import start_server, stop_server

SESSIONS = 30
#: Small markets so that 60 runs on a shared server finish in seconds; the default
#: page size is measured by hand: python benchmarks/bench_dashboard.py.
DAYS = 60
REQUEST_TIMEOUT = 120.0
TOTAL_TIMEOUT = 240.0


#: Worker processes of the server (``--workers``); set CXSIM_DASHBOARD_WORKERS to measure others.
WORKERS = int(os.environ.get("CXSIM_DASHBOARD_WORKERS", "2"))


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    process, url = start_server(extra=("--workers", str(WORKERS)))
    try:
        yield url
    finally:
        stop_server(process)


def session_settings(i: int) -> dict[str, Any]:
    """Session ``i``'s own settings: a market size, a seed and a policy nobody else has."""
    return {
        "market": {
            "market.customers": 300 + 10 * i,
            "market.days": DAYS,
            "market.seed": 1000 + i,
            "drawn": 100,
        },
        "levers": {(0, "policy.callback_kept"): round(0.02 * i, 2)},
    }


def post(url: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """POST a callback request; the seconds until the whole answer arrived, and the answer."""
    seconds, response, _ = post_sized(url, body)
    return seconds, response


def post_sized(url: str, body: dict[str, Any]) -> tuple[float, dict[str, Any], int]:
    """As :func:`post`, with the bytes of the answer as sent (its body, as the server wrote it)."""
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        url + "_dash-update-component",
        data=data,
        headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"},
        method="POST",
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as answer:
        raw = answer.read()
        packed = answer.headers.get("Content-Encoding") == "gzip"
    body = gzip.decompress(raw) if packed else raw  # as a browser does
    seconds = time.perf_counter() - start
    return seconds, json.loads(body)["response"], len(raw)


def check_answer(response: dict[str, Any], customers: int, seed: int, callback_kept: float) -> None:
    """The answer is a good run of exactly these settings."""
    text = response["message"]["children"]
    assert "cx-ok" in response["message"]["className"], text
    assert f"{customers:,} people for {DAYS} days, seed {seed}" in text
    ref = response["run-ref"]["data"]  # the settings the run was made from
    assert ref["market"]["market.customers"] == customers
    assert ref["market"]["market.seed"] == seed
    assert ref["companies"][0]["policy.callback_kept"] == callback_kept
    assert response["run-store"]["data"]["frames"] == DAYS + 1
    assert response["day-slider"]["max"] == DAYS
    assert len(response["share-graph"]["figure"]["data"]) == 4  # two companies, two panels


@dataclass
class Wave:
    """What sessions released at the same moment measured."""

    latencies: list[float]
    failures: list[str]
    seconds: float  # from the release to the last session's end (or the time limit)
    waiting: int  # sessions still unfinished at the time limit

    def describe(self) -> str:
        ordered = sorted(self.latencies)
        p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
        return (
            f"latency median {statistics.median(ordered):.2f} s, "
            f"95th percentile {p95:.2f} s, all in {self.seconds:.1f} s"
        )


def all_at_once(count: int, session: Callable[[int], list[float]], timeout: float) -> Wave:
    """Run ``session(i)`` for each ``i < count`` in threads released together.

    A session returns the latencies it measured; one that raises is a failure.
    """
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start_together = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            start_together.wait(timeout=60)
            measured = session(i)
        except Exception as err:  # reported by the caller, never hidden
            with lock:
                failures.append(f"session {i}: {type(err).__name__}: {err}")
            return
        with lock:
            latencies.extend(measured)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, timeout - (time.perf_counter() - began)))
    waiting = sum(t.is_alive() for t in threads)
    return Wave(latencies, failures, time.perf_counter() - began, waiting)


def test_thirty_sessions_at_once_each_see_their_own_settings(server: str) -> None:
    app = create_app()  # the same page the server runs, to build the browser's request bodies

    def student(i: int) -> list[float]:
        settings = session_settings(i)
        market = settings["market"]
        seconds_each: list[float] = []
        for step in range(2):
            levers = dict(settings["levers"])
            kept = levers[(0, "policy.callback_kept")]
            if step == 1:  # the student moves a lever
                kept = round(1.0 - kept, 2)
                levers[(0, "policy.callback_kept")] = kept
            body = run_request(app, market=market, levers=levers)
            seconds, response = post(server, body)
            check_answer(response, market["market.customers"], market["market.seed"], kept)
            seconds_each.append(seconds)
        return seconds_each

    wave = all_at_once(SESSIONS, student, TOTAL_TIMEOUT)
    assert not wave.waiting, f"sessions still waiting after {wave.seconds:.0f} s"
    assert not wave.failures, wave.failures[:5]
    assert len(wave.latencies) == 2 * SESSIONS
    print(
        f"\n{SESSIONS} sessions x 2 callbacks ({DAYS}-day markets of 300-590 people, "
        f"{WORKERS} worker processes): {wave.describe()}"
    )
