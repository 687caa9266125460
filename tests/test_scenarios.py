"""Each shipped scenario shows the result its header says to expect.

Every scenario runs on a smaller market than it ships with (4,000 people, one
year, two replications on seeds 1 and 2), and the test checks the direction of
the result named in its header, comparing the means over replications.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cxsim import runner, scenario
from cxsim.stats import t_quantile_975

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
SHORT = {"market.customers": 4000, "market.days": 365}
REPLICATIONS = 2

#: One scenario per seed story, each comparing two companies.
STORIES = (
    "manage_vs_fix",
    "dealership",
    "quiet_by_wearing_out",
    "goodwill_guarantee",
    "free_delivery_promotion",
    "review_refund",
    "account_manager",
)
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


def test_manage_vs_fix_fixing_company_keeps_more_customers() -> None:
    result = outcome("manage_vs_fix")
    for figure in ("retention", "market_share", "nps", "wom_positive"):
        assert mean(result, "fixing", figure) > mean(result, "managing", figure), figure
    assert mean(result, "managing", "complaints_per_customer_year") < mean(
        result, "fixing", "complaints_per_customer_year"
    )
    assert mean(result, "managing", "annual_churn") > mean(result, "fixing", "annual_churn")


def test_dealership_that_overcharges_and_breaks_callbacks_loses_more_customers() -> None:
    result = outcome("dealership")
    assert mean(result, "dealership", "retention") < mean(result, "independent garage", "retention")
    assert mean(result, "dealership", "annual_churn") > mean(
        result, "independent garage", "annual_churn"
    )
    assert mean(result, "dealership", "nps") < mean(result, "independent garage", "nps")
    assert mean(result, "dealership", "broken_promises") > 5 * mean(
        result, "independent garage", "broken_promises"
    )


def test_heavy_crm_gets_fewer_complaints_but_loses_more_customers() -> None:
    result = outcome("quiet_by_wearing_out")
    heavy, light = "heavy CRM", "light touch"
    assert mean(result, heavy, "complaints_per_customer_year") < mean(
        result, light, "complaints_per_customer_year"
    )
    assert mean(result, heavy, "annual_churn") > mean(result, light, "annual_churn")
    assert mean(result, heavy, "retention") < mean(result, light, "retention")
    assert mean(result, heavy, "market_share") < mean(result, light, "market_share")


def test_goodwill_guarantee_turns_into_positive_word_of_mouth() -> None:
    result = outcome("goodwill_guarantee")
    guarantee, by_the_book = "guarantee store", "by-the-book store"
    assert mean(result, guarantee, "wom_positive") > mean(result, by_the_book, "wom_positive")


def paired_lower_bound(result: runner.RunResult, a: str, b: str, figure: str) -> float:
    """Lower end of the paired-t 95% interval of ``figure`` of company a minus company b."""
    diff = result.figure_values(a, figure) - result.figure_values(b, figure)
    n = diff.size
    return float(diff.mean() - t_quantile_975(n - 1) * diff.std(ddof=1) / np.sqrt(n))


def test_goodwill_guarantee_raises_nps_at_the_shipped_size() -> None:
    """A higher NPS at the guarantee store: a small effect, so tested where it shows.

    Goodwill reaches only the customers who complain about a problem that was
    not the store's fault (about 1 problem in 26 is voiced). At the shipped size
    (20,000 people, three years) the NPS difference is about +0.6 points with a
    standard error of about 0.15 over six paired replications (all six
    positive), so the lower end of its 95% interval is above zero; on the short
    market it is lost in the noise.
    """
    result = runner.run(scenario.load("goodwill_guarantee"), replications=6, seed=1)
    assert paired_lower_bound(result, "guarantee store", "by-the-book store", "nps") > 0


def test_over_promising_promotion_breaks_promises_and_loses_customers() -> None:
    result = outcome("free_delivery_promotion")
    over, honest = "over-promising store", "honest store"
    assert mean(result, over, "broken_promises") > mean(result, honest, "broken_promises")
    assert mean(result, over, "wom_negative") > mean(result, honest, "wom_negative")
    assert mean(result, over, "retention") < mean(result, honest, "retention")


def test_pet_store_that_answers_reviews_earns_positive_word_of_mouth() -> None:
    result = outcome("review_refund")
    answers, ignores = "answers reviews", "ignores reviews"
    assert mean(result, answers, "wom_positive") > mean(result, ignores, "wom_positive")
    assert mean(result, answers, "nps") > mean(result, ignores, "nps")


def test_informed_account_manager_keeps_more_clients() -> None:
    result = outcome("account_manager")
    assert mean(result, "informed", "retention") > mean(result, "uninformed", "retention")
    assert mean(result, "informed", "nps") > mean(result, "uninformed", "nps")
