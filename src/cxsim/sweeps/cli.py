"""The ``cxsim sweep`` and ``cxsim analyze`` commands.

``add_commands(subparsers)`` adds both to the ``cxsim`` command; ``main(argv)``
runs them standalone (``python -m cxsim.sweeps sweep PLAN --out DIR``).

Exit codes: 0 every planned run recorded without error; 1 some runs failed
(recorded with their errors) or no Dask scheduler answered at --scheduler within
--connect-timeout; 2 bad input (one line on stderr naming the file and the
field, or a malformed --scheduler address), or another sweep is writing to the
folder; 3 Dask is not installed; 130 interrupted (finished runs are kept: rerun
the same command to resume).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import textwrap
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cxsim.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_MISSING_EXTRA, EXIT_OK, InputError
from cxsim.errors import EXIT_FAILED as EXIT_RUNS_FAILED
from cxsim.sweeps import cluster
from cxsim.sweeps.limits import DEFAULT_MAX_RUNS

SWEEP_DESCRIPTION = """\
Run a parameter sweep: every run of the plan's design (points x replications)
on local worker processes, or on a Dask cluster with --scheduler. Results
stream into DIR as runs finish (Parquet parts written atomically), so a sweep
that is killed loses no finished run: rerun the same command to resume, and
only the runs not yet recorded are run. A run that raises is recorded with
its error and the sweep goes on. Raising the plan's replications and rerunning
adds the new replications only. One sweep writes to a folder at a time; a part
that cannot be read (a full disk, a kill during a copy) is moved to DIR/corrupt/
and its runs are run again.
"""

SWEEP_EPILOG = """\
examples:
  cxsim sweep experiments/example_sweep.toml --out sweeps/levers
  cxsim sweep experiments/example_sweep.toml --out sweeps/levers --workers 8
  dask scheduler &  dask worker tcp://HOST:8786 &   # on each machine
  cxsim sweep experiments/example_sobol.toml --out sweeps/sobol --scheduler tcp://HOST:8786
  cxsim analyze sweeps/levers

