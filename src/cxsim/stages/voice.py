"""Stage 3, voice: complain or stay silent (mechanism 3 of docs/ODD.md).

The chance a customer complains about a new problem is

    base(severity) x reachability(company) x learned_silence ** ignored x exp(-damping x fatigue)

where ``ignored`` counts the customer's complaints that were ignored,
declined or met with a broken promise, and ``fatigue`` its recent CRM touches
(surveys and notices absorb the voice). Defaults make about 1 problem in 26
voiced, as in TARP's complaint iceberg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cxsim.events import Event

if TYPE_CHECKING:
    from cxsim.model import Market


def complaint_probability(
    model: Market, customers: np.ndarray, company: np.ndarray, serious: np.ndarray
) -> np.ndarray:
    """Chance each of ``customers`` voices its new problem with ``company``."""
    pars = model.params.behaviour.voice
    c = model.customers
    reach = np.array([co.policy.reachability for co in model.companies])
    base = np.where(serious, pars.serious, pars.minor)
    silence = np.power(pars.learned_silence, c.ignored[customers].astype(np.float64))
    worn_out = np.exp(-pars.crm_fatigue_damping * c.fatigue[customers].astype(np.float64))
    return base * reach[company.astype(np.intp)] * silence * worn_out


def step(model: Market) -> None:
    """Customers with a new problem today decide whether to complain."""
    who = model.today.problem_customers
    comp = model.today.problem_company
    if who.size == 0:  # no new problem: nobody to decide, and nothing drawn
        return
    rng = model.streams("voice", model.day)
    complain = rng.random(who.size) < complaint_probability(
        model, who, comp, model.today.problem_serious
    )
    complainers, company = who[complain], comp[complain]
    model.today.complainers = complainers
    model.today.complainer_company = company
    model.results.count("complaints", company)
    model.experience(Event.complained, complainers, company)
    if model.listens(Event.stayed_silent):
        model.log(Event.stayed_silent, who, comp, where=~complain)
