"""The ``cxsim`` commands' work: run, compare, validate, scenarios, schema, new.

:mod:`cxsim.cli` builds the parser (light, so ``cxsim --help`` answers at once)
and imports this module only to run a command.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from cxsim import runner, scenario, warmup
from cxsim.errors import EXIT_FAILED, EXIT_OK, InputError
from cxsim.files import check_output_folder
from cxsim.params import WORLD_KEY, ModelParams, resolve
from cxsim.scenario import Scenario
from cxsim.version import WORLD_VERSION, __version__

# --------------------------------------------------------------------------- helpers


def _overrides(args: argparse.Namespace, label: str) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for text in args.assignments:
        try:
            key, value = scenario.parse_assignment(text)
        except InputError as err:
            raise InputError(f"{label}: {err}") from None
        overrides[key] = value
    if getattr(args, "seed", None) is not None:
        overrides["market.seed"] = args.seed
    if getattr(args, "days", None) is not None:
        overrides["market.days"] = args.days
    return overrides


def _load(name: str, args: argparse.Namespace, replications: int = 1) -> Scenario:
    """Load and fully check a scenario (schema, network file, memory) before anything is written."""
    names = {"market.seed": "--seed", "market.days": "--days"}
    loaded = scenario.load(name, _overrides(args, name), names=names)
    scenario.check_memory(loaded, replications)
    return loaded


def _check_replications(args: argparse.Namespace) -> None:
    if args.replications < 1:
        raise InputError(f"--replications: expected a number >= 1, got {args.replications}")


class _Bar:
    """A tqdm progress bar on stderr, shown for runs that last more than a second on a terminal."""

    def __init__(self, total: int, desc: str, quiet: bool) -> None:
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                desc=desc,
                unit="day",
                file=sys.stderr,
                delay=1.0,
                disable=None,
                leave=False,
            )

    def __call__(self, days: int) -> None:
        if self.bar is not None:
            self.bar.update(days)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _fmt(x: float, digits: int = 4) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    if abs(x) >= 10_000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# --------------------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace) -> int:
    """``cxsim run``: run replications and write the four output files."""
    _check_replications(args)
    loaded = _load(args.scenario, args, args.replications)
    out = args.out if args.out is not None else Path("runs") / loaded.name
    check_output_folder(out, args.force)
    params = loaded.params
    reps = args.replications
    if not args.quiet:
        print(
            f"cxsim {__version__}: {loaded.name} ({loaded.label}): {params.market.customers:,} people, "
            f"{len(params.companies)} companies, {params.market.days:,} days, {reps} replication"
            f"{'s' if reps != 1 else ''}, seed {params.market.seed}"
            + (f", replications 0..{reps - 1}" if reps > 1 else "")
        )
    bar = _Bar(reps * params.market.days, loaded.name, args.quiet)
    warmup.start(params, loaded.base_dir)  # a fresh install's compile, on two cores
    try:
        result = runner.run(loaded, reps, params.market.seed, bar)
    finally:
        bar.close()
    runner.write_run(result, out, force=args.force, plotly_js=args.plotly)
    if not args.quiet:
        print(_run_table(result))
        files = " ".join(runner.RUN_FILES)
        print(f"wrote {out}/: {files} ({result.wall_seconds:.1f} s)")
    return EXIT_OK


def _run_table(result: runner.RunResult) -> str:
    figures = [
        ("retention", "retention"),
        ("market_share", "share"),
        ("nps", "NPS"),
        ("profit", "profit"),
        ("npv", "NPV"),
        ("complaints_per_customer_year", "complaints/customer-year"),
        ("problems_per_complaint", "problems/complaint"),
    ]
    rows = []
    for name in result.companies:
        rows.append(
            [name] + [_fmt(float(result.figure_values(name, f).mean())) for f, _ in figures]
        )
    note = (
        ""
        if len(result.replications) == 1
        else f"means over {len(result.replications)} replications\n"
    )
    return note + _table(["company"] + [label for _, label in figures], rows)


def cmd_compare(args: argparse.Namespace) -> int:
    """``cxsim compare``: paired differences of two scenarios on common random numbers."""
    _check_replications(args)
    # Both runs' tables are held at once.
    a = _load(args.a, args, 2 * args.replications)
    b = _load(args.b, args, 2 * args.replications)
    out = args.out if args.out is not None else Path("runs") / f"compare_{a.name}_vs_{b.name}"
    check_output_folder(out, args.force)
    reps = args.replications
    base = a.params.market.seed if args.seed is None else args.seed
    if not args.quiet:
        print(
            f"cxsim {__version__}: compare B = {b.label} minus A = {a.label}, {reps} paired "
            f"replication{'s' if reps != 1 else ''} (seed {base}, replications 0..{reps - 1}: "
            "common random numbers)"
        )
    bar = _Bar(reps * (a.params.market.days + b.params.market.days), "compare", args.quiet)
    warmup.start(a.params, a.base_dir)
    try:
        comparison = runner.compare(a, b, reps, base, bar)
    finally:
        bar.close()
    runner.write_comparison(comparison, out, force=args.force, plotly_js=args.plotly)
    if not args.quiet:
        print(_compare_table(comparison))
        print(f"wrote {out}/: comparison.csv pairs.csv comparison.html")
    return EXIT_OK


def _compare_table(comparison: runner.Comparison) -> str:
    rows = []
    for rec in comparison.table.to_dict("records"):
        a, b = rec["company_a"], rec["company_b"]
        who = f"{rec['position']}: {a}" if a == b else f"{rec['position']}: {a} / {b}"
        low, high = rec["ci95_low"], rec["ci95_high"]
        ci = "n/a" if not math.isfinite(low) else f"[{_fmt(low)}, {_fmt(high)}]"
        rows.append(
            [
                who,
                rec["figure"],
                _fmt(rec["mean_a"]),
                _fmt(rec["mean_b"]),
                _fmt(rec["difference"]),
                ci,
            ]
        )
    return _table(["position", "figure", "A", "B", "B - A", "95% CI"], rows)


def cmd_validate(args: argparse.Namespace) -> int:
    """``cxsim validate``: check files without running them."""
    for name in args.scenarios:
        loaded = _load(name, args)  # the network file too: read and checked against the market
        print(f"ok: {loaded.label}")
    return EXIT_OK


def cmd_scenarios(args: argparse.Namespace) -> int:
    """``cxsim scenarios``: the shipped scenarios and their one-line descriptions."""
    files = scenario.shipped_scenarios()
    if not files:
        print(f"cxsim: no shipped scenarios found in {scenario.SCENARIO_DIR}", file=sys.stderr)
        return EXIT_FAILED
    width = max(len(f.stem) for f in files)
    for f in files:
        print(f"{f.stem.ljust(width)}  {scenario.description(f.read_text(encoding='utf-8'))}")
    return EXIT_OK


def scenario_schema() -> dict[str, Any]:
    """JSON Schema of scenario files: the parameter schema, with policies also given as preset names."""
    schema = ModelParams.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cxsim scenario"
    schema["description"] = (
        "A cxsim scenario file (TOML): its tables are the fields of cxsim.params.ModelParams."
    )
    schema.setdefault("properties", {})[WORLD_KEY] = {
        "type": "string",
        "description": "The world this file was written for (cxsim.version.WORLD_VERSION, "
        f'e.g. "{WORLD_VERSION}"); another world refuses to run it. See CHANGELOG.md.',
    }
    policy = schema.get("$defs", {}).get("CompanyParams", {}).get("properties", {}).get("policy")
    if policy is not None and "$ref" in policy:
        ref = policy.pop("$ref")
        policy["anyOf"] = [{"$ref": ref}, {"type": "string", "enum": ["manage", "fix"]}]
    return schema


def cmd_schema(args: argparse.Namespace) -> int:
    """``cxsim schema``: print the JSON Schema of scenario files."""
    print(json.dumps(scenario_schema(), indent=2))
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    """``cxsim new``: write a commented scenario file with every parameter (never over a file)."""
    from cxsim import scaffold

    path = scaffold.target_path(args.name)
    params: ModelParams | None = None
    header: list[str] = []
    story = None
    if args.story is not None:
        loaded = scenario.load(args.story)
        params = _relocated(loaded, path.parent)
        header, story = loaded.header, loaded.name
    text = scaffold.scenario_text(params, name=path.stem, story=story, story_header=header)
    scenario.from_text(text, path, check_network_file=False)  # what is written must load
    scaffold.write_new(path, text)
    start = f"the story {story}'s values" if story else "its default"
    print(f"wrote {path}: every parameter at {start}, with its meaning; run it: cxsim run {path}")
    return EXIT_OK


def _relocated(loaded: Scenario, folder: Path) -> ModelParams:
    """A scenario's parameters with a relative network file path made relative to ``folder``."""
    path = loaded.params.network.path
    if path is None or Path(path).is_absolute() or loaded.base_dir is None:
        return loaded.params
    moved = os.path.relpath(loaded.base_dir / path, folder.resolve())
    return resolve(loaded.params, {"network.path": moved}, label=loaded.label)
