"""Generate the tables of ``docs/ODD.md`` from the code, so the docs cannot drift from it.

``python -m cxsim.docs docs/ODD.md`` rewrites the generated blocks in place;
the test suite fails when they are out of date.
"""

from __future__ import annotations

import re
import sys
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cxsim.day import DAY
from cxsim.params import POLICY_PRESETS, ModelParams, PolicyParams, allowed_values, submodel
from cxsim.results import METRICS

#: "or" between choices in a Markdown table cell.
MARKDOWN_OR = " \\| "

BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (\w+) -->\n)(.*?)(<!-- END GENERATED -->)", re.DOTALL)


def _fmt(value: Any) -> str:
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, float):
        return f"`{value:.4g}`"
    if isinstance(value, BaseModel | list):
        return "see below" if isinstance(value, BaseModel) else f"`{value!r}`"
    return f"`{value!r}`" if value is not None else "`None`"


def _rows(model: type[BaseModel], instance: BaseModel, prefix: str) -> list[str]:
    rows = []
    for name, info in model.model_fields.items():
        sub = submodel(info.annotation)
        value = getattr(instance, name)
        if sub is not None and not isinstance(value, list):
            rows.extend(_rows(sub, value, f"{prefix}{name}."))
            continue
        if sub is not None:  # a list of groups: documented as its own table
            continue
        source = (info.json_schema_extra or {}).get("source", "assumption")  # type: ignore[union-attr]
        desc = (info.description or "").replace("|", "\\|")
        allowed = allowed_values(info, MARKDOWN_OR)
        rows.append(f"| `{prefix}{name}` | {_fmt(value)} | {allowed} | {desc} | {source} |")
    return rows


HEADER = "| parameter | default | allowed | meaning | default from |\n|---|---|---|---|---|"


def parameters_table() -> str:
    """Markdown tables of every parameter, its default, bounds, meaning and source."""
    p = ModelParams()
    company = p.companies[0]
    sections = [
        "#### Market, network, behaviour, journey\n\n"
        + HEADER
        + "\n"
        + "\n".join(r for r in _rows(ModelParams, p, "") if not r.startswith("| `companies")),
        "#### Each company (`companies.N.…`)\n\n"
        + HEADER
        + "\n"
        + "\n".join(_rows(type(company), company, "companies.N.")),
    ]
    promo_cls = submodel(type(company).model_fields["promotions"].annotation)
    assert promo_cls is not None
    sections.append(
        "#### Each promotion (`companies.N.promotions.M.…`)\n\n"
        + HEADER
        + "\n"
        + "\n".join(_rows(promo_cls, promo_cls(), "companies.N.promotions.M."))
    )
    return "\n\n".join(sections) + "\n"


def presets_table() -> str:
    """The manage and fix policy presets side by side (presets are differences from the defaults)."""
    presets = {name: PolicyParams(preset=name).model_dump(mode="json") for name in POLICY_PRESETS}
    lines = ["| policy field | manage | fix | meaning |", "|---|---|---|---|"]
    for name, info in PolicyParams.model_fields.items():
        if name == "preset":
            continue
        desc = (info.description or "").replace("|", "\\|")
        lines.append(
            f"| `{name}` | `{presets['manage'][name]}` | `{presets['fix'][name]}` | {desc} |"
        )
    return "\n".join(lines) + "\n"


def day_table() -> str:
    """The stages of the day, in order."""
    lines = ["| # | stage | module | what happens |", "|---|---|---|---|"]
    for i, stage in enumerate(DAY, start=1):
        lines.append(
            f"| {i} | {stage.name} | `cxsim/stages/{stage.step.__module__.rsplit('.', 1)[-1]}.py` | {stage.does} |"
        )
    return "\n".join(lines) + "\n"


def metrics_table() -> str:
    """The results columns."""
    lines = ["| metric | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in METRICS.items()]
    return "\n".join(lines) + "\n"


GENERATORS = {
    "parameters": parameters_table,
    "presets": presets_table,
    "day": day_table,
    "metrics": metrics_table,
}


def render(text: str) -> str:
    """``text`` with every generated block replaced by its current content."""
    return BLOCK.sub(lambda m: m.group(1) + GENERATORS[m.group(2)]() + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    """Rewrite the generated blocks of the given Markdown files in place."""
    for name in argv if argv is not None else sys.argv[1:]:
        path = Path(name)
        path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
