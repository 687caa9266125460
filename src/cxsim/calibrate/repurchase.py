"""Repurchase by complaint outcome (TARP's table): the classification rule, counted online or from a log.

TARP's table (as widely reproduced) gives the share of customers who buy again
by what happened to their problem: for losses under $5, did not complain 37%,
complained and not satisfied 46%, complained and satisfied 70%, satisfied
quickly 95%; for losses over $100, 9%, 19%, 54%, 82%.

**The rule.** For each ``problem_minor`` event (small loss) of customer i with
company k on day d, the outcome is

* *did not complain*: no ``complained`` event of i on day d (voice is decided
  the day of the problem); its outcome is the problem itself;
* otherwise the first later event of i among ``fixed``, ``complaint_ignored``
  and ``broken_promise``: ``fixed`` with a ``fixed_quickly`` of i the same day
  is *satisfied quickly*, ``fixed`` alone *satisfied*, the other two *not
  satisfied*. A complaint with no such event before i leaves, switches or has
  its next problem (which makes a pending callback void) is censored.

Repurchase: the first of i's ``purchase``, ``left`` and ``switched_out`` events
after the outcome is a ``purchase`` with k. A day's purchases happen before its
problems and complaint handling, and its departures after them, so this is a
purchase strictly after the outcome day, and a departure later on the outcome
day counts as not buying again. Problems with no such later event are
censored. Large losses are classified the same way on ``problem_serious``.

**Two implementations of the one rule.** :class:`RepurchaseCounter` is an
observer (:class:`cxsim.model.Observer`) that counts as events happen, so a
calibration trial needs no journey log; :func:`classify` reads a journey log
(vectorised), for experiments that keep one. ``tests/test_calibrate_repurchase.py``
checks that both give the same counts on the same run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cxsim.events import Event

if TYPE_CHECKING:
    from cxsim.model import Market

#: Outcome classes, in TARP's order; codes are their positions.
CLASSES = (
    "did not complain",
    "complained, not satisfied",
    "complained, satisfied",
    "satisfied quickly",
)
SILENT, NOT_SATISFIED, SATISFIED, QUICK = range(4)
CENSORED = -1

#: TARP repurchase shares by class: losses under $5 (small) and over $100 (large).
TARP_SMALL = (0.37, 0.46, 0.70, 0.95)
TARP_LARGE = (0.09, 0.19, 0.54, 0.82)

#: Problem events by loss size.
PROBLEMS = {"minor": Event.problem_minor, "serious": Event.problem_serious}

_OUTCOMES = (Event.fixed, Event.complaint_ignored, Event.broken_promise)
#: Events after which a pending complaint can no longer get its outcome.
_VOIDS = (Event.left, Event.switched_out, Event.problem_minor, Event.problem_serious)
_NEXT_STEP = (Event.purchase, Event.left, Event.switched_out)


# --------------------------------------------------------------------------- online


#: Where a customer's latest problem stands (one record per customer: a new problem
#: always follows a purchase, which settles the previous problem's repurchase).
NONE, VOICE, AWAIT_OUTCOME, FIXED_TODAY, AWAIT_REPURCHASE = range(5)


class RepurchaseCounter:
    """Counts problems and repurchases by outcome class as events happen (an observer).

    Per company, loss size (``minor``, ``serious``), class and day of the problem it
    keeps the cases whose outcome and repurchase are known and how many of them bought
    again, so any window of problem days can be read afterwards (:meth:`table`).
    Problems whose complaint never got an outcome, or whose repurchase is not known
    when the run ends, are counted as censored and left out of the shares, as in
    :func:`rates`.
    """

    listens_to = (
        Event.purchase,
        Event.problem_minor,
        Event.problem_serious,
        Event.complained,
        Event.fixed,
        Event.fixed_quickly,
        Event.complaint_ignored,
        Event.broken_promise,
        Event.left,
        Event.switched_out,
    )

    def attach(self, market: Market) -> None:
        """Allocate one record per person and counts per company, loss size, class and day."""
        self.allocate(market.customers.n, market.params.market.days, len(market.companies))

    def allocate(self, n: int, days: int, k: int) -> None:
        """Room for ``n`` people, ``days`` days and ``k`` companies."""
        self.state = np.zeros(n, dtype=np.int8)
        self.company = np.zeros(n, dtype=np.int8)
        self.day = np.zeros(n, dtype=np.int32)
        self.kind = np.zeros(n, dtype=np.int8)  # 0 minor, 1 serious
        self.outcome = np.zeros(n, dtype=np.int8)
        self.cases = np.zeros((k, 2, len(CLASSES), days + 1), dtype=np.int64)
        self.bought = np.zeros_like(self.cases)
        self.censored_outcome = np.zeros((k, 2, days + 1), dtype=np.int64)
        self._handlers = {
            Event.purchase: self._purchase,
            Event.problem_minor: lambda day, who, comp: self._problem(day, who, comp, 0),
            Event.problem_serious: lambda day, who, comp: self._problem(day, who, comp, 1),
            Event.complained: self._complained,
            Event.fixed: self._fixed,
            Event.fixed_quickly: self._fixed_quickly,
            Event.complaint_ignored: self._not_satisfied,
            Event.broken_promise: self._not_satisfied,
            Event.left: self._departed,
            Event.switched_out: self._departed,
        }

    def on_event(
        self, day: int, event: Event, customers: np.ndarray, companies: np.ndarray | int
    ) -> None:
        """Move the records of ``customers`` on by ``event``, in the order events happen."""
        comp = np.broadcast_to(np.asarray(companies, dtype=np.int8), customers.shape)
        handler = self._handlers[event]
        # Stages report customers in increasing order (a cheap proof that none comes twice).
        if (customers[1:] > customers[:-1]).all() or np.unique(customers).size == customers.size:
            handler(day, customers, comp)
            return
        for j in range(customers.size):  # one customer twice in one call: in order, one by one
            handler(day, customers[j : j + 1], comp[j : j + 1])

    def on_day(self, market: Market) -> None:
        """At the day's end a problem with no complaint was silent, and a fix had its chance to be quick."""
        silent = self.state == VOICE
        self.outcome[silent] = SILENT
        self.state[silent | (self.state == FIXED_TODAY)] = AWAIT_REPURCHASE

    # ------------------------------------------------------------------ the rule

    def _settle_silent(self, who: np.ndarray) -> None:
        """A problem of today without a complaint, seen after the voice stage, was silent."""
        silent = who[self.state[who] == VOICE]
        self.outcome[silent] = SILENT
        self.state[silent] = AWAIT_REPURCHASE

    def _problem(self, day: int, who: np.ndarray, comp: np.ndarray, kind: int) -> None:
        # A complaint still waiting for its outcome is void. (A record awaiting its
        # repurchase cannot be here: the purchase that brought this problem settled it.)
        void = who[self.state[who] == AWAIT_OUTCOME]
        np.add.at(
            self.censored_outcome,
            (self.company[void].astype(np.intp), self.kind[void], self.day[void]),
            1,
        )
        self.state[who] = VOICE
        self.company[who] = comp
        self.day[who] = day
        self.kind[who] = kind

    def _complained(self, day: int, who: np.ndarray, comp: np.ndarray) -> None:
        voiced = who[(self.state[who] == VOICE) & (self.day[who] == day)]
        self.state[voiced] = AWAIT_OUTCOME

    def _fixed(self, day: int, who: np.ndarray, comp: np.ndarray) -> None:
        self._settle_silent(who)
        fixed = who[self.state[who] == AWAIT_OUTCOME]
        self.state[fixed] = FIXED_TODAY
        self.outcome[fixed] = SATISFIED

    def _fixed_quickly(self, day: int, who: np.ndarray, comp: np.ndarray) -> None:
        quick = who[self.state[who] == FIXED_TODAY]
        self.outcome[quick] = QUICK

    def _not_satisfied(self, day: int, who: np.ndarray, comp: np.ndarray) -> None:
        self._settle_silent(who)
        unhappy = who[self.state[who] == AWAIT_OUTCOME]
        self.state[unhappy] = AWAIT_REPURCHASE
        self.outcome[unhappy] = NOT_SATISFIED

    def _departed(self, day: int, who: np.ndarray, comp: np.ndarray) -> None:
        self._settle_silent(who)
        state = self.state[who]
        void = who[state == AWAIT_OUTCOME]
        np.add.at(
            self.censored_outcome,
            (self.company[void].astype(np.intp), self.kind[void], self.day[void]),
            1,
        )
        self.state[void] = NONE
        gone = who[(state == FIXED_TODAY) | (state == AWAIT_REPURCHASE)]
        self._settle(gone, np.zeros(gone.size, dtype=bool))

    def _purchase(self, day: int, who: np.ndarray, comp: np.ndarray) -> None:
        self._settle_silent(who)
        waiting = self.state[who] == AWAIT_REPURCHASE
        buyers = who[waiting]
        self._settle(buyers, comp[waiting] == self.company[buyers])

    def _settle(self, who: np.ndarray, bought: np.ndarray) -> None:
        """Count the problems of ``who`` as cases of their class, bought again or not."""
        if who.size == 0:
            return
        where = (
            self.company[who].astype(np.intp),
            self.kind[who],
            self.outcome[who],
            self.day[who],
        )
        np.add.at(self.cases, where, 1)
        np.add.at(self.bought, where, bought.astype(np.int64))
        self.state[who] = NONE

    # ------------------------------------------------------------------ reading

    def table(
        self,
        loss: str = "minor",
        *,
        company: int | None = None,
        from_day: int = 1,
        to_day: int | None = None,
    ) -> pd.DataFrame:
        """Cases and repurchase share per class, for problems of days ``from_day..to_day`` (inclusive).

        Args:
            loss: ``minor`` (small losses) or ``serious`` (large losses).
            company: one company's problems (its index), or all companies' (``None``).
            from_day: first problem day counted.
            to_day: last problem day counted (default: the last day).

        Returns:
            One row per class: ``cases``, ``bought_again``, ``repurchase`` (NaN without cases),
            ``censored`` (problems of the class whose repurchase is not known at the end;
            problems whose complaint got no outcome are in :meth:`censored_outcomes`).

        """
        kind = _kind(loss)
        days = slice(from_day, None if to_day is None else to_day + 1)
        companies = slice(None) if company is None else slice(company, company + 1)
        cases = self.cases[companies, kind, :, days].sum(axis=(0, 2))
        bought = self.bought[companies, kind, :, days].sum(axis=(0, 2))
        pending = self._pending(kind, company, from_day, to_day)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(cases > 0, bought / np.maximum(cases, 1), np.nan)
        return pd.DataFrame(
            {"cases": cases, "bought_again": bought, "repurchase": share, "censored": pending},
            index=pd.Index(CLASSES, name="class"),
        )

    def censored_outcomes(
        self,
        loss: str = "minor",
        *,
        company: int | None = None,
        from_day: int = 1,
        to_day: int | None = None,
    ) -> int:
        """Complaints about problems of days ``from_day..to_day`` that never got an outcome."""
        kind = _kind(loss)
        days = slice(from_day, None if to_day is None else to_day + 1)
        companies = slice(None) if company is None else slice(company, company + 1)
        void = int(self.censored_outcome[companies, kind, days].sum())
        waiting = self._records(kind, company, from_day, to_day) & (self.state == AWAIT_OUTCOME)
        return void + int(np.count_nonzero(waiting))

    def _records(
        self, kind: int, company: int | None, from_day: int, to_day: int | None
    ) -> np.ndarray:
        mask = (self.kind == kind) & (self.day >= from_day) & (self.state != NONE)
        if to_day is not None:
            mask &= self.day <= to_day
        if company is not None:
            mask &= self.company == company
        return mask

    def _pending(
        self, kind: int, company: int | None, from_day: int, to_day: int | None
    ) -> np.ndarray:
        """Per class, problems with a known outcome whose repurchase is not known yet."""
        mask = self._records(kind, company, from_day, to_day)
        silent = mask & (self.state == VOICE)
        waiting = mask & ((self.state == FIXED_TODAY) | (self.state == AWAIT_REPURCHASE))
        counts = np.bincount(self.outcome[waiting], minlength=len(CLASSES))[: len(CLASSES)]
        counts[SILENT] += int(np.count_nonzero(silent))
        return counts


