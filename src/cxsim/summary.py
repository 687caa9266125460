"""Whole-run figures per company, computed one way for runs, comparisons, sweeps and the dashboard.

``summarize(frame)`` takes a tidy results table (``Market.results_frame()``) and
returns one row per company with final levels, cumulative counts and derived
economics:

* ``annual_churn`` = customers lost per year / mean customers;
* ``retention`` = 1 - annual_churn (the share kept over a year);
* ``complaints_per_problem`` (the iceberg ratio), ``complaints_per_customer_year``;
* ``profit_per_customer_year`` and ``customer_lifetime_value`` = profit per
  customer-year x expected lifetime in years (1 / annual_churn), undiscounted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Metrics summed over the run.
CUMULATIVE = (
    "acquired",
    "churned",
    "purchases",
    "problems",
    "serious_problems",
    "complaints",
    "handled",
    "resolved",
    "refunds",
    "refund_cost",
    "broken_promises",
    "callbacks_promised",
    "goodwill",
    "goodwill_cost",
    "crm_touches",
    "wom_negative",
    "wom_positive",
    "reviews",
    "reviews_answered",
    "revenue",
    "cost",
    "profit",
)
#: Levels taken at the last day.
FINAL = ("customers", "market_share", "mean_attitude", "nps", "delivered_quality", "queue_length")

#: Figures meant for comparisons and sweeps, in the order tables show them.
HEADLINE = (
    "retention",
    "market_share",
    "customers",
    "profit",
    "nps",
    "complaints_per_customer_year",
    "complaints_per_problem",
    "customer_lifetime_value",
)


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
        out["annual_churn"] = out["churned"] / customer_years
        out["retention"] = 1.0 - out["annual_churn"]
        out["complaints_per_problem"] = out["complaints"] / out["problems"]
        out["complaints_per_customer_year"] = out["complaints"] / customer_years
        out["profit_per_customer_year"] = out["profit"] / customer_years
        out["customer_lifetime_value"] = out["profit_per_customer_year"] / out["annual_churn"]
    out = out.replace([np.inf, -np.inf], np.nan)
    out.index.name = "company"
    return out
