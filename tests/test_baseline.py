"""The flagship's key figures at a small size, against a committed baseline (as starsim's test_baselines).

Any change that moves a result fails here and shows it in its own diff: when
the move is meant, regenerate the baseline in the same commit with

    python -m tests.test_baseline --write

and say in the commit message why the figures moved.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from cxsim import scenario
from cxsim.run import run_market

BASELINE = Path(__file__).resolve().parent / "baselines" / "flagship.json"
#: The flagship at a size that runs in a few seconds, three replications of seed 1.
SETTINGS = {"market.customers": 3000, "market.days": 365, "market.seed": 1}
REPLICATIONS = 3
FIGURES = (
    "retention",
    "market_share",
    "customers",
    "nps",
    "profit",
    "npv",
    "customer_lifetime_value",
    "annual_churn",
    "complaints",
    "problems",
    "refunds",
    "broken_promises",
    "wom_negative",
    "wom_positive",
    "acquired",
    "churned",
)


def key_figures() -> dict[str, dict[str, list[float]]]:
    """Per replication, company and figure: the flagship's key figures."""
    loaded = scenario.load("manage_vs_fix", SETTINGS)
    figures: dict[str, dict[str, list[float]]] = {}
    for r in range(REPLICATIONS):
        summary = run_market(loaded.params, r).summary()
        for company, row in summary.iterrows():
            per_company = figures.setdefault(str(company), {f: [] for f in FIGURES})
            for figure in FIGURES:
                per_company[figure].append(float(row[figure]))
    return figures


def test_the_flagships_key_figures_match_the_committed_baseline() -> None:
    if not BASELINE.exists():
        pytest.fail(
            f"no baseline: write it with python -m tests.test_baseline --write ({BASELINE})"
        )
    want = json.loads(BASELINE.read_text(encoding="utf-8"))["figures"]
    got = key_figures()
    moved = [
        f"{company}.{figure}[{r}]: baseline {old}, now {new}"
        for company, figures in want.items()
        for figure, values in figures.items()
        for r, (old, new) in enumerate(zip(values, got[company][figure], strict=True))
        if not math.isclose(old, new, rel_tol=1e-9, abs_tol=1e-9)
    ]
    assert not moved, "results moved; if meant, regenerate the baseline:\n" + "\n".join(moved)


def write() -> None:
    """Regenerate the baseline file."""
    BASELINE.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "what": "manage_vs_fix, key figures per company and replication",
        "settings": SETTINGS,
        "replications": REPLICATIONS,
        "regenerate": "python -m tests.test_baseline --write",
        "figures": key_figures(),
    }
    BASELINE.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {BASELINE}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python -m tests.test_baseline --write")
    write()
