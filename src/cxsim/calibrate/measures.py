"""Named measurements of a run: what a calibration target compares with observed figures.

A target of a calibration file names a measurement and its arguments::

    [[targets]]
    name = "TARP, small losses"
    measure = "tarp_repurchase"
    args = { loss = "minor", from_day = 366, to_day = 730 }

A measurement is a function of a finished run (:class:`Run`) and keyword
arguments, registered with :func:`measurement`. Its arguments are checked
against its signature when the file is loaded (an unknown argument or a value
of the wrong type is one line naming the file and the field), and its
``check`` (if any) against the scenario each target runs in. To add one, write
a function here (or in a module that the workers import too)::

    @measurement(share=True)
    def complaint_share(run: Run, company: int | str | None = None) -> Measured:
        \"\"\"Share of problems voiced to the company.\"\"\"
        problems = run.total("problems", company)
        return Measured([run.total("complaints", company) / problems], sizes=[problems])

A measurement returns one value per *cell* (``cells`` labels them: the four
classes of TARP's table, the days of a daily series; one unlabelled cell by
default), and, where the value is a share of some cases, how many cases it
rests on (``sizes``: shown in the fit table next to the observed sample size).
``share=True`` (or a function of the arguments) says the values are shares in
[0, 1]: binomial likelihoods need it, and intervals are cut to [0, 1].

Measurements that need more than the daily results count online, as events
happen, with an observer (:class:`cxsim.model.Observer`) that the run attaches
before day 1: ``observer=`` builds it from the arguments named in
``observer_args``, and targets of one run that need the same observer share it.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import ConfigDict, ValidationError, create_model

from cxsim.calibrate.repurchase import CLASSES, RepurchaseCounter
from cxsim.events import Event
from cxsim.results import METRIC_INDEX, METRICS
from cxsim.summary import summarize

if TYPE_CHECKING:
    from cxsim.model import Market
    from cxsim.params import ModelParams


@dataclass
class Measured:
    """What a measurement found in one run.

    Attributes:
        values: one value per cell.
        sizes: per cell, the number of cases a share rests on (``None``: not a share of cases).

    """

    values: Sequence[float] | np.ndarray
    sizes: Sequence[float] | np.ndarray | None = None


@dataclass(eq=False)
class Run:
    """A finished run, as a measurement sees it.

    Attributes:
        market: the finished market.
        observer: the measurement's observer (``None`` if it has none).

    """

    market: Market
    observer: Any = None

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """Tidy daily results (:meth:`cxsim.model.Market.results_frame`)."""
        return self.market.results_frame()

    @functools.cached_property
    def summary(self) -> pd.DataFrame:
        """Whole-run figures per company (:func:`cxsim.summary.summarize`)."""
        return summarize(self.frame, self.market.params)

    def company(self, company: int | str | None) -> int | None:
        """A company's index from its index or name (``None``: all companies)."""
        return company_index(self.market.params, company)

    def total(
        self,
        metric: str,
        company: int | str | None = None,
        from_day: int = 1,
        to_day: int | None = None,
    ) -> float:
        """A daily metric summed over days ``from_day..to_day`` and one company (or all)."""
        last = self.market.results.last_day if to_day is None else to_day
        k = self.company(company)
        values = self.market.results.values[from_day : last + 1, :, METRIC_INDEX[metric]]
        return float(values.sum() if k is None else values[:, k].sum())


