"""Stage 4, response: what each company does about complaints, reviews and customers (mechanism 4 of docs/ODD.md).

For each company, in this order:

1. **Review answers.** Negative public reviews posted yesterday by people who
   are or have been the company's customers are answered with chance
   ``review_response_probability``: a refund without asking for the product
   back (the pet store), or a fix when ``refund_rule = never``, with an apology
   if the company apologises.
2. **New complaints.** ``immediate`` handling deals with today's complaints
   today; a ``fifo_queue`` appends them to the department queue.
3. **The queue.** Complainants who have waited ``patience_days`` give up
   (complaint ignored); then the oldest tickets at least ``response_days`` old
   are served, up to the daily capacity; everyone still waiting feels the wait.
4. **Callbacks due.** A promised callback comes with chance ``callback_kept``
   and the complaint is handled again; otherwise it is a broken promise.
5. **CRM touches.** Acknowledgements, notices, surveys and promotions reach
   customers at ``crm_touches_per_month``. With nothing wrong a touch pleases
   a little; during an open problem it wears the customer out, unless the
   company acts on it: with ``shares_service_information`` a touch to a
   customer whose complaint is waiting (queue or call-back) gets it handled now
   (the account manager who knows about the open issue); with
   ``proactive_follow_ups`` a touch to a customer with an open problem the
   company is not working on (never voiced, or voiced in vain) finds it and
   gets it handled. These are two levers: knowing what customers told you, and
   looking for what they did not.

Handling (:func:`handle`) is the one shared mechanism, and every handled case
gets exactly one outcome (:func:`decide_outcomes`): fixed, redressed by
goodwill, refunded, promised a call-back, or declined. The company apologises
to every case it handles if its policy apologises.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np

from cxsim.customers import ISSUE_CALLBACK, ISSUE_NONE, ISSUE_OPEN, ISSUE_QUEUED
from cxsim.events import Event
from cxsim.params import PolicyParams, RefundRule
from cxsim.rng import bernoulli_started, bit_generator_address, generator_at
from cxsim.stages.problem import is_open

if TYPE_CHECKING:
    from cxsim.company import Company
    from cxsim.model import Market


def step(model: Market) -> None:
    """Every company answers reviews, handles complaints and callbacks, and touches its customers."""
    queue_length = model.results.today("queue_length")
    for company in model.companies:
        rng = model.streams("response", model.day, company.index)
        answer_reviews(model, company, rng)
        take_complaints(model, company, rng)
        uses_queue = company.uses_queue
        waiting = work_queue(model, company, rng) if uses_queue else 0
        call_back(model, company, rng)
        if touch_customers(model, company, rng) and uses_queue:
            waiting = count_waiting(model, company)  # follow-ups handled queued complaints
        queue_length[company.index] = waiting


# --------------------------------------------------------------------------- handling


@dataclass(frozen=True)
class Outcomes:
    """The one outcome of each handled case: disjoint masks over the cases that cover them all."""

    fixed: np.ndarray
    goodwill: np.ndarray
    refunded: np.ndarray
    callback: np.ndarray
    declined: np.ndarray


def decide_outcomes(
    policy: PolicyParams,
    at_fault: np.ndarray,
    serious: np.ndarray,
    draws: np.ndarray,
    *,
    callbacks_allowed: bool = True,
) -> Outcomes:
    """The outcome ladder: each case gets the first remedy that applies, or is declined.

    1. **fixed**: the problem is the company's fault and it is fixed (``fix_probability``);
    2. **redressed by goodwill**: not its fault, made good anyway (``goodwill_probability``);
    3. **refunded**, by ``refund_rule``: ``no_questions`` refunds every case still
       open, whoever's fault it was (no questions asked); ``policy`` refunds a serious
       problem of its own making with ``policy_refund_probability``; ``never`` none;
    4. **promised a call-back**: an unfixed problem of its own making, with
       ``callback_probability`` (not on a kept call-back: ``callbacks_allowed``);
    5. **declined**: none of the above.

    A refund is a remedy of its own, never added to a fix or a goodwill gesture, so
    one problem is never paid for twice. ``draws`` holds four uniform numbers per case
    (fix, goodwill, refund, call-back).
    """
    u_fix, u_goodwill, u_refund, u_callback = draws
    fixed = at_fault & (u_fix < policy.fix_probability)
    goodwill = ~at_fault & (u_goodwill < policy.goodwill_probability)
    still_open = ~fixed & ~goodwill
    if policy.refund_rule == RefundRule.no_questions:
        refunded = still_open
    elif policy.refund_rule == RefundRule.policy:
        refunded = still_open & at_fault & serious & (u_refund < policy.policy_refund_probability)
    else:
        refunded = np.zeros_like(still_open)
    callback = still_open & ~refunded & at_fault & (u_callback < policy.callback_probability)
    if not callbacks_allowed:
        callback = np.zeros_like(callback)
    return Outcomes(fixed, goodwill, refunded, callback, still_open & ~refunded & ~callback)


def handle(
    model: Market,
    company: Company,
    who: np.ndarray,
    rng: np.random.Generator,
    *,
    second_chance: bool = False,
) -> None:
    """Handle the open issues of customers ``who`` with ``company``: one outcome each.

    ``second_chance``: these are kept call-backs, handled again; none is promised another.
    """
    if who.size == 0:
        return
    c = model.customers
    pol = company.policy
    k = company.index
    day = model.day
    out = decide_outcomes(
        pol,
        c.issue_fault[who],
        c.issue_serious[who],
        rng.random((4, who.size)),
        callbacks_allowed=not second_chance,
    )
    quick = (day - c.issue_day[who]) <= model.params.behaviour.attitude.quick_days

    model.experience(Event.fixed, who[out.fixed], k)
    model.experience(Event.fixed_quickly, who[out.fixed & quick], k)
    if pol.apology:
        # A quick fix with an apology is the quick, generous recovery of the paradox.
        model.experience(Event.recovery_paradox, who[out.fixed & quick], k)
        model.experience(Event.apology, who, k)
    model.experience(Event.goodwill, who[out.goodwill], k)
    model.experience(Event.refund, who[out.refunded], k)
    model.experience(Event.complaint_ignored, who[out.declined], k)
    model.log(Event.callback_promised, who, k, where=out.callback)

    made_good = who[out.fixed | out.goodwill | out.refunded]
    c.issue[made_good] = ISSUE_NONE
    c.ignored[made_good] = np.maximum(c.ignored[made_good], 1) - 1  # a remedy restores some voice
    declined = who[out.declined]
    c.issue[declined] = ISSUE_OPEN
    learn_silence(model, declined)
    promised = who[out.callback]
    c.issue[promised] = ISSUE_CALLBACK
    company.callbacks.push(
        promised.astype(np.int32), c.issue_day[promised], day + pol.callback_days
    )

    n_refunds = np.count_nonzero(out.refunded)
    n_goodwill = np.count_nonzero(out.goodwill)
    # A kept call-back is a complaint already acted on: the company learns from it once.
    acted_on = 0 if second_chance else np.count_nonzero(c.issue_fault[who])
    model.results.add(
        k,
        handled=who.size,
        complaints_acted_on=acted_on,
        fixed=np.count_nonzero(out.fixed),
        resolved=made_good.size,
        refunds=n_refunds,
        refund_cost=n_refunds * company.params.price * pol.refund_share,
        goodwill=n_goodwill,
        goodwill_cost=n_goodwill * company.params.goodwill_cost,
        callbacks_promised=promised.size,
        declined=declined.size,
    )


def learn_silence(model: Market, who: np.ndarray) -> None:
    """Customers whose complaint came to nothing complain less next time."""
    c = model.customers
    c.ignored[who] = np.minimum(c.ignored[who], 254) + 1


# --------------------------------------------------------------------------- the stage's parts


def answer_reviews(model: Market, company: Company, rng: np.random.Generator) -> None:
    """Answer yesterday's negative reviews of ``company`` by its customers and ex-customers.

    Someone who never bought from the company has nothing to refund or fix, so
    only reviewers who are or have been its customers are answered. An answer is
    one outcome: a refund, without asking for the product back (the pet store),
    or a fix (a replacement) when ``refund_rule = never``; with an apology if the
    company apologises. It closes the reviewer's open issue with the company.
    """
    pol = company.policy
    if model.backlog.answer_customers.size == 0 or pol.review_response_probability <= 0:
        return
    c = model.customers
    k = company.index
    reviewers = model.backlog.answers_for(k)
    reviewers = reviewers[c.have_been_customers(reviewers, k)]
    who = reviewers[rng.random(reviewers.size) < pol.review_response_probability]
    if who.size == 0:
        return
    model.log(Event.review_answered, who, k)
    if pol.apology:
        model.experience(Event.apology, who, k)
    if pol.refund_rule == RefundRule.never:
        model.experience(Event.fixed, who, k)
        model.results.add(k, fixed=who.size)
    else:
        model.experience(Event.refund, who, k)
        model.results.add(
            k, refunds=who.size, refund_cost=who.size * company.params.price * pol.refund_share
        )
    own = who[(c.provider[who] == k) & is_open(model, who)]
    c.issue[own] = ISSUE_NONE
    model.results.add(
        k,
        reviews_answered=who.size,
        handled=who.size,
        resolved=who.size,
        complaints_acted_on=who.size,
    )


def take_complaints(model: Market, company: Company, rng: np.random.Generator) -> None:
    """Today's complaints: handled at once, or appended to the queue."""
    if model.today.complainers.size == 0:
        return
    mine = model.today.complainer_company == company.index
    who = model.today.complainers[mine]
    if who.size == 0:
        return
    model.customers.issue[who] = ISSUE_QUEUED
    if company.uses_queue:
        day = model.day
        company.queue.push(who.astype(np.int32), day, day + company.policy.response_days)
    else:
        handle(model, company, who, rng)


