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
  cxsim sweep experiments/example_sweep.toml --dry-run          # runs and time; writes nothing
  cxsim sweep experiments/example_sweep.toml --out sweeps/levers
  cxsim sweep experiments/example_sweep.toml --out sweeps/small --replications 2 \\
      --set market.customers=2000 --csv                          # a smaller copy, + runs.csv
  cxsim sweep experiments/example_sweep.toml --out sweeps/levers --workers 8
  dask scheduler &  dask worker tcp://HOST:8786 &   # on each machine
  cxsim sweep experiments/example_sobol.toml --out sweeps/sobol --scheduler tcp://HOST:8786
  cxsim analyze sweeps/levers

DIR holds plan.json, points.parquet, runs/part-*.parquet (one row per run and
company), daily/ (if the plan keeps daily series), manifest.json, sweep.lock
(and sweep.lock.pid while a sweep writes), corrupt/ (unreadable parts set aside)
and, with --csv, runs.csv (every recorded run, one row per run and company).
--set and --replications change the plan as its file would: --set values make a
different plan (a new --out folder), more --replications extend a sweep's folder.
"""

ANALYZE_DESCRIPTION = """\
Summarise a sweep folder (finished or still running; a part that cannot be read
is skipped with a warning): summary.csv (per point, company and metric: runs,
mean, std and a 95% confidence interval), contrasts.csv (each factor level
minus the factor's first level, paired replication by replication: every point
of a replication had the same luck), comparisons.csv (the plan's
[[comparisons]], B - A, paired the same way), sobol_indices.csv and
sobol_precision.csv (for a sobol design), failed_runs.csv (if any run failed)
and sweep_report.html (main effects with 95% bands, paired differences, a
heatmap of the plan's heatmap factors or the first two, Sobol' indices, named
comparisons, daily series). Intervals are cut to the range of what they bound
(a count's never below 0, a share's within [0, 1]). A warning (Sobol' samples
too few for the indices to be read, one replication only) is printed on stderr
and shown at the top of the report.
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
        type=Path,
        metavar="DIR",
        help="results folder: created, or resumed if it holds the same plan (required unless "
        "--dry-run)",
    )
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="hold a parameter at a value at every point, on top of the plan's [fixed], e.g. "
        "--set market.customers=2000 (repeatable; checked as cxsim run --set is)",
    )
    p.add_argument(
        "--replications",
        type=int,
        metavar="N",
        help="replications per point instead of the plan's (more extend a finished sweep)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the points x replications, the runs still to run in --out (if given) and "
        "the time they would take, timed by one pilot run of the costliest point; write nothing",
    )
    p.add_argument(
        "--csv",
        action="store_true",
        help="also write DIR/runs.csv at the end: every recorded run, one row per run and "
        "company (as NetLogo BehaviorSpace's table), next to the Parquet parts",
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


#: Most replications a plan may have (as ``replications`` in a plan file).
MAX_REPLICATIONS = 100_000


def _check_options(args: argparse.Namespace) -> None:
    """Refuse bad options before anything is read or written.

    Raises:
        InputError: one line naming the option.

    """
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers: expected a number >= 1, got {args.workers}")
    if args.max_runs is not None and args.max_runs < 1:
        raise InputError(f"--max-runs: expected a number >= 1, got {args.max_runs}")
    if args.replications is not None and not 1 <= args.replications <= MAX_REPLICATIONS:
        raise InputError(
            f"--replications: expected a number from 1 to {MAX_REPLICATIONS:,}, "
            f"got {args.replications}"
        )
    if not 0 < args.connect_timeout < float("inf"):
        raise InputError(
            f"--connect-timeout: expected a number of seconds > 0, got {args.connect_timeout}"
        )
    if args.out is None and not args.dry_run:
        raise InputError("--out: the results folder is required (unless --dry-run)")
    if args.scheduler:
        cluster.check_address(args.scheduler)


def _load_plan(args: argparse.Namespace) -> Any:
    """The plan, with ``--set`` and ``--replications`` applied through the plan's own checks.

    Raises:
        InputError: one line naming the plan file and the field (or the option).

    """
    from cxsim import scenario
    from cxsim.sweeps.plan import load_plan

    overrides = {}
    for text in args.assignments:
        try:
            key, value = scenario.parse_assignment(text)
        except InputError as err:
            raise InputError(f"{args.plan}: {err}") from None
        overrides[key] = value
    return load_plan(
        args.plan,
        max_runs=args.max_runs or DEFAULT_MAX_RUNS,
        overrides=overrides,
        replications=args.replications,
    )


def _points_text(plan: Any) -> str:
    runs = len(plan.points) * plan.replications
    return (
        f"{plan.design}, {len(plan.points):,} points x {plan.replications:,} replications = "
        f"{runs:,} runs"
    )


def cmd_sweep(args: argparse.Namespace) -> int:
    """``cxsim sweep``: run (or resume) a sweep into ``--out``, or say what it would do."""
    try:
        _check_options(args)
        plan = _load_plan(args)
        if args.dry_run:
            return _dry_run(args, plan)
    except InputError as err:
        _error(str(err))
        return EXIT_BAD_INPUT
    return _run(args, plan)


def _about(seconds: float) -> str:
    from cxsim.sweeps.plan import duration

    text = duration(seconds)
    return text if text.startswith("under") else f"about {text}"


def _dry_run(args: argparse.Namespace, plan: Any) -> int:
    """``cxsim sweep --dry-run``: the runs and their time, from a pilot run; nothing written."""
    import os

    from cxsim.sweeps.dryrun import dry_run
    from cxsim.sweeps.plan import values_text

    workers = None if args.scheduler else (args.workers or os.cpu_count() or 1)
    print(f"cxsim sweep {plan.name} (dry run): {_points_text(plan)}", flush=True)
    estimate = dry_run(plan, args.out, workers, retry_failed=args.retry_failed)
    if args.out is not None:
        print(
            f"{args.out}: {estimate.recorded:,} of them recorded, {estimate.to_run:,} to run",
            flush=True,
        )
    if estimate.pilot is None:
        print("nothing to run: every planned run is recorded; nothing was written", flush=True)
        return EXIT_OK
    settings = values_text(estimate.pilot.values)
    pilot = f"pilot: point {estimate.pilot.point} ({settings}), replication 0"
    if estimate.pilot_error is not None:
        _error(f"{pilot} failed: {estimate.pilot_error}")
        return EXIT_RUNS_FAILED
    print(f"{pilot}: {estimate.pilot_seconds:.2f} s of CPU", flush=True)
    where = (
        f"{_about(estimate.wall_seconds)} on {workers} local worker process"
        f"{'es' if workers != 1 else ''}"
        if estimate.wall_seconds is not None
        else "divided among the Dask cluster's workers"
    )
    print(
        f"estimate: {_about(estimate.cpu_seconds)} of CPU time, {where}; "
        f"{plan.size.describe().split(', ')[-1]}",
        flush=True,
    )
    print("nothing was written (run it without --dry-run)", flush=True)
    return EXIT_OK


def _run(args: argparse.Namespace, plan: Any) -> int:
    """Run the sweep (locally or on Dask) and report what it did."""
    from cxsim.sweeps.execute import WorkersDiedError, run_sweep

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
        f"cxsim sweep {plan.name}: {_points_text(plan)} ({plan.size.describe()}) on "
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
    if args.csv:
        from cxsim.sweeps.outputs import write_runs_csv

        _say(args, f"wrote {write_runs_csv(args.out)}")
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
    for warning in analysis.warnings:
        _error(f"warning: {warning}")
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
