"""What can happen to a customer, and what each event does to its attitude.

Every stage reports what it did to customers as events ``(kind, customers,
companies, strength)`` through :meth:`cxsim.model.Market.experience` (events
that move attitude) or :meth:`~cxsim.model.Market.log` (events that are only
recorded in the journey log). The attitude stage turns experiences into
attitude changes using :data:`ATTITUDE_EFFECT`; the word-of-mouth stage turns
the day's first-hand experiences into stories using :data:`TELLABLE`.
"""

from __future__ import annotations

from enum import IntEnum


class Event(IntEnum):
    """Kinds of event in a customer's journey."""

    purchase = 0
    satisfied = 1
    problem_minor = 2
    problem_serious = 3
    broken_promise = 4
    complained = 5
    stayed_silent = 6
    queue_wait = 7
    complaint_ignored = 8
    callback_promised = 9
    callback_kept = 10
    fixed = 11
    fixed_quickly = 12
    recovery_paradox = 13
    refund = 14
    apology = 15
    goodwill = 16
    crm_touch = 17
    crm_touch_open_problem = 18
    heard_negative = 19
    heard_positive = 20
    told_negative = 21
    told_positive = 22
    review_posted = 23
    review_read = 24
    review_answered = 25
    joined = 26
    switched_in = 27
    left = 28
    switched_out = 29


#: Event -> name of the field of ``AttitudeParams`` (or ``WordOfMouthParams``) giving its effect.
ATTITUDE_EFFECT: dict[Event, str] = {
    Event.satisfied: "satisfied_purchase",
    Event.problem_minor: "problem_minor",
    Event.problem_serious: "problem_minor",  # times serious_loss_scale (see the attitude stage)
    Event.broken_promise: "broken_promise",
    Event.complained: "complained",
    Event.queue_wait: "queue_wait_per_day",
    Event.complaint_ignored: "complaint_ignored",
    Event.fixed: "fixed",
    Event.fixed_quickly: "fixed_quickly_bonus",
    Event.recovery_paradox: "recovery_paradox",
    Event.refund: "refund",
    Event.apology: "apology",
    Event.goodwill: "goodwill",
    Event.crm_touch: "crm_touch",
    Event.crm_touch_open_problem: "crm_touch_open_problem",
    Event.heard_negative: "negative_effect",
    Event.heard_positive: "positive_effect",
}

#: Experiences about a customer's problem, whose strength grows with the loss (the attitude
#: stage multiplies them by ``serious_loss_scale`` when the problem is serious; the problem
#: itself, ``problem_serious``, has that factor in its effect).
LOSS_SCALED: frozenset[Event] = frozenset(
    {
        Event.complained,
        Event.complaint_ignored,
        Event.broken_promise,
        Event.fixed,
        Event.fixed_quickly,
        Event.recovery_paradox,
        Event.refund,
        Event.apology,
        Event.goodwill,
    }
)

#: What one hears (a story, a review) rather than lives: it moves the lasting attitude only.
HEARSAY: frozenset[Event] = frozenset({Event.heard_negative, Event.heard_positive})

#: First-hand experiences worth a story: -1 makes an unhappy teller, +1 a happy one.
#: A satisfied purchase is a story only for promoters (see the word-of-mouth stage).
TELLABLE: dict[Event, int] = {
    Event.problem_minor: -1,
    Event.problem_serious: -1,
    Event.broken_promise: -1,
    Event.complaint_ignored: -1,
    Event.fixed: +1,
    Event.refund: +1,
    Event.goodwill: +1,
    Event.recovery_paradox: +1,
}