@dataclass(frozen=True)
class Measurement:
    """A registered measurement (see :func:`measurement`)."""

    name: str
    function: Callable[..., Measured]
    cells: Callable[..., list[str]]
    share: Callable[..., bool]
    observer: Callable[..., Any] | None
    observer_args: tuple[str, ...]
    check: Callable[..., None] | None
    arguments: type = field(repr=False)

    @property
    def doc(self) -> str:
        """The first line of the measurement's docstring."""
        return (inspect.getdoc(self.function) or "").split("\n", 1)[0]

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The arguments, checked against the function's signature (raises pydantic's error)."""
        return self.arguments.model_validate(raw).model_dump()

    def observer_key(self, args: dict[str, Any]) -> tuple[Any, ...] | None:
        """Targets whose keys are equal share one observer in a run (``None``: no observer)."""
        if self.observer is None:
            return None
        return (self.observer, *(repr(args[a]) for a in self.observer_args))

    def make_observer(self, args: dict[str, Any]) -> Any:
        """A fresh observer for one run."""
        assert self.observer is not None
        return self.observer(**{a: args[a] for a in self.observer_args})

    def measure(self, market: Market, observer: Any, args: dict[str, Any]) -> Measured:
        """Measure a finished run: values (and sizes) as float arrays, one per cell."""
        found = self.function(Run(market, observer), **args)
        if not isinstance(found, Measured):
            found = Measured(np.atleast_1d(np.asarray(found, dtype=np.float64)))
        values = np.asarray(found.values, dtype=np.float64).reshape(-1)
        sizes = None if found.sizes is None else np.asarray(found.sizes, np.float64).reshape(-1)
        return Measured(values, sizes)


#: Every measurement, by name.
MEASUREMENTS: dict[str, Measurement] = {}


def measurement(
    *,
    name: str | None = None,
    cells: Sequence[str] | Callable[..., list[str]] | None = None,
    share: bool | Callable[..., bool] = False,
    observer: Callable[..., Any] | None = None,
    observer_args: Sequence[str] = (),
    check: Callable[..., None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a measurement: a function ``(run, **args)`` returning :class:`Measured` or numbers.

    Args:
        name: the name targets use (default: the function's name).
        cells: labels of the values it returns: a list, or a function of the arguments
            (default: one value).
        share: whether the values are shares in [0, 1] (or a function of the arguments).
        observer: builds the observer the run needs, from the arguments in ``observer_args``.
        observer_args: the arguments the observer depends on.
        check: ``check(params, **args)`` raises ``ValueError`` (a message for people) if the
            arguments do not fit the scenario a target runs in (a day past its end, say).

    """

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        key = name or function.__name__
        MEASUREMENTS[key] = Measurement(
            name=key,
            function=function,
            cells=_as_function(cells, lambda **_: [""]),
            share=share if callable(share) else (lambda **_: bool(share)),
            observer=observer,
            observer_args=tuple(observer_args),
            check=check,
            arguments=_arguments_model(key, function),
        )
        return function

    return register


def _as_function(value: Any, default: Callable[..., list[str]]) -> Callable[..., list[str]]:
    if value is None:
        return default
    if callable(value):
        return value
    labels = list(value)
    return lambda **_: labels


def _arguments_model(name: str, function: Callable[..., Any]) -> type:
    """A pydantic model of a measurement's keyword arguments (all but the first, the run)."""
    hints = typing.get_type_hints(function)
    fields: dict[str, Any] = {}
    for parameter in list(inspect.signature(function).parameters.values())[1:]:
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hints.get(parameter.name, Any), default)
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{name}_arguments", __config__=ConfigDict(extra="forbid", strict=True), **fields
    )


def argument_error(error: ValidationError) -> tuple[str, str]:
    """A measurement's argument error as (argument, message for people)."""
    from cxsim.params import describe_error, format_loc

    loc, message = describe_error(error.errors()[0])
    return format_loc(loc), message


# --------------------------------------------------------------------------- checks


def company_index(params: ModelParams, company: int | str | None) -> int | None:
    """A company's index from its index or name (``None``: all companies); ``ValueError`` if none."""
    if company is None:
        return None
    names = [c.name for c in params.companies]
    if isinstance(company, str):
        if company not in names:
            raise ValueError(f"no company named {company!r}; the companies are {', '.join(names)}")
        return names.index(company)
    if not 0 <= company < len(names):
        raise ValueError(f"company {company} does not exist; there are {len(names)} companies")
    return company


def check_days(params: ModelParams, from_day: int = 1, to_day: int | None = None) -> None:
    """``from_day..to_day`` must lie within the run's days 1..market.days."""
    days = params.market.days
    last = days if to_day is None else to_day
    if not 1 <= from_day <= days:
        raise ValueError(f"from_day: expected a day from 1 to {days} (market.days), got {from_day}")
    if not from_day <= last <= days:
        raise ValueError(f"to_day: expected a day from {from_day} to {days}, got {last}")


