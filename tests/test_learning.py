"""Learning from complaints the company acts on, and the sweep plan that tests its assumed rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cxsim.stages import learning, response
from cxsim.sweeps import load_plan

from .conftest import begin_day, make_market, one_company, open_issues

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def test_defect_rate_falls_by_the_rate_times_complaints_acted_on_per_purchase():
    m = make_market(
        1000, quiet=True, companies=one_company({"preset": "fix", "learning_rate": 2.0})
    )
    company = m.companies[0]
    before = company.defect_rate
    begin_day(m, 1)
    m.results.add(0, purchases=400, complaints=50, complaints_acted_on=10)
    learning.step(m)
    assert company.defect_rate == pytest.approx(before * (1 - 2.0 * 10 / 400))


def test_complaints_received_but_never_acted_on_teach_nothing():
    def final_quality(capacity: float) -> tuple[float, float]:
        policy = {
            "preset": "fix",
            "handling": "fifo_queue",
            "queue_capacity": capacity,
            "learning_rate": 2.0,
            "crm_touches_per_month": 0.0,  # no account call gets a waiting complaint handled
        }
        m = make_market(
            3000,
            days=120,
            quiet=True,
            companies=one_company(policy, delivered_quality=0.8, promised_quality=0.8),
            **{"market.initial_adoption": 1.0},
        )
        frame = m.run().results_frame()
        return frame["delivered_quality"].iloc[-1], frame["complaints"].sum()

    unserved_quality, unserved_complaints = final_quality(capacity=0.0)
    served_quality, _ = final_quality(capacity=1.0)
    assert unserved_complaints > 0
    assert unserved_quality == pytest.approx(0.8)  # a queue nobody works teaches nothing
    assert served_quality > 0.8 + 0.005


def handled_and_acted_on(*, at_fault: bool, second_chance: bool = False) -> tuple[float, float]:
    m = make_market(
        1000, quiet=True, companies=one_company("fix"), **{"market.initial_adoption": 1.0}
    )
    who = np.arange(200)
    open_issues(m, who, 1, at_fault=at_fault)
    begin_day(m, 1)
    response.handle(m, m.companies[0], who, np.random.default_rng(0), second_chance=second_chance)
    today = m.results.today
    return today("handled")[0], today("complaints_acted_on")[0]


def test_a_complaint_is_acted_on_once_when_first_handled():
    assert handled_and_acted_on(at_fault=True) == (200, 200)


def test_a_kept_callback_is_not_acted_on_again():
    assert handled_and_acted_on(at_fault=True, second_chance=True) == (200, 0)


def test_problems_that_were_not_the_companys_fault_reveal_no_defect():
    assert handled_and_acted_on(at_fault=False) == (200, 0)


def _is_calibration(path: Path) -> bool:
    return "[[targets]]" in path.read_text(encoding="utf-8")


SHIPPED = sorted(EXPERIMENTS.glob("*.toml"))


@pytest.mark.parametrize(
    "plan_file", [p for p in SHIPPED if not _is_calibration(p)], ids=lambda p: p.stem
)
def test_every_shipped_sweep_plan_loads(plan_file: Path):
    plan = load_plan(plan_file)
    assert plan.points


@pytest.mark.parametrize(
    "calibration_file", [p for p in SHIPPED if _is_calibration(p)], ids=lambda p: p.stem
)
def test_every_shipped_calibration_file_loads(calibration_file: Path):
    from cxsim.calibrate.spec import load_calibration

    calibration = load_calibration(calibration_file)
    assert calibration.parameters
    assert calibration.targets


def test_learning_sensitivity_plan_sweeps_the_fixing_companys_rate_around_its_default():
    plan = load_plan(EXPERIMENTS / "learning_sensitivity.toml")
    (factor,) = plan.factors
    assert factor.key == "companies.1.policy.learning_rate"
    assert plan.base.companies[1].policy.preset == "fix"
    rates = [point[factor.key] for point in plan.points]
    default = plan.base.companies[1].policy.learning_rate
    assert 0.0 in rates
    assert min(r for r in rates if r > 0) < default < max(rates)
    assert "delivered_quality" in plan.summary_metrics
