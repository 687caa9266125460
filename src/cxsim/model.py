"""The market: a ``mesa.Model`` with companies as agents and customers as columns."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import mesa
import numpy as np
import pandas as pd

from cxsim import networks
from cxsim.company import Company
from cxsim.customers import PROSPECT, Customers
from cxsim.day import Today, init_stages, run_day
from cxsim.events import Event
from cxsim.journey import JourneyLog
from cxsim.params import ModelParams, resolve
from cxsim.results import METRICS, Results
from cxsim.rng import Streams, bernoulli_indices
from cxsim.summary import summarize


class Observer(Protocol):
    """Something that watches a run without changing it (a journey log, snapshots, a measurement).

    An observer is attached once the market is built (day 0). It names the
    events it listens to in ``listens_to`` and gets each of them through
    ``on_event(day, event, customers, companies)``; ``on_day(market)`` is
    called at the end of every day. All are optional: an observer defines
    what it needs.
    """

    def attach(self, market: Market) -> None:
        """Called once, when the market is built (day 0 is recorded)."""


class ResultsCollector(mesa.DataCollector):
    """A ``mesa.DataCollector`` that reads the model's preallocated results.

    ``model_vars[name][i]`` is the value after step ``i + 1`` (day ``i + 1``),
    as with a collector called at the end of each step, so ``mesa.batch_run``
    and ``get_model_vars_dataframe`` work. Reporters are ``day``,
    ``prospects`` and ``<metric>_<company name>`` for every metric.
    """

    def __init__(self, model: Market) -> None:
        super().__init__()
        self._model = model

    def collect(self, model: mesa.Model) -> None:
        """Nothing to do: the accounts stage already wrote today's row."""

    @property
    def model_vars(self) -> dict[str, Any]:  # type: ignore[override]
        """Reporter name -> values per collected step (views of the results)."""
        res = self._model.results
        last = res.last_day
        out: dict[str, Any] = {
            "day": np.arange(1, last + 1),
            "prospects": res.prospects[1 : last + 1],
        }
        for k, name in enumerate(res.company_names):
            for j, metric in enumerate(METRICS):
                out[f"{metric}_{name}"] = res.values[1 : last + 1, k, j]
        return out

    @model_vars.setter
    def model_vars(self, value: Any) -> None:
        # mesa.DataCollector.__init__ assigns an empty dict; the property above replaces it.
        pass

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """One row per collected step (day 1, 2, ...), one column per reporter."""
        return pd.DataFrame(self.model_vars)