def check_company(params: ModelParams, company: int | str | None) -> None:
    """``company`` must name a company of the scenario (by index or name), or be ``None`` (all)."""
    try:
        company_index(params, company)
    except ValueError as err:
        raise ValueError(f"company: {err}") from None


def _check_window(
    params: ModelParams,
    company: int | str | None = None,
    from_day: int = 1,
    to_day: int | None = None,
    **_: Any,
) -> None:
    check_company(params, company)
    check_days(params, from_day, to_day)


# --------------------------------------------------------------------------- measurements

#: Figures of :func:`cxsim.summary.summarize` that are shares in [0, 1].
SHARE_FIGURES = frozenset({"retention", "market_share", "delivered_quality"})


def _check_figure(params: ModelParams, figure: str, company: int | str = 0) -> None:
    from cxsim.params import did_you_mean
    from cxsim.sweeps.plan import summary_metric_names

    known = summary_metric_names()
    if figure not in known:
        hint = did_you_mean(figure, known) or f"; expected one of {', '.join(known)}"
        raise ValueError(f"figure: unknown figure {figure!r}{hint}")
    check_company(params, company)


@measurement(
    cells=lambda figure, **_: [figure],
    share=lambda figure, **_: figure in SHARE_FIGURES,
    check=_check_figure,
)
def summary(run: Run, figure: str, company: int | str = 0) -> Measured:
    """A whole-run figure of one company (a column of cxsim.summary.summarize: retention, annual_churn, ...)."""
    k = run.company(company)
    return Measured([float(run.summary[figure].iloc[k])])


def _check_daily(params: ModelParams, metric: str, days: list[int], company: int | str = 0) -> None:
    from cxsim.params import did_you_mean

    if metric not in METRICS:
        hint = did_you_mean(metric, METRICS) or f"; expected one of {', '.join(METRICS)}"
        raise ValueError(f"metric: unknown daily metric {metric!r}{hint}")
    if not days:
        raise ValueError("days: expected at least one day")
    for day in days:
        if not 0 <= day <= params.market.days:
            raise ValueError(
                f"days: expected days from 0 to {params.market.days} (market.days), got {day}"
            )
    check_company(params, company)


@measurement(
    cells=lambda days, **_: [f"day {d}" for d in days],
    share=lambda metric, **_: metric in SHARE_FIGURES,
    check=_check_daily,
)
def daily(run: Run, metric: str, days: list[int], company: int | str = 0) -> Measured:
    """A daily metric of one company (cxsim.results.METRICS) at the given days."""
    k = run.company(company)
    assert k is not None
    series = run.market.results.series(metric, k)
    return Measured(series[np.asarray(days, dtype=np.intp)])


@measurement(
    cells=CLASSES,
    share=True,
    observer=RepurchaseCounter,
    check=_check_window,
)
def tarp_repurchase(
    run: Run,
    loss: Literal["minor", "serious"] = "minor",
    company: int | str | None = None,
    from_day: int = 1,
    to_day: int | None = None,
) -> Measured:
    """Repurchase by complaint outcome (TARP's table) of problems of days from_day..to_day, counted online."""
    counter: RepurchaseCounter = run.observer
    table = counter.table(loss, company=run.company(company), from_day=from_day, to_day=to_day)
    return Measured(table["repurchase"].to_numpy(), sizes=table["cases"].to_numpy())


