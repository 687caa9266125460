"""The run's summary: the same table, to the last bit, as the pandas table it replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxsim.params import ModelParams, resolve
from cxsim.results import METRIC_INDEX, METRICS, REAL_VALUED, Results
from cxsim.run import run_market
from cxsim.summary import CUMULATIVE, FINAL, _derive, discount_factors, summarize


def summarize_with_frames(frame: pd.DataFrame, params: ModelParams) -> pd.DataFrame:
    """``summarize`` as it was written before it gathered NumPy columns (kept as the reference)."""
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
    _derive(out, customer_years, days, d, acquisition.reindex(out.index))
    out = out.replace([np.inf, -np.inf], np.nan)
    out.index.name = "company"
    return out


MARKETS = [
    {},
    {"market.customers": 700, "market.days": 1, "market.seed": 3},
    {"market.customers": 1500, "market.days": 400, "market.seed": 4, "market.discount_rate": 0.0},
    # a company that starts with no one and wins no one: divisions by zero give NaN
    {
        "market.customers": 900,
        "market.days": 90,
        "market.seed": 5,
        "market.advertising_rate": 0.0,
        "market.imitation_rate": 0.0,
        "market.referral_probability": 0.0,
        "companies.1.initial_share": 0.0,
    },
    {
        "market.customers": 1200,
        "market.days": 200,
        "market.seed": 6,
        "companies": [
            {"name": "a", "initial_share": 0.5},
            {"name": "b", "initial_share": 0.3, "policy": {"refund_rule": "no_questions"}},
            {"name": "c", "initial_share": 0.2, "acquisition_cost": 80.0},
        ],
    },
]


@pytest.mark.parametrize("overrides", MARKETS)
def test_the_summary_is_the_frames_summary_bit_for_bit(overrides: dict) -> None:
    params = resolve(None, {"market.customers": 2000, "market.days": 365, **overrides})
    frame = run_market(params, 1).results_frame()
    new, old = summarize(frame, params), summarize_with_frames(frame, params)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    # also from a table whose companies are plain names (read back from a CSV file)
    plain = frame.assign(company=frame["company"].astype(str))
    pd.testing.assert_frame_equal(
        summarize(plain, params),
        summarize_with_frames(plain, params),
        check_exact=True,
    )


def test_a_company_missing_on_the_last_day_is_named() -> None:
    params = resolve(None, {"market.customers": 300, "market.days": 5})
    frame = run_market(params, 0).results_frame()
    cut = frame[~((frame["day"] == 5) & (frame["company"] == "fixing"))]
    with pytest.raises(ValueError, match="no row for company 'fixing' on day 5"):
        summarize(cut, params)


def frame_as_it_was_built(results: Results) -> pd.DataFrame:
    """``Results.to_frame`` as it was written before it built one column at a time (the reference)."""
    n_days = results.last_day + 1
    k = len(results.company_names)
    flat = results.values[:n_days].reshape(n_days * k, len(METRICS))
    frame = pd.DataFrame(flat, columns=list(METRICS))
    frame.insert(
        0, "company", pd.Categorical(np.tile(results.company_names, n_days), results.company_names)
    )
    frame.insert(0, "day", np.repeat(np.arange(n_days), k))
    counts = [m for m in METRICS if m not in REAL_VALUED]
    frame[counts] = frame[counts].astype(np.int64)
    return frame


@pytest.mark.parametrize("overrides", MARKETS)
def test_the_results_table_is_the_table_it_was(overrides: dict) -> None:
    params = resolve(None, {"market.customers": 2000, "market.days": 365, **overrides})
    market = run_market(params, 2)
    frame = market.results_frame()
    pd.testing.assert_frame_equal(frame, frame_as_it_was_built(market.results), check_exact=True)
    frame.loc[0, "profit"] = -1.0  # a copy: the market's own results do not change
    assert market.results.values[0, 0, METRIC_INDEX["profit"]] != -1.0
