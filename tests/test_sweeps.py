"""Parameter sweeps: plans, designs, streaming results that survive kill -9, analysis."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cxsim import Market
from cxsim.params import resolve
from cxsim.sweeps import PlanError, load_plan, load_results, plan_from_text, sweep
from cxsim.sweeps.cli import main
from cxsim.sweeps.design import latin_hypercube
from cxsim.sweeps.plan import Factor
from cxsim.sweeps.store import SweepStore

PYTHON = sys.executable
REPO = Path(__file__).resolve().parents[1]

#: A tiny market where complaints are frequent, so that policies matter within 30 days.
TINY_BASE = """
[base.market]
customers = 300
days = 30

[base.network]
mean_degree = 6

[base.behaviour.voice]
minor = 0.5
serious = 0.9

[[base.companies]]
name = "managing"
delivered_quality = 0.7

[base.companies.policy]
preset = "manage"
queue_capacity = 20.0   # per 1,000 people: the queue is worked even in a market of 300

[[base.companies]]
name = "fixing"
delivered_quality = 0.7
policy = "fix"
"""

TINY_PLAN = (
    """
name = "tiny"
design = "full_factorial"
replications = 2
seed = 7

[factors]
"companies.0.policy.callback_kept" = [0.0, 1.0]
"companies.0.policy.refund_rule" = ["never", "no_questions"]