def _kind(loss: str) -> int:
    if loss not in PROBLEMS:
        raise ValueError(f"loss must be one of {', '.join(PROBLEMS)}, got {loss!r}")
    return 0 if loss == "minor" else 1


# --------------------------------------------------------------------------- from a journey log


def _next_of(
    positions: np.ndarray, after: np.ndarray, customer: np.ndarray, who: np.ndarray
) -> np.ndarray:
    """Per query, the first of ``positions`` (sorted) beyond ``after`` held by the same customer; -1 if none."""
    out = np.full(after.size, -1, dtype=np.int64)
    if positions.size == 0 or after.size == 0:
        return out
    i = np.searchsorted(positions, after, side="right")
    inside = i < positions.size
    candidate = positions[np.minimum(i, positions.size - 1)]
    ok = inside & (customer[candidate] == who)
    out[ok] = candidate[ok]
    return out


def classify(
    day: np.ndarray,
    customer: np.ndarray,
    company: np.ndarray,
    event: np.ndarray,
    problem: Event = Event.problem_minor,
) -> pd.DataFrame:
    """Outcome class and repurchase of every ``problem`` event in a journey log (vectorised).

    Args:
        day: the log's day column, in log order (as are the next three).
        customer: customer ids.
        company: company indices.
        event: ``Event`` codes.
        problem: ``Event.problem_minor`` (small losses) or ``Event.problem_serious`` (large).

    Returns:
        One row per problem: ``customer``, ``company``, ``day``, ``outcome`` (class code, or -1
        when a complaint never got its outcome), ``outcome_day`` and ``repurchased`` (1 bought
        again, 0 left first, -1 censored: nothing more logged, or the outcome is censored).

    """
    order = np.argsort(np.asarray(customer), kind="stable")  # by customer, then log order
    cust = np.asarray(customer, dtype=np.int64)[order]
    days = np.asarray(day, dtype=np.int64)[order]
    comp = np.asarray(company, dtype=np.int64)[order]
    ev = np.asarray(event, dtype=np.int64)[order]

    def where(*kinds: Event) -> np.ndarray:
        return np.flatnonzero(np.isin(ev, [int(k) for k in kinds]))

    p = where(problem)
    who = cust[p]
    # Voice is decided the day of the problem, right after it.
    said = _next_of(where(Event.complained), p, cust, who)
    complained = (said >= 0) & (days[np.maximum(said, 0)] == days[p])

    outcome_pos = p.copy()
    outcome = np.full(p.size, SILENT, dtype=np.int64)
    o = _next_of(where(*_OUTCOMES), p, cust, who)
    void = _next_of(where(*_VOIDS), p, cust, who)
    resolved = complained & (o >= 0) & ((void < 0) | (o < void))
    outcome[complained] = CENSORED
    outcome_pos[resolved] = o[resolved]
    kind = ev[o[resolved]]
    quickly = _next_of(where(Event.fixed_quickly), o[resolved], cust, who[resolved])
    quick = (quickly >= 0) & (days[np.maximum(quickly, 0)] == days[o[resolved]])
    outcome[resolved] = np.where(
        kind == int(Event.fixed), np.where(quick, QUICK, SATISFIED), NOT_SATISFIED
    )

    nxt = _next_of(where(*_NEXT_STEP), outcome_pos, cust, who)
    found = nxt[nxt >= 0]
    repurchased = np.full(p.size, CENSORED, dtype=np.int64)
    repurchased[nxt >= 0] = (ev[found] == int(Event.purchase)) & (comp[found] == comp[p][nxt >= 0])
    repurchased[outcome == CENSORED] = CENSORED
    return pd.DataFrame(
        {
            "customer": who,
            "company": comp[p],
            "day": days[p],
            "outcome": outcome,
            "outcome_day": np.where(outcome == CENSORED, -1, days[outcome_pos]),
            "repurchased": repurchased,
        }
    )


def classify_frame(log: pd.DataFrame, problem: Event = Event.problem_minor) -> pd.DataFrame:
    """:func:`classify` on a table with ``day``, ``customer``, ``company``, ``event`` (names or codes)."""
    event = log["event"]
    if not pd.api.types.is_integer_dtype(event):
        event = event.map({e.name: int(e) for e in Event})
    company = log["company"]
    if not pd.api.types.is_integer_dtype(company):
        company = pd.Series(pd.factorize(company)[0], index=log.index)
    return classify(
        log["day"].to_numpy(),
        log["customer"].to_numpy(),
        company.to_numpy(),
        event.to_numpy(),
        problem,
    )


def rates(problems: pd.DataFrame) -> pd.DataFrame:
    """Cases and repurchase share per outcome class (censored problems left out)."""
    known = problems[(problems["outcome"] >= 0) & (problems["repurchased"] >= 0)]
    g = known.groupby("outcome")["repurchased"]
    out = pd.DataFrame({"cases": g.size(), "repurchase": g.mean()}).reindex(range(len(CLASSES)))
    out["cases"] = out["cases"].fillna(0).astype(int)
    out.index = pd.Index(CLASSES, name="class")
    return out
