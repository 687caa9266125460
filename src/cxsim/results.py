"""Results: one preallocated slot per day, company and metric.

Row 0 holds the state on day 0 (before anything happens); row ``d`` holds
what happened during day ``d`` (counts) and the state at its end (levels).
Stages add to the day's counters with :meth:`Results.count`; the accounts
stage computes the levels and closes the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd

#: Metric name -> meaning. Order fixes the column layout; see docs/ODD.md.
METRICS: dict[str, str] = {
    "customers": "customers at the end of the day",
    "retained": "day-0 customers still with their day-0 company, never having left",
    "market_share": "share of all served customers (customers of some company)",
    "acquired": "people who became customers today (from prospects or competitors)",
    "advertising_acquisitions": "prospects who became customers through advertising, Bass p (also in acquired)",
    "imitation_acquisitions": "prospects who became customers by imitating contacts who are its customers, Bass q (also in acquired)",
    "referral_acquisitions": "prospects who became customers on hearing a contact praise the company (also in acquired)",
    "churned": "customers who left today (to a competitor or out of the market)",
    "purchases": "purchases made",
    "problems": "purchases with a problem (defect, disappointed promise, or broken promotion)",
    "serious_problems": "problems that were serious",
    "complaints": "problems voiced to the company",
    "complaints_acted_on": "problems of the company's own making it examined for the first time: "
    "complaints handled, problems found by follow-ups, answered reviews (what learning uses)",
    "handled": "complaints, kept callbacks, follow-ups and review answers dealt with: each has one "
    "outcome, so handled = fixed + goodwill + refunds + callbacks_promised + declined",
    "fixed": "handled cases whose problem was fixed",
    "goodwill": "handled cases redressed by a goodwill gesture (problems not the company's fault)",
    "refunds": "handled cases refunded (instead of a fix or goodwill, never besides one)",
    "callbacks_promised": "handled cases closed with a promise to call back",
    "declined": "handled cases closed with no remedy and no promise (the customer feels ignored)",
    "resolved": "handled cases closed with a remedy: fixed + goodwill + refunds",
    "refund_cost": "money refunded",
    "goodwill_cost": "money spent on goodwill",
    "broken_promises": "callbacks that never came and promotions not delivered",
    "crm_touches": "acknowledgements, notices, surveys and promotions sent",
    "follow_ups": "handled cases found by a proactive follow-up: open problems the customer had "
    "not voiced, or had voiced in vain",
    "wom_negative": "people who heard a negative story about the company",
    "wom_positive": "people who heard a positive story about the company",
    "negative_tellers": "people who told a negative story (first-hand or retold)",
    "positive_tellers": "people who told a positive story (first-hand or retold)",
    "reviews": "public reviews posted",
    "reviews_answered": "negative reviews by customers or ex-customers answered with a refund "
    "(or a fix when the company never refunds)",
    "queue_length": "complaints waiting in the queue at the end of the day",
    "delivered_quality": "chance a purchase is free of defects, after learning",
    "mean_attitude": "mean attitude of the company's customers toward it",
    "nps": "promoters minus detractors among its customers, in points (-100..100)",
    "revenue": "price times purchases",
    "cost_to_serve": "cost of serving the day's purchases beyond the goods (falls with each "
    "buyer's tenure)",
    "acquisition_cost": "acquisition cost of the customers won today",
    "cost": "cost of goods and of serving, complaint handling, fixes, refunds, goodwill, CRM, "
    "advertising and acquisition",
    "profit": "revenue minus cost (undiscounted)",
}
METRIC_INDEX: dict[str, int] = {name: i for i, name in enumerate(METRICS)}

#: Metrics computed from the state at the end of the day, not summed over events.
LEVELS = (
    "customers",
    "retained",
    "market_share",
    "queue_length",
    "delivered_quality",
    "mean_attitude",
    "nps",
)

#: Metrics that are not whole numbers of people or events.
REAL_VALUED = frozenset(
    {
        "market_share",
        "delivered_quality",
        "mean_attitude",
        "nps",
        "refund_cost",
        "goodwill_cost",
        "revenue",
        "cost_to_serve",
        "acquisition_cost",
        "cost",
        "profit",
    }
)


class KeepsViews:
    """Holds ``_columns``, views into its own arrays made by ``_views()``, and keeps them views.

    Pickled, a view would come back as a copy that no longer writes into its array; so the
    views are left out of the pickle and made again when it is loaded.
    """

    _columns: object

    def _views(self) -> object:
        raise NotImplementedError

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_columns"]  # views would be unpickled as copies
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._columns = self._views()


@dataclass(eq=False)
class Results(KeepsViews):
    """Preallocated daily results of one run."""

    company_names: list[str]
    days: int

    def __post_init__(self) -> None:
        k = len(self.company_names)
        self.values = np.zeros((self.days + 1, k, len(METRICS)), dtype=np.float64)
        self.prospects = np.zeros(self.days + 1, dtype=np.int64)
        self._today = np.zeros((k, len(METRICS)), dtype=np.float64)
        self._columns = self._views()
        self.last_day = -1

    def _views(self) -> dict[str, np.ndarray]:
        """Today's column of each metric: views made once (stages ask for them many times a day)."""
        return {name: self._today[:, i] for name, i in METRIC_INDEX.items()}

    def count(
        self, metric: str, companies: np.ndarray | int, amount: np.ndarray | float = 1.0
    ) -> np.ndarray | None:
        """Add ``amount`` (per element) to ``metric`` of ``companies`` for today.

        With an array of companies, returns what was added per company.
        """
        column = self._columns[metric]
        scalar = not isinstance(amount, np.ndarray)
        if isinstance(companies, int | np.integer):
            if not scalar:
                amount = float(np.sum(amount))
            column[companies] += amount
            return None
        sums = np.zeros(column.size)
        if not scalar and amount.size != companies.size:
            raise ValueError(f"{amount.size} amounts for {companies.size} companies")
        if companies.size == 0:  # most days' complaints, switches and adoptions: none
            return sums
        if scalar:
            add_by_company(column, companies, float(amount), _NO_WEIGHTS, False, sums)  # type: ignore[arg-type]
        else:
            add_by_company(
                column, companies, 1.0, amount.astype(np.float64, copy=False), True, sums
            )
        return sums

    def add(self, company: int, **amounts: float) -> None:
        """Add several metrics' amounts for one company at once: ``add(k, refunds=2, handled=5)``."""
        row = self._today[company]
        for metric, amount in amounts.items():
            row[METRIC_INDEX[metric]] += amount

    def count_split(
        self, metric_if: str, metric_else: str, companies: np.ndarray, condition: np.ndarray
    ) -> None:
        """Count ``companies`` under ``metric_if`` where ``condition`` holds and ``metric_else`` where not."""
        k = self._today.shape[0]
        if companies.size == 0:
            return
        both = np.bincount(companies * 2 + condition, minlength=2 * k).reshape(k, 2)
        self._columns[metric_if] += both[:, 1]
        self._columns[metric_else] += both[:, 0]

    @property
    def table_today(self) -> np.ndarray:
        """Today's running values, one row per company and one column per metric (the array itself)."""
        return self._today

    def today(self, metric: str) -> np.ndarray:
        """Today's running value of ``metric`` for every company (a view)."""
        return self._columns[metric]

    def close_day(self, day: int) -> None:
        """Store today's counters in row ``day`` and reset them."""
        self.values[day] = self._today
        self._today[:] = 0.0
        self.last_day = day

    def series(self, metric: str, company: int) -> np.ndarray:
        """Daily values of ``metric`` for ``company`` up to the last closed day."""
        return self.values[: self.last_day + 1, company, METRIC_INDEX[metric]]

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per day and company, one column per metric."""
        n_days = self.last_day + 1
        k = len(self.company_names)
        flat = self.values[:n_days].reshape(n_days * k, len(METRICS))
        columns: dict[str, Any] = {
            "day": np.repeat(np.arange(n_days), k),
            "company": pd.Categorical(np.tile(self.company_names, n_days), self.company_names),
        }
        for j, metric in enumerate(METRICS):  # counts as whole numbers; the frame is a copy
            columns[metric] = flat[:, j] if metric in REAL_VALUED else flat[:, j].astype(np.int64)
        return pd.DataFrame(columns)

    def market_frame(self) -> pd.DataFrame:
        """Market-level table: day, prospects, served customers."""
        n_days = self.last_day + 1
        served = self.values[:n_days, :, METRIC_INDEX["customers"]].sum(axis=1).astype(np.int64)
        return pd.DataFrame(
            {"day": np.arange(n_days), "prospects": self.prospects[:n_days], "served": served}
        )


_NO_WEIGHTS = np.empty(0, dtype=np.float64)


@numba.njit(cache=True, nogil=True)
def add_by_company(
    column: np.ndarray,
    companies: np.ndarray,
    amount: float,
    weights: np.ndarray,
    weighted: bool,
    sums: np.ndarray,
) -> None:
    """Add to ``column`` per company, in place; write what was added into ``sums`` (zeros, float64).

    (Written into an array of the caller's: a returned array costs about a microsecond to hand
    back to Python.)

    The rule, as :meth:`Results.count` wrote it in NumPy: unless ``weighted``, each company's
    count times ``amount`` (``np.bincount(companies, minlength=k)[:k] * amount``); if
    ``weighted``, each company's ``weights`` summed in the order given (``np.bincount(companies,
    weights=weights, minlength=k)[:k]``); then ``column += sums``. Companies at or above
    ``k = column.size`` are left out; a negative company is an error, as in ``np.bincount``.
    """
    k = column.size
    if not weighted:
        counts = np.zeros(k, dtype=np.int64)
        for i in range(companies.size):
            c = companies[i]
            if c < 0:
                raise ValueError("companies must be non-negative")
            if c < k:
                counts[c] += 1
        for c in range(k):
            sums[c] = counts[c] * amount
    else:
        for i in range(companies.size):
            c = companies[i]
            if c < 0:
                raise ValueError("companies must be non-negative")
            if c < k:
                sums[c] += weights[i]
    for c in range(k):
        column[c] += sums[c]