[metrics]
summary = ["retention", "market_share", "profit", "broken_promises", "complaints"]
daily = ["customers"]
"""
    + TINY_BASE
)


def write_plan(folder: Path, text: str = TINY_PLAN, name: str = "plan.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def sweep_command(plan: Path, out: Path, *options: str) -> list[str]:
    """``cxsim sweep`` as its own process (``python -m cxsim.sweeps``)."""
    return [PYTHON, "-m", "cxsim.sweeps", "sweep", str(plan), "--out", str(out), *options]


def figures(out: Path) -> pd.DataFrame:
    """Recorded figures, one row per run and company, in a fixed order (for exact comparisons)."""
    runs = load_results(out).ok
    columns = ["run_id", "company", "retention", "market_share", "profit", "broken_promises"]
    return runs[columns].sort_values(["run_id", "company"]).reset_index(drop=True)


# --------------------------------------------------------------------------- plans


def test_full_factorial_runs_every_combination_with_common_seeds(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path))
    assert len(plan.points) == 4
    assert {tuple(p.values()) for p in plan.points} == {
        (0.0, "never"),
        (0.0, "no_questions"),
        (1.0, "never"),
        (1.0, "no_questions"),
    }
    runs = plan.runs()
    assert len(runs) == 8
    assert len({r.run_id for r in runs}) == 8
    # Common random numbers: every run has the plan's root seed; replication r is run (seed, r).
    assert {run.seed for run in runs} == {plan.spec.seed}
    assert sorted({run.replication for run in runs}) == [0, 1]


def test_adding_replications_keeps_the_run_ids_of_finished_runs(tmp_path: Path) -> None:
    two = load_plan(write_plan(tmp_path))
    four = plan_from_text(
        TINY_PLAN.replace("replications = 2", "replications = 4"), tmp_path / "p.toml"
    )
    assert two.plan_hash == four.plan_hash
    assert {r.run_id for r in two.runs()} <= {r.run_id for r in four.runs()}


def test_nested_toml_tables_name_the_same_factors_as_dotted_keys(tmp_path: Path) -> None:
    nested = TINY_PLAN.replace(
        '"companies.0.policy.callback_kept" = [0.0, 1.0]',
        "companies.0.policy.callback_kept = [0.0, 1.0]",
    )
    assert load_plan(write_plan(tmp_path, nested)).points == load_plan(write_plan(tmp_path)).points


def test_a_range_in_a_full_factorial_gives_evenly_spaced_levels(tmp_path: Path) -> None:
    text = TINY_PLAN.replace(
        '"companies.0.policy.callback_kept" = [0.0, 1.0]',
        '"companies.0.policy.queue_capacity" = { range = [0.01, 1.0], levels = 3, scale = "log" }',
    )
    plan = load_plan(write_plan(tmp_path, text))
    levels = sorted({p["companies.0.policy.queue_capacity"] for p in plan.points})
    assert levels == pytest.approx([0.01, 0.1, 1.0])


def test_latin_hypercube_puts_one_point_in_each_stratum_of_each_range() -> None:
    factors = [
        Factor(key="companies.0.policy.callback_kept", low=0.0, high=1.0),
        Factor(key="behaviour.word_of_mouth.negative_audience", low=2.0, high=12.0),
    ]
    points = latin_hypercube(factors, 10, seed=3)
    assert len(points) == 10
    kept = np.array([p["companies.0.policy.callback_kept"] for p in points])
    audience = np.array([p["behaviour.word_of_mouth.negative_audience"] for p in points])
    assert sorted(np.floor(kept * 10).astype(int)) == list(range(10))
    assert sorted(np.floor(audience - 2.0).astype(int)) == list(range(10))
    assert latin_hypercube(factors, 10, seed=3) == points  # the plan's seed fixes the design


def test_sobol_design_has_saltelli_size(tmp_path: Path) -> None:
    text = TINY_PLAN.replace('design = "full_factorial"', 'design = "sobol"\nsamples = 8')
    plan = load_plan(write_plan(tmp_path, text))
    assert len(plan.points) == 8 * (2 + 2)


PLAN_ERRORS = [
    # (change to the tiny plan, text the one-line error must contain)
    (("design = ", "desing = "), "desing: unknown key 'desing'; did you mean design?"),
    (
        ("companies.0.policy.callback_kept", "companies.0.policy.calback_kept"),
        "factors.companies.0.policy.calback_kept: not a parameter of the scenario schema; "
        "did you mean companies.0.policy.callback_kept?",
    ),
    (
        ('"never", "no_questions"', '"never", "sometimes"'),
        "factors.companies.0.policy.refund_rule: value 'sometimes': expected one of never, policy, "
        "no_questions, got 'sometimes'",
    ),
    (
        ("[0.0, 1.0]", "[0.0, 1.5]"),
        "factors.companies.0.policy.callback_kept: value 1.5: expected a number <= 1",
    ),
    (
        ("[0.0, 1.0]", "{ range = [0.0, 1.0] }"),
        "factors.companies.0.policy.callback_kept: a range in a full_factorial design needs levels = N",
    ),
    (
        ('"companies.0.policy.callback_kept"', '"market.seed"'),
        "factors.market.seed: market.seed is the plan's seed",
    ),
    (
        ('"companies.0.policy.callback_kept"', '"companies.2.policy.callback_kept"'),
        "factors.companies.2.policy.callback_kept: value 0.0: index 2 is out of range: there are 2 companies",
    ),
    (
        ('"broken_promises"', '"broken_promise"'),
        "metrics.summary[3]: unknown metric 'broken_promise'; did you mean broken_promises?",
    ),
    (
        ('design = "full_factorial"', 'design = "sobol"\nsamples = 10'),
        "samples: a sobol design needs a power of 2",
    ),
    (("replications = 2", "replications = 0"), "replications: expected a number >= 1, got 0"),
    (("seed = 7", "seed = [7"), "not valid TOML"),
]


@pytest.mark.parametrize(("change", "expected"), PLAN_ERRORS)
def test_plan_errors_are_one_line_naming_file_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    assert change[0] in TINY_PLAN
    path = write_plan(tmp_path, TINY_PLAN.replace(change[0], change[1], 1))
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    assert expected in message


def test_base_scenario_path_is_relative_to_the_plan_file(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    scenario_text = TINY_BASE.replace("[base.", "[").replace("[[base.", "[[")
    (tmp_path / "scenarios" / "tiny.toml").write_text(scenario_text, encoding="utf-8")
    (tmp_path / "plans").mkdir()
    head, _, _ = TINY_PLAN.partition("[base.market]")
    plan = load_plan(write_plan(tmp_path / "plans", 'base = "../scenarios/tiny.toml"\n' + head))
    assert plan.base.market.customers == 300
    missing = write_plan(tmp_path / "plans", 'base = "../scenarios/nope.toml"\n' + head, "m.toml")
    with pytest.raises(PlanError, match=r"m\.toml: base: no such scenario file"):
        load_plan(missing)


def test_a_combination_that_breaks_a_cross_field_rule_names_the_design_point(
    tmp_path: Path,
) -> None:
    # Each value is valid with the base scenario's other values; one pair is not.
    text = TINY_PLAN.replace(
        '"companies.0.policy.callback_kept" = [0.0, 1.0]',
        '"companies.0.max_quality" = [0.95, 0.999]',
    ).replace(
        '"companies.0.policy.refund_rule" = ["never", "no_questions"]',
        '"companies.0.delivered_quality" = [0.9, 0.97]',
    )
    with pytest.raises(
        PlanError, match=r"design point 1 .*max_quality must be at least delivered_quality"
    ):
        load_plan(write_plan(tmp_path, text))


def test_cli_bad_plan_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_plan(tmp_path, TINY_PLAN.replace("design = ", "desing = "))
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "did you mean design?" in err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- running


def test_sweep_records_each_run_once_and_a_rerun_skips_them(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path))
    out = tmp_path / "out"
    first = sweep(plan, out, workers=2, progress=False)
    assert (first.planned, first.ran, first.failed, first.recorded_total) == (8, 8, 0, 8)
    again = sweep(plan, out, workers=2, progress=False)
    assert (again.already_recorded, again.ran) == (8, 0)
    runs = load_results(out).runs
    assert len(runs) == 8 * 2  # one row per run and company
    assert not runs.duplicated(["run_id", "company"]).any()
    store = SweepStore(out)
    daily = store.daily_frame()
    assert len(daily) == 8 * 2 * 31  # days 0..30
    manifest = store.write_manifest(8)
    assert manifest["recorded_runs"] == manifest["ok_runs"] == 8


def test_a_run_depends_only_on_its_point_and_seed(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path))
    sweep(plan, tmp_path / "one", workers=1, progress=False)
    sweep(plan, tmp_path / "two", workers=2, progress=False, max_batch=1)
    with ThreadPoolExecutor(max_workers=2) as executor:  # any concurrent.futures.Executor
        sweep(plan, tmp_path / "threads", executor=executor, progress=False)
    one = figures(tmp_path / "one")
    pd.testing.assert_frame_equal(one, figures(tmp_path / "two"))
    pd.testing.assert_frame_equal(one, figures(tmp_path / "threads"))
    # ... and equals a direct run of the model with the same parameters, seed and replication.
    run = plan.runs()[5]
    assert run.replication == 1
    params = resolve(plan.base, {**run.values, "market.seed": run.seed})
    direct = Market(params, replication=run.replication).run().summary()
    recorded = load_results(tmp_path / "one").ok.set_index(["run_id", "company"])
    for company in ("managing", "fixing"):
        assert recorded.loc[(run.run_id, company), "profit"] == direct.loc[company, "profit"]
        assert recorded.loc[(run.run_id, company), "retention"] == direct.loc[company, "retention"]


def test_cxsim_run_at_a_sweep_point_gives_that_points_replications_exactly(tmp_path: Path) -> None:
    from cxsim import cli

    plan = load_plan(write_plan(tmp_path))
    sweep(plan, tmp_path / "sweep", workers=1, progress=False)
    # The base as a scenario file: the plan's [base] tables without their "base." prefix.
    scenario_file = tmp_path / "base.toml"
    scenario_file.write_text(TINY_BASE.replace("[base.", "[").replace("[[base.", "[["))
    point = 2
    values = plan.points[point]
    sets = [
        x for key, value in values.items() for x in ("--set", f"{key}={value!r}".replace("'", '"'))
    ]
    out = tmp_path / "run"
    argv = ["run", str(scenario_file), "--out", str(out), "-q", "-r", "2", "--seed", "7", *sets]
    assert cli.main(argv) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    recorded = load_results(tmp_path / "sweep").ok
    for company in summary["companies"]:
        mine = recorded[(recorded.point == point) & (recorded.company == company["name"])]
        by_replication = mine.sort_values("replication")
        for figure in ("profit", "retention", "broken_promises"):
            assert company["figures"][figure]["values"] == by_replication[figure].tolist(), figure


def test_a_run_that_raises_is_recorded_and_the_sweep_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = TINY_PLAN.replace(
        '"companies.0.policy.callback_kept" = [0.0, 1.0]',
        '"network.kind" = ["small_world", "file"]',
    ).replace("[base.network]", '[base.network]\npath = "missing.edgelist"')
    # The file is there when the plan is checked, and gone when the runs need it.
    network = tmp_path / "missing.edgelist"
    network.write_text("".join(f"{i} {(i + 1) % 300}\n" for i in range(300)), encoding="utf-8")
    plan = load_plan(write_plan(tmp_path, text))
    network.unlink()
    out = tmp_path / "out"
    assert sweep(plan, out, workers=2, progress=False).failed == 4
    results = load_results(out)
    assert results.ok["run_id"].nunique() == 4
    failed = results.failed
    assert len(failed) == 4
    assert set(failed["network.kind"]) == {"file"}
    assert failed["error"].str.contains("NetworkFileError: .*missing.edgelist: no such file").all()
    # Retrying runs the failures again without duplicating any record.
    assert sweep(plan, out, workers=2, progress=False, retry_failed=True).failed == 4
    again = load_results(out)
    assert again.recorded == 8
    assert len(again.failed) == 4
    assert main(["analyze", str(out), "-q", "--no-report"]) == 0
    assert len(pd.read_csv(out / "failed_runs.csv")) == 4


class DyingExecutor(Executor):
    """An executor whose worker process dies under every run."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_exception(BrokenProcessPool("a child process terminated abruptly"))
        return future


