"""The ``cxsim calibrate`` command.

Exit codes: 0 the study finished and its outputs are written; 1 the study
could not go on (every trial failed, no Dask scheduler answered within
--connect-timeout); 2 bad input (one line on stderr naming the file and the
field, or a --scheduler address of the wrong form; nothing written); 3 Dask is
not installed; 130 interrupted (finished trials are kept: rerun the same
command to resume).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from cxsim.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_MISSING_EXTRA, EXIT_OK, InputError

DESCRIPTION = """\
Fit a scenario's parameters to observed figures: an Optuna study (TPE, or
CMA-ES) whose trials run on local worker processes, or on a Dask cluster with
--scheduler. Each trial runs every target's variant of the base scenario on
the same replications (common random numbers) and scores the fit as a
weighted sum of deviances. The study is stored in DIR/study.db as it goes: a
calibration that is killed loses at most its running trials; rerun the same
command to resume (those trials are run again, with the same values).
"""

EPILOG = """\
examples:
  cxsim calibrate experiments/tarp_calibration.toml --out calibrations/tarp --workers 2
  cxsim calibrate experiments/tarp_calibration.toml --out calibrations/tarp --trials 200 --confirm 10
  cxsim calibrate fit.toml --out calibrations/fit --scheduler tcp://HOST:8786

DIR holds calibration.json (the calibration and the engine), study.db (the
Optuna study), best.toml (the base scenario with the fitted values), fit.csv
(observed vs simulated per target, 95% CIs, contributions), spread.csv (the
range of good fits per parameter), trials.parquet, calibration_report.html
and, with --confirm R, confirm.csv (the fit on R fresh replications).
"""


def add_commands(subparsers: Any) -> None:
    """Add the ``calibrate`` command to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "calibrate",
        help="fit a scenario's parameters to observed figures (Optuna); resumable",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="calibration file (TOML)")
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="DIR",
        help="calibration folder: created, or resumed if it holds the same calibration",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, metavar="N", help="local worker processes (default: the CPUs)"
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (needs cxsim[distributed])",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up on a --scheduler that has not answered within SECONDS (default 10)",
    )
    p.add_argument(
        "--trials",
        type=int,
        metavar="N",
        help="trials to finish (default: the file's trials; raise it to extend a finished study)",
    )
    p.add_argument(
        "--confirm",
        type=int,
        default=0,
        metavar="R",
        help="rerun the best values on R fresh replications and report the fit on them",
    )
    p.add_argument(
        "--plotly",
        choices=("inline", "cdn"),
        default="inline",
        help="inline (default): embed plotly.js in calibration_report.html, which then works "
        "offline (about 4.6 MB); cdn: a small page that loads plotly.js when opened",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no messages")
    p.set_defaults(handler=cmd_calibrate)


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, flush=True)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``cxsim calibrate``: run (or resume) a calibration into ``--out``."""
    from cxsim.calibrate import calibrate, load_calibration
    from cxsim.calibrate.study import (
        CalibrationStore,
        StudyFailedError,
        planned_trials,
        quiet_optuna,
    )

    # The sweep command's ways to reach a Dask cluster, so both commands treat addresses alike.
    from cxsim.sweeps import cluster
    from cxsim.sweeps.cli import _check_worker_versions, _terminate_as_interrupt

    for option, value, lowest in (
        ("--workers", args.workers, 1),
        ("--trials", args.trials, 1),
        ("--confirm", args.confirm, 0),
    ):
        if value is not None and value < lowest:
            raise InputError(f"{option}: expected a number >= {lowest}, got {value}")
    if not 0 < args.connect_timeout < float("inf"):
        raise InputError(
            f"--connect-timeout: expected a number of seconds > 0, got {args.connect_timeout}"
        )
    if args.scheduler:
        cluster.check_address(args.scheduler)
    calibration = load_calibration(args.file)
    CalibrationStore(args.out).check(calibration)  # before anything is written or connected

    client = executor = None
    if args.scheduler:
        try:
            client = cluster.connect(args.scheduler, args.connect_timeout)
        except cluster.DaskMissingError as err:
            print(f"cxsim: {err}", file=sys.stderr)
            return EXIT_MISSING_EXTRA
        except cluster.SchedulerUnreachableError as err:
            print(f"cxsim: {err}", file=sys.stderr)
            return EXIT_FAILED
        _check_worker_versions(client)
        executor = client.get_executor(pure=False)
        where = f"the Dask cluster at {args.scheduler}"
    else:
        workers = args.workers or os.cpu_count() or 1
        where = f"{workers} local worker process{'es' if workers != 1 else ''}"
    search, refine, spread = planned_trials(calibration, args.trials)
    planned = search + refine + spread
    spec = calibration.spec
    _say(
        args,
        f"cxsim calibrate {calibration.name}: {len(calibration.parameters)} parameters, "
        f"{len(calibration.targets)} targets in {len(calibration.variants)} variant(s); "
        f"{search} search + {refine} refine + {spread} spread trials in batches of {spec.batch_size}, each "
        f"{len(calibration.variants)} variant(s) x {spec.replications} replications, on {where}; "
        f"results in {args.out}",
    )
    try:
        with _terminate_as_interrupt():
            result = calibrate(
                calibration,
                args.out,
                executor,
                workers=args.workers,
                trials=args.trials,
                confirm=args.confirm,
                progress=not args.quiet,
                plotly_js=args.plotly,
            )
    except KeyboardInterrupt:
        try:
            with quiet_optuna():
                study = CalibrationStore(args.out).open_study(create=False)
            finished = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
        except (KeyError, ValueError, OSError):  # stopped before the study was created
            finished = 0
        print(
            f"cxsim: calibration interrupted: {finished} of {planned} trials finished in "
            f"{args.out}; rerun the same command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except StudyFailedError as err:
        print(f"cxsim: {err}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if client is not None:
            client.close()
    _say(args, summary_text(result))
    return EXIT_OK


def summary_text(result: Any) -> str:
    """What the command prints at the end: the best values, their spread, the files."""
    lines = [
        f"best objective {result.best_value:.4g} (trial {result.best_trial}); good fits within "
        f"{result.margin.describe()}, of {result.margin.describe_reference()}:"
    ]
    width = max(len(k) for k in result.best_values)
    for row in result.spread.itertuples(index=False):
        lines.append(
            f"  {row.parameter.ljust(width)}  best {row.best:.4g}  good fits {row.good_low:.4g} "
            f"to {row.good_high:.4g} ({row.share_of_range:.0%} of [{row.bound_low:g}, "
            f"{row.bound_high:g}]"
            + (
                f"; the last half of the spread trials added {row.last_half_added:.0%} of it)"
                if math.isfinite(row.last_half_added)
                else ")"
            )
        )
    lines.append("wrote " + " ".join(str(p) for p in result.files))
    return "\n".join(lines)
