"""Whole-run figures per company, computed one way for runs, comparisons, sweeps and the dashboard.

``summarize(frame)`` takes a tidy results table (``Market.results_frame()``) and
returns one row per company with final levels, cumulative counts and derived
economics:

* ``retention`` = day-0 customers still with the company at the end / day-0 customers;
* ``annual_churn`` = customers lost per year / mean customers;
* ``problems_per_complaint`` (the iceberg ratio), ``complaints_per_customer_year``;
* ``profit_per_customer_year`` and ``customer_lifetime_value`` = profit per
  customer-year x expected lifetime in years (1 / annual_churn), undiscounted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    "profit": "cumulative profit",
    "annual_churn": "customers lost per customer-year (churned / mean customers / years)",
    "complaints_per_customer_year": "complaints received per customer-year",
    "problems_per_complaint": "problems per complaint received (the complaint iceberg; TARP: about 26)",
    "customer_lifetime_value": "profit per customer-year x expected lifetime (1 / annual churn), undiscounted",
    "wom_positive": "people who heard a positive story about the company (cumulative)",
    "wom_negative": "people who heard a negative story about the company (cumulative)",
    "broken_promises": "callbacks that never came and promotions not delivered (cumulative)",
}


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per company: final levels, run totals, churn, retention and lifetime value."""
    days = int(frame["day"].max())
    years = max(days, 1) / 365.0
    by = frame.groupby("company", observed=True, sort=False)
    out = by[list(CUMULATIVE)].sum()
    last = frame[frame["day"] == days].set_index("company")
    first = frame[frame["day"] == frame["day"].min()].set_index("company")
    for name in FINAL:
        out[name] = last[name]
    out["customers_start"] = first["customers"]
    customer_years = by["customers"].mean() * years
    with np.errstate(divide="ignore", invalid="ignore"):
        out["retention"] = out["retained"] / out["customers_start"]
        out["annual_churn"] = out["churned"] / customer_years
        out["problems_per_complaint"] = out["problems"] / out["complaints"]
        out["complaints_per_customer_year"] = out["complaints"] / customer_years
        out["profit_per_customer_year"] = out["profit"] / customer_years
        out["customer_lifetime_value"] = out["profit_per_customer_year"] / out["annual_churn"]
    out = out.replace([np.inf, -np.inf], np.nan)
    out.index.name = "company"
    return out


#: Figures a sweep keeps unless its plan says otherwise (all of them).
HEADLINE: tuple[str, ...] = tuple(FIGURES)
