"""``cxsim sweep`` options: --set, --replications, --dry-run and --csv."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from cxsim.sweeps import dry_run, load_plan, load_results, plan_from_text
from cxsim.sweeps.cli import main

from .test_sweeps import TINY_PLAN, write_plan


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def test_dry_run_prints_the_runs_and_a_pilot_estimate_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = write_plan(tmp_path)
    before = files_under(tmp_path)
    code = main(["sweep", str(plan), "--dry-run", "--replications", "3", "--set", "market.days=10"])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0] == "cxsim sweep tiny (dry run): full_factorial, 4 points x 3 replications = 12 runs"
    )
    assert re.fullmatch(
        r"pilot: point 0 \(callback_kept = 0, refund_rule = never\), replication 0: "
        r"\d+\.\d\d s of CPU",
        out[1],
    )
    assert out[2].startswith("estimate: ")
    assert "of CPU time" in out[2]
    assert out[3] == "nothing was written (run it without --dry-run)"
    assert files_under(tmp_path) == before
    # Every point costs the same here: the estimate is 12 pilots' CPU time.
    loaded = load_plan(plan, overrides={"market.days": 10}, replications=3)
    estimate = dry_run(loaded, workers=2)
    assert estimate.to_run == 12
    assert estimate.cpu_seconds == pytest.approx(12 * estimate.pilot_seconds)
    assert estimate.wall_seconds == pytest.approx(6 * estimate.pilot_seconds)


def test_set_and_replications_make_the_plan_its_file_would_and_csv_writes_every_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = write_plan(tmp_path)
    out = tmp_path / "out"
    options = ["--set", "market.days=10", "--replications", "1", "--workers", "1", "-q"]
    assert main(["sweep", str(plan), "--out", str(out), *options, "--csv"]) == 0
    # The same plan as a file that fixes market.days = 10 and has one replication.
    edited = TINY_PLAN.replace("replications = 2", "replications = 1").replace(
        "[factors]", '[fixed]\n"market.days" = 10\n\n[factors]'
    )
    as_file = plan_from_text(edited, plan)
    results = load_results(out)
    assert results.record["plan_hash"] == as_file.plan_hash
    assert results.record["overrides"] == {"market.days": 10}
    assert results.record["base"]["market"]["days"] == 10
    assert results.recorded == 4
    table = pd.read_csv(out / "runs.csv")
    assert len(table) == 4 * 2  # runs x companies
    assert list(table.columns[:6]) == [
        "run_id",
        "point",
        "replication",
        "seed",
        "companies.0.policy.callback_kept",
        "companies.0.policy.refund_rule",
    ]
    parquet = results.runs.set_index(["run_id", "company"]).sort_index()
    csv = table.set_index(["run_id", "company"]).sort_index()
    pd.testing.assert_series_equal(csv["profit"], parquet["profit"], check_exact=False)
    assert not [p for p in out.iterdir() if ".tmp" in p.name or p.name.startswith(".")]
    assert main(["analyze", str(out), "-q"]) == 0
    report = (out / "sweep_report.html").read_text(encoding="utf-8")
    assert "Held at every point (cxsim sweep --set): market.days = 10." in report
    # A dry run on the folder counts what it holds; more replications only add runs.
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in files_under(out)}
    assert main(["sweep", str(plan), "--out", str(out), "--dry-run", *options[:2]]) == 0
    assert f"{out}: 4 of them recorded, 4 to run" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in files_under(out)} == before


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ["--set", "market.customers=-4"],
            "--set market.customers: expected a number >= 2, got -4",
        ),
        (
            ["--set", "market.custmers=4"],
            "--set market.custmers: unknown key 'custmers'; did you mean customers?",
        ),
        (["--set", "abc"], "--set abc: expected key=value"),
        (["--set", "market.seed=3"], "--set market.seed: market.seed is the plan's seed"),
        (["--set", "companies.0.policy.refund_rule=never"], "is a factor of this plan"),
        (["--replications", "0"], "--replications: expected a number from 1 to 100,000, got 0"),
        (["--no-out"], "--out: the results folder is required (unless --dry-run)"),
    ],
)
def test_bad_sweep_options_are_one_line_exit_2_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], expected: str
) -> None:
    plan = write_plan(tmp_path)
    out = tmp_path / "out"
    where = [] if options == ["--no-out"] else ["--out", str(out)]
    extra = [] if options == ["--no-out"] else options
    before = files_under(tmp_path)
    assert main(["sweep", str(plan), *where, *extra, "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert expected in err
    assert files_under(tmp_path) == before