class ProblemFreeChurn:
    """Counts, per company and day, problem-free customers and those of them who leave (an observer).

    A customer is problem-free on day d if it had no problem (minor or serious) on days
    d - window + 1 .. d; it is at risk on day d if it was a customer at the start of
    the day. Leaving is leaving one's provider: to no one, or to a competitor.
    """

    listens_to = (Event.problem_minor, Event.problem_serious, Event.left, Event.switched_out)

    def __init__(self, window: int = 365) -> None:
        self.window = window

    def attach(self, market: Market) -> None:
        """Allocate the last problem day per person and the daily counts per company."""
        n = market.customers.n
        k = len(market.companies)
        days = market.params.market.days
        self.last_problem = np.full(n, -(10**6), dtype=np.int32)
        self.was_customer_of = market.customers.provider.copy()
        self.exposure = np.zeros((k, days + 1), dtype=np.int64)
        self.leavers = np.zeros((k, days + 1), dtype=np.int64)

    def on_event(
        self, day: int, event: Event, customers: np.ndarray, companies: np.ndarray | int
    ) -> None:
        """Note problems; count the departures of problem-free customers."""
        if event in (Event.problem_minor, Event.problem_serious):
            self.last_problem[customers] = day
            return
        free = self.last_problem[customers] <= day - self.window
        company = np.broadcast_to(np.asarray(companies, dtype=np.intp), customers.shape)[free]
        np.add.at(self.leavers[:, day], company, 1)

    def on_day(self, market: Market) -> None:
        """Count today's problem-free customers at risk; remember who is whose customer now."""
        day = market.day
        was = self.was_customer_of
        free = (was >= 0) & (self.last_problem <= day - self.window)
        self.exposure[:, day] = np.bincount(was[free], minlength=self.exposure.shape[0])
        np.copyto(was, market.customers.provider)

    def rate(self, company: int | None, from_day: int, to_day: int | None) -> tuple[float, float]:
        """(leavers per customer-year, customer-years at risk) over days ``from_day..to_day``."""
        days = slice(from_day, None if to_day is None else to_day + 1)
        rows = slice(None) if company is None else slice(company, company + 1)
        years = self.exposure[rows, days].sum() / 365.0
        leavers = self.leavers[rows, days].sum()
        return (float(leavers / years) if years > 0 else float("nan")), float(years)


def _check_problem_free(
    params: ModelParams,
    window: int = 365,
    company: int | str | None = None,
    from_day: int | None = None,
    to_day: int | None = None,
) -> None:
    if window < 1:
        raise ValueError(f"window: expected a number of days >= 1, got {window}")
    first = window + 1 if from_day is None else from_day
    if first <= window:
        raise ValueError(
            f"from_day: a customer's last {window} days (window) are known only from day "
            f"{window + 1} on, got {first}"
        )
    if first > params.market.days:
        raise ValueError(
            f"from_day: the run ends on day {params.market.days} (market.days), before day {first} "
            f"where the first full window of {window} days is known; run longer or shorten window"
        )
    _check_window(params, company, first, to_day)


@measurement(
    observer=ProblemFreeChurn,
    observer_args=("window",),
    check=_check_problem_free,
)
def problem_free_churn(
    run: Run,
    window: int = 365,
    company: int | str | None = None,
    from_day: int | None = None,
    to_day: int | None = None,
) -> Measured:
    """Leavers per customer-year among customers with no problem in the last window days, counted online (from_day defaults to window + 1)."""
    counter: ProblemFreeChurn = run.observer
    first = window + 1 if from_day is None else from_day
    rate, _ = counter.rate(run.company(company), first, to_day)
    return Measured([rate])


@measurement(check=_check_window)
def market_churn(run: Run, from_day: int = 1, to_day: int | None = None) -> Measured:
    """Annual churn of the market: customers lost by all companies per customer-year (switches count)."""
    last = run.market.results.last_day if to_day is None else to_day
    values = run.market.results.values[from_day : last + 1]
    churned = values[:, :, METRIC_INDEX["churned"]].sum()
    customer_days = values[:, :, METRIC_INDEX["customers"]].sum()
    return Measured([float(churned / customer_days * 365.0) if customer_days else float("nan")])


@measurement(share=True, check=_check_window)
def complaint_share(
    run: Run, company: int | str | None = None, from_day: int = 1, to_day: int | None = None
) -> Measured:
    """Share of problems voiced as complaints (1 / the complaint iceberg's problems per complaint)."""
    problems = run.total("problems", company, from_day, to_day)
    complaints = run.total("complaints", company, from_day, to_day)
    return Measured([complaints / problems if problems else float("nan")], sizes=[problems])


@measurement(share=True, check=_check_window)
def serious_share(
    run: Run, company: int | str | None = None, from_day: int = 1, to_day: int | None = None
) -> Measured:
    """Share of problems that were serious (TARP: 6 of 26)."""
    problems = run.total("problems", company, from_day, to_day)
    serious = run.total("serious_problems", company, from_day, to_day)
    return Measured([serious / problems if problems else float("nan")], sizes=[problems])
