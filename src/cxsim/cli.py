"""The ``cxsim`` command: run scenarios, compare them, check them, list them.

Commands::

    cxsim run SCENARIO [--out DIR] [--seed N] [--days N] [-r R] [--set key=value ...] [--force]
    cxsim compare A B [-r R] [--out DIR] [--seed N] [--days N] [--set key=value ...] [--force]
    cxsim validate SCENARIO ...
    cxsim scenarios
    cxsim schema
    cxsim new NAME [--from STORY]
    cxsim completion bash|zsh|tcsh
    cxsim sweep PLAN --out DIR / cxsim analyze DIR       (cxsim.sweeps.cli)
    cxsim calibrate FILE --out DIR                       (cxsim.calibrate.cli)
    cxsim dashboard                                      (cxsim.dashboard.cli)

Exit codes: 0 ok, 2 bad input (one line on stderr naming the file and the field;
nothing written), 1 internal error.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cxsim.calibrate.cli import add_commands as add_calibrate_commands
from cxsim.dashboard.cli import add_commands as add_dashboard_commands
from cxsim.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, InputError
from cxsim.shipped import SCENARIO_DIR
from cxsim.sweeps.cli import add_commands as add_sweep_commands
from cxsim.version import __version__


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
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the output folder if cxsim wrote it (never another folder, nor the "
        "current folder or one above it)",
    )
    p.add_argument(
        "--plotly",
        choices=("inline", "cdn"),
        default="inline",
        help="inline (default): embed plotly.js in the HTML page, which then works offline "
        "(about 4.6 MB); cdn: a small page that loads plotly.js from the internet when opened",
    )
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
    p.set_defaults(handler="cmd_run")

    p = sub.add_parser(
        "compare",
        help="compare two scenarios on common random numbers (paired differences B - A)",
        description="Run A and B as the same runs (root seed, replication r) and print, per company "
        "position, the mean paired difference B - A of retention, market share, profit, NPS and "
        "complaints per customer-year with 95% paired-t confidence intervals; writes comparison.csv, "
        "pairs.csv and comparison.html into DIR.",
    )
    p.add_argument("a", metavar="A", help="first scenario (the baseline)")
    p.add_argument("b", metavar="B", help="second scenario")
    _add_scenario_options(p, replications=30)
    p.set_defaults(handler="cmd_compare")

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
    p.set_defaults(handler="cmd_validate")

    p = sub.add_parser(
        "scenarios",
        help="list the shipped scenarios",
        description=f"List the scenarios shipped in {SCENARIO_DIR} with their descriptions.",
    )
    p.set_defaults(handler="cmd_scenarios")

    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of scenario files",
        description="Print the JSON Schema of scenario files (for editor completion and checking).",
    )
    p.set_defaults(handler="cmd_schema")

    p = sub.add_parser(
        "new",
        help="write a commented scenario file with every parameter, to start a scenario from",
        description="Write NAME.toml: every parameter at its default (or at a story's value "
        "with --from), grouped by table, each with its meaning and the values it accepts as "
        "comments. Loading it gives exactly those parameters. Never replaces a file.",
    )
    p.add_argument("name", metavar="NAME", help="the new scenario's name or path (NAME.toml)")
    p.add_argument(
        "--from",
        dest="story",
        metavar="STORY",
        help="start from a shipped story (cxsim scenarios) or a scenario file",
    )
    p.set_defaults(handler="cmd_new")

    # Sweeps, calibration and the dashboard keep their commands next to their code.
    add_sweep_commands(sub)
    add_calibrate_commands(sub)
    add_dashboard_commands(sub)

    p = sub.add_parser(
        "completion",
        help="print the shell completion script (bash, zsh or tcsh)",
        description="Print a script that completes cxsim's commands, options, scenario files, "
        "shipped scenario names and folders as you type. Install it once, e.g. bash: cxsim "
        "completion bash > ~/.local/share/bash-completion/completions/cxsim; zsh: cxsim "
        "completion zsh > ~/.zfunc/_cxsim (with ~/.zfunc on your fpath, before compinit).",
    )
    p.add_argument("shell", metavar="SHELL", choices=COMPLETION_SHELLS, help="bash, zsh or tcsh")
    p.set_defaults(handler=_cmd_completion)
    return parser


# --------------------------------------------------------------------------- completion

#: Shells whose completion scripts shtab writes.
COMPLETION_SHELLS = ("bash", "zsh", "tcsh")

#: Arguments completed as a scenario file or a shipped scenario's name (by destination), as
#: folders and as files (by metavar), so the sweep and dashboard commands need no shtab import.
_SCENARIO_DESTS = {"scenario", "scenarios", "a", "b", "story"}
_FOLDER_METAVARS = {"DIR"}
_FILE_METAVARS = {"PLAN", "FILE"}


def _scenario_completer(names: list[str]) -> dict[str, Any]:
    """The ``.complete`` hint (for shtab) of a scenario: a file, or a shipped scenario's name."""
    words = " ".join(names)
    return {
        "bash": "_cxsim_scenarios",
        "zsh": "_cxsim_scenarios",
        "tcsh": "f",
        "preamble": {
            "bash": f'_cxsim_scenarios() {{\n  compgen -f -- "$1"\n  compgen -W "{words}" -- "$1"\n}}\n',
            "zsh": "_cxsim_scenarios() {\n  _alternative 'files:scenario file:_files' "
            f"'shipped:shipped scenario:({words})'\n}}\n",
        },
    }


def _cmd_completion(args: argparse.Namespace) -> int:
    """``cxsim completion SHELL``: print the completion script (shtab is imported only here)."""
    import shtab

    parser = build_parser()
    names = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
    scenario = _scenario_completer(names)
    for action in _all_actions(parser):
        metavar = action.metavar if isinstance(action.metavar, str) else None
        if action.dest in _SCENARIO_DESTS:
            action.complete = scenario  # type: ignore[attr-defined]
        elif metavar in _FOLDER_METAVARS:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
        elif metavar in _FILE_METAVARS:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
    print(shtab.complete(parser, shell=args.shell), end="")
    return 0


def _all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every argument of ``parser`` and of its subcommands."""
    actions = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                actions.extend(_all_actions(sub))
    return actions


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
    handler = args.handler
    try:
        if isinstance(handler, str):  # a command of cxsim.commands, imported only to run it
            from cxsim import commands

            handler = getattr(commands, handler)
        return int(handler(args))
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


if __name__ == "__main__":
    sys.exit(main())
