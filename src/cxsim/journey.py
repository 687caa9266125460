"""Journey log: the events of a random sample of customers (or chosen ones), with bounded memory.

A journey log is an observer of a run (see :class:`cxsim.model.Observer`): it
listens to every kind of event and keeps those of the people it tracks. The
log is a preallocated structured array of ``max_events`` rows; once full,
further events are counted in :attr:`JourneyLog.dropped` but not kept, so a
long run never grows without bound.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from cxsim.events import Event
from cxsim.results import KeepsViews

JOURNEY_DTYPE = np.dtype(
    [("day", np.int32), ("customer", np.int32), ("company", np.int8), ("event", np.int8)]
)

#: The name of each kind of event, indexed by its number (what :meth:`JourneyLog.to_frame` writes).
EVENT_NAMES = np.array([event.name for event in sorted(Event)], dtype=object)


class JourneyLog(KeepsViews):
    """Events of tracked customers, in the order they happened.

    Args:
        tracked: one flag per person: whether their events are kept (``None``: nobody's).
        max_events: most events kept.

    """

    def __init__(self, tracked: np.ndarray | None, max_events: int) -> None:
        self.tracked = tracked
        self.enabled = tracked is not None
        self.events = np.zeros(max_events if self.enabled else 0, dtype=JOURNEY_DTYPE)
        self.size = 0
        self.dropped = 0
        self._columns = self._views()

    def _views(self) -> tuple[np.ndarray, ...]:
        """The log's columns, as views that the compiled kernel writes into."""
        return tuple(self.events[name] for name in JOURNEY_DTYPE.names)

    @classmethod
    def sample(
        cls, n: int, sample_size: int, max_events: int, rng: np.random.Generator
    ) -> JourneyLog:
        """The journeys of ``sample_size`` people of ``n`` drawn at random (none if 0)."""
        if sample_size <= 0:
            return cls(None, max_events)
        tracked = np.zeros(n, dtype=bool)
        tracked[rng.choice(n, size=min(sample_size, n), replace=False)] = True
        return cls(tracked, max_events)

    @classmethod
    def of(cls, n: int, customers: np.ndarray, max_events: int | None = None) -> JourneyLog:
        """The journeys of exactly ``customers`` (e.g. the people a picture shows).

        ``max_events`` defaults to 400 events per customer, and at least 200,000.
        """
        tracked = np.zeros(n, dtype=bool)
        tracked[np.asarray(customers, dtype=np.int64)] = True
        capacity = max_events if max_events is not None else max(200_000, 400 * len(customers))
        return cls(tracked, capacity)

    @property
    def listens_to(self) -> tuple[Event, ...]:
        """Every kind of event, when anyone is tracked."""
        return tuple(Event) if self.enabled else ()

    @property
    def customers(self) -> np.ndarray:
        """Ids of the tracked customers."""
        return np.flatnonzero(self.tracked) if self.enabled else np.empty(0, dtype=np.int64)

    def on_event(
        self, day: int, event: Event, customers: np.ndarray, companies: np.ndarray | int
    ) -> None:
        """Keep the events of tracked customers among ``customers``."""
        if self.tracked is None or customers.size == 0:
            return
        # One company per customer, or one for all (a number, or an array of one).
        each = isinstance(companies, np.ndarray) and companies.shape == customers.shape
        if not each and np.size(companies) != 1:
            raise ValueError(f"{np.size(companies)} companies for {customers.size} customers")
        self.size, dropped = keep_tracked(
            self.tracked,
            customers,
            companies if each else _ONE_FOR_ALL,  # type: ignore[arg-type]
            0 if each else int(np.asarray(companies).reshape(-1)[0]),
            day,
            int(event),
            *self._columns,
            self.size,
        )
        self.dropped += dropped

    def to_frame(self, company_names: list[str]) -> pd.DataFrame:
        """Tidy table of the kept events: day, customer, company, event."""
        rows = self.events[: self.size]
        names = np.array([*company_names, ""], dtype=object)
        return pd.DataFrame(
            {
                "day": rows["day"],
                "customer": rows["customer"],
                "company": names[rows["company"].astype(np.intp)],  # -1 -> "" (no company)
                "event": EVENT_NAMES[rows["event"].astype(np.intp)].tolist(),  # as a list was
            }
        )


_ONE_FOR_ALL = np.empty(0, dtype=np.int8)


@numba.njit(cache=True, nogil=True)
def keep_tracked(
    tracked: np.ndarray,
    customers: np.ndarray,
    companies: np.ndarray,
    company: int,
    day: int,
    event: int,
    days: np.ndarray,
    who: np.ndarray,
    firms: np.ndarray,
    kinds: np.ndarray,
    size: int,
) -> tuple[int, int]:
    """Append the event of each tracked customer among ``customers`` to the log's columns.

    In the order given, from row ``size`` on, while there is room: ``day``, the customer,
    its company (``companies[j]``, or ``company`` for all when ``companies`` is empty) and
    ``event``; tracked customers past the end of the log are counted, not kept.

    Returns:
        (the log's new size, events dropped).

    """
    dropped = 0
    for j in range(customers.size):
        person = customers[j]
        if not tracked[person]:
            continue
        if size == days.size:
            dropped += 1
            continue
        days[size] = day
        who[size] = person
        firms[size] = companies[j] if companies.size else company
        kinds[size] = event
        size += 1
    return size, dropped
