"""Sweeps under hostile and clumsy use (issue 11): plan size, bad values, bad bases.

Every bad plan gives one line naming the file and the field, exit 2, and leaves nothing
under ``--out``; a plan too large to run is refused from its shape, before any point is made.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxsim.sweeps import PlanError, cluster, load_plan, load_results, sweep
from cxsim.sweeps.cli import main
from cxsim.sweeps.design import count_points, design_points
from cxsim.sweeps.plan import DEFAULT_MAX_RUNS, DESIGNS, PlanFile
from cxsim.sweeps.store import SweepFolderBusyError, SweepStore

from .test_sweeps import TINY_BASE, TINY_PLAN, write_plan

#: Five numeric parameters of the tiny plan's world that take any value in [0.3, 0.9].
FIVE_KEYS = [
    "companies.0.policy.callback_kept",
    "companies.1.policy.callback_kept",
    "companies.0.policy.reachability",
    "companies.1.policy.reachability",
    "companies.0.policy.fix_probability",
]


class TooSlow(BaseException):
    """Raised by :func:`within` past its deadline (not an Exception: nothing under test catches it)."""


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) if the block takes longer than ``seconds``."""

    def too_slow(signum: int, frame: object) -> None:
        raise TooSlow(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def sweep_cli(*args: str | Path) -> tuple[int, str, str]:
    """``cxsim sweep``/``analyze`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def plan_text(head: str, factors: str) -> str:
    """A plan on the tiny world: top-level ``head`` lines and a ``[factors]`` table."""
    return f"{head}\n[metrics]\nsummary = ['retention']\n\n[factors]\n{factors}\n{TINY_BASE}"


def assert_refused(code: int, err: str, plan: Path, out: Path, *expected: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"cxsim: {plan}: "), err
    for text in expected:
        assert text in err, err
    assert not out.exists()


# --------------------------------------------------------------------------- bounded work

HUGE_PLANS = {
    "5 factors x 10,000 levels": (
        "",
        "\n".join(f'"{k}" = {{ range = [0.3, 0.9], levels = 10000 }}' for k in FIVE_KEYS),
        ["factors: 100,000,000,000,000,000,000 points (10,000 x 10,000 x 10,000", "years of CPU"],
    ),
    "replications = 100000 on a 10,000-level factor": (
        "replications = 100000",
        f'"{FIVE_KEYS[0]}" = {{ range = [0.3, 0.9], levels = 10000 }}',
        ["replications: 10,000 points (10,000 values) x 100,000 replications = 1,000,000,000"],
    ),
    "sobol with 8M samples": (
        'design = "sobol"\nsamples = 8388608',
        "\n".join(f'"{k}" = {{ range = [0.3, 0.9] }}' for k in FIVE_KEYS[:3]),
        ["samples: 41,943,040 points (8,388,608 samples x 5) x 1 replication = 41,943,040 runs"],
    ),
}


@pytest.mark.parametrize("case", HUGE_PLANS)
def test_a_plan_too_large_to_run_is_refused_at_once_with_its_estimate(
    tmp_path: Path, case: str
) -> None:
    head, factors, expected = HUGE_PLANS[case]
    plan = write_plan(tmp_path, plan_text(head, factors))
    out = tmp_path / "out"
    start = time.perf_counter()
    with within(10):  # main's code built the design first: a MemoryError after 68 s, or a hang
        code, _, err = sweep_cli("sweep", plan, "--out", out, "-q")
    assert_refused(code, err, plan, out, *expected, "runs")
    assert time.perf_counter() - start < 5


def test_a_list_of_2_3_million_values_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    values = ", ".join(str(n) for n in range(100, 2_300_100))
    plan = write_plan(tmp_path, plan_text("", f'"market.customers" = [{values}]'))
    out = tmp_path / "out"
    with within(10):  # parsing alone took 8 s, then the duplicate check never ended
        code, _, err = sweep_cli("sweep", plan, "--out", out, "-q")
    assert_refused(code, err, plan, out, "MB is too long for a sweep plan of at most 100,000 runs")


def test_the_run_limit_is_raised_by_max_runs(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, TINY_PLAN)  # 4 points x 2 replications
    out = tmp_path / "out"
    code, _, err = sweep_cli("sweep", plan, "--out", out, "-q", "--max-runs", "7")
    assert_refused(code, err, plan, out, "factors: 4 points (2 x 2 values) x 2 replications = 8")
    assert "more than the limit of 7 runs (raise it with --max-runs" in err
    assert load_plan(plan, max_runs=8).size.runs == 8
    code, _, err = sweep_cli("sweep", plan, "--out", out, "-q", "--max-runs", "0")
    assert (code, err.strip()) == (2, "cxsim: --max-runs: expected a number >= 1, got 0")
    assert DEFAULT_MAX_RUNS == 100_000


def test_the_sweep_says_how_many_runs_and_their_estimated_cost_before_it_starts(
    tmp_path: Path,
) -> None:
    plan = load_plan(write_plan(tmp_path))
    assert plan.size.runs == len(plan.runs()) == 8
    assert 0 < plan.size.cpu_seconds < 60
    assert plan.size.describe().startswith(("about ", "under 1 s"))
    assert "of CPU time" in plan.size.describe()
    assert "MiB per run" in plan.size.describe()


def test_the_estimate_takes_the_largest_market_any_point_has(tmp_path: Path) -> None:
    small = load_plan(write_plan(tmp_path, plan_text("", '"market.days" = [30, 31]'), "s.toml"))
    large = load_plan(write_plan(tmp_path, plan_text("", '"market.days" = [30, 3000]'), "l.toml"))
    assert large.size.cpu_seconds > 50 * small.size.cpu_seconds
    assert large.size.run_bytes > small.size.run_bytes


def test_a_duplicate_at_the_end_of_a_long_list_is_found_in_linear_time(tmp_path: Path) -> None:
    values = [f"{v / 100_000:.5f}" for v in range(20_000)] + ["0.00007"]
    plan = write_plan(tmp_path, plan_text("", f'"{FIVE_KEYS[0]}" = [{", ".join(values)}]'))
    start = time.perf_counter()
    with within(10), pytest.raises(PlanError) as caught:  # main's check took 11.5 s
        load_plan(plan)
    assert time.perf_counter() - start < 3
    assert str(caught.value) == f"{plan}: factors.{FIVE_KEYS[0]}: value 7e-05 is listed twice"


KEPT = '"companies.0.policy.callback_kept" = [0.0, 1.0]'
FULL_FACTORIAL = 'design = "full_factorial"'


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ([("replications = 2", "replications = true")], "replications: expected a whole number"),
        ([("seed = 7", "seed = false")], "seed: expected a whole number"),
        ([("[0.0, 1.0]", "[true, false]")], "callback_kept: value True: expected a number"),
        (
            [(FULL_FACTORIAL, 'design = "latin_hypercube"\nsamples = true')],
            "samples: expected a whole number",
        ),
        (
            [(FULL_FACTORIAL, 'design = "sobol"\nsamples = 8\nsecond_order = 1')],
            "second_order: expected true or false",
        ),
        (
            [("[0.0, 1.0]", "{ range = [0.0, 1.0], levels = true }")],
            "callback_kept.levels: expected a whole number",
        ),
        (
            [
                (FULL_FACTORIAL, 'design = "latin_hypercube"\nsamples = 4'),
                (KEPT, KEPT.replace("[0.0, 1.0]", "{ range = [true, 1.0] }")),
            ],
            "callback_kept.range[0]: expected a number",
        ),
        ([("[metrics]", '[fixed]\n"market.days" = true\n\n[metrics]')], "fixed.market.days: "),
    ],
)
def test_true_is_not_a_number_anywhere_in_a_plan(
    tmp_path: Path, changes: list[tuple[str, str]], expected: str
) -> None:
    text = TINY_PLAN
    for old, new in changes:
        assert old in text
        text = text.replace(old, new, 1)
    plan = write_plan(tmp_path, text)
    code, _, err = sweep_cli("sweep", plan, "--out", tmp_path / "out", "-q")
    assert_refused(code, err, plan, tmp_path / "out", expected)
    assert err.rstrip().endswith(("got true", "got false", "got 1")), err


@pytest.mark.parametrize(
    ("design", "samples", "second_order"),
    [
        ("full_factorial", None, False),
        ("latin_hypercube", 7, False),
        ("sobol", 4, False),
        ("sobol", 4, True),
    ],
)
def test_points_are_counted_from_the_design_shape_exactly(
    tmp_path: Path, design: str, samples: int | None, second_order: bool
) -> None:
    factors = (
        '"companies.0.policy.callback_kept" = [0.0, 0.5, 1.0]\n'
        '"companies.0.policy.refund_rule" = ["never", "no_questions"]\n'
    )
    if design != "full_factorial":
        factors += '"companies.1.policy.callback_kept" = { range = [0.1, 0.9] }\n'
    else:
        factors += '"companies.1.policy.callback_kept" = { range = [0.1, 0.9], levels = 4 }\n'
    head = f'design = "{design}"' + (f"\nsamples = {samples}" if samples else "")
    head += "\nsecond_order = true" if second_order else ""
    plan = load_plan(write_plan(tmp_path, plan_text(head, factors)))
    made = design_points(plan.factors, design, samples, plan.spec.seed, second_order)
    assert count_points(plan.factors, design, samples, second_order) == len(made)
    assert plan.size.points == len(plan.points) == len(made)


# --------------------------------------------------------------------------- base


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (".", "base: '.' is a folder"),
        ("..", "base: '..' is a folder"),
        ("", "base: expected a scenario file's path, a shipped scenario's name or a [base] table"),
        ("no_such_story", "base: no_such_story: no such scenario file; shipped scenarios: "),
        ("manage_vs_fx", "base: manage_vs_fx: no such scenario file; did you mean manage_vs_fix?"),
        ("missing.toml", "base: no such scenario file"),
    ],
)
def test_a_base_that_is_no_scenario_names_the_plan_file_and_its_base_field(
    tmp_path: Path, base: str, expected: str
) -> None:
    head, _, _ = TINY_PLAN.partition("[base.market]")
    plan = write_plan(tmp_path, f'base = "{base}"\n{head}')
    code, _, err = sweep_cli("sweep", plan, "--out", tmp_path / "out", "-q")
    assert_refused(code, err, plan, tmp_path / "out", expected)


def test_an_error_inside_the_base_scenario_names_the_plan_and_the_scenario_field(
    tmp_path: Path,
) -> None:
    (tmp_path / "story.toml").write_text("[market]\ndays = -3\n", encoding="utf-8")
    head, _, _ = TINY_PLAN.partition("[base.market]")
    plan = write_plan(tmp_path, f'base = "story.toml"\n{head}')
    code, _, err = sweep_cli("sweep", plan, "--out", tmp_path / "out", "-q")
    assert_refused(
        code, err, plan, tmp_path / "out", f"base: {tmp_path / 'story.toml'}: market.days"
    )


# --------------------------------------------------------------------------- nothing lost


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny plan, swept to the end: (plan file, sweep folder)."""
    folder = tmp_path_factory.mktemp("finished")
    plan = write_plan(folder)
    out = folder / "sweep"
    sweep(load_plan(plan), out, workers=1, progress=False)
    return plan, out


def damaged_copy(finished: Path, to: Path, folder: str, how: str) -> Path:
    """A copy of a finished sweep whose first part in ``folder`` is emptied or cut in half."""
    shutil.copytree(finished, to)
    part = sorted((to / folder).glob("part-*.parquet"))[0]
    data = part.read_bytes()
    part.write_bytes(b"" if how == "zero-byte" else data[: len(data) // 2])
    return part


DAMAGE = [(folder, how) for folder in ("runs", "daily") for how in ("zero-byte", "truncated")]


@pytest.mark.parametrize(("folder", "how"), DAMAGE)
def test_resume_sets_an_unreadable_part_aside_says_which_runs_it_held_and_runs_them_again(
    finished_sweep: tuple[Path, Path], tmp_path: Path, folder: str, how: str
) -> None:
    plan, finished = finished_sweep
    out = tmp_path / "sweep"
    part = damaged_copy(finished, out, folder, how)
    held = pd.read_parquet(finished / folder / part.name)[["point", "replication"]]
    code, _, err = sweep_cli("sweep", plan, "--out", out, "--workers", "1", "-q")
    assert code == 0, err  # main: ArrowInvalid traceback, exit 1
    (line,) = err.strip().splitlines()
    assert line.startswith(f"cxsim: warning: {part} cannot be read (")
    assert f"moved it and its twin to {out / 'corrupt'}/" in line
    first = held.sort_values(["point", "replication"]).iloc[0]
    assert f"point/replication {first['point']}/{first['replication']}" in line
    assert (out / "corrupt" / folder / part.name).is_file()
    assert not part.exists()
    runs = pd.read_parquet(out / "runs")  # what a user reads: every run, once
    assert runs["run_id"].nunique() == 8
    assert not runs.duplicated(["run_id", "company"]).any()
    assert len(pd.read_parquet(out / "daily")) == 8 * 2 * 31
    assert load_results(out).recorded == 8


@pytest.mark.parametrize(("folder", "how"), DAMAGE)
def test_analyze_skips_an_unreadable_part_with_a_warning(
    finished_sweep: tuple[Path, Path], tmp_path: Path, folder: str, how: str
) -> None:
    out = tmp_path / "sweep"
    part = damaged_copy(finished_sweep[1], out, folder, how)
    code, _, err = sweep_cli("analyze", out, "--no-report", "-q")
    assert code == 0, err  # main: ArrowInvalid traceback (runs/), or not a word (daily/)
    (line,) = err.strip().splitlines()
    assert line.startswith(f"cxsim: warning: {part} cannot be read (")
    assert "skipped it" in line
    assert part.exists()  # analysis reads; it never moves anything
    assert (out / "summary.csv").is_file()


def test_analyze_writes_its_report_around_an_unreadable_daily_part(
    finished_sweep: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    part = damaged_copy(finished_sweep[1], out, "daily", "truncated")
    code, _, err = sweep_cli("analyze", out, "-q")
    assert code == 0, err
    assert err.count(str(part)) == 1  # warned once, though read twice
    assert (out / "sweep_report.html").is_file()


HOLD = """
import sys, time
from cxsim.sweeps.store import SweepStore
with SweepStore(sys.argv[1]).lock():
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_second_sweep_on_one_folder_refuses_naming_the_holders_pid_and_a_dead_holder_does_not_block(
    tmp_path: Path,
) -> None:
    plan = write_plan(tmp_path)
    out = tmp_path / "sweep"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        before = sorted(p.name for p in out.iterdir())
        code, _, err = sweep_cli("sweep", plan, "--out", out, "--workers", "1", "-q")
        assert code == 2, err  # main: both sweeps ran every run
        (line,) = err.strip().splitlines()
        assert f"another cxsim sweep (pid {holder.pid} on " in line
        assert sorted(p.name for p in out.iterdir()) == before  # nothing written
        with pytest.raises(SweepFolderBusyError, match=f"pid {holder.pid} "):
            sweep(load_plan(plan), out, workers=1, progress=False)
    finally:
        holder.kill()  # SIGKILL: no clean-up, the pid file stays behind
        holder.wait()
    assert (out / "sweep.lock.pid").exists()
    outcome = sweep(load_plan(plan), out, workers=1, progress=False)
    assert outcome.recorded_total == 8
    assert not (out / "sweep.lock.pid").exists()


def test_a_folder_of_other_things_is_refused_without_a_lock_file_left_in_it(
    tmp_path: Path,
) -> None:
    plan = write_plan(tmp_path)
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "thesis.txt").write_text("precious", encoding="utf-8")
    code, _, err = sweep_cli("sweep", plan, "--out", out, "-q")
    assert code == 2
    assert "is not a sweep folder" in err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.txt"]


def test_a_sweep_folder_that_cannot_be_written_is_one_line_before_any_run(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    (tmp_path / "a_file").write_text("", encoding="utf-8")
    out = tmp_path / "a_file" / "sweep"  # a path through a file: no one may write there
    code, _, err = sweep_cli("sweep", plan, "--out", out, "-q")
    assert code == 2, err  # main: FileNotFoundError traceback
    assert err.strip() == f"cxsim: {out}: cannot write a sweep folder here: Not a directory"


def test_a_folder_holding_only_a_lock_left_by_a_killed_sweep_is_resumed(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    out = tmp_path / "sweep"
    with SweepStore(out).lock():
        pass
    # What a sweep killed before it wrote its plan leaves behind.
    (out / "sweep.lock.pid").write_text('{"pid": 1}', encoding="utf-8")
    assert set(os.listdir(out)) <= {"sweep.lock", "sweep.lock.pid"}
    assert sweep(load_plan(plan), out, workers=1, progress=False).recorded_total == 8


# --------------------------------------------------------------------------- Dask addresses


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("foo://bar", "unknown scheme 'foo://'; expected tcp://HOST:PORT"),
        ("http://10.0.0.5:8786", "unknown scheme 'http://'"),
        ("notanaddress", "no port; expected tcp://HOST:PORT"),
        ("tcp://:8786", "no host name before :8786"),
        ("tcp://10.0.0.5:99999", "the port must be a number from 1 to 65535, got '99999'"),
        ("10.0.0.5:port", "the port must be a number from 1 to 65535, got 'port'"),
    ],
)
def test_a_scheduler_address_of_the_wrong_form_is_one_line_and_exit_2_before_anything_else(
    tmp_path: Path, address: str, expected: str
) -> None:
    out = tmp_path / "out"
    plan = tmp_path / "no_plan_yet.toml"  # the address is checked first
    code, _, err = sweep_cli("sweep", plan, "--out", out, "--scheduler", address)
    assert code == 2, err  # main: ValueError tracebacks (exit 1), or a 10 s wait
    (line,) = err.strip().splitlines()
    assert line.startswith(f"cxsim: --scheduler {address}: {expected}")
    assert not out.exists()


@pytest.mark.parametrize(
    ("address", "full"),
    [
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("tls://scheduler.example.org:8786", "tls://scheduler.example.org:8786"),
        ("wss://h:443", "wss://h:443"),
        ("[::1]:8786", "tcp://[::1]:8786"),
    ],
)
def test_well_formed_scheduler_addresses_are_accepted(address: str, full: str) -> None:
    assert cluster.check_address(address) == full


class MisbehavingServer:
    """A local TCP server that accepts and then: never answers, answers as HTTP, or sends a banner."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.connections.append(connection)
            with contextlib.suppress(OSError):
                if self.kind == "http":
                    connection.recv(65536)
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
                elif self.kind == "banner":
                    connection.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        self.listener.close()
        for connection in self.connections:
            connection.close()


def closed_port() -> int:
    """A port nothing listens on (bound, never listened, closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("silent", "no Dask scheduler answered within 1 s"),  # main: hung for ever
        ("http", "something answered, but not in Dask's protocol"),  # main: MemoryError 3 EiB
        ("banner", "something answered, but not in Dask's protocol"),  # main: MemoryError 2.8 EiB
        ("closed", "cannot connect: Timed out trying to connect to "),
    ],
)
def test_a_port_that_is_no_dask_scheduler_ends_within_the_connect_timeout_as_one_line(
    tmp_path: Path, kind: str, expected: str
) -> None:
    pytest.importorskip("distributed")
    server = MisbehavingServer(kind) if kind != "closed" else None
    plan = write_plan(tmp_path)
    out = tmp_path / "out"
    address = f"127.0.0.1:{server.port if server else closed_port()}"
    start = time.perf_counter()
    try:
        with within(15):
            code, _, err = sweep_cli(
                "sweep", plan, "--out", out, "--scheduler", address, "--connect-timeout", "1"
            )
    finally:
        if server is not None:
            server.close()
    assert time.perf_counter() - start < 5
    assert code == 1, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"cxsim: --scheduler {address}: {expected}")
    assert not out.exists()


# --------------------------------------------------------------------------- fuzz

KEPT_KEY = "companies.0.policy.callback_kept"

numbers = st.one_of(st.integers(-(10**9), 10**9), st.floats(allow_nan=True))
words = st.text(max_size=12)
lists = st.lists(st.one_of(st.integers(), words), max_size=3)
tables = st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.integers(), max_size=2)
#: Values that are neither a string nor a table.
not_text = st.one_of(st.booleans(), numbers, lists)
#: Values that are not a table.
not_table = st.one_of(st.booleans(), numbers, words, lists)
#: Values no whole-number field accepts (strict: no true, no 2.0, no "2").
not_whole = st.one_of(st.booleans(), st.floats(), words, lists, tables)

#: Per top-level field of a plan, values it never accepts (given the tiny plan's full factorial).
BAD_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": st.one_of(not_text, tables, st.just(""), st.text(min_size=81, max_size=90)),
    "description": st.one_of(not_text, tables),
    "design": st.one_of(words.filter(lambda w: w not in DESIGNS), not_text, tables),
    "samples": st.one_of(st.integers(), not_whole),  # a full factorial takes no samples
    "second_order": st.one_of(st.just(True), numbers, words, lists, tables),
    "replications": st.one_of(st.integers(max_value=0), st.integers(min_value=100_001), not_whole),
    "seed": st.one_of(st.integers(max_value=-1), not_whole),
    "metrics": st.one_of(
        not_table,
        st.just({"sumary": ["retention"]}),
        st.builds(lambda w: {"summary": ["retention", f"zz{w}"]}, words),
        st.builds(lambda w: {"daily": [f"zz{w}"]}, words),
    ),
    "factors": st.one_of(not_table, st.just({})),
    "fixed": st.one_of(
        st.booleans(),
        numbers,
        words,
        lists,
        st.builds(lambda v: {"market.days": v}, st.one_of(st.integers(max_value=0), not_whole)),
        st.builds(lambda w: {f"zz_{w}": 1}, st.from_regex(r"[a-z]{1,8}", fullmatch=True)),
    ),
    "base": st.one_of(
        not_text,
        st.sampled_from([".", "", "..", "no_such_story_zz", "missing.toml", "../missing.toml"]),
        st.builds(
            lambda v: {"market": {"days": v}}, st.one_of(st.integers(max_value=0), not_whole)
        ),
        st.builds(lambda w: {f"zz_{w}": 1}, st.from_regex(r"[a-z]{1,8}", fullmatch=True)),
    ),
}

#: Factor specifications that are never right for callback_kept (a share in [0, 1]).
BAD_KEPT_SPECS = st.one_of(
    st.just([]),
    st.builds(lambda v: [v, v], st.floats(0, 1)),  # listed twice
    st.builds(
        lambda v: [0.5, v], st.one_of(st.floats(min_value=1.0001), st.floats(max_value=-0.0001))
    ),
    st.builds(lambda v: [0.5, v], st.one_of(st.booleans(), words, lists, tables)),
    st.builds(
        lambda a, b: {"range": [max(a, b), min(a, b)], "levels": 2},
        st.floats(0, 1),
        st.floats(0, 1),
    ),
    st.builds(
        lambda n: {"range": [0.1, 0.9], "levels": n},
        st.one_of(st.integers(max_value=1), st.integers(min_value=10_001), not_whole),
    ),
    st.builds(lambda lo: {"range": [lo, 0.9], "levels": 2, "scale": "log"}, st.floats(-1, 0)),
    st.just({"range": [0.1, 0.9]}),  # a full factorial needs levels
    st.just({"range": [0.1, 0.9], "levels": 2, "scael": "log"}),
    st.builds(lambda v: {"range": v, "levels": 2}, st.one_of(not_table, st.just([0.5]))),
    st.one_of(st.booleans(), numbers, words),
)

Fault = Callable[[dict[str, Any]], None]


@st.composite
def faults(draw: st.DrawFn) -> Fault:
    """One change that makes a plan invalid, whatever other faults come with it."""
    kind = draw(st.sampled_from(["field", "unknown key", "factor", "factor key", "size"]))
    if kind == "field":
        field = draw(st.sampled_from(sorted(BAD_FIELD_VALUES)))
        value = draw(BAD_FIELD_VALUES[field])
        return lambda plan: plan.__setitem__(field, value)
    if kind == "unknown key":
        key = draw(
            st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(
                lambda k: k not in PlanFile.model_fields
            )
        )
        value = draw(st.one_of(not_table, tables))
        return lambda plan: plan.__setitem__(key, value)
    if kind == "factor":
        spec = draw(BAD_KEPT_SPECS)
        return lambda plan: (
            plan["factors"].__setitem__(KEPT_KEY, spec)
            if isinstance(plan.get("factors"), dict)
            else None
        )
    if kind == "factor key":
        key = draw(
            st.sampled_from(["market.seed", "companies.9.price", "companies.0.policy.refund_rule"])
            | st.builds(lambda w: f"zz_{w}", st.from_regex(r"[a-z.]{1,10}", fullmatch=True))
        )
        spec = {"range": [0.0, 1.0], "levels": 2} if key.endswith("refund_rule") else [1.0, 2.0]
        return lambda plan: (
            plan["factors"].__setitem__(key, spec)
            if isinstance(plan.get("factors"), dict)
            else None
        )
    replications = draw(st.integers(25_001, 100_000))  # 4 points: past the 100,000-run limit
    return lambda plan: plan.__setitem__("replications", replications)


@st.composite
def malformed_plans(draw: st.DrawFn) -> bytes:
    """A plan file with at least one fault: a bad field, factor or size, or text that is not TOML."""
    if draw(st.integers(0, 9)) == 0:
        return draw(
            st.sampled_from(
                [
                    b"",
                    b"\xff\xfe not utf-8",
                    b"name = ",
                    b"[factors\n",
                    b"= 1",
                    TINY_PLAN.encode()[:200],
                ]
            )
        )
    plan = tomllib.loads(TINY_PLAN)  # the tiny plan, with one to three faults
    for fault in draw(st.lists(faults(), min_size=1, max_size=3)):
        fault(plan)
    return tomli_w.dumps(plan).encode("utf-8")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=malformed_plans())
def test_fuzz_every_malformed_sweep_plan_is_one_line_exit_2_and_leaves_nothing(text: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        plan = Path(folder) / "plan.toml"
        plan.write_bytes(text)
        out = Path(folder) / "out"
        with within(30):
            code, stdout, err = sweep_cli("sweep", plan, "--out", out, "--workers", "1", "-q")
        assert code == 2, (text, stdout, err)
        (line,) = err.strip().splitlines()
        assert line.startswith(f"cxsim: {plan}: "), line
        assert not out.exists()
        assert sorted(p.name for p in Path(folder).iterdir()) == ["plan.toml"]
