"""The order of the simulated day: the one place it is written.

Reading :data:`DAY` tells the whole model. Each stage is a module of
:mod:`cxsim.stages` with a ``step(model)`` function, and optionally an
``init(model)`` that allocates the stage's own state when a market is built
(after its people, network and companies, in the order of the day), like
starsim's ``init_pre``. Stages pass what happened today to later stages
through :class:`Today`; every daily figure has one writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING

import numpy as np

from cxsim.stages import (
    accounts,
    attitude,
    learning,
    problem,
    purchase,
    response,
    retention,
    voice,
    word_of_mouth,
)

if TYPE_CHECKING:
    from cxsim.model import Market


@dataclass(frozen=True)
class Stage:
    """One stage of the day: a name (also its module's and its random stream's), what it does, and its functions.

    Attributes:
        name: the stage's name, the name of its module in :mod:`cxsim.stages` and of its stream.
        does: what happens in it, in a sentence (for the docs).
        step: runs the stage for one day.
        init: allocates the stage's own state when a market is built (``None``: it has none).

    """

    name: str
    does: str
    step: Callable[[Market], None]
    init: Callable[[Market], None] | None = None


#: The simulated day, in order (the mechanisms of docs/ODD.md section 1.4 in brackets).
DAY: tuple[Stage, ...] = (
    Stage(
        "purchase",
        "customers due to buy, buy from their provider at its price and promise; serving them "
        "costs less the longer they have been customers (1, 9)",
        purchase.step,
        purchase.init,
    ),
    Stage(
        "problem",
        "purchases go wrong: defects, promises above delivery, promotions that cannot be delivered; "
        "minor or serious (1, 2)",
        problem.step,
    ),
    Stage("voice", "customers with a new problem complain or stay silent (3)", voice.step),
    Stage(
        "response",
        "companies answer reviews, handle or queue complaints, keep or break callbacks, send CRM touches (4)",
        response.step,
    ),
    Stage(
        "attitude",
        "the day's experiences move attitudes; attitudes and CRM fatigue fade (5)",
        attitude.step,
        attitude.init,
    ),
    Stage(
        "word_of_mouth",
        "customers tell contacts, retell what they heard, post and read public reviews (6)",
        word_of_mouth.step,
        word_of_mouth.init,
    ),
    Stage(
        "retention",
        "customers due to buy tomorrow buy again or leave (a hazard of how they feel, their loyalty "
        "and the pull of competitors), leavers may switch; prospects adopt by referral, advertising "
        "and imitation (7)",
        retention.step,
        retention.init,
    ),
    Stage(
        "learning",
        "companies that act on complaint data reduce their defect rate (8)",
        learning.step,
    ),
    Stage(
        "accounts",
        "revenue, costs, profit, shares, attitude and NPS are recorded (9)",
        accounts.step,
        accounts.init,
    ),
)


def init_stages(model: Market) -> None:
    """Let every stage allocate its own state, in the order of the day."""
    for stage in DAY:
        if stage.init is not None:
            stage.init(model)


def run_day(model: Market) -> None:
    """Run every stage of one day, in order, adding each stage's wall time to ``model.stage_seconds``."""
    model.today = Today()
    timings = model.stage_seconds
    for stage in DAY:
        start = perf_counter()
        stage.step(model)
        timings[stage.name] = timings.get(stage.name, 0.0) + perf_counter() - start


def _empty(dtype: type = np.int64) -> np.ndarray:
    return np.empty(0, dtype=dtype)


#: What a day starts with: no buyers, problems, complaints or praise (size-0 arrays hold
#: nothing to change, so every day shares them instead of making ten new ones).
_NOTHING = {
    "buyers": _empty(),
    "buyer_company": _empty(np.int8),
    "problem_customers": _empty(),
    "problem_company": _empty(np.int8),
    "problem_serious": _empty(bool),
    "complainers": _empty(),
    "complainer_company": _empty(np.int8),
    "praised_prospects": _empty(),
    "praised_company": _empty(np.int8),
    "praise_strength": _empty(np.float32),
}


class Today:
    """What happened so far today, handed from stage to stage.

    Experiences (events that move attitude) are buffered here by
    :meth:`cxsim.model.Market.experience` and applied by the attitude stage;
    the word-of-mouth stage reads the same first-hand experiences to decide
    who has a story to tell.

    Attributes:
        buyers, buyer_company: today's purchases (int64 people, int8 companies).
        problem_customers, problem_company, problem_serious: purchases that went wrong.
        complainers, complainer_company: problems voiced.
        experiences: (event, customers, company or companies, strengths or None), in order.
        word_of_mouth: what was told and heard today (the word-of-mouth stage's record, for
            observers).
        praised_prospects, praised_company, praise_strength: prospects who heard a contact
            praise a company today, the company and the story's strength (one entry per
            hearing): candidates for adoption by referral.

    """

    def __init__(self) -> None:
        self.__dict__.update(_NOTHING)
        self.experiences: list[tuple[int, np.ndarray, np.ndarray | int, np.ndarray | None]] = []
        self.word_of_mouth: word_of_mouth.WordOfMouthDay | None = None
        self._flat: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def closed(self) -> bool:
        """Whether the attitude stage has taken today's first-hand experiences."""
        return self._flat is not None

    def first_hand(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Today's experiences as flat arrays: events, customers, companies, strengths.

        Called by the attitude stage, after which no first-hand experience is added;
        the word-of-mouth stage reads the same arrays.
        """
        if self._flat is None:
            self._flat = self._flatten()
        return self._flat

    def _flatten(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # Each experience fills its slice of the four columns: an event, its customers, one
        # company or one per customer, and a strength of 1 unless given per customer.
        n = 0
        for _, customers, _, _ in self.experiences:
            n += customers.size
        events = np.empty(n, dtype=np.int8)
        customers = np.empty(n, dtype=np.int64)
        companies = np.empty(n, dtype=np.int8)
        strengths = np.ones(n, dtype=np.float32)
        start = 0
        for event, who, company, strength in self.experiences:
            end = start + who.size
            events[start:end] = event
            customers[start:end] = who
            companies[start:end] = company
            if strength is not None:
                strengths[start:end] = strength
            start = end
        return events, customers, companies, strengths