def _valid(
    model: Market, company: Company, customers: np.ndarray, issue_days: np.ndarray, state: int
) -> np.ndarray:
    """Tickets whose customer is still waiting for this company about this issue."""
    c = model.customers
    return valid_tickets(
        customers, issue_days, state, company.index, c.issue, c.issue_day, c.provider
    )


@numba.njit(cache=True, nogil=True)
def valid_tickets(
    customers: np.ndarray,
    issue_days: np.ndarray,
    state: int,
    k: int,
    issue: np.ndarray,
    issue_day: np.ndarray,
    provider: np.ndarray,
) -> np.ndarray:
    """Which tickets still stand: the customer is ``k``'s, in ``state``, about the same issue.

    Ticket ``j`` (customer ``i = customers[j]``, raised on ``issue_days[j]``) stands when
    ``issue[i] == state``, ``issue_day[i] == issue_days[j]`` and ``provider[i] == k``; a
    ticket whose customer left, or whose issue was closed or replaced, does not.
    """
    out = np.empty(customers.size, dtype=np.bool_)
    for j in range(customers.size):
        i = customers[j]
        out[j] = issue[i] == state and issue_day[i] == issue_days[j] and provider[i] == k
    return out


def work_queue(model: Market, company: Company, rng: np.random.Generator) -> int:
    """Abandonment, first-in-first-out service up to capacity, and the pain of waiting.

    Returns the number of complaints still waiting.
    """
    day = model.day
    queue = company.queue
    patience = model.params.behaviour.voice.patience_days
    k = company.index

    # Today's capacity, with what was left over (up to a day's worth).
    per_day = company.policy.queue_capacity * model.customers.n / 1000.0
    company.capacity_credit = min(company.capacity_credit + per_day, max(per_day, 1.0))
    if not len(queue):  # nobody waits: nothing to give up, serve or feel, and no draw
        return 0

    # Those who have waited too long give up: the oldest tickets, at the front.
    _, issue_days, _ = queue.waiting()
    n_expired = int(np.searchsorted(issue_days, day - patience, side="right"))
    if n_expired:
        who, days = queue.pop(n_expired)
        gave_up = who[_valid(model, company, who, days, ISSUE_QUEUED)]
        model.customers.issue[gave_up] = ISSUE_OPEN
        model.experience(Event.complaint_ignored, gave_up, k)
        learn_silence(model, gave_up)

    # Serve the oldest due tickets; stale tickets are dropped without using capacity.
    n_due = queue.count_due(day)
    capacity = int(company.capacity_credit)
    if n_due and capacity:
        customers, issue_days, _ = queue.waiting()
        valid = _valid(model, company, customers[:n_due], issue_days[:n_due], ISSUE_QUEUED)
        rank = np.cumsum(valid)
        n_pop = (
            int(np.searchsorted(rank, capacity, side="left")) + 1 if rank[-1] >= capacity else n_due
        )
        who, days = queue.pop(n_pop)
        served = who[valid[:n_pop]]
        company.capacity_credit -= served.size
        handle(model, company, served.astype(np.int64), rng)

    # Everyone still waiting feels it.
    customers, issue_days, _ = queue.waiting()
    still = customers[_valid(model, company, customers, issue_days, ISSUE_QUEUED)]
    model.experience(Event.queue_wait, still.astype(np.int64), k)
    return still.size