def test_a_run_whose_worker_keeps_dying_is_retried_then_recorded_as_failed(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path))
    outcome = sweep(plan, tmp_path / "out", executor=DyingExecutor(), progress=False)
    assert (outcome.ran, outcome.failed) == (8, 8)
    errors = load_results(tmp_path / "out").failed["error"]
    assert errors.str.contains("its worker process died 3 times").all()


def test_a_folder_with_another_plans_results_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    sweep(load_plan(write_plan(tmp_path)), out, workers=1, progress=False)
    other = load_plan(write_plan(tmp_path, TINY_PLAN.replace("seed = 7", "seed = 8"), "other.toml"))
    with pytest.raises(PlanError, match="holds the results of a different sweep plan"):
        sweep(other, out, workers=1, progress=False)


def test_temporary_files_and_uncommitted_daily_parts_are_ignored(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path))
    out = tmp_path / "out"
    sweep(plan, out, workers=2, progress=False)
    store = SweepStore(out)
    # What a writer killed mid-write leaves: a half-written temp file, and a daily part whose
    # runs part was never renamed into place.
    dead_pid = 2**22 + 12345
    stale = out / "runs" / f".tmp-{socket.gethostname()}-{dead_pid}-0123456789ab.parquet"
    stale.write_bytes(b"PAR1 half a file")
    orphan_daily = out / "daily" / "part-29991231T000000000000-deadbeef.parquet"
    orphan_daily.write_bytes((out / "daily" / next(iter(os.listdir(out / "daily")))).read_bytes())
    assert len(store.daily_frame()) == 8 * 2 * 31
    again = sweep(plan, out, workers=1, progress=False)
    assert again.ran == 0
    assert not stale.exists()  # its writer is gone
    assert len(load_results(out).runs) == 16


