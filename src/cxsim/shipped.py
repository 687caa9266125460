"""Where the shipped scenarios live (a light module: ``cxsim --help`` reads it)."""

from __future__ import annotations

from pathlib import Path

#: A wheel carries the scenarios inside the package (its build copies the repository's
#: top-level ``scenarios/`` there, see ``setup.py``); a checkout (an editable install, or
#: ``src`` on the path) has them at its top level.
_PACKAGED = Path(__file__).resolve().parent / "scenarios"
SCENARIO_DIR = (
    _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "scenarios"
)

#: The seed stories (docs/ODD.md, section 1.5): shipped scenarios of two companies each, whose
#: headers say what their runs show (experiments/story_directions.py measures it).
STORIES = (
    "manage_vs_fix",
    "dealership",
    "quiet_by_wearing_out",
    "goodwill_guarantee",
    "free_delivery_promotion",
    "review_refund",
    "account_manager",
)


def shipped_scenarios() -> list[Path]:
    """The shipped scenario files (in :data:`SCENARIO_DIR`), by name."""
    if not SCENARIO_DIR.is_dir():
        return []
    return sorted(SCENARIO_DIR.glob("*.toml"))
