"""Network files checked against the scenario at load time, for runs, validation and sweeps alike
(issue 11, item 10): what the reading finds is said in one warning line each, what is wrong
is refused in one line naming the file and the line."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from cxsim import scenario
from cxsim.sweeps import load_plan
from cxsim.sweeps.cli import main as sweeps_main

from .test_cli import assert_bad_input, cxsim, nothing_written, write

#: Twenty customers in a ring, ids 0..19, as a spreadsheet exports them: with a header line.
RING_CSV = "source,target\n" + "".join(f"{i},{(i + 1) % 20}\n" for i in range(20))

SCENARIO = """
[market]
customers = 20
days = 5
[network]
kind = "file"
path = "ring.csv"
"""


def network_notes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "cxsim.networks"]


@pytest.fixture
def ring(tmp_path: Path) -> Path:
    write(tmp_path / "ring.csv", RING_CSV)
    return write(tmp_path / "s.toml", SCENARIO)


def test_a_csv_header_is_skipped_and_said_not_made_into_customers(
    ring: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cxsim.networks")
    code, out, _ = cxsim(capsys, "validate", ring)
    assert (code, out.strip()) == (0, f"ok: {ring}")
    assert network_notes(caplog) == [
        f"{ring}: network.path: {ring.parent / 'ring.csv'}: line 1 (source,target) read as a "
        "header; set network.header = true to say so"
    ]
    loaded = scenario.load(ring)
    assert loaded.params.market.customers == 20

    caplog.clear()
    declared = write(ring, SCENARIO + "header = true\n")
    assert cxsim(capsys, "run", declared, "--out", ring.parent / "r", "-q")[0] == 0
    assert network_notes(caplog) == []


@pytest.mark.parametrize(
    ("edges", "where"),
    [
        ("0,1\n3,50\n", "line 3: customer id 50 is outside 0..19"),
        ("0,1\nx,3\n", "line 3: 'x' is not a customer id"),
        ("0,1\n7\n", "line 3: expected two customer ids, got '7'"),
    ],
)
@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_line_that_is_not_a_contact_is_refused_naming_the_file_and_line(
    edges: str, where: str, command: str, ring: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(ring.parent / "ring.csv", "source,target\n" + edges)
    before = {p.name for p in ring.parent.iterdir()}
    args = (
        ["run", ring, "--out", ring.parent / "r", "-q"] if command == "run" else ["validate", ring]
    )
    code, _, err = cxsim(capsys, *args)
    assert_bad_input(code, err, f"{ring}: network.path: {ring.parent / 'ring.csv'}: {where}")
    assert nothing_written(ring.parent, before)


def test_self_loops_repeats_and_lonely_customers_are_counted_in_one_line_each(
    ring: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cxsim.networks")
    write(ring.parent / "ring.csv", "0,1\n1,0\n2,2\n1,2\n")
    assert cxsim(capsys, "validate", ring)[0] == 0
    notes = network_notes(caplog)
    assert [note.split(": ", 3)[-1] for note in notes] == [
        "dropped 1 self-loop (a customer listed as their own contact)",
        "kept 1 repeated contact once (a pair listed again, in either direction)",
        "17 of 20 customers have no contacts (ids in no contact line)",
    ]


def test_warnings_reach_stderr_as_one_line_each(ring: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cxsim", "validate", str(ring)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"{ring}: network.path: {ring.parent / 'ring.csv'}: line 1 (source,target) read as a "
        "header; set network.header = true to say so"
    ]


# --------------------------------------------------------------------------- sweeps

PLAN = """
name = "ring"
base = "s.toml"
replications = 1
{extra}
[factors]
"companies.0.policy.callback_kept" = [0.0, 1.0]
{factors}
"""


def sweep_plan(folder: Path, extra: str = "", factors: str = "") -> Path:
    return write(folder / "plan.toml", PLAN.format(extra=extra, factors=factors))


def test_a_sweep_whose_network_does_not_fit_its_market_is_refused_at_load_time(
    ring: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = sweep_plan(ring.parent, extra='[fixed]\n"market.customers" = 10\n')
    out = ring.parent / "out"
    before = {p.name for p in ring.parent.iterdir()}
    assert sweeps_main(["sweep", str(plan), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"{plan}: network.path: {ring.parent / 'ring.csv'}: line 11: customer id 10" in err
    assert "the file's ids run 0..19" in err
    assert nothing_written(ring.parent, before)


def test_a_sweep_checks_each_network_its_design_makes(
    ring: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = sweep_plan(ring.parent, factors='"market.customers" = [20, 15]')
    out = ring.parent / "out"
    assert sweeps_main(["sweep", str(plan), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "design point 1 (market.customers = 15): network.path" in err
    assert "customer id 15 is outside 0..14" in err
    assert not out.exists()


def test_a_sweep_fixed_value_can_make_the_base_network_fit(ring: Path) -> None:
    write(ring, SCENARIO.replace("customers = 20", "customers = 10"))
    with pytest.raises(scenario.ScenarioError, match=r"customer id 10 is outside 0\.\.9"):
        scenario.load(ring)
    plan = load_plan(sweep_plan(ring.parent, extra='[fixed]\n"market.customers" = 20\n'))
    assert plan.base.market.customers == 20
