"""Stage 9, accounts: money, customers, attitude and NPS, recorded for the day (BRIEF mechanism 9).

Cost of a day = cost of goods x purchases + handling cost x complaints handled
+ fix cost x problems fixed + refunds + goodwill + CRM cost x touches +
advertising. Net promoter score among a company's customers: the percentage
with attitude at or above ``promoter_threshold`` minus the percentage at or
below ``detractor_threshold``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cxsim.customers import PROSPECT

if TYPE_CHECKING:
    from cxsim.model import Market


def step(model: Market) -> None:
    """Close the day's books."""
    res = model.results
    for company in model.companies:
        k = company.index
        cp = company.params
        fixed = res.today("resolved")[k] - res.today("goodwill")[k]
        cost = (
            cp.unit_cost * res.today("purchases")[k]
            + cp.handling_cost * res.today("handled")[k]
            + cp.fix_cost * fixed
            + res.today("refund_cost")[k]
            + res.today("goodwill_cost")[k]
            + cp.crm_cost_per_touch * res.today("crm_touches")[k]
            + cp.advertising_cost_per_day
        )
        res.today("cost")[k] = cost
        res.today("profit")[k] = res.today("revenue")[k] - cost
    record_levels(model)
    res.close_day(model.day)


def record_levels(model: Market) -> None:
    """Write the end-of-day state: customers, share, quality, mean attitude, NPS."""
    c = model.customers
    res = model.results
    k = len(model.companies)
    att = model.params.behaviour.attitude
    served = np.flatnonzero(c.provider != PROSPECT)
    provider = c.provider[served].astype(np.intp)
    own = c.attitude[provider, served]
    customers = np.bincount(provider, minlength=k).astype(np.float64)
    total = customers.sum()
    res.today("customers")[:] = customers
    # Day-0 customers have join days <= 0; anyone who joins or switches later gets a later one.
    retained = served[c.join_day[served] <= 0]
    res.today("retained")[:] = np.bincount(c.provider[retained].astype(np.intp), minlength=k)
    res.today("market_share")[:] = customers / total if total else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(provider, weights=own, minlength=k) / customers
        promoters = np.bincount(provider[own >= att.promoter_threshold], minlength=k)
        detractors = np.bincount(provider[own <= att.detractor_threshold], minlength=k)
        nps = 100.0 * (promoters - detractors) / customers
    res.today("mean_attitude")[:] = np.nan_to_num(mean)
    res.today("nps")[:] = np.nan_to_num(nps)
    res.today("delivered_quality")[:] = [co.delivered_quality for co in model.companies]
    res.prospects[model.day] = c.n - int(total)
