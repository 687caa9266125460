"""Stage 2, problem: purchases that go wrong, minor or serious (mechanisms 1-2 of docs/ODD.md).

A purchase has a problem when

* the product is defective (chance ``1 - delivered quality``), or
* it is fine but falls short of what was promised: a quality promise above
  delivery, or a price above the quote (expectation disconfirmation), or
* it was bought under a promotion whose promise the customer cannot receive
  (the customer lives past the delivery boundary): a broken promise by design,
  always serious and always the company's fault.

Other problems are serious with chance ``serious_share`` and not the
company's fault with chance ``customer_fault_share``. A problem opens an issue
for the customer that the voice and response stages work on. An open problem
that nobody resolves stays on the customer's mind for
``problem_memory_days`` after it happened, then counts as closed
(:func:`is_open`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cxsim.customers import ISSUE_NONE, ISSUE_OPEN
from cxsim.events import Event

if TYPE_CHECKING:
    from cxsim.model import Market


def is_open(model: Market, idx: np.ndarray) -> np.ndarray:
    """Whether customers ``idx`` have an open issue today.

    A complaint waiting in a queue or for a call-back is open; an unresolved
    problem is open for ``problem_memory_days`` after it happened. A pure
    query: it changes nothing.
    """
    c = model.customers
    issue = c.issue[idx]
    forgotten = (issue == ISSUE_OPEN) & (
        model.day - c.issue_day[idx] > model.params.behaviour.problems.problem_memory_days
    )
    return (issue != ISSUE_NONE) & ~forgotten


def step(model: Market) -> None:
    """Decide which of today's purchases went wrong and how badly."""
    c = model.customers
    buyers, company = model.today.buyers, model.today.buyer_company.astype(np.intp)
    pars = model.params.behaviour.problems
    rng = model.streams("problem", model.day)
    u_problem, u_serious, u_fault = rng.random((3, buyers.size))

    defect = np.array([co.defect_rate for co in model.companies])
    disappoint = np.array([co.disappointment() for co in model.companies])
    p_problem = 1.0 - (1.0 - defect) * (1.0 - disappoint)
    excluded_share = np.array([co.excluded_share(model.day) for co in model.companies])

    excluded = c.location[buyers] >= 1.0 - excluded_share[company]
    has_problem = excluded | (u_problem < p_problem[company])
    serious = excluded | (u_serious < pars.serious_share)
    at_fault = excluded | (u_fault >= pars.customer_fault_share)

    who = buyers[has_problem]
    comp = company[has_problem].astype(np.int8)
    sev = serious[has_problem]
    c.issue[who] = ISSUE_OPEN
    c.issue_day[who] = model.day
    c.issue_serious[who] = sev
    c.issue_fault[who] = at_fault[has_problem]
    model.today.problem_customers = who
    model.today.problem_company = comp
    model.today.problem_serious = sev

    model.results.count("problems", comp)
    model.results.count("serious_problems", comp[sev])
    broken = excluded[has_problem]
    model.results.count("broken_promises", comp[broken])
    model.experience(Event.broken_promise, who[broken], comp[broken])
    model.experience(Event.problem_serious, who[sev], comp[sev])
    model.experience(Event.problem_minor, who[~sev], comp[~sev])
    fine = ~has_problem
    model.experience(Event.satisfied, buyers[fine], company[fine].astype(np.int8))
