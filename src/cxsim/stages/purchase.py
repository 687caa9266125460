"""Stage 1, purchase: who buys today, from whom, at what price (mechanism 1 of docs/ODD.md).

Purchases are a Poisson process per customer with mean interval
``market.purchase_interval_days``: each day a person buys with chance
``1 - exp(-1 / interval)``. Which people are due to buy is drawn over the whole
population, whatever their state, so that two policies compared on common
random numbers see the same purchase days.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from cxsim.events import Event
from cxsim.rng import bernoulli_indices

if TYPE_CHECKING:
    from cxsim.model import Market


def purchase_probability(interval_days: float) -> float:
    """Chance a customer buys on a given day, for a mean interval between purchases."""
    return -math.expm1(-1.0 / interval_days)


def step(model: Market) -> None:
    """Customers due to buy today buy from their provider."""
    c = model.customers
    rng = model.streams("purchase", model.day)
    due = bernoulli_indices(
        rng, c.n, purchase_probability(model.params.market.purchase_interval_days)
    )
    buyers = due[c.provider[due] >= 0]
    company = c.provider[buyers]
    model.today.buyers = buyers
    model.today.buyer_company = company
    purchases = model.results.count("purchases", company)
    model.results.today("revenue")[:] += purchases * model.prices
    model.log(Event.purchase, buyers, company)
