"""Whole-run figures per company, computed one way for runs, comparisons, sweeps and the dashboard.

``summarize(frame, params)`` takes a tidy results table (``Market.results_frame()``)
and the run's parameters, and returns one row per company with final levels,
cumulative counts and derived figures:

* ``retention`` = day-0 customers still with the company at the end / day-0 customers;
* ``annual_churn`` = customers lost per customer-year (a hazard: churned / mean
  customers / years), and ``annual_retention_rate`` r = exp(-annual_churn), the
  chance a customer is still a customer a year later at that hazard;
* ``problems_per_complaint`` (the iceberg ratio), ``complaints_per_customer_year``;
* ``profit``: the plain cumulative profit of the run, undiscounted, without any
  value for the customers held at the end; ``profit_per_customer_year`` = profit /
  customer-years;
* ``margin_per_customer_year`` m = (profit + acquisition costs) / customer-years:
  what a customer brings in a year before the cost of winning it, averaged over
  the run's customers (whatever their tenure);
* ``customer_lifetime_value`` = m (1 + d) / (1 + d - r) - AC (Gupta, Lehmann &
  Stuart 2004): the discounted value of a newly won customer, with d =
  ``market.discount_rate`` a year and AC the company's ``acquisition_cost``;
  margins come at the start of each year the customer stays (the first at once)
  and the customer stays each further year with chance r. It is bounded as churn
  falls to 0 (m (1 + d) / d - AC), unlike the undiscounted margin / churn;
* ``npv``: the run's net present value on day 0 at rate d: each day's profit
  discounted by (1 + d)^(-day / 365) (``discounted_profit``), plus the customers
  held at the end, each worth m (1 + d) / (1 + d - r) (no acquisition cost: they
  are already won), discounted from the last day (``value_of_customers_held``).
  Customers the company might win after the horizon are not counted.

m and r are the run's own averages, so the lifetime value treats a new customer
like the run's average customer: the tenure mix, the fall of the cost to serve
with tenure and the higher churn of new customers are averaged, not followed
cohort by cohort.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxsim.params import ModelParams
from cxsim.results import LEVELS, METRICS

#: Metrics summed over the run (counts and money) and levels taken at the last day.
CUMULATIVE = tuple(m for m in METRICS if m not in LEVELS)
FINAL = LEVELS

#: The figures of a company over a run, with their meanings: what ``cxsim run`` summarises
#: with confidence intervals, ``cxsim compare`` differences, sweeps keep and the dashboard shows.
FIGURES: dict[str, str] = {
    "retention": "share of the company's day-0 customers still with it at the end, never having left",
    "market_share": "share of all served customers at the end",
    "customers": "customers at the end",
    "nps": "net promoter score at the end (promoters minus detractors, points)",
    "profit": "cumulative profit over the run: undiscounted, and nothing for the customers held at the end",
    "npv": "net present value on day 0 at market.discount_rate: daily profit discounted, plus the "
    "customers held at the end, each worth m (1+d)/(1+d-r), discounted from the last day",
    "annual_churn": "customers lost per customer-year (churned / mean customers / years)",
    "complaints_per_customer_year": "complaints received per customer-year",
    "problems_per_complaint": "problems per complaint received (the complaint iceberg; TARP: about 26)",
    "margin_per_customer_year": "m: profit before acquisition costs per customer-year",
    "customer_lifetime_value": "discounted value of a newly won customer: m (1+d)/(1+d-r) - acquisition "
    "cost, with r = exp(-annual churn) and d = market.discount_rate (Gupta, Lehmann & Stuart 2004)",
    "wom_positive": "people who heard a positive story about the company (cumulative)",
    "wom_negative": "people who heard a negative story about the company (cumulative)",
    "broken_promises": "callbacks that never came and promotions not delivered (cumulative)",
}


def margin_multiple(retention_rate: pd.Series, discount_rate: float) -> pd.Series:
    """Present value of a yearly margin of 1 paid at the start of each year a customer stays.

    (1 + d) / (1 + d - r): the first margin at once, each further one a year later
    with chance r of still being a customer (Gupta, Lehmann & Stuart 2004).
    """
    return (1.0 + discount_rate) / (1.0 + discount_rate - retention_rate)


def discount_factors(days: pd.Series | np.ndarray, discount_rate: float) -> np.ndarray:
    """What money on each of ``days`` is worth on day 0: (1 + d)^(-day / 365)."""
    return np.power(1.0 + discount_rate, -np.asarray(days, dtype=np.float64) / 365.0)


def summarize(frame: pd.DataFrame, params: ModelParams) -> pd.DataFrame:
    """One row per company: final levels, run totals, churn, retention, lifetime value and NPV."""
    days = int(frame["day"].max())
    years = max(days, 1) / 365.0
    d = params.market.discount_rate
    by = frame.groupby("company", observed=True, sort=False)
    out = by[list(CUMULATIVE)].sum()
    last = frame[frame["day"] == days].set_index("company")
    first = frame[frame["day"] == frame["day"].min()].set_index("company")
    for name in FINAL:
        out[name] = last[name]
    out["customers_start"] = first["customers"]
    acquisition = pd.Series({c.name: c.acquisition_cost for c in params.companies})
    customer_years = by["customers"].mean() * years
    discounted = frame["profit"] * discount_factors(frame["day"], d)
    out["discounted_profit"] = discounted.groupby(frame["company"], observed=True).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["retention"] = out["retained"] / out["customers_start"]
        out["annual_churn"] = out["churned"] / customer_years
        out["annual_retention_rate"] = np.exp(-out["annual_churn"])
        out["problems_per_complaint"] = out["problems"] / out["complaints"]
        out["complaints_per_customer_year"] = out["complaints"] / customer_years
        out["profit_per_customer_year"] = out["profit"] / customer_years
        margin = (out["profit"] + out["acquisition_cost"]) / customer_years
        out["margin_per_customer_year"] = margin
        value_held = margin * margin_multiple(out["annual_retention_rate"], d)
        out["customer_lifetime_value"] = value_held - acquisition.reindex(out.index)
        out["value_of_customers_held"] = (
            out["customers"] * value_held * discount_factors(np.array([days]), d)[0]
        )
        out["npv"] = out["discounted_profit"] + out["value_of_customers_held"]
    out = out.replace([np.inf, -np.inf], np.nan)
    out.index.name = "company"
    return out


#: Figures a sweep keeps unless its plan says otherwise (all of them).
HEADLINE: tuple[str, ...] = tuple(FIGURES)