def count_waiting(model: Market, company: Company) -> int:
    """Complaints genuinely waiting in the company's queue."""
    if not company.uses_queue:
        return 0
    customers, issue_days, _ = company.queue.waiting()
    return int(np.count_nonzero(_valid(model, company, customers, issue_days, ISSUE_QUEUED)))


def call_back(model: Market, company: Company, rng: np.random.Generator) -> None:
    """Callbacks due today: kept (the complaint is handled again) or broken."""
    n_due = company.callbacks.count_due(model.day)
    if n_due == 0:
        return
    who, days = company.callbacks.pop(n_due)
    who = who[_valid(model, company, who, days, ISSUE_CALLBACK)].astype(np.int64)
    kept = rng.random(who.size) < company.policy.callback_kept
    k = company.index
    model.log(Event.callback_kept, who, k, where=kept)
    handle(model, company, who[kept], rng, second_chance=True)
    broken = who[~kept]
    model.customers.issue[broken] = ISSUE_OPEN
    model.experience(Event.broken_promise, broken, k)
    learn_silence(model, broken)
    model.results.count("broken_promises", k, broken.size)


def touch_customers(model: Market, company: Company, rng: np.random.Generator) -> int:
    """CRM touches: pleasant when all is well; during an open problem, a follow-up or a wearing pitch.

    A touch to a customer with an open problem gets it handled if the company
    knows of it (a complaint waiting in the queue or for a call-back) and sales
    and service share information, or if it does not know of it and makes
    proactive follow-ups; otherwise it is a sales pitch that wears the customer
    out. A waiting call-back handled early is a second chance: no new call-back
    is promised.

    Returns the number of complaints waiting in the queue that touches got handled.
    """
    rate = company.policy.crm_touches_per_month / 30.0
    if rate <= 0:
        return 0
    c = model.customers
    pol = company.policy
    k = company.index
    groups, sizes, owed = touch(
        bit_generator_address(rng),
        c.n,
        touch_probability(rate),
        k,
        c.provider,
        c.issue,
        c.issue_day,
        c.fatigue,
        model.day,
        model.params.behaviour.problems.problem_memory_days,
        pol.shares_service_information,
        pol.proactive_follow_ups,
        model.results.today("crm_touches"),
    )
    n_calm, n_queued, n_awaiting, n_found, n_pitched = sizes.tolist()
    if n_calm:
        model.experience(Event.crm_touch, groups[0, :n_calm], k)
    if n_queued or n_awaiting or n_found:
        rng.standard_exponential(owed)  # the touches' draws to the end of their batch
        handle(model, company, groups[1, :n_queued], rng)
        handle(model, company, groups[2, :n_awaiting], rng, second_chance=True)
        handle(model, company, groups[3, :n_found], rng)
        model.results.count("follow_ups", k, n_found)
    if n_pitched:
        model.experience(Event.crm_touch_open_problem, groups[4, :n_pitched], k)
    return n_queued


