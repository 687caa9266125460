"""Journey log: the events of a random sample of customers, with bounded memory.

The log is a preallocated structured array of ``max_events`` rows; once full,
further events are counted in :attr:`JourneyLog.dropped` but not kept, so a
long run never grows without bound.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxsim.events import Event

JOURNEY_DTYPE = np.dtype(
    [("day", np.int32), ("customer", np.int32), ("company", np.int8), ("event", np.int8)]
)


class JourneyLog:
    """Events of tracked customers, in the order they happened."""

    def __init__(self, n: int, sample_size: int, max_events: int, rng: np.random.Generator) -> None:
        self._n = n
        self.enabled = sample_size > 0
        self.tracked = np.zeros(n, dtype=bool) if self.enabled else None
        if self.enabled:
            chosen = rng.choice(n, size=min(sample_size, n), replace=False)
            self.tracked[chosen] = True
        self.events = np.zeros(max_events if self.enabled else 0, dtype=JOURNEY_DTYPE)
        self.size = 0
        self.dropped = 0

    def track(self, customers: np.ndarray, max_events: int | None = None) -> None:
        """Log exactly ``customers`` from now on (e.g. the nodes a picture shows), dropping the sample.

        Events already kept stay; ``max_events`` (default: the current capacity,
        at least 100 per customer) bounds the log as before.
        """
        n = self.tracked.shape[0] if self.tracked is not None else int(self._n)
        self.tracked = np.zeros(n, dtype=bool)
        self.tracked[np.asarray(customers, dtype=np.int64)] = True
        self.enabled = True
        capacity = (
            max_events
            if max_events is not None
            else max(self.events.shape[0], 100 * len(customers))
        )
        if capacity > self.events.shape[0]:
            grown = np.zeros(capacity, dtype=JOURNEY_DTYPE)
            grown[: self.size] = self.events[: self.size]
            self.events = grown

    @property
    def customers(self) -> np.ndarray:
        """Ids of the tracked customers."""
        return np.flatnonzero(self.tracked) if self.enabled else np.empty(0, dtype=np.int64)

    def record(
        self, day: int, event: Event, customers: np.ndarray, companies: np.ndarray | int
    ) -> None:
        """Keep the events of tracked customers among ``customers``."""
        if not self.enabled or customers.size == 0:
            return
        keep = self.tracked[customers]
        if not keep.any():
            return
        who = customers[keep]
        comp = np.broadcast_to(np.asarray(companies), customers.shape)[keep]
        room = self.events.shape[0] - self.size
        take = min(room, who.size)
        self.dropped += who.size - take
        if take:
            rows = self.events[self.size : self.size + take]
            rows["day"] = day
            rows["customer"] = who[:take]
            rows["company"] = comp[:take]
            rows["event"] = int(event)
            self.size += take

    def to_frame(self, company_names: list[str]) -> pd.DataFrame:
        """Tidy table of the kept events: day, customer, company, event."""
        rows = self.events[: self.size]
        names = np.array([*company_names, ""], dtype=object)
        return pd.DataFrame(
            {
                "day": rows["day"],
                "customer": rows["customer"],
                "company": names[rows["company"].astype(np.intp)],  # -1 -> "" (no company)
                "event": [Event(e).name for e in rows["event"]],
            }
        )
