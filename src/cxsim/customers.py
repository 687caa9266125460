"""Customers as typed columns: one array per attribute, one slot per person.

A person is a customer of one company or a prospect (provider ``-1``). People
are never deleted or appended: leaving the market only sets the provider to
``-1``, so arrays stay contiguous and preallocated (LASER's discipline).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROSPECT = -1

#: States of a customer's open issue with its provider.
ISSUE_NONE = 0
ISSUE_OPEN = 1  # a problem the company has not resolved (not voiced, or voiced in vain)
ISSUE_QUEUED = 2  # a complaint waiting in the company's queue
ISSUE_CALLBACK = 3  # a complaint closed with a promise to call back


@dataclass(eq=False)
class Customers:
    """Per-person state of the market.

    Attributes:
        provider: company index, or -1 for a prospect (int8).
        attitude: lasting attitude toward each company, shape (companies, people) (float32).
        episode: the feeling of recent experiences with each company, shape (companies, people),
            fading over about one purchase interval (float32); one feels ``attitude + episode``.
        join_day: day the person became a customer of its provider; tenure is ``day - join_day``.
        issue: open issue state (``ISSUE_*``, int8).
        issue_day: day the open issue started (the complaint day for the queue's order).
        issue_serious: whether the open issue is serious.
        issue_fault: whether the open issue is the company's fault.
        ignored: complaints ignored, declined or met with a broken promise, and not since made good (uint8).
        fatigue: CRM touches felt recently (decays; float32).
        location: position relative to delivery boundaries, uniform in [0, 1) (float32).
        customer_of: the companies the person has ever been a customer of, one bit per company
            (bit k for company k; uint16, so at most 16 companies): kept by every change of
            provider, it tells an ex-customer from someone who never bought.
        neighbor_customers: per company, how many of a person's contacts are its customers
            (shape (companies, people); None on a fully mixed network).

    """

    provider: np.ndarray
    attitude: np.ndarray
    episode: np.ndarray
    join_day: np.ndarray
    issue: np.ndarray
    issue_day: np.ndarray
    issue_serious: np.ndarray
    issue_fault: np.ndarray
    ignored: np.ndarray
    fatigue: np.ndarray
    location: np.ndarray
    customer_of: np.ndarray
    neighbor_customers: np.ndarray | None

    @classmethod
    def allocate(cls, n: int, n_companies: int, max_degree: int | None) -> Customers:
        """Preallocate all columns for ``n`` people and ``n_companies`` companies."""
        count_dtype = None
        if max_degree is not None:
            count_dtype = np.uint16 if max_degree < np.iinfo(np.uint16).max else np.int32
        return cls(
            provider=np.full(n, PROSPECT, dtype=np.int8),
            attitude=np.zeros((n_companies, n), dtype=np.float32),
            episode=np.zeros((n_companies, n), dtype=np.float32),
            join_day=np.zeros(n, dtype=np.int32),
            issue=np.zeros(n, dtype=np.int8),
            issue_day=np.zeros(n, dtype=np.int32),
            issue_serious=np.zeros(n, dtype=bool),
            issue_fault=np.zeros(n, dtype=bool),
            ignored=np.zeros(n, dtype=np.uint8),
            fatigue=np.zeros(n, dtype=np.float32),
            location=np.zeros(n, dtype=np.float32),
            customer_of=np.zeros(n, dtype=np.uint16),
            neighbor_customers=(
                None if count_dtype is None else np.zeros((n_companies, n), dtype=count_dtype)
            ),
        )

    def record_providers(self, who: np.ndarray, companies: np.ndarray) -> None:
        """Remember that ``who`` became customers of ``companies`` (one company each)."""
        self.customer_of[who] |= np.left_shift(np.uint16(1), companies.astype(np.uint16))

    def have_been_customers(self, who: np.ndarray, company: int) -> np.ndarray:
        """Whether each of ``who`` is or has ever been a customer of ``company``."""
        return (self.customer_of[who] & np.uint16(1 << company)) != 0

    @property
    def n(self) -> int:
        """Number of people."""
        return int(self.provider.shape[0])

    def nbytes(self) -> int:
        """Bytes held by the columns."""
        return sum(a.nbytes for a in vars(self).values() if isinstance(a, np.ndarray))