class Market(mesa.Model):
    """A market of customers on a social network, served by companies with complaint policies.

    Create it from a :class:`~cxsim.params.ModelParams`, a plain dict of the same
    shape, or keyword overrides with dotted keys::

        Market(**{"market.customers": 5000, "companies.0.policy.refund_rule": "never"})

    One :meth:`step` is one day (the stages in :data:`cxsim.day.DAY`); :meth:`run`
    runs all days. Results are in :meth:`results_frame`.

    A run is named by its root seed (``market.seed``) and its ``replication``:
    replication ``r`` of a scenario is the same run whichever command runs it
    (:mod:`cxsim.rng`).

    Args:
        params: parameters; ``None`` means the defaults.
        replication: which replication of the root seed this run is (0, 1, ...).
        base_dir: folder against which a relative network file path is resolved.
        observers: watch the run (see :class:`Observer`); a journey log of
            ``journey.sample_size`` people is added when that is set.
        **overrides: dotted-key overrides applied on top of ``params``.

    """

    def __init__(
        self,
        params: ModelParams | dict[str, Any] | None = None,
        *,
        replication: int = 0,
        base_dir: str | Path | None = None,
        observers: Iterable[Any] = (),
        **overrides: Any,
    ) -> None:
        if overrides or not isinstance(params, ModelParams):
            params = resolve(params, overrides, label="Market(...)")
        if replication < 0:
            raise ValueError(f"replication must be 0 or more, got {replication}")
        super().__init__(seed=params.market.seed)
        self.params: ModelParams = params
        self.replication = int(replication)
        self.day = 0
        self.streams = Streams(params.market.seed, replication)
        n = params.market.customers
        days = params.market.days

        start = time.perf_counter()
        self.network = networks.build(
            params.network, n, self.streams("network"), Path(base_dir) if base_dir else None
        )
        self.network_build_seconds = time.perf_counter() - start
        n = self.network.n

        self.companies: list[Company] = [
            Company(self, k, cp) for k, cp in enumerate(params.companies)
        ]
        k = len(self.companies)
        self.prices = np.array([c.params.price for c in self.companies], dtype=np.float64)
        self.advertising_weights = np.array(
            [c.params.advertising_weight for c in self.companies], dtype=np.float64
        )
        max_degree = None if self.network.fully_mixed else int(self.network.degree.max(initial=0))
        self.customers = Customers.allocate(n, k, max_degree)
        self.customer_counts = np.zeros(k, dtype=np.int64)
        self.results = Results([c.name for c in self.companies], days)
        self.today = Today()
        self.stage_seconds: dict[str, float] = {}
        self._listeners: list[list[Callable[..., None]]] = [[] for _ in Event]
        self._day_watchers: list[Callable[[Market], None]] = []
        self._initialise()
        init_stages(self)
        self.journey = JourneyLog.sample(
            n, params.journey.sample_size, params.journey.max_events, self.streams("journey")
        )
        for observer in (self.journey, *observers):
            self.attach(observer)
        self.datacollector = ResultsCollector(self)
        self.running = True

    def attach(self, observer: Any) -> None:
        """Let ``observer`` watch the run from now on (see :class:`Observer`)."""
        for event in getattr(observer, "listens_to", None) or ():
            self._listeners[int(event)].append(observer.on_event)
        on_day = getattr(observer, "on_day", None)
        if on_day is not None:
            self._day_watchers.append(on_day)
        attach = getattr(observer, "attach", None)
        if attach is not None:
            attach(self)

    def listens(self, *events: Event) -> bool:
        """Whether anyone listens to any of ``events`` (to skip work that only they would see)."""
        return any(self._listeners[int(e)] for e in events)

    # ------------------------------------------------------------------ set-up

    def _initialise(self) -> None:
        """Day 0: locations, who is whose customer, attitudes, tenures."""
        c = self.customers
        rng = self.streams("setup")
        c.location[:] = rng.random(c.n, dtype=np.float32)
        weights = np.array([cp.initial_share for cp in self.params.companies], dtype=np.float64)
        adopters = bernoulli_indices(rng, c.n, self.params.market.initial_adoption)
        if adopters.size and weights.sum() > 0:
            chosen = rng.choice(len(weights), size=adopters.size, p=weights / weights.sum()).astype(
                np.int8
            )
            c.provider[adopters] = chosen
            c.attitude[chosen, adopters] = self.params.behaviour.attitude.initial_customer
            c.record_providers(adopters, chosen)
            # Day-0 customers have been customers for up to three years already (assumption).
            c.join_day[adopters] = -rng.integers(0, 3 * 365, size=adopters.size, dtype=np.int32)
            self.customer_counts[:] = np.bincount(chosen, minlength=len(weights))
            self.update_neighbor_counts(adopters, None, chosen)

    def update_neighbor_counts(
        self, who: np.ndarray, old: np.ndarray | None, new: np.ndarray | None
    ) -> None:
        """Tell the contacts of ``who`` that their provider changed from ``old`` to ``new`` (-1 = none)."""
        counts = self.customers.neighbor_customers
        if counts is None or who.size == 0:
            return
        # In chunks, so that day 0 (most people change at once) needs no more memory than a day.
        chunk = 65_536
        for start in range(0, who.size, chunk):
            part = slice(start, start + chunk)
            self._count_contacts(
                who[part], None if old is None else old[part], None if new is None else new[part]
            )

    def _count_contacts(
        self, who: np.ndarray, old: np.ndarray | None, new: np.ndarray | None
    ) -> None:
        counts = self.customers.neighbor_customers
        assert counts is not None
        deg, contacts = self.network.contacts(who)
        flat = counts.reshape(-1)
        n = self.customers.n
        for providers, change in ((old, np.subtract), (new, np.add)):
            if providers is None:
                continue
            served = providers >= 0
            if not served.any():
                continue
            keys = np.repeat(providers * np.int64(n), deg) + contacts
            if not served.all():  # a leaver to no one, or an adopter from no one
                keys = keys[np.repeat(served, deg)]
            # ufunc.at is unbuffered, so a contact counted twice in one call is counted twice.
            change.at(flat, keys, 1)

    # ------------------------------------------------------------------ the day

    def step(self) -> None:
        """Simulate one day."""
        if self.day >= self.params.market.days:
            self.running = False
            return
        self.day += 1
        run_day(self)
        for on_day in self._day_watchers:
            on_day(self)
        if self.day >= self.params.market.days:
            self.running = False

    def run(
        self, days: int | None = None, progress: Callable[[int, int], None] | None = None
    ) -> Market:
        """Run ``days`` more days (default: to the end); ``progress(day, last_day)`` is called daily."""
        last = (
            self.params.market.days
            if days is None
            else min(self.params.market.days, self.day + days)
        )
        while self.day < last:
            self.step()
            if progress is not None:
                progress(self.day, last)
        return self

    # ------------------------------------------------------------------ events

    def experience(
        self,
        event: Event,
        customers: np.ndarray,
        companies: np.ndarray | int,
        strength: np.ndarray | None = None,
    ) -> None:
        """Record that ``customers`` had ``event`` with ``companies`` today (moves attitude)."""
        if customers.size == 0:
            return
        if self.today.closed:
            raise RuntimeError(
                f"{event.name}: experiences must be reported before the attitude stage"
            )
        self.today.experiences.append((int(event), customers, companies, strength))
        for listener in self._listeners[int(event)]:
            listener(self.day, event, customers, companies)

    def log(
        self,
        event: Event,
        customers: np.ndarray,
        companies: np.ndarray | int,
        where: np.ndarray | None = None,
    ) -> None:
        """Record an event that does not move attitude: only observers that listen to it see it.

        ``where`` (a mask over ``customers``) selects whom it happened to; the
        selection is only made when someone listens.
        """
        listeners = self._listeners[int(event)]
        if not listeners:
            return
        if where is not None:
            customers = customers[where]
            if not isinstance(companies, int | np.integer):
                companies = companies[where]
        if customers.size == 0:
            return
        for listener in listeners:
            listener(self.day, event, customers, companies)

    # ------------------------------------------------------------------ derived

    def results_frame(self) -> pd.DataFrame:
        """Tidy daily results: one row per day and company."""
        return self.results.to_frame()

    def summary(self) -> pd.DataFrame:
        """Whole-run figures per company (see :func:`cxsim.summary.summarize`)."""
        return summarize(self.results_frame(), self.params)

    def _repr_html_(self) -> str:
        """The market at a glance, for notebooks: its size, its day, and its figures so far."""
        from cxsim import report

        p = self.params
        head = (
            f"<p><b>Market</b>: {p.market.customers:,} people, {len(self.companies)} companies, "
            f"day {self.day:,} of {p.market.days:,}, seed {p.market.seed}, replication "
            f"{self.replication}.</p>"
        )
        if self.day == 0:
            return head + "<p>Not run yet: call <code>run()</code>.</p>"
        return head + report.market_table(self.summary())

    def journey_frame(self) -> pd.DataFrame:
        """The journey log of the sampled customers: day, customer, company, event."""
        return self.journey.to_frame([c.name for c in self.companies])

    @property
    def prospects(self) -> int:
        """People who are nobody's customer."""
        return int(np.count_nonzero(self.customers.provider == PROSPECT))
