"""Stage 8, learning: complaints are gifts, for a company that acts on them (mechanism 8 of docs/ODD.md).

The rule is stated per complaint the company **acts on**, not per complaint
it receives: a complaint that waits in a queue until its author gives up, or a
problem nobody voices, teaches nothing. A complaint is acted on when the
company examines a problem of its own making: a complaint handled for the
first time (at once, from the queue, or early because sales knew of it), a
problem found by a proactive follow-up, or an answered review (counted by the
response stage as ``complaints_acted_on``; a kept call-back handles a complaint
already acted on and does not count again, while a problem voiced in vain and
found again by a follow-up is examined, and counted, again).

Each complaint acted on reveals one defective purchase; a company with
``learning_rate > 0`` traces its cause and removes it with effectiveness
``learning_rate``. Each day the defect rate is multiplied by

    1 - learning_rate x complaints acted on today / purchases today

and never falls below ``1 - max_quality``. A managing company
(``learning_rate = 0``) collects the data and does not act on it.

The rate is an assumption: no published figure gives the share of defects a
company removes per complaint it acts on ("complaints are gifts" is a slogan,
not a measurement). ``experiments/learning_sensitivity.toml`` sweeps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cxsim.model import Market


def step(model: Market) -> None:
    """Companies that learn lower their defect rate in proportion to the complaints they acted on."""
    acted_on = model.results.today("complaints_acted_on")
    purchases = model.results.today("purchases")
    for company in model.companies:
        rate = company.policy.learning_rate
        k = company.index
        if rate <= 0 or purchases[k] <= 0:
            continue
        factor = max(0.0, 1.0 - rate * acted_on[k] / purchases[k])
        company.defect_rate = max(company.min_defect_rate, company.defect_rate * factor)
