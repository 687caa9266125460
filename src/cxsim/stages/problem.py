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

import numba
import numpy as np

from cxsim.customers import ISSUE_NONE, ISSUE_OPEN
from cxsim.events import Event
from cxsim.rng import generator_at

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
    pars = model.params.behaviour.problems
    results = model.results
    day = model.day
    # Per company, in float64 as NumPy would compute it on arrays of the companies' rates:
    # the chance of a problem, and the location from which a buyer is excluded from a promotion.
    p_problem, excluded_from = np.array(
        [
            (
                1.0 - (1.0 - co.defect_rate) * (1.0 - co.disappointment()),
                1.0 - co.excluded_share(day),
            )
            for co in model.companies
        ]
    ).T

    # Filled by the kernel (arrays made here cost less than arrays a kernel returns).
    m = model.today.buyers.size
    people = np.empty((5, m), dtype=np.int64)
    companies = np.empty((5, m), dtype=np.int8)
    serious = np.empty(m, dtype=np.bool_)
    n_problems, *sizes = sort_purchases(
        model.streams.address("problem", day),
        model.today.buyers,
        model.today.buyer_company,
        c.location,
        p_problem,
        excluded_from,
        pars.serious_share,
        pars.customer_fault_share,
        c.issue,
        c.issue_day,
        c.issue_serious,
        c.issue_fault,
        day,
        results.today("problems"),
        results.today("serious_problems"),
        results.today("broken_promises"),
        people,
        companies,
        serious,
    ).tolist()
    model.today.problem_customers = people[0, :n_problems]
    model.today.problem_company = companies[0, :n_problems]
    model.today.problem_serious = serious[:n_problems]
    for g, size in enumerate(sizes, start=1):
        if size:
            model.experience(_OUTCOMES[g], people[g, :size], companies[g, :size])


#: The groups of :func:`sort_purchases` (rows 1 to 4), in the order their experiences are reported.
_OUTCOMES = (
    None,
    Event.broken_promise,
    Event.problem_serious,
    Event.problem_minor,
    Event.satisfied,
)


@numba.njit(cache=True, nogil=True)
def sort_purchases(
    address: int,
    buyers: np.ndarray,
    buyer_company: np.ndarray,
    location: np.ndarray,
    p_problem: np.ndarray,
    excluded_from: np.ndarray,
    serious_share: float,
    customer_fault_share: float,
    issue: np.ndarray,
    issue_day: np.ndarray,
    issue_serious: np.ndarray,
    issue_fault: np.ndarray,
    day: int,
    problems: np.ndarray,
    serious_problems: np.ndarray,
    broken_promises: np.ndarray,
    people: np.ndarray,
    companies: np.ndarray,
    serious: np.ndarray,
) -> np.ndarray:
    """Which purchases went wrong, opening an issue for each (the rule of the stage, per purchase).

    Three uniforms per purchase are drawn from the stream at ``address`` as NumPy's
    ``rng.random((3, m))`` draws them: ``draws[0]`` for every purchase, then ``draws[1]``,
    then ``draws[2]``. Purchase ``i`` (buyer ``b``, company ``k``, uniforms ``draws[:, i]``)
    is *excluded* from a promotion when ``location[b] >= excluded_from[k]``; it has a
    problem when excluded or ``draws[0, i] < p_problem[k]``; the problem is serious when
    excluded or ``draws[1, i] < serious_share``, and the company's fault when excluded or
    ``draws[2, i] >= customer_fault_share``. A problem opens the buyer's issue today, and
    counts in ``problems[k]`` (and ``serious_problems[k]``, ``broken_promises[k]`` when
    serious, excluded): the day's results, added to once per company.

    Fills, for ``m`` purchases, ``people`` and ``companies`` (5 x m) and ``serious`` (m):
    row 0 the buyers with a problem, their companies and whether it is serious (in the
    order of the purchases); rows 1 to 4 the buyers and companies of each group,
    1 broken promise (excluded), 2 serious, 3 minor, 4 satisfied.

    Returns:
        How many of each row are filled: problems, then the four groups.

    """
    m = buyers.size
    rng = generator_at(address)
    draws = np.empty((3, m))
    for row in range(3):
        for i in range(m):
            draws[row, i] = rng.random()
    sizes = np.zeros(5, dtype=np.int64)
    counts = np.zeros((3, p_problem.size), dtype=np.int64)
    for i in range(m):
        b = buyers[i]
        k = buyer_company[i]
        excluded = location[b] >= excluded_from[k]
        if not (excluded or draws[0, i] < p_problem[k]):
            g = 4
        else:
            is_serious = excluded or draws[1, i] < serious_share
            issue[b] = ISSUE_OPEN
            issue_day[b] = day
            issue_serious[b] = is_serious
            issue_fault[b] = excluded or draws[2, i] >= customer_fault_share
            people[0, sizes[0]] = b
            companies[0, sizes[0]] = k
            serious[sizes[0]] = is_serious
            sizes[0] += 1
            counts[0, k] += 1
            if is_serious:
                counts[1, k] += 1
            if excluded:
                counts[2, k] += 1
                people[1, sizes[1]] = b
                companies[1, sizes[1]] = k
                sizes[1] += 1
            g = 2 if is_serious else 3
        people[g, sizes[g]] = b
        companies[g, sizes[g]] = k
        sizes[g] += 1
    for k in range(p_problem.size):
        problems[k] += counts[0, k]
        serious_problems[k] += counts[1, k]
        broken_promises[k] += counts[2, k]
    return sizes
