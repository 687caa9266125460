"""Stage 1, purchase: who buys today, from whom, at what price and cost to serve (mechanism 1 of docs/ODD.md).

Purchases are a Poisson process per customer with mean interval
``market.purchase_interval_days``: each day a person is due to buy with chance
``1 - exp(-1 / interval)``. Which people are due to buy is drawn over the whole
population, whatever their state, so that two policies compared on common
random numbers see the same purchase days. Who is due on a day is a pure
function of the run and the day (:func:`due`): the retention stage asks for
tomorrow's occasions, where customers decide whether to buy again.

**Cost to serve falls with tenure** (Reichheld & Sasser 1990: a long-standing
customer costs less to serve; one of their sources of a loyal customer's
profit, besides base profit, volume, referrals and a price premium). On top of
the cost of goods, serving a purchase of a customer with tenure ``t`` years
costs

    cost_to_serve(t) = settled + (new - settled) x exp(-t / settling_years)

(the company's ``cost_to_serve_new``, ``cost_to_serve_settled`` and
``cost_to_serve_settling_years``), recorded as the day's ``cost_to_serve``.
Only the company's cost changes with tenure, never the price or what the
customer does, so margin per purchase grows with tenure and behaviour is
untouched.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np

from cxsim.events import Event
from cxsim.rng import bernoulli_at

if TYPE_CHECKING:
    from cxsim.model import Market


def purchase_probability(interval_days: float) -> float:
    """Chance a customer buys on a given day, for a mean interval between purchases."""
    return -math.expm1(-1.0 / interval_days)


def cost_to_serve(
    new: np.ndarray | float,
    settled: np.ndarray | float,
    settling_years: np.ndarray | float,
    tenure_days: np.ndarray,
) -> np.ndarray:
    """Cost of serving one purchase of customers with ``tenure_days`` (rules per purchase, or one rule)."""
    return settled + (new - settled) * np.exp(tenure_days * (-1.0 / (365.0 * settling_years)))


def init(model: Market) -> None:
    """The companies' cost-to-serve rules (new, settled and settling years, one column each); no day's occasions drawn yet."""
    rules = [
        (cp.cost_to_serve_new, cp.cost_to_serve_settled, cp.cost_to_serve_settling_years)
        for cp in (c.params for c in model.companies)
    ]
    rates = np.array(rules, dtype=np.float64).T
    model.serve_cost_rates = rates
    # The form the rules take, seen once: no fall with tenure (new == settled for every
    # company), one rule for every company (the default), or a rule per company.
    model.serve_cost_form = (
        "flat"
        if np.array_equal(rates[0], rates[1])
        else "shared"
        if (rates == rates[:, :1]).all()
        else "per_company"
    )
    model.due_drawn = (-1, np.empty(0, dtype=np.int64))


def due(model: Market, day: int) -> np.ndarray:
    """People due to buy on ``day`` (sorted; the same whenever asked: drawn from that day's stream)."""
    drawn_day, people = model.due_drawn
    if drawn_day != day:
        chance = purchase_probability(model.params.market.purchase_interval_days)
        address = model.streams.address("purchase", day)
        # Nothing else draws from the day's purchase stream: the draws owed are never drawn.
        people, _ = bernoulli_at(address, model.customers.n, chance)
        model.due_drawn = (day, people)
    return people


def step(model: Market) -> None:
    """Customers due to buy today buy from their provider, at its price and its cost to serve."""
    c = model.customers
    results = model.results
    new, settled, settling_years = model.serve_cost_rates
    form = model.serve_cost_form
    people = due(model, model.day)
    # Filled by the kernel (arrays made here cost less than arrays a kernel returns).
    buyers = np.empty(people.size, dtype=np.int64)
    company = np.empty(people.size, dtype=c.provider.dtype)
    by_tenure = form != "flat"
    tenure = np.empty(people.size if by_tenure else 0, dtype=np.int64)
    m = buy(
        people,
        c.provider,
        c.join_day,
        model.day,
        model.prices,
        new,
        by_tenure,
        results.today("purchases"),
        results.today("revenue"),
        results.today("cost_to_serve"),
        buyers,
        company,
        tenure,
    )
    buyers, company, tenure = buyers[:m], company[:m], tenure[:m]
    model.today.buyers = buyers
    model.today.buyer_company = company
    if tenure.size:
        # Cost to serve by tenure, in NumPy (an array's exp is NumPy's own, which can differ
        # from a kernel's in the last bit, and this one is money).
        if form == "shared":  # one rule for every company (the default): no gathers
            serve = cost_to_serve(new[0], settled[0], settling_years[0], tenure)
        else:
            k = company.astype(np.intp)
            serve = cost_to_serve(new[k], settled[k], settling_years[k], tenure)
        results.count("cost_to_serve", company, serve)
    model.log(Event.purchase, buyers, company)


@numba.njit(cache=True, nogil=True)
def buy(
    due: np.ndarray,
    provider: np.ndarray,
    join_day: np.ndarray,
    day: int,
    prices: np.ndarray,
    new: np.ndarray,
    by_tenure: bool,
    purchases: np.ndarray,
    revenue: np.ndarray,
    cost_to_serve: np.ndarray,
    buyers: np.ndarray,
    company: np.ndarray,
    tenure: np.ndarray,
) -> int:
    """Today's purchases: the people ``due`` who have a provider buy once from it.

    Company ``k``'s ``n`` purchases add ``n`` to ``purchases[k]`` and ``n x prices[k]`` to
    ``revenue[k]`` (the day's results). If the cost to serve falls with tenure
    (``by_tenure``), each purchase's ``tenure`` in days (``day - join_day``) is written for
    the caller's :func:`cost_to_serve` (its exponential is NumPy's); if not, each costs
    ``new[k]`` to serve: ``n x new[k]`` is added to ``cost_to_serve[k]``.

    Fills the first ``m`` of ``buyers`` (in the order of ``due``) and ``company`` (and
    ``tenure``); returns ``m``.
    """
    counts = np.zeros(prices.size, dtype=np.int64)
    m = 0
    for i in due:
        k = provider[i]
        if k >= 0:
            buyers[m] = i
            company[m] = k
            counts[k] += 1
            if by_tenure:
                tenure[m] = day - join_day[i]
            m += 1
    for k in range(prices.size):
        n = counts[k] * 1.0
        purchases[k] += n
        revenue[k] += n * prices[k]
        if not by_tenure:
            cost_to_serve[k] += n * new[k]
    return m
