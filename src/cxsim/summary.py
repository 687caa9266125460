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


def discount_factors(days: int | pd.Series | np.ndarray, discount_rate: float) -> np.ndarray:
    """What money on each of ``days`` is worth on day 0: (1 + d)^(-day / 365)."""
    return np.power(1.0 + discount_rate, -np.asarray(days, dtype=np.float64) / 365.0)


def summarize(frame: pd.DataFrame, params: ModelParams) -> pd.DataFrame:
    """One row per company: final levels, run totals, churn, retention, lifetime value and NPV.

    ``frame`` holds every company on every day (:meth:`cxsim.results.Results.to_frame`). The
    run totals and the mean of customers are pandas' group sums and means (compensated sums
    in the order of the days: the figures' last bits); the rest is NumPy on one value per
    company, gathered into the table at the end.

    Raises:
        ValueError: a company without a row on the first or the last day.

    """
    days = int(frame["day"].max())
    years = max(days, 1) / 365.0
    d = params.market.discount_rate
    by = frame.groupby("company", observed=True, sort=False)
    totals = by[list(CUMULATIVE)].sum()
    companies = totals.index
    out: dict[str, np.ndarray] = {m: totals[m].to_numpy() for m in CUMULATIVE}
    day = frame["day"].to_numpy()
    group = companies.get_indexer(frame["company"])  # each row's company, as a row of out
    last = _rows_of(group, day == days, companies, days)
    for name in FINAL:
        out[name] = frame[name].to_numpy()[last]
    first = _rows_of(group, day == day.min(), companies, int(day.min()))
    out["customers_start"] = frame["customers"].to_numpy()[first]
    acquisition = {c.name: c.acquisition_cost for c in params.companies}
    customer_years = by["customers"].mean().to_numpy() * years
    discounted = frame["profit"] * discount_factors(frame["day"], d)
    out["discounted_profit"] = discounted.groupby(group, sort=True).sum().to_numpy()
    costs = np.array([acquisition.get(c, np.nan) for c in companies], dtype=np.float64)
    _derive(out, customer_years, days, d, costs)
    for name, values in out.items():
        if values.dtype.kind == "f":
            out[name] = np.where(np.isinf(values), np.nan, values)
    return pd.DataFrame(out, index=companies.rename("company"))


def _rows_of(group: np.ndarray, on_day: np.ndarray, companies: pd.Index, day: int) -> np.ndarray:
    """Each company's row among the rows ``on_day`` (``group``: each row's company, 0 .. k - 1)."""
    rows = np.flatnonzero(on_day)
    where = np.full(len(companies), -1, dtype=np.int64)
    where[group[rows]] = rows
    if (where < 0).any():
        missing = companies[int(np.flatnonzero(where < 0)[0])]
        raise ValueError(f"the results have no row for company {missing!r} on day {day}")
    return where


def figures_to_date(values: np.ndarray, params: ModelParams) -> dict[str, np.ndarray]:
    """The whole-run figures of every day of a run: row t is :func:`summarize` of days 0..t.

    What a run would report had it stopped on day t (``mesa.batch_run`` rows with
    ``data_collection_period=1``, a dashboard's running totals), computed at once
    for all days with running sums instead of one summary per day.

    Args:
        values: the run's results, days 0..T x companies x metrics (``Results.values``).
        params: the run's parameters.

    Returns:
        Each column of :func:`summarize` -> an array of days 0..T x companies.

    """
    column = {m: i for i, m in enumerate(METRICS)}
    day = np.arange(values.shape[0], dtype=np.float64)[:, None]
    totals = np.cumsum(values, axis=0)
    out: dict[str, np.ndarray] = {m: totals[:, :, column[m]] for m in CUMULATIVE}
    for name in FINAL:
        out[name] = values[:, :, column[name]]
    customers = values[:, :, column["customers"]]
    out["customers_start"] = np.broadcast_to(customers[0], customers.shape)
    customer_years = totals[:, :, column["customers"]] / (day + 1) * (np.maximum(day, 1) / 365.0)
    d = params.market.discount_rate
    discounted = values[:, :, column["profit"]] * discount_factors(day, d)
    out["discounted_profit"] = np.cumsum(discounted, axis=0)
    acquisition = np.array([c.acquisition_cost for c in params.companies], dtype=np.float64)
    _derive(out, customer_years, day, d, acquisition)
    return {name: np.where(np.isinf(v), np.nan, v) for name, v in out.items()}


def _derive(
    out: dict[str, np.ndarray],
    customer_years: np.ndarray,
    days: int | np.ndarray,
    d: float,
    acquisition: np.ndarray,
) -> None:
    """Add the derived figures to ``out``: the one definition of retention, churn, CLV and NPV.

    ``out`` maps the run totals and final levels to per-company values (arrays of
    companies, or of days x companies); ``days`` is the last day (of each row);
    ``acquisition`` the companies' acquisition costs.
    """
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
        out["customer_lifetime_value"] = value_held - acquisition
        out["value_of_customers_held"] = out["customers"] * value_held * discount_factors(days, d)
        out["npv"] = out["discounted_profit"] + out["value_of_customers_held"]


#: Figures a sweep keeps unless its plan says otherwise (all of them).
HEADLINE: tuple[str, ...] = tuple(FIGURES)

#: Figures and daily metrics that are shares, in [0, 1].
SHARES = frozenset({"retention", "market_share", "annual_retention_rate", "delivered_quality"})
#: Figures and daily metrics that can take any sign: money net of costs, attitudes.
SIGNED = frozenset(
    {
        "profit",
        "npv",
        "discounted_profit",
        "value_of_customers_held",
        "profit_per_customer_year",
        "margin_per_customer_year",
        "customer_lifetime_value",
        "mean_attitude",
    }
)
#: Net promoter scores, in points.
NPS_RANGE = (-100.0, 100.0)
#: Counts of people and events, money spent or earned, and rates of them: never negative.
NONNEGATIVE = frozenset(
    {m for m in METRICS if m not in SHARES | SIGNED | {"nps"}}
    | {"customers_start", "annual_churn", "problems_per_complaint", "complaints_per_customer_year"}
)


def figure_range(name: str) -> tuple[float | None, float | None]:
    """The values a figure (or daily metric) can take, as (lowest, highest); ``None``: no bound.

    A mean lies in the same range, so its confidence interval is cut there
    (:func:`cxsim.stats.mean_ci`): a count's interval never goes below 0, a share's
    never leaves [0, 1].

    Raises:
        KeyError: for a name that is neither a column of :func:`summarize` nor a daily metric.

    """
    if name in SHARES:
        return 0.0, 1.0
    if name == "nps":
        return NPS_RANGE
    if name in SIGNED:
        return None, None
    if name in NONNEGATIVE:
        return 0.0, None
    raise KeyError(f"no range is known for {name!r}")