def test_kill_9_mid_sweep_loses_no_finished_run_and_resume_completes(tmp_path: Path) -> None:
    # A year per run (about 0.1 s): the sweep outlasts the first one-second batch by
    # several seconds, so the kill below finds some runs written and some not.
    text = TINY_PLAN.replace("replications = 2", "replications = 10").replace(
        "days = 30", "days = 365"
    )
    path = write_plan(tmp_path, text)
    out = tmp_path / "out"
    planned = 4 * 10
    sweep_process = subprocess.Popen(
        sweep_command(path, out, "--workers", "2", "-q"),
        start_new_session=True,  # its own process group: the kill takes its workers too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and sweep_process.poll() is None:
            if any((out / "runs").glob("part-*.parquet")):
                break
            time.sleep(0.02)
        assert sweep_process.poll() is None, (
            sweep_process.stderr.read().decode() if sweep_process.stderr else ""
        )
        os.killpg(sweep_process.pid, signal.SIGKILL)
    finally:
        if sweep_process.poll() is None:
            os.killpg(sweep_process.pid, signal.SIGKILL)
        sweep_process.wait(timeout=10)
    before = load_results(out)
    assert 0 < before.recorded < planned
    assert not before.runs.duplicated(["run_id", "company"]).any()
    for part in (out / "runs").glob("part-*.parquet"):
        pq.read_table(part)  # every committed part is complete

    assert main(["sweep", str(path), "--out", str(out), "--workers", "2", "-q"]) == 0
    after = load_results(out)
    assert after.recorded == planned
    assert after.runs["run_id"].nunique() == planned
    assert not after.runs.duplicated(["run_id", "company"]).any()
    kept = after.runs.set_index(["run_id", "company"]).loc[
        before.runs.set_index(["run_id", "company"]).index, "profit"
    ]
    assert (kept.to_numpy() == before.runs["profit"].to_numpy()).all()


# --------------------------------------------------------------------------- analysis


def test_analyze_writes_summary_with_confidence_intervals_and_report(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "2", "-q"]) == 0
    assert main(["analyze", str(out), "-q"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns[:3]) == [
        "point",
        "companies.0.policy.callback_kept",
        "companies.0.policy.refund_rule",
    ]
    assert len(summary) == 4 * 2 * 5  # points x companies x metrics
    assert (summary["runs"] == 2).all()
    assert (summary["ci95_low"] <= summary["mean"] + 1e-12).all()
    assert (summary["mean"] <= summary["ci95_high"] + 1e-12).all()
    # A kept callback is never broken: the managing company breaks none at callback_kept = 1.
    broken = summary[(summary["metric"] == "broken_promises") & (summary["company"] == "managing")]
    by_kept = broken.groupby("companies.0.policy.callback_kept")["mean"].mean()
    assert by_kept[1.0] == 0.0
    assert by_kept[0.0] > 0.0
    report = (out / "sweep_report.html").read_text(encoding="utf-8")
    assert "Main effects on retention" in report
    assert "mean over companies.0.policy.callback_kept x companies.0.policy.refund_rule" in report
    assert "Daily customers" in report
    # Self-contained: plotly.js is embedded, no script is fetched from elsewhere.
    assert "plotly.js v" in report
    assert "<script src=" not in report.replace('<script src="data:', "")


def test_sobol_indices_find_the_factor_that_matters(tmp_path: Path) -> None:
    text = (
        """
name = "sobol"
design = "sobol"
samples = 4
replications = 1
seed = 11

[fixed]
"market.days" = 15

[factors]
"companies.1.price" = { range = [50.0, 150.0] }
"journey.max_events" = { range = [1000, 200000] }   # changes nothing: no journeys are logged

[metrics]
summary = ["profit"]
"""
        + TINY_BASE
    )
    path = write_plan(tmp_path, text)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "2", "-q"]) == 0
    assert main(["analyze", str(out), "-q"]) == 0
    indices = pd.read_csv(out / "sobol_indices.csv")
    fixing = indices[indices["company"] == "fixing"].set_index("factor")
    assert fixing.loc["companies.1.price", "ST"] > 0.5
    assert fixing.loc["journey.max_events", "ST"] == pytest.approx(0.0, abs=1e-12)
    assert "Sobol&#x27; indices of profit" in (out / "sweep_report.html").read_text() or (
        "Sobol' indices of profit" in (out / "sweep_report.html").read_text()
    )


def test_analyze_of_a_folder_that_is_not_a_sweep_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err


def test_module_entry_point_and_main_have_help_for_both_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    done = subprocess.run(
        [PYTHON, "-m", "cxsim.sweeps", "sweep", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0
    assert "--scheduler" in done.stdout
    assert "resume" in done.stdout
    assert main(["analyze", "--help"]) == 0
    assert "sweep_report.html" in capsys.readouterr().out


def test_a_sweep_folder_started_by_another_engine_refuses_to_resume(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path))
    out = tmp_path / "sweep"
    sweep(plan, out, workers=1, progress=False)
    record_path = out / "plan.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    assert record["engine"]["random_streams"].startswith("philox")
    record["engine"]["engine_code"] = "0" * 16  # as if the rules had changed since
    record_path.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(PlanError, match=r"was started by another engine .*engine_code"):
        sweep(plan, out, workers=1, progress=False)
