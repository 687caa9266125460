"""Economics a CFO would accept: acquisition cost, cost to serve, discounted lifetime value and NPV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxsim.params import ModelParams
from cxsim.results import METRICS
from cxsim.stages import purchase
from cxsim.summary import summarize

from .conftest import begin_day, make_market, one_company

#: Daily metrics that are money, not behaviour.
MONEY = ("cost_to_serve", "acquisition_cost", "cost", "profit")


def test_cost_to_serve_falls_with_tenure_from_new_to_settled():
    tenure = np.array([0.0, 180.0, 365.0, 730.0, 3650.0, 36500.0])
    cost = purchase.cost_to_serve(np.array(8.0), np.array(2.0), np.array(1.0), tenure)
    assert cost[0] == pytest.approx(8.0)
    assert np.all(np.diff(cost) < 0)
    assert cost[2] == pytest.approx(2.0 + 6.0 * np.exp(-1.0))
    assert cost[-1] == pytest.approx(2.0)


def test_each_purchase_is_charged_the_cost_to_serve_of_its_buyers_tenure():
    m = make_market(
        3000,
        quiet=True,
        companies=one_company("fix", cost_to_serve_new=10.0, cost_to_serve_settled=1.0),
        **{"market.initial_adoption": 1.0},
    )
    c = m.customers
    c.join_day[:] = np.arange(c.n) % 1000 - 1000  # tenures from 1 to 1,000 days
    begin_day(m, 1)
    purchase.step(m)
    buyers = m.today.buyers
    assert buyers.size > 0
    tenure_years = (1 - c.join_day[buyers]) / 365.0
    want = np.sum(1.0 + 9.0 * np.exp(-tenure_years))
    assert m.results.today("cost_to_serve")[0] == pytest.approx(want)


def test_each_company_charges_its_own_cost_to_serve_rule():
    rules = {"managing": (10.0, 1.0, 0.5), "fixing": (6.0, 3.0, 2.0)}
    m = make_market(
        3000,
        quiet=True,
        companies=[
            {
                "name": name,
                "cost_to_serve_new": new,
                "cost_to_serve_settled": settled,
                "cost_to_serve_settling_years": years,
            }
            for name, (new, settled, years) in rules.items()
        ],
        **{"market.initial_adoption": 1.0},
    )
    c = m.customers
    c.join_day[:] = -(np.arange(c.n) % 2000)
    begin_day(m, 1)
    purchase.step(m)
    for k, (new, settled, years) in enumerate(rules.values()):
        buyers = m.today.buyers[m.today.buyer_company == k]
        assert buyers.size > 0
        tenure_years = (1 - c.join_day[buyers]) / 365.0
        want = np.sum(settled + (new - settled) * np.exp(-tenure_years / years))
        assert m.results.today("cost_to_serve")[k] == pytest.approx(want)


def run_frame(**overrides) -> pd.DataFrame:
    settings = {"market.customers": 3000, "market.days": 200, **overrides}
    return make_market(**settings).run().results_frame()


def test_cost_to_serve_and_acquisition_cost_change_no_behaviour():
    cheap = run_frame(
        **{
            f"companies.{i}.{key}": value
            for i in (0, 1)
            for key, value in (
                ("acquisition_cost", 0.0),
                ("cost_to_serve_new", 0.0),
                ("cost_to_serve_settled", 0.0),
            )
        }
    )
    dear = run_frame()
    behaviour = [m for m in METRICS if m not in MONEY]
    pd.testing.assert_frame_equal(cheap[behaviour], dear[behaviour])
    assert (dear["profit"] < cheap["profit"]).any()


def test_every_customer_won_costs_its_companys_acquisition_cost():
    frame = run_frame(
        **{
            "companies.0.acquisition_cost": 100.0,
            "companies.1.acquisition_cost": 300.0,
            "behaviour.retention.max_churn_per_year": 10.0,  # plenty of switching
        }
    )
    for company, cost in (("managing", 100.0), ("fixing", 300.0)):
        rows = frame[frame.company == company]
        assert rows["acquired"].sum() > 0
        assert np.allclose(rows["acquisition_cost"], cost * rows["acquired"])
    free = run_frame(
        **{
            "companies.0.acquisition_cost": 0.0,
            "companies.1.acquisition_cost": 0.0,
            "behaviour.retention.max_churn_per_year": 10.0,
        }
    )
    assert np.allclose(free["cost"] + frame["acquisition_cost"], frame["cost"])


def synthetic_frame(churned_per_day: float, profit_per_day: float, days: int = 365) -> pd.DataFrame:
    """One company, 1,000 customers throughout, steady profit and churn, nobody acquired."""
    row = {m: 0.0 for m in METRICS}
    frame = pd.DataFrame([row] * (days + 1))
    frame.insert(0, "company", pd.Categorical(["solo"] * (days + 1)))
    frame.insert(0, "day", np.arange(days + 1))
    frame["customers"] = 1000.0
    frame["retained"] = 1000.0
    frame.loc[1:, "churned"] = churned_per_day
    frame.loc[1:, "profit"] = profit_per_day
    return frame


def params(discount_rate: float = 0.1, acquisition_cost: float = 200.0) -> ModelParams:
    return ModelParams(
        market={"discount_rate": discount_rate},
        companies=[{"name": "solo", "acquisition_cost": acquisition_cost}],
    )


def test_lifetime_value_is_the_discounted_margin_stream_net_of_acquisition_cost():
    s = summarize(synthetic_frame(churned_per_day=100 / 365, profit_per_day=300.0), params())
    row = s.loc["solo"]
    assert row["margin_per_customer_year"] == pytest.approx(300.0 * 365 / 1000)
    r = np.exp(-0.1)  # 100 lost a year from 1,000 customers
    assert row["annual_retention_rate"] == pytest.approx(r)
    assert row["customer_lifetime_value"] == pytest.approx(109.5 * 1.1 / (1.1 - r) - 200.0)


def test_lifetime_value_stays_finite_as_churn_falls_to_zero():
    s = summarize(synthetic_frame(churned_per_day=0.0, profit_per_day=300.0), params())
    # A customer who never leaves is a perpetuity paid in advance: m (1 + d) / d.
    assert s.loc["solo", "customer_lifetime_value"] == pytest.approx(109.5 * 1.1 / 0.1 - 200.0)


def test_npv_is_discounted_profit_plus_the_discounted_value_of_the_customers_held():
    frame = synthetic_frame(churned_per_day=100 / 365, profit_per_day=300.0)
    s = summarize(frame, params(discount_rate=0.1)).loc["solo"]
    discounted = sum(300.0 * 1.1 ** (-day / 365) for day in range(1, 366))
    assert s["discounted_profit"] == pytest.approx(discounted)
    assert s["discounted_profit"] < s["profit"] == pytest.approx(300.0 * 365)
    held = 1000 * 109.5 * 1.1 / (1.1 - np.exp(-0.1)) / 1.1
    assert s["value_of_customers_held"] == pytest.approx(held)
    assert s["npv"] == pytest.approx(discounted + held)


def test_without_discounting_npv_counts_profit_at_face_value():
    s = summarize(synthetic_frame(100 / 365, 300.0), params(discount_rate=0.0)).loc["solo"]
    assert s["discounted_profit"] == pytest.approx(s["profit"])


def test_a_run_reports_npv_and_lifetime_value_per_company():
    m = make_market(3000, days=365).run()
    s = m.summary()
    assert np.isfinite(s["npv"]).all()
    assert (s["npv"] > s["discounted_profit"]).all()  # the customers held are worth something
    assert (s["customer_lifetime_value"] < s["margin_per_customer_year"] * 1.12 / 0.12).all()