DIR holds plan.json, points.parquet, runs/part-*.parquet (one row per run and
company), daily/ (if the plan keeps daily series), manifest.json, sweep.lock
(and sweep.lock.pid while a sweep writes) and corrupt/ (unreadable parts set aside).
"""

ANALYZE_DESCRIPTION = """\
Summarise a sweep folder (finished or still running; a part that cannot be read
is skipped with a warning): summary.csv (per point,
company and metric: runs, mean, std and a 95% confidence interval),
sobol_indices.csv (first-order and total Sobol' indices, for a sobol design),
failed_runs.csv (if any run failed) and sweep_report.html (main effects with
95% bands, a heatmap of the first two factors, Sobol' indices, daily series).
"""


# --------------------------------------------------------------------------- arguments


def add_commands(subparsers: Any) -> None:
    """Add the ``sweep`` and ``analyze`` commands to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "sweep",
        help="run a parameter sweep (local processes or a Dask cluster); resumable",
        description=SWEEP_DESCRIPTION,
        epilog=SWEEP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "plan", metavar="PLAN", help="sweep plan file (TOML); see experiments/example_sweep.toml"
    )
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="DIR",
        help="results folder: created, or resumed if it holds the same plan",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local worker processes (default: the number of CPUs)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (also tls://, ws://, "
        "wss://, or HOST:PORT; needs cxsim[distributed]; workers need cxsim installed and any "
        "network file on a shared path)",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=cluster.CONNECT_TIMEOUT,
        metavar="SECONDS",
        help="give up on a --scheduler that has not answered within SECONDS "
        f"(default {cluster.CONNECT_TIMEOUT:g})",
    )
    p.add_argument(
        "--max-runs",
        type=int,
        metavar="N",
        help=f"refuse a plan of more than N runs (default {DEFAULT_MAX_RUNS:,}); the plan's runs, "
        "with their estimated CPU time and memory, are counted before anything is made",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="run again the runs recorded as failed (a success replaces the failure)",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, no messages but errors"
    )
    p.set_defaults(handler=cmd_sweep)

    p = subparsers.add_parser(
        "analyze",
        help="summarise a sweep: means with 95%% CIs, Sobol' indices, HTML report",
        description=ANALYZE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "sweep_dir", metavar="DIR", type=Path, help="a sweep folder (cxsim sweep --out DIR)"
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="FOLDER",
        help="where to write the tables and report (default: DIR)",
    )
    p.add_argument("--no-report", action="store_true", help="write the CSV tables only")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(handler=cmd_analyze)


def build_parser() -> argparse.ArgumentParser:
    """A standalone parser with the ``sweep`` and ``analyze`` commands."""
    parser = argparse.ArgumentParser(
        prog="cxsim", description="Parameter sweeps of cxsim scenarios and their analysis."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sweep`` or ``analyze`` with ``argv`` (default: the process's arguments); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage errors (2), --help (0)
        return exit_.code if isinstance(exit_.code, int) else EXIT_BAD_INPUT
    return int(args.handler(args))


# --------------------------------------------------------------------------- commands


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, flush=True)


def _error(message: str) -> None:
    print(f"cxsim: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show cxsim's own warnings (an unreadable part) as one ``cxsim: warning:`` line each."""
    from cxsim.sweeps.store import UnreadablePartWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", UnreadablePartWarning)
        shown = warnings.showwarning

        def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, UnreadablePartWarning):
                _error(f"warning: {message}")
            else:
                shown(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while a sweep runs, so that finished runs are written first."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cxsim_version() -> str:
    """The installed cxsim version (run on Dask workers to check they match)."""
    import cxsim

    return cxsim.__version__


def _check_worker_versions(client: Any) -> None:
    import cxsim

    try:
        versions = client.run(cxsim_version)
    except Exception as err:  # a worker without cxsim cannot even unpickle the check
        _error(f"warning: could not check cxsim on the Dask workers: {type(err).__name__}: {err}")
        return
    if not versions:
        _error("warning: the Dask cluster has no workers yet; runs wait until one joins")
    odd = {w: v for w, v in versions.items() if v != cxsim.__version__}
    if odd:
        _error(f"warning: Dask workers run another cxsim version than {cxsim.__version__}: {odd}")


def cmd_sweep(args: argparse.Namespace) -> int:
    """``cxsim sweep``: run (or resume) a sweep into ``--out``."""
    from cxsim.sweeps.execute import WorkersDiedError, run_sweep

    if args.workers is not None and args.workers < 1:
        _error(f"--workers: expected a number >= 1, got {args.workers}")
        return EXIT_BAD_INPUT
    if args.max_runs is not None and args.max_runs < 1:
        _error(f"--max-runs: expected a number >= 1, got {args.max_runs}")
        return EXIT_BAD_INPUT
    if not 0 < args.connect_timeout < float("inf"):
        _error(f"--connect-timeout: expected a number of seconds > 0, got {args.connect_timeout}")
        return EXIT_BAD_INPUT
    try:
        if args.scheduler:
            cluster.check_address(args.scheduler)
    except InputError as err:
        _error(str(err))
        return EXIT_BAD_INPUT
    try:
        from cxsim.sweeps.plan import load_plan

        plan = load_plan(args.plan, max_runs=args.max_runs or DEFAULT_MAX_RUNS)
    except InputError as err:
        _error(str(err))
        return EXIT_BAD_INPUT

    client = executor = None
    if args.scheduler:
        try:
            client = cluster.connect(args.scheduler, args.connect_timeout)
        except cluster.DaskMissingError as err:
            _error(str(err))
            return EXIT_MISSING_EXTRA
        except cluster.SchedulerUnreachableError as err:
            _error(str(err))
            return EXIT_RUNS_FAILED
        _check_worker_versions(client)
        executor = client.get_executor(pure=False)
        where = f"the Dask cluster at {args.scheduler}"
    else:
        import os

        workers = args.workers or os.cpu_count() or 1
        where = f"{workers} local worker process{'es' if workers != 1 else ''}"
    runs = len(plan.points) * plan.replications
    _say(
        args,
        f"cxsim sweep {plan.name}: {plan.design}, {len(plan.points):,} points x "
        f"{plan.replications:,} replications = {runs:,} runs ({plan.size.describe()}) on "
        f"{where}; results in {args.out}",
    )
    try:
        with _terminate_as_interrupt(), _warnings_as_lines():
            outcome = run_sweep(
                plan,
                args.out,
                executor=executor,
                workers=args.workers,
                progress=not args.quiet,
                retry_failed=args.retry_failed,
            )
    except InputError as err:
        _error(str(err))
        return EXIT_BAD_INPUT
    except WorkersDiedError as err:
        _error(str(err))
        return EXIT_RUNS_FAILED
    except KeyboardInterrupt:
        from cxsim.sweeps.store import SweepStore

        recorded = SweepStore(args.out).write_manifest(runs)["recorded_runs"]
        _error(
            f"sweep interrupted: {recorded} of {runs} runs recorded in {args.out}; "
            "rerun the same command to resume"
        )
        return EXIT_INTERRUPTED
    finally:
        if client is not None:
            client.close()
    _say(
        args,
        f"{outcome.ran} runs recorded in {outcome.seconds:.1f} s ({outcome.failed} failed); "
        f"{outcome.already_recorded} were already recorded. {args.out}: "
        f"{outcome.recorded_total} of {outcome.planned} runs, {outcome.failed_total} failed.",
    )
    if outcome.failed_total:
        _error(
            f"{outcome.failed_total} runs failed; their errors are in the runs' error column "
            f"(cxsim analyze {args.out} writes failed_runs.csv); --retry-failed runs them again"
        )
        return EXIT_RUNS_FAILED
    _say(args, f"next: cxsim analyze {args.out}")
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    """``cxsim analyze``: tables and report of a sweep folder."""
    from cxsim.sweeps.outputs import analyze

    try:
        with _warnings_as_lines():
            analysis = analyze(args.sweep_dir, args.out, report=not args.no_report)
    except InputError as err:
        _error(str(err))
        return EXIT_BAD_INPUT
    missing = analysis.planned - analysis.recorded
    note = f"; {missing} not yet run" if missing else ""
    _say(
        args,
        textwrap.dedent(
            f"""\
            {analysis.ok_runs} finished and {analysis.failed_runs} failed of {analysis.planned} planned runs{note}
            wrote {", ".join(str(p) for p in analysis.files)}"""
        ),
    )
    return EXIT_OK
