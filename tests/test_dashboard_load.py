"""Thirty students at once: concurrent sessions' callbacks, each answered with its own settings.

Each simulated session POSTs the page's run callback to a real server (a
``python -m cxsim.dashboard`` subprocess on 127.0.0.1) with its own market size,
seed and policy, then changes a lever and POSTs again, the way a browser does.
Every answer must be a good run of exactly that session's settings: sessions
must not mix. The latency median and 95th percentile are printed (run with
``-s`` to see them).
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
import urllib.request
from collections.abc import Iterator
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
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        url + "_dash-update-component",
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as answer:
        payload = json.loads(answer.read())
    return time.perf_counter() - start, payload["response"]


def check_answer(response: dict[str, Any], customers: int, seed: int, callback_kept: float) -> None:
    """The answer is a good run of exactly these settings."""
    text = response["message"]["children"]
    assert "cx-ok" in response["message"]["className"], text
    assert f"{customers:,} people for {DAYS} days, seed {seed}" in text
    params = response["run-ref"]["data"]["params"]
    assert params["market"]["customers"] == customers
    assert params["market"]["seed"] == seed
    assert params["companies"][0]["policy"]["callback_kept"] == callback_kept
    assert response["run-store"]["data"]["frames"] == DAYS + 1
    assert response["day-slider"]["max"] == DAYS
    assert len(response["share-graph"]["figure"]["data"]) == 4  # two companies, two panels


def test_thirty_sessions_at_once_each_see_their_own_settings(server: str) -> None:
    app = create_app()  # the same page the server runs, to build the browser's request bodies
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start_together = threading.Barrier(SESSIONS)

    def student(i: int) -> None:
        settings = session_settings(i)
        market = settings["market"]
        try:
            start_together.wait(timeout=60)
            for step in range(2):
                levers = dict(settings["levers"])
                kept = levers[(0, "policy.callback_kept")]
                if step == 1:  # the student moves a lever
                    kept = round(1.0 - kept, 2)
                    levers[(0, "policy.callback_kept")] = kept
                body = run_request(app, market=market, levers=levers)
                seconds, response = post(server, body)
                check_answer(response, market["market.customers"], market["market.seed"], kept)
                with lock:
                    latencies.append(seconds)
        except Exception as err:
            with lock:
                failures.append(f"session {i}: {type(err).__name__}: {err}")

    threads = [threading.Thread(target=student, args=(i,), daemon=True) for i in range(SESSIONS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, TOTAL_TIMEOUT - (time.perf_counter() - began)))
    elapsed = time.perf_counter() - began
    assert not any(t.is_alive() for t in threads), f"sessions still waiting after {elapsed:.0f} s"
    assert not failures, failures[:5]
    assert len(latencies) == 2 * SESSIONS

    ordered = sorted(latencies)
    median = statistics.median(ordered)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(
        f"\n{SESSIONS} sessions x 2 callbacks ({DAYS}-day markets of 300-590 people, "
        f"{WORKERS} worker processes): "
        f"latency median {median:.2f} s, 95th percentile {p95:.2f} s, all in {elapsed:.1f} s"
    )
