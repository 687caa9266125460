"""Shared helpers: small markets built from dotted-key overrides."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cxsim import Market
from cxsim.day import Today

QUIET = {
    # A market where nothing happens unless a test switches it on.
    "market.advertising_rate": 0.0,
    "market.imitation_rate": 0.0,
    "market.referral_probability": 0.0,
    "behaviour.retention.max_churn_per_year": 0.0,
    "behaviour.retention.base_churn_per_year": 0.0,
    "behaviour.word_of_mouth.negative_review_probability": 0.0,
    "behaviour.word_of_mouth.positive_review_probability": 0.0,
}


def make_market(
    customers: int = 2000, days: int = 30, quiet: bool = False, **overrides: Any
) -> Market:
    """A small market; ``quiet`` turns off adoption, leaving and reviews."""
    settings: dict[str, Any] = {"market.customers": customers, "market.days": days}
    if quiet:
        settings.update(QUIET)
    settings.update(overrides)
    return Market(**settings)


def one_company(policy: str | dict[str, Any] = "fix", **company: Any) -> list[dict[str, Any]]:
    """A ``companies`` list with a single company."""
    return [{"name": "solo", "policy": policy, **company}]


def open_issues(
    model: Market, who: np.ndarray, day: int, *, at_fault: bool = True, serious: bool = False
) -> None:
    """Give customers ``who`` an open problem that started on ``day``."""
    c = model.customers
    c.issue[who] = 1
    c.issue_day[who] = day
    c.issue_fault[who] = at_fault
    c.issue_serious[who] = serious


def begin_day(model: Market, day: int) -> None:
    """Set the model to the start of ``day`` with an empty scratch pad."""
    model.day = day
    model.today = Today()


@pytest.fixture
def market() -> Market:
    return make_market()
