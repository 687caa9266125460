"""Companies: few and rich in behaviour, so each is a ``mesa.Agent``.

A company carries its parameters (what it promises, delivers and charges, and
its complaint-handling policy), its evolving delivered quality, its complaint
queue and its promised callbacks. The stages call on it; it holds no
per-customer state beyond its tickets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from cxsim.params import CompanyParams, Handling, PromotionParams

if TYPE_CHECKING:
    from cxsim.model import Market


class TicketQueue:
    """First-in-first-out tickets in a growable ring of preallocated arrays.

    A ticket is (customer, issue day, due day). Tickets are pushed in the order
    they arrive with non-decreasing due days, so the head is always the oldest
    and the first due. A ticket can go stale (the customer left, or its issue
    was resolved some other way); callers check tickets against the customer's
    state when they pop them.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.customer = np.zeros(capacity, dtype=np.int32)
        self.issue_day = np.zeros(capacity, dtype=np.int32)
        self.due = np.zeros(capacity, dtype=np.int32)
        self.head = 0
        self.tail = 0

    def __len__(self) -> int:
        return self.tail - self.head

    def push(self, customers: np.ndarray, issue_day: np.ndarray | int, due: int) -> None:
        """Append tickets at the back (``customers`` in the order they arrived)."""
        m = customers.size
        if m == 0:
            return
        if self.tail + m > self.customer.size:
            self._make_room(m)
        sl = slice(self.tail, self.tail + m)
        self.customer[sl] = customers
        self.issue_day[sl] = issue_day
        self.due[sl] = due
        self.tail += m

    def _make_room(self, m: int) -> None:
        live = len(self)
        size = self.customer.size
        while live + m > size // 2:  # keep at least half free after compaction: amortised O(1)
            size *= 2
        for name in ("customer", "issue_day", "due"):
            old = getattr(self, name)
            new = np.zeros(size, dtype=np.int32)
            new[:live] = old[self.head : self.tail]
            setattr(self, name, new)
        self.head, self.tail = 0, live

    def waiting(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All waiting tickets, oldest first (views): customers, issue days, due days."""
        sl = slice(self.head, self.tail)
        return self.customer[sl], self.issue_day[sl], self.due[sl]

    def count_due(self, day: int) -> int:
        """Number of tickets due on or before ``day`` (they are at the front)."""
        if self.tail == self.head:  # most days at most companies: no NumPy call
            return 0
        return int(np.searchsorted(self.due[self.head : self.tail], day, side="right"))

    def pop(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Remove and return the ``m`` oldest tickets' customers and issue days (copies)."""
        m = min(m, len(self))
        sl = slice(self.head, self.head + m)
        out = (self.customer[sl].copy(), self.issue_day[sl].copy())
        self.head += m
        return out


class Company(mesa.Agent):
    """A company in the market.

    Attributes:
        index: position in the model's company list (the value stored in customers' provider).
        params: its parameters.
        defect_rate: chance a purchase has a defect today (1 - delivered quality); falls with learning.
        queue: complaints waiting, for a ``fifo_queue`` policy.
        callbacks: promised callbacks, due ``callback_days`` after the promise.
        capacity_credit: unused fraction of the queue's daily capacity, carried to the next day.

    """

    def __init__(self, model: Market, index: int, params: CompanyParams) -> None:
        super().__init__(model)
        self.index = index
        self.params = params
        self.name = params.name
        self.policy = params.policy
        self.defect_rate = 1.0 - params.delivered_quality
        self.min_defect_rate = 1.0 - params.max_quality
        self.queue = TicketQueue()
        self.callbacks = TicketQueue()
        self.capacity_credit = 0.0

    @property
    def delivered_quality(self) -> float:
        """Chance a purchase is free of defects today."""
        return 1.0 - self.defect_rate

    @property
    def uses_queue(self) -> bool:
        """Whether complaints wait in a first-in-first-out queue."""
        return self.policy.handling == Handling.fifo_queue

    def active_promotions(self, day: int) -> list[PromotionParams]:
        """Promotions running on ``day``."""
        return [p for p in self.params.promotions if p.start_day <= day <= p.end_day]

    def advertising_lift(self, day: int) -> float:
        """Factor on this company's advertising today (product of running promotions' lifts)."""
        lift = 1.0
        for promo in self.active_promotions(day):
            lift *= promo.advertising_lift
        return lift

    def excluded_share(self, day: int) -> float:
        """Share of customers (by location) promised an offer they cannot receive today."""
        if not self.params.promotions:  # most companies, every day of the problem stage
            return 0.0
        return max((p.excluded_share for p in self.active_promotions(day)), default=0.0)

    def disappointment(self) -> float:
        """Chance a fine purchase still disappoints: promise above delivery (quality and price)."""
        sensitivity = self.model.params.behaviour.problems.disconfirmation_sensitivity
        params = self.params
        quality_gap = max(0.0, params.promised_quality - (1.0 - self.defect_rate))  # delivered
        quoted = params.quoted_price
        price_overrun = (
            0.0 if quoted is None or quoted <= 0 else max(0.0, params.price / quoted - 1.0)
        )
        return min(1.0, sensitivity * (quality_gap + price_overrun))

    def step(self) -> None:
        """Companies act inside the stages of the day (see :mod:`cxsim.day`), not on their own."""
