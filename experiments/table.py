"""Write the README's table of validation experiments from their ``headline.json`` files.

``python experiments/table.py README.md`` replaces the block between
``<!-- BEGIN GENERATED: experiments -->`` and ``<!-- END GENERATED -->``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: Experiments in the order of the table: calibration, verification, validation, results.
ORDER = [
    "world_fit",
    "tarp_repurchase",
    "bass_limit",
    "iceberg_wom",
    "calibration_recovery",
    "calibration_coverage",
    "churn_contagion",
    "recovery_paradox",
    "wom_frequency",
    "manage_vs_fix",
    "story_directions",
    "goodwill",
    "broken_promise",
    "retention_economics",
    "network_structure",
]
#: What each kind of experiment is (README and experiments/common.py).
KIND_WORDS = {
    "calibration": "calibration (fitted to it)",
    "verification": "verification (an input read back)",
    "validation": "validation (held out)",
    "result": "result",
}
BLOCK = re.compile(
    r"(<!-- BEGIN GENERATED: experiments -->\n)(.*?)(<!-- END GENERATED -->)", re.DOTALL
)


def table() -> str:
    lines = ["| # | kind | experiment | command | headline result |", "|---|---|---|---|---|"]
    for i, name in enumerate(ORDER, start=1):
        path = RESULTS / name / "headline.json"
        if path.exists():
            record = json.loads(path.read_text())
            result = record["headline"].replace("|", "\\|")
            title = f"[{record['title']}](experiments/results/{name}/)"
            kind = KIND_WORDS.get(record.get("kind", "result"), record.get("kind", "result"))
            command = record.get("command", f"python experiments/{name}.py")
        else:
            result, title, kind = "*not yet run*", name, ""
            command = f"python experiments/{name}.py"
        lines.append(f"| {i} | {kind} | {title} | `{command}` | {result} |")
    return "\n".join(lines) + "\n"


def main(paths: list[str]) -> int:
    for name in paths:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        path.write_text(
            BLOCK.sub(lambda m: m.group(1) + table() + m.group(3), text), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
