"""Stage 1, purchase: who buys today, from whom, at what price (mechanism 1 of docs/ODD.md).

Purchases are a Poisson process per customer with mean interval
``market.purchase_interval_days``: each day a person is due to buy with chance
``1 - exp(-1 / interval)``. Which people are due to buy is drawn over the whole
population, whatever their state, so that two policies compared on common
random numbers see the same purchase days. Who is due on a day is a pure
function of the run and the day (:func:`due`): the retention stage asks for
tomorrow's occasions, where customers decide whether to buy again.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cxsim.events import Event
from cxsim.rng import bernoulli_indices

if TYPE_CHECKING:
    from cxsim.model import Market


def purchase_probability(interval_days: float) -> float:
    """Chance a customer buys on a given day, for a mean interval between purchases."""
    return -math.expm1(-1.0 / interval_days)


def init(model: Market) -> None:
    """No day's occasions drawn yet."""
    model.due_drawn = (-1, np.empty(0, dtype=np.int64))


def due(model: Market, day: int) -> np.ndarray:
    """People due to buy on ``day`` (sorted; the same whenever asked: drawn from that day's stream)."""
    drawn_day, people = model.due_drawn
    if drawn_day != day:
        rng = model.streams("purchase", day)
        chance = purchase_probability(model.params.market.purchase_interval_days)
        people = bernoulli_indices(rng, model.customers.n, chance)
        model.due_drawn = (day, people)
    return people


def step(model: Market) -> None:
    """Customers due to buy today buy from their provider."""
    c = model.customers
    today = due(model, model.day)
    buyers = today[c.provider[today] >= 0]
    company = c.provider[buyers]
    model.today.buyers = buyers
    model.today.buyer_company = company
    purchases = model.results.count("purchases", company)
    model.results.today("revenue")[:] += purchases * model.prices
    model.log(Event.purchase, buyers, company)