@functools.lru_cache(maxsize=256)
def touch_probability(rate: float) -> float:
    """Chance a person is touched on a day, at ``rate`` touches a day (a company's, every day)."""
    return 1.0 - float(np.exp(-rate))


@numba.njit(cache=True, nogil=True)
def touch(
    address: int,
    n: int,
    p: float,
    k: int,
    provider: np.ndarray,
    issue: np.ndarray,
    issue_day: np.ndarray,
    fatigue: np.ndarray,
    day: int,
    memory_days: int,
    shares_service_information: bool,
    proactive_follow_ups: bool,
    crm_touches: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw who of the ``n`` people a touch reaches, and sort ``k``'s customers among them by what it does.

    Each person is drawn with chance ``p`` (:func:`cxsim.rng.bernoulli_started`, on the
    stream at ``address``); the drawn who are ``k``'s customers are touched, counted in
    ``crm_touches[k]``, and their fatigue grows by 1. A customer without an open issue
    (:func:`cxsim.stages.problem.is_open`: any issue but one left open for more than
    ``memory_days``) is ``calm``. One with an open issue is, by its state: ``queued`` (a
    complaint in the queue) or ``awaiting_callback`` when the company shares service
    information, ``found`` (a problem it is not working on) when it makes proactive
    follow-ups, and otherwise ``pitched`` (a sales pitch during a problem).

    Returns:
        The customers of each group in the order drawn (row g, the first ``sizes[g]``):
        0 calm, 1 queued, 2 awaiting_callback, 3 found, 4 pitched; and the draws owed to
        the stream (to draw before anything else draws from it).

    """
    drawn, owed = bernoulli_started(generator_at(address), n, p)
    groups = np.empty((5, drawn.size), dtype=np.int64)
    sizes = np.zeros(5, dtype=np.int64)
    for i in drawn:
        if provider[i] != k:
            continue
        fatigue[i] += np.float32(1.0)
        state = issue[i]
        forgotten = state == ISSUE_OPEN and day - issue_day[i] > memory_days
        if state == ISSUE_NONE or forgotten:
            group = 0
        elif state == ISSUE_QUEUED and shares_service_information:
            group = 1
        elif state == ISSUE_CALLBACK and shares_service_information:
            group = 2
        elif state == ISSUE_OPEN and proactive_follow_ups:
            group = 3
        else:
            group = 4
        groups[group, sizes[group]] = i
        sizes[group] += 1
    crm_touches[k] += sizes.sum()
    return groups, sizes, owed
