"""TARP's repurchase-by-outcome rule (cxsim.calibrate.repurchase), online and from a journey log.

First on a hand-made journey log: a few customers' journeys written out event
by event, in the order the engine logs them (day by day; within a day,
purchases, problems, voice, responses, then departures), with customers
interleaved. The log classifier and the online counter (fed the same events in
the same order) must agree on it. Then on real runs: the online counts equal
the journey-log classification of the same run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxsim import scenario
from cxsim.calibrate.repurchase import (
    CENSORED,
    CLASSES,
    NOT_SATISFIED,
    PROBLEMS,
    QUICK,
    SATISFIED,
    SILENT,
    RepurchaseCounter,
    classify,
    classify_frame,
    rates,
)
from cxsim.events import Event
from cxsim.params import resolve
from cxsim.run import run_market

# (day, customer, event), all with the one company "shop".
JOURNEYS = [
    # day 5: purchases, problems, voice, responses, departures
    (5, 1, "purchase"),
    (5, 2, "purchase"),
    (5, 3, "purchase"),
    (5, 4, "purchase"),
    (5, 5, "purchase"),
    (5, 6, "purchase"),
    (5, 7, "purchase"),
    (5, 9, "purchase"),
    (5, 10, "purchase"),
    (5, 12, "purchase"),
    (5, 1, "problem_minor"),
    (5, 2, "problem_minor"),
    (5, 3, "problem_minor"),
    (5, 4, "problem_minor"),
    (5, 5, "problem_minor"),
    (5, 6, "problem_minor"),
    (5, 7, "problem_minor"),
    (5, 9, "problem_minor"),
    (5, 10, "problem_minor"),
    (5, 12, "problem_minor"),
    (5, 2, "complained"),
    (5, 3, "complained"),
    (5, 4, "complained"),
    (5, 5, "complained"),
    (5, 6, "complained"),
    (5, 9, "complained"),
    (5, 10, "complained"),
    (5, 12, "complained"),
    (5, 1, "stayed_silent"),
    (5, 7, "stayed_silent"),
    (5, 2, "fixed"),
    (5, 9, "fixed"),
    (5, 10, "fixed"),
    (5, 2, "fixed_quickly"),
    (5, 10, "fixed_quickly"),  # customer 10's, not customer 9's
    (5, 4, "complaint_ignored"),
    (5, 3, "callback_promised"),
    (5, 5, "callback_promised"),
    (5, 6, "callback_promised"),
    (5, 12, "callback_promised"),
    (5, 4, "left"),  # the same day, after the outcome: did not buy again
    # later days
    (8, 5, "purchase"),  # before customer 5's outcome: does not count
    (8, 12, "purchase"),
    (8, 12, "problem_serious"),  # a new problem voids customer 12's pending call-back
    (8, 12, "stayed_silent"),
    (9, 6, "left"),  # leaves before its call-back: outcome unknown
    (9, 10, "purchase"),
    (11, 9, "switched_out"),
    (12, 3, "callback_kept"),
    (12, 3, "fixed"),
    (12, 5, "broken_promise"),
    (13, 5, "purchase"),
    (20, 1, "purchase"),
    (30, 2, "left"),
    (40, 3, "purchase"),
    (50, 6, "joined"),
    (50, 6, "purchase"),
    (50, 6, "problem_minor"),
    (50, 6, "complained"),
    (50, 6, "fixed"),
    (50, 6, "fixed_quickly"),
    (60, 12, "purchase"),
]


@pytest.fixture
def log() -> pd.DataFrame:
    return pd.DataFrame(
        [{"day": d, "customer": c, "company": "shop", "event": e} for d, c, e in JOURNEYS]
    )


@pytest.fixture
def minor(log: pd.DataFrame) -> pd.DataFrame:
    return classify_frame(log).set_index(["customer", "day"])


def test_one_row_per_problem(minor: pd.DataFrame) -> None:
    assert len(minor) == 11
    assert sorted(minor.index) == sorted(
        [(c, 5) for c in (1, 2, 3, 4, 5, 6, 7, 9, 10, 12)] + [(6, 50)]
    )


def test_silent_problem_then_a_purchase_is_a_repurchase(minor: pd.DataFrame) -> None:
    row = minor.loc[(1, 5)]
    assert (row.outcome, row.outcome_day, row.repurchased) == (SILENT, 5, 1)


def test_quick_fix_then_leaving_is_no_repurchase(minor: pd.DataFrame) -> None:
    row = minor.loc[(2, 5)]
    assert (row.outcome, row.outcome_day, row.repurchased) == (QUICK, 5, 0)


def test_fix_on_a_kept_callback_is_satisfied_not_quickly(minor: pd.DataFrame) -> None:
    row = minor.loc[(3, 5)]
    assert (row.outcome, row.outcome_day, row.repurchased) == (SATISFIED, 12, 1)


def test_leaving_later_on_the_outcome_day_is_no_repurchase(minor: pd.DataFrame) -> None:
    row = minor.loc[(4, 5)]
    assert (row.outcome, row.outcome_day, row.repurchased) == (NOT_SATISFIED, 5, 0)


def test_broken_promise_is_not_satisfied_and_only_purchases_after_it_count(
    minor: pd.DataFrame,
) -> None:
    row = minor.loc[(5, 5)]
    assert (row.outcome, row.outcome_day, row.repurchased) == (NOT_SATISFIED, 12, 1)


def test_complaint_voided_by_leaving_or_a_new_problem_is_censored(minor: pd.DataFrame) -> None:
    for customer in (6, 12):
        row = minor.loc[(customer, 5)]
        assert (row.outcome, row.outcome_day, row.repurchased) == (CENSORED, -1, CENSORED)


def test_nothing_after_the_outcome_censors_the_repurchase(minor: pd.DataFrame) -> None:
    assert minor.loc[(7, 5)].repurchased == CENSORED  # silent, never seen again
    row = minor.loc[(6, 50)]  # came back, quick fix, end of the log
    assert (row.outcome, row.repurchased) == (QUICK, CENSORED)


def test_fixed_quickly_must_be_the_same_customers(minor: pd.DataFrame) -> None:
    assert minor.loc[(9, 5)].outcome == SATISFIED  # switched out next: no repurchase
    assert minor.loc[(9, 5)].repurchased == 0
    assert minor.loc[(10, 5)].outcome == QUICK
    assert minor.loc[(10, 5)].repurchased == 1


def test_serious_problems_are_measured_separately(log: pd.DataFrame) -> None:
    serious = classify_frame(log, Event.problem_serious)
    assert len(serious) == 1
    row = serious.iloc[0]
    assert (row.customer, row.outcome, row.outcome_day, row.repurchased) == (12, SILENT, 8, 1)


def test_rates_leave_out_censored_problems(minor: pd.DataFrame) -> None:
    table = rates(minor.reset_index())
    assert list(table.index) == list(CLASSES)
    assert table["cases"].tolist() == [1, 2, 2, 2]
    assert table["repurchase"].tolist() == [1.0, 0.5, 0.5, 0.5]


def test_log_order_not_customer_order_decides(log: pd.DataFrame) -> None:
    # The same log as raw codes, shuffled across customers but in order within each one.
    codes = log["event"].map({e.name: int(e) for e in Event}).to_numpy()
    rng = np.random.default_rng(0)
    keys = rng.random(len(log))
    # Stable reorder that keeps each customer's events in log order.
    order = np.lexsort((np.arange(len(log)), keys[log["customer"].to_numpy()]))
    shuffled = classify(
        log["day"].to_numpy()[order],
        log["customer"].to_numpy()[order],
        np.zeros(len(log), dtype=np.int64),
        codes[order],
    )
    expected = classify_frame(log)
    cols = ["customer", "day", "outcome", "outcome_day", "repurchased"]
    pd.testing.assert_frame_equal(
        shuffled[cols].sort_values(["customer", "day"]).reset_index(drop=True),
        expected[cols].sort_values(["customer", "day"]).reset_index(drop=True),
    )


# --------------------------------------------------------------------------- online


def counted_online(log: pd.DataFrame) -> RepurchaseCounter:
    """Feed the log's events one by one, in order, to a counter; close each day as the engine does."""
    counter = RepurchaseCounter()
    counter.allocate(int(log["customer"].max()) + 1, int(log["day"].max()), 1)
    for day, events in log.groupby("day", sort=True):
        for row in events.itertuples(index=False):
            if Event[row.event] not in counter.listens_to:
                continue
            counter.on_event(int(day), Event[row.event], np.array([row.customer]), 0)
        counter.on_day(None)  # type: ignore[arg-type]
    return counter


