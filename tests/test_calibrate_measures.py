"""Calibration measurements (cxsim.calibrate.measures): what each one reads from a run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from cxsim import scenario
from cxsim.calibrate.measures import (
    MEASUREMENTS,
    Measured,
    ProblemFreeChurn,
    Run,
    measurement,
)
from cxsim.events import Event
from cxsim.model import Market
from cxsim.params import resolve
from cxsim.run import run_market
from cxsim.summary import summarize

PEOPLE = 1200
DAYS = 200


class ProvidersAtStart:
    """Keeps who was whose customer on day 0 (the journey log starts after it)."""

    def attach(self, market: Market) -> None:
        self.providers = market.customers.provider.copy()


@pytest.fixture(scope="module")
def logged_run() -> tuple[Market, ProblemFreeChurn, ProvidersAtStart]:
    """The dealership story, every journey logged, with a problem-free churn counter attached."""
    params = resolve(
        scenario.load("dealership").params,
        {
            "market.customers": PEOPLE,
            "market.days": DAYS,
            "journey.sample_size": PEOPLE,
            "journey.max_events": 2_000_000,
        },
    )
    counter = ProblemFreeChurn(window=60)
    start = ProvidersAtStart()
    market = run_market(params, 0, observers=[start, counter])
    assert market.journey.dropped == 0
    return market, counter, start


def replayed_problem_free_churn(
    market: Market, providers: np.ndarray, window: int, first: int
) -> tuple[int, int]:
    """Leavers and customer-days at risk among problem-free customers, replayed from the journey log."""
    events = market.journey.events[: market.journey.size]
    provider = providers.copy()
    last_problem = np.full(provider.size, -(10**6))
    leavers = exposure = 0
    by_day = np.split(events, np.flatnonzero(np.diff(events["day"])) + 1)
    for day_events in by_day:
        day = int(day_events["day"][0])
        at_start = provider.copy()
        for row in day_events:
            who, event, company = int(row["customer"]), Event(row["event"]), int(row["company"])
            if event in (Event.problem_minor, Event.problem_serious):
                last_problem[who] = day
            elif event in (Event.left, Event.switched_out):
                leavers += day >= first and last_problem[who] <= day - window
                provider[who] = -1
            elif event in (Event.joined, Event.switched_in):
                provider[who] = company
        if day >= first:
            exposure += int(np.count_nonzero((at_start >= 0) & (last_problem <= day - window)))
    return leavers, exposure


def test_problem_free_churn_online_equals_a_replay_of_the_journey_log(
    logged_run: tuple[Market, ProblemFreeChurn, ProvidersAtStart],
) -> None:
    market, counter, start = logged_run
    leavers, exposure = replayed_problem_free_churn(market, start.providers, 60, 61)
    assert int(counter.leavers[:, 61:].sum()) == leavers
    assert int(counter.exposure[:, 61:].sum()) == exposure
    assert leavers > 20  # the story loses customers: the comparison is not empty
    rate, years = counter.rate(None, 61, None)
    assert rate == pytest.approx(leavers / (exposure / 365.0))
    assert years == pytest.approx(exposure / 365.0)


def test_problem_free_churn_leaves_out_customers_with_a_recent_problem(
    logged_run: tuple[Market, ProblemFreeChurn, ProvidersAtStart],
) -> None:
    market, counter, _ = logged_run
    all_leavers = market.results_frame().query("day >= 61")["churned"].sum()
    assert 0 < counter.leavers[:, 61:].sum() < all_leavers
    customer_days = market.results_frame().query("day >= 60 and day < @DAYS")["customers"].sum()
    assert 0 < counter.exposure[:, 61:].sum() < customer_days


def measure(market: Market, name: str, observer: Any = None, **args: Any) -> Measured:
    found = MEASUREMENTS[name]
    return found.measure(market, observer, found.validate(args))


def test_market_churn_is_customers_lost_by_all_companies_per_customer_year(
    logged_run: tuple[Market, ProblemFreeChurn, ProvidersAtStart],
) -> None:
    market, _, _ = logged_run
    frame = market.results_frame().query("day >= 10 and day <= 150")
    expected = frame["churned"].sum() / frame["customers"].sum() * 365.0
    found = measure(market, "market_churn", from_day=10, to_day=150)
    assert found.values[0] == pytest.approx(expected)


def test_complaint_and_serious_shares_are_shares_of_all_problems(
    logged_run: tuple[Market, ProblemFreeChurn, ProvidersAtStart],
) -> None:
    market, _, _ = logged_run
    frame = market.results_frame().query("day >= 1 and company == 'dealership'")
    voiced = measure(market, "complaint_share", company="dealership")
    assert voiced.values[0] == pytest.approx(frame["complaints"].sum() / frame["problems"].sum())
    assert voiced.sizes is not None
    assert voiced.sizes[0] == frame["problems"].sum()
    serious = measure(market, "serious_share", company=1)
    assert serious.values[0] == pytest.approx(
        frame["serious_problems"].sum() / frame["problems"].sum()
    )


def test_summary_and_daily_measurements_read_the_run_results(
    logged_run: tuple[Market, ProblemFreeChurn, ProvidersAtStart],
) -> None:
    market, _, _ = logged_run
    figures = summarize(market.results_frame(), market.params)
    k = len(market.companies) - 1
    found = measure(market, "summary", figure="retention", company=k)
    assert found.values[0] == pytest.approx(figures["retention"].iloc[k])
    daily = measure(market, "daily", metric="customers", days=[0, 50, DAYS], company=k)
    series = market.results_frame().query("company == @market.companies[@k].name")
    assert list(daily.values) == series.set_index("day").loc[[0, 50, DAYS], "customers"].tolist()


def test_arguments_are_checked_against_the_measurements_signature() -> None:
    tarp = MEASUREMENTS["tarp_repurchase"]
    assert tarp.validate({"loss": "serious"})["loss"] == "serious"
    for bad in ({"loss": "small"}, {"from_day": "1"}, {"from_day": True}, {"lost": "minor"}):
        with pytest.raises(ValidationError):
            tarp.validate(bad)
    assert tarp.cells() == [
        "did not complain",
        "complained, not satisfied",
        "complained, satisfied",
        "satisfied quickly",
    ]
    assert MEASUREMENTS["daily"].cells(metric="customers", days=[7, 30]) == ["day 7", "day 30"]
    assert MEASUREMENTS["summary"].share(figure="retention")
    assert not MEASUREMENTS["summary"].share(figure="annual_churn")


def test_a_new_measurement_is_a_decorated_function() -> None:
    @measurement(share=True)
    def refund_share(run: Run, company: int | str = 0) -> Measured:
        """Share of complaints refunded."""
        refunds = run.total("refunds", company)
        complaints = run.total("complaints", company)
        return Measured([refunds / complaints], sizes=[complaints])

    try:
        found = MEASUREMENTS["refund_share"]
        assert found.doc == "Share of complaints refunded."
        assert found.validate({}) == {"company": 0}
        market = Market(
            seed=1,  # a fixed run: a Market with no seed draws one, and may see no complaint
            **{"market.customers": 2000, "market.days": 60, "behaviour.voice.minor": 0.5},
        )
        market.run()
        frame = market.results_frame().query("company == 'fixing'")
        assert frame["complaints"].sum() > 0
        value = found.measure(market, None, {"company": 1}).values[0]
        assert value == pytest.approx(frame["refunds"].sum() / frame["complaints"].sum())
    finally:
        del MEASUREMENTS["refund_share"]
