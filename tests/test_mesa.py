"""Mesa's conventions: seeds as ``mesa.Model`` takes them, and ``mesa.batch_run`` rows of whole runs."""

from __future__ import annotations

import bisect
import contextlib
import inspect
import io
import re
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest

from cxsim import Market, scenario
from cxsim.params import ModelParams, resolve
from cxsim.summary import FIGURES, summarize

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = {"market.customers": 300, "market.days": 20}


def readme_batch_run_example() -> tuple[str, str]:
    """The README's ``mesa.batch_run`` example and the output the README says it prints."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("With Mesa's batch runner") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    printed = re.search(r"which prints:\n\n```\n(.*?)```", section, re.DOTALL)
    assert code is not None
    assert printed is not None
    return code.group(1), printed.group(1)


def test_the_readme_batch_run_example_prints_what_the_readme_shows_with_different_replications():
    code, printed = readme_batch_run_example()
    assert "mesa.batch_run" in code
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), namespace)
    assert out.getvalue() == printed
    table = namespace["table"]
    assert len(table) == 6
    # The iterations (replications) are different runs: no two rows of one rule agree.
    for _, rows in table.groupby("refund_rule"):
        assert rows["run_profit_managing"].nunique() == len(rows)
        assert rows["run_retention_managing"].nunique() > 1
    # The run_ figures are the whole run's, as summary() gives them; profit_ is the last day's.
    row = table[(table["refund_rule"] == "never") & (table["replication"] == 1)].iloc[0]
    settings = {"market.customers": 2000, "market.days": 365}
    rerun = Market(
        seed=int(row["seed"]),
        replication=1,
        **settings,
        **{"companies.0.policy.refund_rule": "never"},
    ).run()
    summary = rerun.summary().loc["managing"]
    for figure in ("retention", "profit", "npv", "nps", "annual_churn"):
        assert row[f"run_{figure}_managing"] == pytest.approx(summary[figure], rel=1e-9)
    assert row["run_complaints_per_customer_year_managing"] == pytest.approx(
        summary["complaints_per_customer_year"], rel=1e-9
    )
    last_day = rerun.results_frame().query("day == 365 and company == 'managing'")
    assert row["profit_managing"] == pytest.approx(float(last_day["profit"].iloc[0]))
    assert abs(row["run_profit_managing"]) > 100 * abs(row["profit_managing"])


def test_mesa_iterations_without_a_seed_are_different_runs_each_recording_its_seed():
    runs = pd.DataFrame(
        mesa.batch_run(Market, parameters=TINY, iterations=3, max_steps=50, display_progress=False)
    )
    assert runs["seed"].nunique() == 3
    assert runs["run_wom_negative_managing"].nunique() + runs["run_profit_fixing"].nunique() > 2
    first = runs.iloc[0]
    again = Market(seed=int(first["seed"]), **TINY).run().summary()
    assert first["run_profit_fixing"] == pytest.approx(again.loc["fixing", "profit"], rel=1e-9)


def newer_mesa_runs(rng: list) -> pd.DataFrame:
    """What ``mesa.batch_run(Market, TINY, rng=rng)`` does on Mesa 3.4 and later.

    Those releases pass each value of ``rng`` to one run, as ``seed=`` when the model's
    signature has it, else as ``rng=``; the real batch runner is used where it is installed.
    """
    if "rng" in inspect.signature(mesa.batch_run).parameters:  # pragma: no cover (Mesa >= 3.4)
        return pd.DataFrame(
            mesa.batch_run(Market, parameters=TINY, rng=rng, max_steps=50, display_progress=False)
        )
    name = "seed" if "seed" in inspect.signature(Market).parameters else "rng"
    rows = []
    for value in rng:
        model = Market(**TINY, **{name: value}).run()
        rows.append(model.datacollector.get_model_vars_dataframe().iloc[-1])
    return pd.DataFrame(rows)


def test_newer_mesa_batch_run_gives_each_value_of_rng_its_own_run():
    given = newer_mesa_runs([1, 2, 3])
    assert given["seed"].tolist() == [1, 2, 3]
    assert given["run_profit_managing"].nunique() == 3
    fresh = newer_mesa_runs([None, None])
    assert fresh["seed"].nunique() == 2
    # seed=None with market.seed given: that seed (Mesa 3.4+ passes seed=None to every run).
    assert Market(seed=None, **TINY, **{"market.seed": 7}).params.market.seed == 7


def test_market_takes_its_seed_as_mesa_model_does():
    a = Market(seed=3, **TINY).run().summary()
    b = Market(**TINY, **{"market.seed": 3}).run().summary()
    c = Market(rng=3, **TINY).run().summary()
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    generator_seed = Market(rng=np.random.default_rng(5), **TINY).params.market.seed
    assert generator_seed == Market(rng=np.random.default_rng(5), **TINY).params.market.seed
    sequence_seed = Market(rng=np.random.SeedSequence(5), **TINY).params.market.seed
    assert sequence_seed == Market(seed=[5], **TINY).params.market.seed
    scenario_params = scenario.load("manage_vs_fix", TINY).params
    assert Market(scenario_params, seed=9).params.market.seed == 9  # seed= overrides the file's
    with pytest.raises(ValueError, match="not both"):
        Market(seed=1, rng=2, **TINY)
    with pytest.raises(ValueError, match="given twice"):
        Market(seed=1, **TINY, **{"market.seed": 2})
    for bad in ("abc", 1.5, True):
        with pytest.raises(TypeError, match="whole number"):
            Market(seed=bad, **TINY)
    with pytest.raises(ValueError, match=">= 0"):
        Market(seed=-1, **TINY)


def test_a_market_with_no_seed_draws_a_fresh_one_but_scenarios_and_resolve_use_seed_1():
    seeds = {Market(**TINY).params.market.seed for _ in range(3)}
    assert len(seeds) == 3
    assert all(s >= 0 for s in seeds)
    assert Market(ModelParams(market={"customers": 300})).params.market.seed not in {None, 1}
    assert ModelParams().market.seed is None
    assert resolve(None).market.seed == 1
    assert resolve(ModelParams()).market.seed == 1
    assert scenario.load("manage_vs_fix").params.market.seed == 1
    assert scenario.load("manage_vs_fix", {"market.seed": 4}).params.market.seed == 4


def test_run_figures_of_every_day_are_the_summary_of_the_run_cut_at_that_day():
    model = Market(seed=2, **{"market.customers": 1000, "market.days": 60}).run()
    collected = model.datacollector.get_model_vars_dataframe()
    assert collected["day"].tolist() == list(range(1, 61))
    frame = model.results_frame()
    for day in (1, 30, 60):
        summary = summarize(frame[frame["day"] <= day], model.params)
        row = collected[collected["day"] == day].iloc[0]
        for company in summary.index:
            for figure in FIGURES:
                expected = summary.loc[company, figure]
                got = row[f"run_{figure}_{company}"]
                assert got == pytest.approx(expected, rel=1e-9, nan_ok=True), (day, figure)


def test_each_collected_row_names_its_step_as_mesa_3_5_batch_run_looks_it_up():
    # Mesa 3.5's batch_run reads the row whose entry in _collection_steps is the last step;
    # an empty list would give no rows at all.
    model = Market(seed=1, **TINY)
    while model.running:
        model.step()
    collector = model.datacollector
    steps = collector._collection_steps
    assert steps == list(range(1, 21))
    index = bisect.bisect_right(steps, model.steps) - 1
    assert collector.model_vars["day"][index] == 20
