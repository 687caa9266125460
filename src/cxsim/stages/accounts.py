"""Stage 9, accounts: money, customers, attitude and NPS, recorded for the day (mechanism 9 of docs/ODD.md).

Cost of a day = cost of goods x purchases + cost to serve (from the purchase
stage; it falls with tenure) + handling cost x cases handled + fix cost x
problems fixed + refunds + goodwill + CRM cost x touches + advertising +
acquisition cost x customers won.

**Acquisition cost.** Every customer won (a prospect adopting, a competitor's
customer switching in, an ex-customer coming back) costs its new company
``acquisition_cost``, recorded as the day's ``acquisition_cost``; lost
customers are not replaced for free.

Net promoter score among a company's customers: the percentage with attitude
at or above ``promoter_threshold`` minus the percentage at or below
``detractor_threshold``.

The end-of-day levels look at every person once per company: a compiled
kernel (:func:`level_counts`) makes that one pass, beside the rule it counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

from cxsim.results import METRIC_INDEX

if TYPE_CHECKING:
    from cxsim.model import Market


def cost_rates(model: Market) -> np.ndarray:
    """Per company: unit cost, handling, fix, CRM per touch, advertising per day, acquisition."""
    return np.array(
        [
            [
                cp.unit_cost,
                cp.handling_cost,
                cp.fix_cost,
                cp.crm_cost_per_touch,
                cp.advertising_cost_per_day,
                cp.acquisition_cost,
            ]
            for cp in (co.params for co in model.companies)
        ]
    ).T


def init(model: Market) -> None:
    """The companies' cost rates, scratch columns for the levels; the books of day 0 (the market as it starts)."""
    model.cost_rates = cost_rates(model)
    n = model.customers.n
    model.level_scratch = (np.empty(n, dtype=np.float32), np.empty(n, dtype=np.float32))
    record_levels(model)
    model.results.close_day(0)


def step(model: Market) -> None:
    """Close the day's books."""
    res = model.results
    close_books(res.table_today, model.cost_rates, BOOK_COLUMNS)
    record_levels(model)
    res.close_day(model.day)


#: Columns of the day's table that :func:`close_books` reads and writes, in its order.
BOOK_COLUMNS = np.array(
    [
        METRIC_INDEX[m]
        for m in (
            "acquisition_cost",
            "acquired",
            "purchases",
            "cost_to_serve",
            "handled",
            "fixed",
            "refund_cost",
            "goodwill_cost",
            "crm_touches",
            "cost",
            "profit",
            "revenue",
        )
    ]
)


@numba.njit(cache=True, nogil=True)
def close_books(today: np.ndarray, rates: np.ndarray, columns: np.ndarray) -> None:
    """Each company's acquisition cost, cost and profit of the day (the rule of the stage).

    With ``rates`` = (unit, handling, fix, CRM per touch, advertising per day, acquisition)
    per company: acquisition cost = acquisition x acquired; cost = unit x purchases + cost to
    serve + acquisition cost + handling x handled + fix x fixed + refunds + goodwill + CRM x
    touches + advertising, added in that order; profit = revenue - cost.
    """
    acq_cost, acquired, purchases, serve, handled, fixed = columns[:6]
    refunds, goodwill, touches, cost_col, profit, revenue = columns[6:]
    unit, handling, fix, crm, advertising, acquisition = rates
    for k in range(today.shape[0]):
        row = today[k]
        row[acq_cost] = acquisition[k] * row[acquired]
        cost = unit[k] * row[purchases] + row[serve]
        cost = cost + row[acq_cost]
        cost = cost + handling[k] * row[handled]
        cost = cost + fix[k] * row[fixed]
        cost = cost + row[refunds]
        cost = cost + row[goodwill]
        cost = cost + crm[k] * row[touches]
        cost = cost + advertising[k]
        row[cost_col] = cost
        row[profit] = row[revenue] - cost


def record_levels(model: Market) -> None:
    """Write the end-of-day state: customers, share, quality, mean attitude, NPS."""
    c = model.customers
    res = model.results
    att = model.params.behaviour.attitude
    promoter, detractor = np.float32(att.promoter_threshold), np.float32(att.detractor_threshold)
    felt, mine = model.level_scratch
    customers_col, retained_col = res.today("customers"), res.today("retained")
    attitude_col, nps_col = res.today("mean_attitude"), res.today("nps")
    quality_col = res.today("delivered_quality")
    for k in range(len(model.companies)):
        retained, promoters, detractors = level_counts(
            k, c.provider, c.join_day, c.attitude, c.episode, promoter, detractor, felt, mine
        )
        customers = int(model.customer_counts[k])  # kept by every change of provider
        customers_col[k] = customers
        retained_col[k] = retained
        if customers:
            # np.dot (BLAS) sums as the engine always has: the mean attitude keeps its last bits.
            attitude_col[k] = float(np.dot(felt, mine)) / customers
            nps_col[k] = 100.0 * (promoters - detractors) / customers
        else:
            attitude_col[k] = 0.0
            nps_col[k] = 0.0
        quality_col[k] = model.companies[k].delivered_quality
    total = customers_col.sum()
    res.today("market_share")[:] = customers_col / total if total else 0.0
    res.prospects[model.day] = c.n - int(total)


@numba.njit(cache=True, nogil=True)
def level_counts(
    k: int,
    provider: np.ndarray,
    join_day: np.ndarray,
    attitude: np.ndarray,
    episode: np.ndarray,
    promoter: np.float32,
    detractor: np.float32,
    felt: np.ndarray,
    mine: np.ndarray,
) -> tuple[int, int, int]:
    """One pass over everyone for company ``k``: its retained customers, promoters and detractors.

    The rule, per person ``i``:

    * ``felt[i] = attitude[k, i] + episode[k, i]``, what they feel (float32, as the attitude
      stage defines it); ``mine[i]`` is 1 for ``k``'s customers, else 0 (written out for the
      mean attitude, ``dot(felt, mine) / customers``);
    * retained: ``k``'s customers since day 0 (``join_day <= 0``; anyone who joins or
      switches later gets a later day);
    * promoters: ``k``'s customers with ``felt >= promoter`` (float32 thresholds, compared as
      NumPy compares a float32 column with them); detractors: ``felt <= detractor``.

    Returns:
        (retained, promoters, detractors).

    """
    retained = 0
    promoters = 0
    detractors = 0
    for i in range(provider.size):
        f = attitude[k, i] + episode[k, i]
        felt[i] = f
        if provider[i] == k:
            mine[i] = 1.0
            if join_day[i] <= 0:
                retained += 1
            if f >= promoter:
                promoters += 1
            if f <= detractor:
                detractors += 1
        else:
            mine[i] = 0.0
    return retained, promoters, detractors
