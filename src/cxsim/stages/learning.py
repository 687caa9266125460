"""Stage 8, learning: complaints are gifts, for a company that acts on them (mechanism 8 of docs/ODD.md).

A company with ``learning_rate > 0`` traces the causes of the defects its
complaints reveal and removes a share of them. Each day its defect rate is
multiplied by ``1 - learning_rate x complaints / purchases`` (today's
complaints per purchase), and never falls below ``1 - max_quality``. A company
that hears few complaints learns little; a managing company
(``learning_rate = 0``) collects the data and does not act on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cxsim.model import Market


def step(model: Market) -> None:
    """Companies that learn lower their defect rate."""
    complaints = model.results.today("complaints")
    purchases = model.results.today("purchases")
    for company in model.companies:
        rate = company.policy.learning_rate
        k = company.index
        if rate <= 0 or purchases[k] <= 0:
            continue
        factor = max(0.0, 1.0 - rate * complaints[k] / purchases[k])
        company.defect_rate = max(company.min_defect_rate, company.defect_rate * factor)
