"""Stage 3, voice: complain or stay silent (mechanism 3 of docs/ODD.md).

The chance a customer complains about a new problem is

    base(severity) x reachability(company) x learned_silence ** ignored x exp(-damping x fatigue)

where ``ignored`` counts the customer's complaints that were ignored,
declined or met with a broken promise, and ``fatigue`` its recent CRM touches
(surveys and notices absorb the voice). Defaults make about 1 problem in 26
voiced, as in TARP's complaint iceberg.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np

from cxsim.events import Event
from cxsim.rng import generator_at

if TYPE_CHECKING:
    from cxsim.model import Market


def complaint_probability(
    model: Market, customers: np.ndarray, company: np.ndarray, serious: np.ndarray
) -> np.ndarray:
    """Chance each of ``customers`` voices its new problem with ``company``."""
    pars = model.params.behaviour.voice
    c = model.customers
    return complaint_chances(
        customers,
        company,
        serious,
        c.ignored,
        c.fatigue,
        np.array([co.policy.reachability for co in model.companies]),
        pars.minor,
        pars.serious,
        pars.learned_silence,
        pars.crm_fatigue_damping,
    )


@numba.njit(cache=True, nogil=True)
def complaint_chances(
    customers: np.ndarray,
    company: np.ndarray,
    serious: np.ndarray,
    ignored: np.ndarray,
    fatigue: np.ndarray,
    reach: np.ndarray,
    minor_chance: float,
    serious_chance: float,
    learned_silence: float,
    damping: float,
) -> np.ndarray:
    """The rule of :func:`complaint_probability`: each customer's chance to voice its new problem.

    Customer ``i = customers[j]`` of company ``k = company[j]``:
    ``base x reach[k] x learned_silence ** ignored[i] x exp(-damping x fatigue[i])``, with
    ``base`` the ``serious_chance`` or ``minor_chance`` of its problem, multiplied in that
    order (float64; the power and exponential are the C library's).
    """
    out = np.empty(customers.size, dtype=np.float64)
    for j in range(customers.size):
        i = customers[j]
        base = serious_chance if serious[j] else minor_chance
        silence = learned_silence ** np.float64(ignored[i])
        worn_out = math.exp(-damping * np.float64(fatigue[i]))
        out[j] = base * reach[company[j]] * silence * worn_out
    return out


def step(model: Market) -> None:
    """Customers with a new problem today decide whether to complain."""
    who = model.today.problem_customers
    comp = model.today.problem_company
    if who.size == 0:  # no new problem: nobody to decide, and nothing drawn
        return
    pars = model.params.behaviour.voice
    c = model.customers
    # Filled by the kernel (arrays made here cost less than arrays a kernel returns).
    complain = np.empty(who.size, dtype=np.bool_)
    complainers = np.empty(who.size, dtype=np.int64)
    company = np.empty(who.size, dtype=comp.dtype)
    n = decide(
        model.streams.address("voice", model.day),
        who,
        comp,
        model.today.problem_serious,
        c.ignored,
        c.fatigue,
        np.array([co.policy.reachability for co in model.companies]),
        pars.minor,
        pars.serious,
        pars.learned_silence,
        pars.crm_fatigue_damping,
        model.results.today("complaints"),
        complain,
        complainers,
        company,
    )
    complainers, company = complainers[:n], company[:n]
    model.today.complainers = complainers
    model.today.complainer_company = company
    model.experience(Event.complained, complainers, company)
    if model.listens(Event.stayed_silent):
        model.log(Event.stayed_silent, who, comp, where=~complain)


@numba.njit(cache=True, nogil=True)
def decide(
    address: int,
    customers: np.ndarray,
    company: np.ndarray,
    serious: np.ndarray,
    ignored: np.ndarray,
    fatigue: np.ndarray,
    reach: np.ndarray,
    minor_chance: float,
    serious_chance: float,
    learned_silence: float,
    damping: float,
    complaints: np.ndarray,
    complain: np.ndarray,
    complainers: np.ndarray,
    complainer_company: np.ndarray,
) -> int:
    """Whether each of ``customers`` voices its new problem with ``company``, counted in ``complaints``.

    Customer ``i`` (company ``k``) complains when a uniform drawn from the stream at
    ``address`` (one per customer, in order) is below its chance (:func:`complaint_chances`);
    each complaint adds 1 to ``complaints[k]``. (The chance's power and exponential are the C
    library's, not NumPy's array functions: they may differ in the last bit, which only
    matters for a uniform that close to the chance.)

    Fills ``complain`` (one flag per customer) and, in order, the first ``n`` of
    ``complainers`` and ``complainer_company``; returns ``n``.
    """
    rng = generator_at(address)
    chance = complaint_chances(
        customers,
        company,
        serious,
        ignored,
        fatigue,
        reach,
        minor_chance,
        serious_chance,
        learned_silence,
        damping,
    )
    counts = np.zeros(complaints.size, dtype=np.int64)
    n = 0
    for j in range(customers.size):
        i = customers[j]
        k = company[j]
        complain[j] = rng.random() < chance[j]
        if complain[j]:
            counts[k] += 1
            complainers[n] = i
            complainer_company[n] = k
            n += 1
    for k in range(complaints.size):
        complaints[k] += counts[k]
    return n
