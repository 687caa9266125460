"""Each shipped scenario shows the result its header says to expect.

A story's header ends with a "Shows:" line: which company is ahead in retention,
market share, net present value and NPS, or that the difference is not
measurable. ``experiments/story_directions.py`` measures them at the shipped size
(paired replications, 95% intervals); the tests hold each header to that
measurement, and the measurement to this engine (replication 0 of every story
reruns to the committed numbers). The mechanisms behind the stories (who breaks
promises, who hears complaints) are checked on a smaller market (4,000 people,
one year, two replications).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from cxsim import runner, scenario
from cxsim.processes import local_pool
from cxsim.run import run_market
from cxsim.shipped import STORIES
from cxsim.summary import FIGURES
from cxsim.sweeps.execute import process_context

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
SHORT = {"market.customers": 4000, "market.days": 365}
REPLICATIONS = 2

#: The stories plus the calibrated TARP scenario (one company; experiments/tarp_repurchase.py).
SHIPPED = (*STORIES, "tarp_repurchase")

_cache: dict[str, runner.RunResult] = {}


def outcome(name: str) -> runner.RunResult:
    if name not in _cache:
        _cache[name] = runner.run(scenario.load(name, SHORT), replications=REPLICATIONS, seed=1)
    return _cache[name]


def mean(result: runner.RunResult, company: str, figure: str) -> float:
    return float(result.figure_values(company, figure).mean())


def test_every_story_and_the_calibration_are_shipped() -> None:
    assert sorted(p.stem for p in scenario.shipped_scenarios()) == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_scenario_header_says_what_it_shows_and_what_to_expect(name: str) -> None:
    loaded = scenario.load(name)
    assert loaded.description
    assert any(line.startswith("Expect:") for line in loaded.header)
    assert len(loaded.params.companies) == (2 if name in STORIES else 1)


def test_calibrated_tarp_scenario_runs() -> None:
    loaded = scenario.load("tarp_repurchase", {"market.customers": 2000, "market.days": 30})
    result = runner.run(loaded, replications=1, seed=1)
    assert result.timeseries()["purchases"].sum() > 0


def test_flagship_is_three_years_of_20000_people_on_a_small_world() -> None:
    params = scenario.load("manage_vs_fix").params
    assert params.market.days == 3 * 365
    assert params.market.customers == 20_000
    assert params.network.kind == "small_world"
    managing, fixing = params.companies
    assert (managing.policy.preset, fixing.policy.preset) == ("manage", "fix")
    assert managing.model_dump(exclude={"name", "policy"}) == fixing.model_dump(
        exclude={"name", "policy"}
    )


# --------------------------------------------------------------------------- what the headers say

#: The story-directions experiment: every story at its shipped size, paired replications.
DIRECTIONS = Path(__file__).resolve().parents[1] / "experiments" / "results" / "story_directions"
#: The figures each header's "Shows:" line must cover, whatever their direction.
KEY_FIGURES = ("retention", "market_share", "npv", "nps")
SHOWS = re.compile(r"^(?P<a>.+?) > (?P<b>.+?) in (?P<figures>.+)$")
NONE_SHOWN = "no measurable difference in "


def stated(name: str) -> dict[str, tuple[str, str] | None]:
    """The header's "Shows:" line: figure -> (ahead, behind), or None for no measurable difference."""
    (line,) = [h for h in scenario.load(name).header if h.startswith("Shows: ")]
    claims: dict[str, tuple[str, str] | None] = {}
    for part in line.removeprefix("Shows: ").split("; "):
        if part.startswith(NONE_SHOWN):
            claims.update(dict.fromkeys(part.removeprefix(NONE_SHOWN).split(", ")))
            continue
        match = SHOWS.match(part)
        assert match, f"{name}: cannot read {part!r}"
        for figure in match["figures"].split(", "):
            claims[figure] = (match["a"], match["b"])
    return claims


def measured(name: str) -> dict[str, tuple[str, str] | None]:
    """What the committed runs show per figure: (ahead, behind) when the 95% interval excludes 0."""
    table = pd.read_csv(DIRECTIONS / "directions.csv")
    shown: dict[str, tuple[str, str] | None] = {}
    for row in table[table["story"] == name].itertuples():
        if row.a_is == "higher":
            shown[row.figure] = (row.a, row.b)
        elif row.a_is == "lower":
            shown[row.figure] = (row.b, row.a)
        else:
            shown[row.figure] = None
    return shown


@pytest.mark.parametrize("name", STORIES)
def test_header_shows_what_the_stories_runs_measured(name: str) -> None:
    """Every key figure is in the header's "Shows:" line, as the committed runs measured it."""
    claims, shown = stated(name), measured(name)
    assert set(KEY_FIGURES) <= set(claims), f"{name}: Shows: must cover {KEY_FIGURES}"
    for figure, claim in claims.items():
        assert claim == shown[figure], (
            f"{name}: header says {claim} in {figure}, runs show {shown[figure]}"
        )


def _replication_zero(name: str) -> pd.Series:
    loaded = scenario.load(name)
    summary = run_market(loaded.params, 0, base_dir=loaded.base_dir).summary()
    first, second = summary.index[0], summary.index[1]
    return pd.Series({f: summary.loc[first, f] - summary.loc[second, f] for f in FIGURES})


def test_the_committed_story_runs_are_this_engines() -> None:
    """Replication 0 of every story reruns to the committed numbers (or the headers are stale).

    A change of rules or defaults that moves a story's numbers fails here until
    ``python experiments/story_directions.py`` is rerun and the headers follow it.
    """
    runs = pd.read_csv(DIRECTIONS / "replications.csv")
    with local_pool(2, process_context()) as pool:
        now = dict(zip(STORIES, pool.map(_replication_zero, STORIES), strict=True))
    for name in STORIES:
        committed = runs[(runs["story"] == name) & (runs["replication"] == 0)].iloc[0]
        for figure in FIGURES:
            assert now[name][figure] == pytest.approx(committed[figure], rel=1e-9, abs=1e-9), (
                name,
                figure,
            )


# --------------------------------------------------------------------------- mechanisms, short market


def test_managing_company_hears_fewer_complaints_per_customer() -> None:
    result = outcome("manage_vs_fix")
    assert mean(result, "managing", "complaints_per_customer_year") < mean(
        result, "fixing", "complaints_per_customer_year"
    )


def test_dealership_breaks_many_more_promises() -> None:
    result = outcome("dealership")
    assert mean(result, "dealership", "broken_promises") > 5 * mean(
        result, "independent garage", "broken_promises"
    )


def test_heavy_crm_gets_fewer_complaints() -> None:
    result = outcome("quiet_by_wearing_out")
    assert mean(result, "heavy CRM", "complaints_per_customer_year") < mean(
        result, "light touch", "complaints_per_customer_year"
    )


def test_over_promising_promotion_breaks_promises() -> None:
    result = outcome("free_delivery_promotion")
    over, honest = "over-promising store", "honest store"
    assert mean(result, over, "broken_promises") > 10 * max(
        1.0, mean(result, honest, "broken_promises")
    )
