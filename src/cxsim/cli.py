"""The ``cxsim`` command: run scenarios, compare them, check them, list them.

Commands::

    cxsim run SCENARIO [--out DIR] [--seed N] [--days N] [-r R] [--set key=value ...] [--force]
    cxsim compare A B [-r R] [--out DIR] [--seed N] [--days N] [--set key=value ...] [--force]
    cxsim validate SCENARIO ...
    cxsim scenarios
    cxsim schema
    cxsim sweep PLAN --out DIR / cxsim analyze DIR       (cxsim.sweeps.cli)
    cxsim calibrate FILE --out DIR                       (cxsim.calibrate.cli)
    cxsim dashboard                                      (cxsim.dashboard.cli)

Exit codes: 0 ok, 2 bad input (one line on stderr naming the file and the field;
nothing written), 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cxsim import __version__, runner, scenario
from cxsim.calibrate.cli import add_commands as add_calibrate_commands
from cxsim.dashboard.cli import add_commands as add_dashboard_commands
from cxsim.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, InputError
from cxsim.params import ModelParams
from cxsim.scenario import Scenario
from cxsim.sweeps.cli import add_commands as add_sweep_commands


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as exit code 2 without exiting the interpreter."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: error: {message}")


class _UsageError(Exception):
    pass


# --------------------------------------------------------------------------- arguments


def _add_scenario_options(p: argparse.ArgumentParser, replications: int) -> None:
    p.add_argument(
        "--out", metavar="DIR", type=Path, help="output folder (default: runs/<scenario name>)"
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="root seed (overrides market.seed); replication r is run (N, r), the same run in "
        "run, compare, sweeps and calibration",
    )
    p.add_argument("--days", type=int, metavar="N", help="days to simulate (overrides market.days)")
    p.add_argument(
        "-r",
        "--replications",
        type=int,
        default=replications,
        metavar="R",
        help=f"number of replications (default {replications})",
    )
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter by dotted key, e.g. --set companies.0.policy.apology=false "
        "(values are TOML values; bare words are strings); repeatable",
    )
    p.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no table on stdout"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cxsim`` command."""
    parser = _Parser(
        prog="cxsim",
        description="Agent-based simulation of companies that manage complaints versus companies "
        "that fix them, on a customer social network.",
        epilog="Scenario files are TOML checked against the parameter schema (cxsim schema); "
        "a shipped scenario can be named without its path (cxsim run manage_vs_fix).",
    )
    parser.add_argument("--version", action="version", version=f"cxsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "run",
        help="run a scenario and write timeseries, summary and an HTML report",
        description="Run a scenario's replications and write timeseries.parquet, timeseries.csv, "
        "summary.json and report.html into DIR (atomically: all or nothing).",
    )
    p.add_argument(
        "scenario", metavar="SCENARIO", help="scenario file, or a shipped scenario's name"
    )
    _add_scenario_options(p, replications=1)
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "compare",
        help="compare two scenarios on common random numbers (paired differences B - A)",
        description="Run A and B as the same runs (root seed, replication r) and print, per company "
        "position, the mean paired difference B - A of retention, market share, profit, NPS and "
        "complaints per customer-year with 95%% paired-t confidence intervals; writes comparison.csv, "
        "pairs.csv and comparison.html into DIR.",
    )
    p.add_argument("a", metavar="A", help="first scenario (the baseline)")
    p.add_argument("b", metavar="B", help="second scenario")
    _add_scenario_options(p, replications=30)
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser(
        "validate",
        help="check scenario files without running them",
        description="Check scenario files against the parameter schema (and their network file "
        "and memory needs) without running them; prints 'ok: FILE' for each good file.",
    )
    p.add_argument(
        "scenarios", metavar="SCENARIO", nargs="+", help="scenario files or shipped names"
    )
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter by dotted key (as for run)",
    )
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser(
        "scenarios",
        help="list the shipped scenarios",
        description=f"List the scenarios shipped in {scenario.SCENARIO_DIR} with their descriptions.",
    )
    p.set_defaults(handler=cmd_scenarios)

    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of scenario files",
        description="Print the JSON Schema of scenario files (for editor completion and checking).",
    )
    p.set_defaults(handler=cmd_schema)

    # Sweeps, calibration and the dashboard keep their commands next to their code.
    add_sweep_commands(sub)
    add_calibrate_commands(sub)
    add_dashboard_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cxsim`` command with ``argv`` (default: the process's arguments); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exit_:  # --help and --version
        return int(exit_.code or 0) if isinstance(exit_.code, int | None) else EXIT_BAD_INPUT
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return int(args.handler(args))
    except InputError as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("cxsim: interrupted; nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # anything else is a bug in cxsim, not bad input
        traceback.print_exc(file=sys.stderr)
        print(f"cxsim: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_FAILED


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


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise InputError(f"{out}: already exists; use --force to replace it")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")


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
    _check_out(out, args.force)
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
    try:
        result = runner.run(loaded, reps, params.market.seed, bar)
    finally:
        bar.close()
    runner.write_run(result, out, force=args.force)
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
    _check_out(out, args.force)
    reps = args.replications
    base = a.params.market.seed if args.seed is None else args.seed
    if not args.quiet:
        print(
            f"cxsim {__version__}: compare B = {b.label} minus A = {a.label}, {reps} paired "
            f"replication{'s' if reps != 1 else ''} (seed {base}, replications 0..{reps - 1}: "
            "common random numbers)"
        )
    bar = _Bar(reps * (a.params.market.days + b.params.market.days), "compare", args.quiet)
    try:
        comparison = runner.compare(a, b, reps, base, bar)
    finally:
        bar.close()
    runner.write_comparison(comparison, out, force=args.force)
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
        loaded = _load(name, args)
        scenario.read_network(loaded)
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
    policy = schema.get("$defs", {}).get("CompanyParams", {}).get("properties", {}).get("policy")
    if policy is not None and "$ref" in policy:
        ref = policy.pop("$ref")
        policy["anyOf"] = [{"$ref": ref}, {"type": "string", "enum": ["manage", "fix"]}]
    return schema


def cmd_schema(args: argparse.Namespace) -> int:
    """``cxsim schema``: print the JSON Schema of scenario files."""
    print(json.dumps(scenario_schema(), indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