def test_online_counter_agrees_with_the_log_classifier_on_the_hand_made_journeys(
    log: pd.DataFrame,
) -> None:
    counter = counted_online(log)
    for loss, problem in PROBLEMS.items():
        rows = classify_frame(log, problem)
        expected = rates(rows)
        table = counter.table(loss)
        assert table["cases"].tolist() == expected["cases"].tolist()
        np.testing.assert_array_equal(table["repurchase"], expected["repurchase"])
        known = rows["outcome"] >= 0
        pending = rows[known & (rows["repurchased"] == CENSORED)]["outcome"]
        assert table["censored"].tolist() == np.bincount(pending, minlength=4).tolist()
        assert counter.censored_outcomes(loss) == int((rows["outcome"] == CENSORED).sum())


def test_online_counter_counts_each_problem_day_in_its_window(log: pd.DataFrame) -> None:
    counter = counted_online(log)
    assert counter.table("minor", to_day=5)["cases"].sum() == 7  # the day-5 problems settled
    assert counter.table("minor", from_day=6)["cases"].sum() == 0  # customer 6's day-50 one is open


@pytest.mark.parametrize(
    "name", ["tarp_repurchase", "manage_vs_fix", "account_manager", "dealership"]
)
def test_online_counts_equal_the_journey_log_classification_of_the_same_run(name: str) -> None:
    # Every person's journey is logged, so the log holds every event the counter saw.
    people = 1500
    params = resolve(
        scenario.load(name).params,
        {
            "market.customers": people,
            "market.days": 240,
            "journey.sample_size": people,
            "journey.max_events": 2_000_000,
            # Complaints common enough that every outcome class has cases.
            "behaviour.voice.minor": 0.5,
            "behaviour.voice.serious": 0.6,
        },
    )
    counter = RepurchaseCounter()
    market = run_market(params, 0, observers=[counter])
    journey = market.journey
    assert journey.dropped == 0
    events = journey.events[: journey.size]
    compared = np.zeros(len(CLASSES), dtype=int)
    for loss, problem in PROBLEMS.items():
        rows = classify(
            events["day"], events["customer"], events["company"], events["event"], problem
        )
        for k in range(len(market.companies)):
            window = rows[(rows["company"] == k) & (rows["day"] >= 30) & (rows["day"] <= 200)]
            expected = rates(window)
            table = counter.table(loss, company=k, from_day=30, to_day=200)
            assert table["cases"].tolist() == expected["cases"].tolist()
            np.testing.assert_array_equal(table["repurchase"], expected["repurchase"])
            assert counter.censored_outcomes(loss, company=k, from_day=30, to_day=200) == int(
                (window["outcome"] == CENSORED).sum()
            )
            compared += expected["cases"].to_numpy()
    assert compared.sum() > 40  # the runs had problems to classify
    if name == "tarp_repurchase":  # complaints handled on the day: every class is exercised
        assert (compared > 20).all()
