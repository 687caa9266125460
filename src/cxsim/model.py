"""The market: a ``mesa.Model`` with companies as agents and customers as columns."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import mesa
import numba
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
from cxsim.rng import Streams, bernoulli_indices, fresh_seed, root_seed
from cxsim.summary import FIGURES, figures_to_date, summarize


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
    and ``get_model_vars_dataframe`` work. Reporters:

    * ``day``, ``seed`` and ``replication`` (the run: ``Market(seed=s, replication=r)``
      runs it again), ``prospects``;
    * ``<metric>_<company>``: the day's value of every daily metric of
      :data:`cxsim.results.METRICS` (``profit_managing`` is that day's profit);
    * ``run_<figure>_<company>``: the whole-run figures of :data:`cxsim.summary.FIGURES`
      from day 0 to that day, as :meth:`Market.summary` gives them at the end
      (``run_profit_managing`` is the cumulative profit, ``run_retention_managing``
      the share of day-0 customers kept).
    """

    def __init__(self, model: Market) -> None:
        super().__init__()
        self._model = model
        self._to_date: tuple[int, dict[str, np.ndarray]] | None = None

    def collect(self, model: mesa.Model) -> None:
        """Nothing to do: the accounts stage already wrote today's row."""

    @property
    def model_vars(self) -> dict[str, Any]:  # type: ignore[override]
        """Reporter name -> values per collected step (views of the results)."""
        model = self._model
        res = model.results
        last = res.last_day
        seed = model.params.market.seed
        out: dict[str, Any] = {
            "day": np.arange(1, last + 1),
            "seed": np.full(last, seed, dtype=np.int64 if seed < 2**63 else object),
            "replication": np.full(last, model.replication),
            "prospects": res.prospects[1 : last + 1],
        }
        for k, name in enumerate(res.company_names):
            for j, metric in enumerate(METRICS):
                out[f"{metric}_{name}"] = res.values[1 : last + 1, k, j]
        figures = self._figures_to_date()
        for k, name in enumerate(res.company_names):
            for figure in FIGURES:
                out[f"run_{figure}_{name}"] = figures[figure][1 : last + 1, k]
        return out

    @model_vars.setter
    def model_vars(self, value: Any) -> None:
        # mesa.DataCollector.__init__ assigns an empty dict; the property above replaces it.
        pass

    @property
    def _collection_steps(self) -> list[int]:
        """The step after which each row was collected (Mesa 3.5's batch_run reads rows by it)."""
        return list(range(1, self._model.results.last_day + 1))

    @_collection_steps.setter
    def _collection_steps(self, value: Any) -> None:
        # Mesa 3.5's DataCollector.__init__ assigns an empty list; the property above replaces it.
        pass

    def _figures_to_date(self) -> dict[str, np.ndarray]:
        """The run-level figures of every day so far, computed once per day reached."""
        res = self._model.results
        if self._to_date is None or self._to_date[0] != res.last_day:
            values = res.values[: res.last_day + 1]
            self._to_date = (res.last_day, figures_to_date(values, self._model.params))
        return self._to_date[1]

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """One row per collected step (day 1, 2, ...), one column per reporter."""
        return pd.DataFrame(self.model_vars)


def _seeded(
    params: ModelParams | dict[str, Any] | None, overrides: dict[str, Any], seed: Any, rng: Any
) -> ModelParams:
    """The market's parameters with its root seed: given (``seed``, ``rng``, ``market.seed``) or fresh."""
    if seed is not None and rng is not None:
        raise ValueError("Market(...): give seed or rng, not both (as mesa.Model)")
    given = seed if seed is not None else rng
    if given is not None and "market.seed" in overrides:
        raise ValueError(
            "Market(...): the seed is given twice; give seed=, rng= or market.seed, not two of them"
        )
    if overrides or not isinstance(params, ModelParams):
        params = resolve(params, overrides, label="Market(...)", default_seed=None)
    root = root_seed(given) if given is not None else params.market.seed
    if root is None:
        root = fresh_seed()
    if root != params.market.seed:
        params = resolve(params, {"market.seed": root}, label="Market(...)")
    return params


class Market(mesa.Model):
    """A market of customers on a social network, served by companies with complaint policies.

    Create it from a :class:`~cxsim.params.ModelParams`, a plain dict of the same
    shape, or keyword overrides with dotted keys::

        Market(**{"market.customers": 5000, "companies.0.policy.refund_rule": "never"})

    One :meth:`step` is one day (the stages in :data:`cxsim.day.DAY`); :meth:`run`
    runs all days. Results are in :meth:`results_frame`.

    A run is named by its root seed (``market.seed``) and its ``replication``:
    replication ``r`` of a scenario is the same run whichever command runs it
    (:mod:`cxsim.rng`). The seed is given as Mesa models take it, ``Market(seed=3)``
    or ``Market(rng=...)``, or as the parameter ``market.seed``; a market given no
    seed at all draws a fresh one, as a ``mesa.Model`` does, and records it in
    ``params.market.seed`` (so ``mesa.batch_run``'s iterations are different runs,
    each of which can be run again).

    Args:
        params: parameters; ``None`` means the defaults.
        replication: which replication of the root seed this run is (0, 1, ...).
        base_dir: folder against which a relative network file path is resolved.
        observers: watch the run (see :class:`Observer`); a journey log of
            ``journey.sample_size`` people is added when that is set.
        seed: the root seed (replaces ``market.seed``), as ``mesa.Model`` takes it.
        rng: a seed-like or a ``numpy.random.Generator`` to draw the root seed from, as
            ``mesa.Model`` takes it (see :func:`cxsim.rng.root_seed`); not with ``seed``.
        **overrides: dotted-key overrides applied on top of ``params``.

    Raises:
        ValueError: ``seed`` and ``rng`` both given, or given with a ``market.seed`` override.

    """

    def __init__(
        self,
        params: ModelParams | dict[str, Any] | None = None,
        *,
        replication: int = 0,
        base_dir: str | Path | None = None,
        observers: Iterable[Any] = (),
        seed: Any = None,
        rng: Any = None,
        **overrides: Any,
    ) -> None:
        params = _seeded(params, overrides, seed, rng)
        if replication < 0:
            raise ValueError(f"replication must be 0 or more, got {replication}")
        # Mesa's own generators (unused by cxsim's stages) get the root seed too.
        super().__init__(rng=params.market.seed)
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
        for providers, step in ((old, -1), (new, 1)):
            if providers is not None:
                shift_contact_counts(
                    counts, self.network.indptr, self.network.indices, who, providers, step
                )

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


@numba.njit(cache=True, nogil=True)
def shift_contact_counts(
    counts: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    who: np.ndarray,
    providers: np.ndarray,
    step: int,
) -> None:
    """Add ``step`` to ``counts[providers[j], c]`` for every contact ``c`` of ``who[j]`` with a provider.

    ``counts[k, c]`` is how many of ``c``'s contacts are ``k``'s customers; ``providers[j] = -1``
    (no provider: a leaver to no one, an adopter from no one) changes nothing. A contact met
    twice (two changers who share it) is counted twice. Whole numbers: the order of additions
    does not matter.
    """
    for j in range(who.size):
        k = providers[j]
        if k < 0:
            continue
        person = who[j]
        for e in range(indptr[person], indptr[person + 1]):
            counts[k, indices[e]] += step
