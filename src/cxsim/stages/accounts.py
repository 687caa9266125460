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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

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
    """The companies' cost rates; the books of day 0 (the market as it starts)."""
    model.cost_rates = cost_rates(model)
    record_levels(model)
    model.results.close_day(0)


def step(model: Market) -> None:
    """Close the day's books."""
    res = model.results
    today = res.today
    unit, handling, fix, crm, advertising, acquisition = model.cost_rates
    today("acquisition_cost")[:] = acquisition * today("acquired")
    cost = (
        unit * today("purchases")
        + today("cost_to_serve")
        + today("acquisition_cost")
        + handling * today("handled")
        + fix * today("fixed")
        + today("refund_cost")
        + today("goodwill_cost")
        + crm * today("crm_touches")
        + advertising
    )
    today("cost")[:] = cost
    today("profit")[:] = today("revenue") - cost
    record_levels(model)
    res.close_day(model.day)


def record_levels(model: Market) -> None:
    """Write the end-of-day state: customers, share, quality, mean attitude, NPS."""
    c = model.customers
    res = model.results
    att = model.params.behaviour.attitude
    # Whole-population comparisons and counts, company by company: at market sizes
    # these beat gathering each customer's own attitude (a random-access pass).
    day0 = c.join_day <= 0  # day-0 customers; anyone who joins or switches later gets a later day
    for k in range(len(model.companies)):
        mine = c.provider == k
        attitude = c.attitude[k] + c.episode[k]  # what they feel (see the attitude stage)
        customers = int(model.customer_counts[k])  # kept by every change of provider
        res.today("customers")[k] = customers
        res.today("retained")[k] = np.count_nonzero(mine & day0)
        if customers:
            promoters = np.count_nonzero(mine & (attitude >= att.promoter_threshold))
            detractors = np.count_nonzero(mine & (attitude <= att.detractor_threshold))
            res.today("mean_attitude")[k] = float(np.dot(attitude, mine)) / customers
            res.today("nps")[k] = 100.0 * (promoters - detractors) / customers
        else:
            res.today("mean_attitude")[k] = 0.0
            res.today("nps")[k] = 0.0
        res.today("delivered_quality")[k] = model.companies[k].delivered_quality
    served = res.today("customers")
    total = served.sum()
    res.today("market_share")[:] = served / total if total else 0.0
    res.prospects[model.day] = c.n - int(total)
