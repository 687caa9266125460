"""Stage 7, retention: leaving, switching and adopting (BRIEF mechanism 7).

**Leaving** is a hazard, not a cliff. A customer with attitude ``a`` toward its
provider and tenure ``t`` years leaves today with probability
``1 - exp(-h)``, where

    h = (base_churn_per_year + max_churn_per_year / (1 + exp((a + loyalty(t) - churn_midpoint) / churn_width))) / 365
    loyalty(t) = min(loyalty_cap, loyalty_per_year x t)

A leaver switches to the competitor it thinks best of if its attitude toward
that company exceeds ``switch_threshold``, and otherwise leaves the market.

**Adopting** follows Bass (1969). A prospect's hazard of adopting company k is

    h_k = (p x w_k x lift_k + q x f_k) x exp(choice_sensitivity x a_k)

with p and q the yearly advertising and imitation rates per day, ``w_k`` the
company's share of advertising, ``lift_k`` its running promotions, ``f_k`` the
share of the prospect's contacts who are k's customers (the share of the whole
market on a fully mixed network) and ``a_k`` the prospect's attitude toward k
from what it has heard. It adopts with probability ``1 - exp(-sum_k h_k)`` and
picks k with probability ``h_k / sum h``. With one company, neutral attitudes
and nobody leaving, the share of adopters follows Bass's closed form
F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t}).

Both draws use thinning: candidates are drawn at the largest possible hazard
and accepted with the ratio of their own to it, which is exact and touches
only a few people a day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cxsim.customers import ISSUE_NONE, PROSPECT
from cxsim.events import Event
from cxsim.rng import bernoulli_indices

if TYPE_CHECKING:
    from cxsim.model import Market


def step(model: Market) -> None:
    """Customers leave or switch; prospects adopt."""
    rng = model.streams("retention", model.day)
    leave(model, rng)
    adopt(model, rng)
    model.results.prospects[model.day] = model.customers.n - int(model.customer_counts.sum())


def leaving_hazard(model: Market, attitude: np.ndarray, tenure_days: np.ndarray) -> np.ndarray:
    """Daily leaving hazard for customers with ``attitude`` toward their provider and ``tenure_days``."""
    pars = model.params.behaviour.retention
    loyalty = np.minimum(
        pars.loyalty_cap, pars.loyalty_per_year * np.maximum(tenure_days, 0) / 365.0
    )
    z = np.clip((attitude + loyalty - pars.churn_midpoint) / pars.churn_width, -50.0, 50.0)
    return (pars.base_churn_per_year + pars.max_churn_per_year / (1.0 + np.exp(z))) / 365.0


def leave(model: Market, rng: np.random.Generator) -> None:
    """Customers leave by the attitude hazard; leavers switch to the best-liked competitor, if liked enough."""
    pars = model.params.behaviour.retention
    c = model.customers
    h_max = (pars.base_churn_per_year + pars.max_churn_per_year) / 365.0
    p_max = 1.0 - np.exp(-h_max)
    drawn = bernoulli_indices(rng, c.n, p_max)
    candidates = drawn[c.provider[drawn] != PROSPECT]
    hazard = leaving_hazard(model, c.own_attitude(candidates), model.day - c.join_day[candidates])
    u = rng.random(candidates.size)
    leavers = candidates[u * p_max < 1.0 - np.exp(-hazard)]
    if leavers.size == 0:
        return
    old = c.provider[leavers].copy()
    k = len(model.companies)
    new = np.full(leavers.size, PROSPECT, dtype=np.int8)
    if k > 1:
        others = c.attitude[:, leavers].copy()
        others[old.astype(np.intp), np.arange(leavers.size)] = -np.inf
        best = np.argmax(others, axis=0)
        liked = others[best, np.arange(leavers.size)] > pars.switch_threshold
        new[liked] = best[liked]
    change_provider(model, leavers, old, new)
    switched = new != PROSPECT
    model.results.count("churned", old)
    model.log(Event.left, leavers[~switched], old[~switched])
    model.log(Event.switched_out, leavers[switched], old[switched])
    model.results.count("acquired", new[switched])
    model.log(Event.switched_in, leavers[switched], new[switched])


def adopt(model: Market, rng: np.random.Generator) -> None:
    """Prospects adopt a company by advertising and imitation (Bass)."""
    market = model.params.market
    c = model.customers
    k = len(model.companies)
    weights = np.array([co.params.advertising_weight for co in model.companies], dtype=np.float64)
    share_of_voice = weights / weights.sum() if weights.sum() > 0 else np.zeros(k)
    lift = np.array([co.advertising_lift(model.day) for co in model.companies])
    p = market.advertising_rate / 365.0 * share_of_voice * lift
    q = market.imitation_rate / 365.0
    s = market.choice_sensitivity
    h_bound = (p.sum() + q) * np.exp(s)  # attitudes are at most 1 and the f_k add to at most 1
    if h_bound <= 0:
        return
    p_bound = 1.0 - np.exp(-h_bound)
    drawn = bernoulli_indices(rng, c.n, p_bound)
    prospects = drawn[c.provider[drawn] == PROSPECT]
    if prospects.size == 0:
        return
    if c.neighbor_customers is None:
        f = np.repeat((model.customer_counts / c.n)[:, None], prospects.size, axis=1)
    else:
        degree = np.maximum(model.network.degree[prospects], 1)
        f = c.neighbor_customers[:, prospects] / degree
    hazard = (p[:, None] + q * f) * np.exp(s * c.attitude[:, prospects])
    total = hazard.sum(axis=0)
    u_adopt, u_choice = rng.random((2, prospects.size))
    adopts = u_adopt * p_bound < 1.0 - np.exp(-total)
    who = prospects[adopts]
    cumulative = np.cumsum(hazard[:, adopts], axis=0)
    pick = u_choice[adopts] * total[adopts]
    chosen = np.minimum((cumulative < pick[None, :]).sum(axis=0), k - 1).astype(np.int8)
    old = np.full(who.size, PROSPECT, dtype=np.int8)
    change_provider(model, who, old, chosen)
    model.results.count("acquired", chosen)
    model.log(Event.joined, who, chosen)


def change_provider(model: Market, who: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
    """Move ``who`` from ``old`` to ``new`` providers (-1 = none): the one place providers change."""
    c = model.customers
    k = len(model.companies)
    c.provider[who] = new
    c.issue[who] = ISSUE_NONE
    joined = new != PROSPECT
    c.join_day[who[joined]] = model.day
    # A customer who chose a company starts out at least as well disposed as a day-0 customer.
    new_idx = new[joined].astype(np.intp)
    floor = model.params.behaviour.attitude.initial_customer
    c.attitude[new_idx, who[joined]] = np.maximum(c.attitude[new_idx, who[joined]], floor)
    model.customer_counts -= np.bincount(old[old != PROSPECT].astype(np.intp), minlength=k)
    model.customer_counts += np.bincount(new_idx, minlength=k)
    model.update_neighbor_counts(who, old, new)
