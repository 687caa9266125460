"""Stage 1, promise: who buys today, from whom, at what price (BRIEF mechanism 1).

Purchases are a Poisson process per customer with mean interval
``market.purchase_interval_days``. Which people are due to buy is drawn over
the whole population, whatever their state, so that two policies compared on
common random numbers see the same purchase days.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxsim.events import Event
from cxsim.rng import bernoulli_indices

if TYPE_CHECKING:
    from cxsim.model import Market


def step(model: Market) -> None:
    """Customers due to buy today buy from their provider."""
    c = model.customers
    rng = model.streams("promise", model.day)
    due = bernoulli_indices(rng, c.n, model.purchase_probability)
    buyers = due[c.provider[due] >= 0]
    company = c.provider[buyers]
    model.today.buyers = buyers
    model.today.buyer_company = company
    purchases = model.results.count("purchases", company)
    model.results.today("revenue")[:] += purchases * model.prices
    model.log(Event.purchase, buyers, company)
