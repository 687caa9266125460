"""Sweep plan files: which scenario, which factors, which design, how many replications.

A plan is TOML::

    # Which lever of the managing company matters most?
    name = "manage_vs_fix_levers"
    base = "../scenarios/manage_vs_fix.toml"   # relative to this file, a shipped name, or a [base] table
    design = "full_factorial"                  # or latin_hypercube, sobol (with samples = N)
    replications = 10
    seed = 20240601                            # root seed: replication r of every point is run (seed, r)

    [fixed]                                    # dotted keys held at a value other than the base's
    "market.customers" = 10_000

    [factors]                                  # dotted keys of the scenario schema
    "companies.0.policy.callback_kept" = [0.1, 0.3, 0.6, 0.9]
    "companies.0.policy.refund_rule" = ["never", "policy", "no_questions"]
    "companies.0.policy.queue_capacity" = { range = [0.005, 0.05], levels = 4, scale = "log" }

    [metrics]
    summary = ["retention", "market_share", "profit"]   # columns of cxsim.summary.summarize
    daily = ["customers"]                               # optional daily series

Every problem is raised as one :class:`PlanError` (a :class:`~cxsim.scenario.ScenarioError`)
whose message is one line naming the file, the field and what was expected, as for
scenario files::

    experiments/x.toml: factors.companies.0.policy.calback_kept: not a parameter of the scenario schema; did you mean companies.0.policy.callback_kept?

Replication ``r`` of every point is run ``(seed, r)`` of
:func:`cxsim.run.run_market`: the points of a replication share their luck
(common random numbers), and ``cxsim run POINT --seed SEED -r R`` gives a
point's ``R`` replications exactly.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import os
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, ValidationError

from cxsim import scenario
from cxsim.errors import InputError
from cxsim.params import (
    DottedKeyError,
    ModelParams,
    ParameterError,
    describe_error,
    did_you_mean,
    field_paths,
    format_loc,
    generic,
    leaf_annotation,
    resolve,
    value_type,
)
from cxsim.results import METRICS
from cxsim.summary import HEADLINE, summarize
from cxsim.sweeps.design import Factor, count_points, design_points
from cxsim.sweeps.limits import DEFAULT_MAX_RUNS

DESIGNS = ("full_factorial", "latin_hypercube", "sobol")

#: The parameters that decide whether a network file fits its market.
NETWORK_KEYS = (
    "network.kind",
    "network.path",
    "network.first_id",
    "network.header",
    "market.customers",
)

#: Keys a sweep sets itself and a plan may not vary.
RESERVED_KEYS = {"market.seed": "market.seed is the plan's seed (the root seed of every run)"}


class PlanError(InputError):
    """Bad sweep plan: the message is one line naming the file, the field and what was expected."""


# --------------------------------------------------------------------------- the file's shape


class _PlanTable(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FactorRange(_PlanTable):
    """A continuous factor: values between ``low`` and ``high``."""

    # StrictFloat: ``range = [true, 1.0]`` is not a range (pydantic would read true as 1.0).
    range: tuple[StrictFloat, StrictFloat] = Field(
        description="Lowest and highest value, [low, high]."
    )
    levels: int | None = Field(
        None,
        ge=2,
        le=10_000,
        strict=True,
        description="Evenly spaced values for a full factorial design.",
    )
    scale: Literal["linear", "log"] = Field(
        "linear", description="linear, or log (evenly spaced in log(value); low must be > 0)."
    )


class MetricSelection(_PlanTable):
    """Which results each run keeps."""

    summary: list[str] | Literal["all"] = Field(
        default_factory=lambda: list(HEADLINE),
        description="Per-company whole-run figures (columns of cxsim.summary.summarize), or 'all'.",
    )
    daily: list[str] = Field(
        default_factory=list,
        description="Per-company daily series kept (metrics of cxsim.results).",
    )


class PlanFile(_PlanTable):
    """The tables of a sweep plan file."""

    name: str | None = Field(None, min_length=1, max_length=80)
    description: str = ""
    base: str | dict[str, Any] = Field(
        description="Base scenario: a path relative to the plan file, a shipped scenario's name, "
        "or an inline table of scenario fields."
    )
    fixed: dict[str, Any] = Field(default_factory=dict)
    factors: dict[str, Any] = Field(min_length=1)
    design: Literal["full_factorial", "latin_hypercube", "sobol"] = "full_factorial"
    samples: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        strict=True,
        description="Points of a latin_hypercube design; base sample N of a sobol design "
        "(N x (D + 2) points, N x (2D + 2) with second_order).",
    )
    second_order: bool = Field(
        False, strict=True, description="sobol only: also estimate second-order indices."
    )
    # strict: ``replications = true`` is not a number (pydantic would read it as 1).
    replications: int = Field(1, ge=1, le=100_000, strict=True)
    seed: int = Field(1, ge=0, strict=True)
    metrics: MetricSelection = Field(default_factory=MetricSelection)


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a design point and a replication of the plan's root seed."""

    run_id: str
    point: int
    replication: int
    seed: int
    values: dict[str, Any]


@dataclass(eq=False)
class SweepPlan:
    """A checked sweep plan, ready to run.

    Attributes:
        path: the plan file, or ``None`` for a plan made in code.
        text: the plan file's text (kept with the results).
        spec: the plan's tables, checked.
        base: the base scenario's parameters with the plan's ``fixed`` values applied.
        base_dir: folder against which the base scenario's relative paths are resolved.
        factors: the varied parameters.
        points: the design: one dict of factor values per point.
        summary_metrics: per-company whole-run figures each run keeps.
        daily_metrics: per-company daily series each run keeps.
        plan_hash: SHA-256 of everything that decides a run's result except the number of
            replications (so adding replications to a sweep keeps its finished runs).
        size: how many runs, and their estimated time and memory.

    """

    path: Path | None
    text: str
    spec: PlanFile
    base: ModelParams
    base_dir: Path | None
    factors: list[Factor]
    points: list[dict[str, Any]]
    summary_metrics: list[str]
    daily_metrics: list[str]
    plan_hash: str
    size: SweepSize

    @property
    def label(self) -> str:
        """How errors name the plan."""
        return str(self.path) if self.path is not None else "<plan>"

    @property
    def name(self) -> str:
        """The plan's name: its ``name`` field, else the file's stem."""
        if self.spec.name:
            return self.spec.name
        return self.path.stem if self.path is not None else "sweep"

    @property
    def replications(self) -> int:
        """Runs per design point."""
        return self.spec.replications

    @property
    def design(self) -> str:
        """The design's name."""
        return self.spec.design

    def runs(self) -> list[RunSpec]:
        """Every run of the sweep, point by point, replication by replication."""
        seed = self.spec.seed
        runs = []
        for point, values in enumerate(self.points):
            for replication in range(self.replications):
                run_id = make_run_id(self.plan_hash, point, values, replication, seed)
                runs.append(RunSpec(run_id, point, replication, seed, values))
        return runs

    def points_frame(self) -> pd.DataFrame:
        """The design as a table: one row per point, one column per factor."""
        frame = pd.DataFrame(self.points, columns=[f.key for f in self.factors])
        frame.insert(0, "point", np.arange(len(self.points), dtype=np.int64))
        return frame

    def record(self) -> dict[str, Any]:
        """Everything needed to analyse the sweep's results without the plan file."""
        return {
            "name": self.name,
            "description": self.spec.description,
            "plan_file": self.label,
            "plan_hash": self.plan_hash,
            "design": self.design,
            "samples": self.spec.samples,
            "second_order": self.spec.second_order,
            "replications": self.replications,
            "seed": self.spec.seed,
            "factors": [f.describe() for f in self.factors],
            "summary_metrics": self.summary_metrics,
            "daily_metrics": self.daily_metrics,
            "companies": [c.name for c in self.base.companies],
            "points": len(self.points),
            "runs": len(self.points) * self.replications,
            "base": self.base.model_dump(mode="json"),
            "base_dir": str(self.base_dir) if self.base_dir is not None else None,
            "plan_text": self.text,
        }


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same text for the same value (for hashing)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def make_run_id(
    plan_hash: str, point: int, values: dict[str, Any], replication: int, seed: int
) -> str:
    """The id of a run: a hash of its plan, design point, replication and seed."""
    text = canonical_json(
        {
            "plan": plan_hash,
            "point": point,
            "values": values,
            "replication": replication,
            "seed": seed,
        }
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


# --------------------------------------------------------------------------- schema look-ups


@functools.cache
def summary_metric_names() -> tuple[str, ...]:
    """The columns :func:`cxsim.summary.summarize` returns (whatever it derives today)."""
    row = {"day": [0, 1], "company": ["a", "a"], **{m: [1.0, 1.0] for m in METRICS}}
    params = ModelParams(companies=[{"name": "a"}])
    return tuple(summarize(pd.DataFrame(row), params).columns)


def _flatten_keys(
    table: dict[str, Any], is_spec: typing.Callable[[str, Any], bool]
) -> dict[str, Any]:
    """Join nested TOML tables (``[factors.companies.0.policy]``) into dotted keys.

    A table is descended into until its path is a parameter of the schema or
    ``is_spec(path, value)`` says the value is what the path is set to.
    """
    flat: dict[str, Any] = {}
    generic_paths = set(field_paths())

    def walk(prefix: str, value: Any) -> None:
        try:
            known = generic(prefix) in generic_paths
        except DottedKeyError:
            known = False
        if known or is_spec(prefix, value) or not isinstance(value, dict):
            flat[prefix] = value
            return
        for k, v in value.items():
            walk(f"{prefix}.{k}", v)

    for key, value in table.items():
        walk(key, value)
    return flat


# --------------------------------------------------------------------------- size


#: Memory the sweep's own process holds per run: its RunSpec (0.2 KB), task (0.5 KB) and
#: status (measured with tracemalloc: 0.72 KB a run for 10^5 runs of a two-factor plan on
#: the tests' tiny world); 2 KB leaves room for longer keys and values.
PLANNING_BYTES_PER_RUN = 2_000
#: ... and per point and factor: the point's value (measured 124 bytes; rounded up).
PLANNING_BYTES_PER_VALUE = 200
#: A plan file is parsed whole before its runs can be counted (a 20 MB list of 2.3 million
#: values takes Python's TOML parser 8 s), so its size is bounded first: a plan within
#: ``max_runs`` needs at most a list of ``max_runs`` values, a few dozen bytes each.
PLAN_BYTES_PER_RUN = 40
MIN_PLAN_BYTES_LIMIT = 4 * 1024**2


def plan_bytes_limit(max_runs: int) -> int:
    """Largest plan text read for a plan of at most ``max_runs`` runs."""
    return max(MIN_PLAN_BYTES_LIMIT, PLAN_BYTES_PER_RUN * max_runs)


@dataclass(frozen=True)
class SweepSize:
    """What a plan will cost, known from its shape before any point is made.

    Attributes:
        points: design points (at most this many when an integer range rounds levels together).
        replications: runs per point.
        counts: values per factor (a full factorial multiplies them), in the plan's order.
        cpu_seconds: CPU seconds of all runs, at the largest market of any point
            (:func:`cxsim.scenario.estimate_seconds`).
        run_bytes: peak memory of one run at that market (:func:`cxsim.scenario.peak_bytes`).
        planning_bytes: memory the sweep's own process holds for its points and runs.

    """

    points: int
    replications: int
    counts: tuple[int, ...]
    cpu_seconds: float
    run_bytes: int
    planning_bytes: int

    @property
    def runs(self) -> int:
        """Points x replications."""
        return self.points * self.replications

    def describe(self) -> str:
        """``about 2 min of CPU time, 0.3 GiB per run``."""
        cpu = duration(self.cpu_seconds)
        cpu = cpu if cpu.startswith("under") else f"about {cpu}"
        return f"{cpu} of CPU time, {_size_text(self.run_bytes)} per run"


def duration(seconds: float) -> str:
    """Seconds in the unit people think in: 40 s, 12 min, 3.5 h, 2.1 days, 4.0e+09 years."""
    if seconds < 1:
        return "under 1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds < 730 * 86400:
        return f"{seconds / 86400:.1f} days"
    years = seconds / (365.25 * 86400)
    return f"{years:.1f} years" if years < 1e6 else f"{years:.1e} years"


def _size_text(n: float) -> str:
    for unit, size in (("PiB", 1024**5), ("TiB", 1024**4), ("GiB", 1024**3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}" if n < 10_000 * size else f"{n / size:.1e} {unit}"
    return f"{n / 1024**2:.0f} MiB"


def _largest_market(base: ModelParams, factors: list[Factor]) -> ModelParams:
    """The base with the largest market any point can have: the estimates are upper bounds."""
    largest: dict[str, float] = {}
    for factor in factors:
        if factor.key in ("market.customers", "market.days", "network.mean_degree"):
            top = factor.largest()
            if top is not None and math.isfinite(top):
                largest[factor.key] = top
    market = base.market.model_copy(
        update={
            "customers": int(max(base.market.customers, largest.get("market.customers", 0))),
            "days": int(max(base.market.days, largest.get("market.days", 0))),
        }
    )
    network = base.network.model_copy(
        update={
            "mean_degree": int(max(base.network.mean_degree, largest.get("network.mean_degree", 0)))
        }
    )
    return base.model_copy(update={"market": market, "network": network})


def measure(spec: PlanFile, factors: list[Factor], base: ModelParams) -> SweepSize:
    """The size of a plan and its cost, from the design's shape (no point is made)."""
    points = count_points(factors, spec.design, spec.samples, spec.second_order)
    runs = points * spec.replications
    largest = _largest_market(base, factors)
    return SweepSize(
        points=points,
        replications=spec.replications,
        counts=tuple(f.count for f in factors),
        cpu_seconds=runs * scenario.estimate_seconds(largest),
        run_bytes=scenario.peak_bytes(largest),
        planning_bytes=runs * PLANNING_BYTES_PER_RUN
        + points * len(factors) * PLANNING_BYTES_PER_VALUE,
    )


def _check_size(size: SweepSize, spec: PlanFile, max_runs: int, label: str) -> None:
    """Refuse a plan past ``max_runs`` runs, or whose bookkeeping alone would not fit in memory."""
    free = scenario.available_memory()
    if size.runs <= max_runs and size.planning_bytes <= free:
        return
    if spec.replications >= size.points:
        field = "replications"
    elif spec.design == "full_factorial":
        field = "factors"
    else:
        field = "samples"
    if spec.design == "full_factorial":
        shape = " x ".join(f"{c:,}" for c in size.counts) + " values"
    elif spec.design == "sobol":
        d = len(size.counts)
        shape = f"{spec.samples:,} samples x {2 * d + 2 if spec.second_order else d + 2}"
    else:
        shape = f"{spec.samples:,} samples"
    replications = f"{spec.replications:,} replication{'s' if spec.replications != 1 else ''}"
    runs = (
        f"{size.points:,} points ({shape}) x {replications} = {size.runs:,} runs, {size.describe()}"
    )
    if size.planning_bytes > free:
        raise PlanError(
            f"{label}: {field}: {runs}; listing the runs alone needs "
            f"{_size_text(size.planning_bytes)} of memory, more than the "
            f"{_size_text(free)} available; plan fewer runs"
        )
    raise PlanError(
        f"{label}: {field}: {runs}; that is more than the limit of {max_runs:,} runs "
        "(raise it with --max-runs, or max_runs= in Python, if you mean it)"
    )


# --------------------------------------------------------------------------- loading


def load_plan(path: str | os.PathLike[str], *, max_runs: int = DEFAULT_MAX_RUNS) -> SweepPlan:
    """Read and check a sweep plan file.

    Args:
        path: the plan file.
        max_runs: most runs the plan may have (see :data:`DEFAULT_MAX_RUNS`).

    Raises:
        PlanError: one line naming the file, the field and what was expected.

    """
    path = Path(path)
    if path.is_dir():
        raise PlanError(f"{path}: is a folder, not a sweep plan file")
    try:
        size = path.stat().st_size
        if size > plan_bytes_limit(max_runs):
            raise PlanError(_too_long(path, size, max_runs))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{path}: no such sweep plan file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PlanError(f"{path}: cannot read: {err}") from None
    return plan_from_text(text, path, max_runs=max_runs)


def _too_long(label: str | Path, size: int, max_runs: int) -> str:
    return (
        f"{label}: {size / 1024**2:.1f} MB is too long for a sweep plan of at most "
        f"{max_runs:,} runs (at most {plan_bytes_limit(max_runs) / 1024**2:.1f} MB; "
        "raise --max-runs, or max_runs= in Python, if you mean it)"
    )


def plan_from_text(
    text: str, path: Path | None = None, *, max_runs: int = DEFAULT_MAX_RUNS
) -> SweepPlan:
    """Parse and check a sweep plan given as TOML text (``path`` names it and anchors ``base``)."""
    label = str(path) if path is not None else "<plan>"
    if len(text) > plan_bytes_limit(max_runs):
        raise PlanError(_too_long(label, len(text), max_runs))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PlanError(f"{label}: not valid TOML: {err}") from None
    return plan_from_dict(data, path, text, max_runs=max_runs)


def plan_from_dict(
    data: dict[str, Any],
    path: Path | None = None,
    text: str = "",
    *,
    max_runs: int = DEFAULT_MAX_RUNS,
) -> SweepPlan:
    """Check a sweep plan given as a dict of its tables (as parsed from TOML).

    The runs are counted, and their time and memory estimated, from the design's shape
    before any value is checked or any point made: a plan past ``max_runs`` is refused at once.
    """
    label = str(path) if path is not None else "<plan>"
    data = copy.deepcopy(data)
    if isinstance(data.get("factors"), dict):
        data["factors"] = _flatten_keys(data["factors"], _is_factor_spec)
    if isinstance(data.get("fixed"), dict):
        data["fixed"] = _flatten_keys(data["fixed"], lambda _k, _v: False)
    try:
        spec = PlanFile.model_validate(data)
    except ValidationError as err:
        raise PlanError(_format_plan_error(err, label)) from None

    base_params, base_dir = _load_base(spec, path, label)
    base_params = _apply_fixed(spec, base_params, label)
    factors = [_factor_shape(spec, key, raw, label) for key, raw in spec.factors.items()]
    _check_design(spec, factors, label)
    summary_metrics, daily_metrics = _check_metrics(spec, label)
    size = measure(spec, factors, base_params)
    _check_size(size, spec, max_runs, label)
    for factor in factors:
        _check_levels(factor, base_params, label)

    points = design_points(factors, spec.design, spec.samples, spec.seed, spec.second_order)
    _check_points(points, base_params, label)
    _check_networks(points, base_params, base_dir, label)
    plan_hash = hashlib.sha256(
        canonical_json(
            {
                "base": base_params.model_dump(mode="json"),
                "factors": [f.describe() for f in factors],
                "design": spec.design,
                "samples": spec.samples,
                "second_order": spec.second_order,
                "seed": spec.seed,
                "summary": summary_metrics,
                "daily": daily_metrics,
            }
        ).encode("utf-8")
    ).hexdigest()
    return SweepPlan(
        path=path,
        text=text,
        spec=spec,
        base=base_params,
        base_dir=base_dir,
        factors=factors,
        points=points,
        summary_metrics=summary_metrics,
        daily_metrics=daily_metrics,
        plan_hash=plan_hash,
        size=size,
    )


def _is_factor_spec(_key: str, value: Any) -> bool:
    return isinstance(value, dict) and "range" in value


def _format_plan_error(error: ValidationError, label: str) -> str:
    """One line for a plan file that does not fit :class:`PlanFile`."""
    errors = error.errors()
    errors.sort(key=lambda e: 0 if e["type"] == "extra_forbidden" else 1)
    err = errors[0]
    loc = tuple(p for p in err.get("loc", ()) if not (isinstance(p, str) and "[" in p))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if err["type"] == "extra_forbidden":
        tables = {(): PlanFile, ("metrics",): MetricSelection}
        group = tables.get(tuple(loc[:-1]))
        names = list(group.model_fields) if group is not None else []
        key = str(loc[-1])
        hint = did_you_mean(key, names) or (
            f"; expected one of {', '.join(names)}" if names else ""
        )
        return f"{label}: {format_loc(loc)}: unknown key {key!r}{hint}{more}"
    if loc and loc[0] == "base" and len(loc) > 1:
        return f"{label}: base: expected a scenario file's path or a table of scenario fields{more}"
    if tuple(loc) == ("factors",) and err["type"] == "too_short":
        return f"{label}: factors: expected at least one factor{more}"
    _, message = describe_error(err)
    return f"{label}: {format_loc(loc)}: {message}{more}"


def _resolve(
    base: ModelParams | dict[str, Any], values: dict[str, Any], label: str, names: dict[str, str]
) -> ModelParams:
    """``base`` with ``values`` applied through the one parameter resolver, as a plan error."""
    try:
        return resolve(base, values, label=label, names=names)
    except ParameterError as err:
        raise PlanError(str(err)) from None


def _load_base(spec: PlanFile, path: Path | None, label: str) -> tuple[ModelParams, Path | None]:
    """The base scenario's parameters and the folder its relative paths are resolved against.

    Raises:
        PlanError: naming the plan file and its ``base`` field (and the scenario file's own
            field when the scenario is what is wrong).

    """
    plan_dir = path.parent if path is not None else Path.cwd()
    if isinstance(spec.base, dict):
        return _resolve(spec.base, {}, f"{label}: base", {}), plan_dir.resolve()
    expected = "expected a scenario file's path, a shipped scenario's name or a [base] table"
    if not spec.base.strip():
        raise PlanError(f"{label}: base: {expected}, got an empty string")
    candidate = Path(spec.base)
    if not candidate.is_absolute():
        candidate = plan_dir / candidate
    if candidate.is_dir():
        raise PlanError(f"{label}: base: {spec.base!r} is a folder ({candidate}); {expected}")
    if not candidate.is_file():
        bare = Path(spec.base).parent == Path(".") and not Path(spec.base).suffix
        if not bare:
            raise PlanError(f"{label}: base: no such scenario file {candidate}")
        candidate = Path(spec.base)  # a shipped scenario's name
    # Its network is checked with the plan's fixed values and factors (see _check_networks).
    try:
        base = scenario.load(candidate, check_network_file=False)
    except InputError as err:
        raise PlanError(f"{label}: base: {err}") from None
    return base.params, (base.base_dir or plan_dir).resolve()


def _apply_fixed(spec: PlanFile, base: ModelParams, label: str) -> ModelParams:
    if not spec.fixed:
        return base
    for key in spec.fixed:
        _check_key(key, label, "fixed")
    return _resolve(base, spec.fixed, label, {key: f"fixed.{key}" for key in spec.fixed})


def _check_key(key: str, label: str, table: str) -> Any:
    """The annotation of the parameter at ``key``; a plan error if it is not a schema path."""
    if key in RESERVED_KEYS:
        raise PlanError(
            f"{label}: {table}.{key}: {RESERVED_KEYS[key]}; it cannot be varied or fixed"
        )
    try:
        return leaf_annotation(key)
    except DottedKeyError as err:
        raise PlanError(f"{label}: {table}.{key}: {err}") from None


def _factor_shape(spec: PlanFile, key: str, raw: Any, label: str) -> Factor:
    """A factor's shape: a schema path, and a list of distinct values or a well-formed range.

    Cheap whatever the number of values (their count is checked next, by :func:`_check_size`);
    whether the schema accepts each value is :func:`_check_levels`'s job.
    """
    where = f"{label}: factors.{key}"
    kind = value_type(_check_key(key, label, "factors"))
    if isinstance(raw, list):
        if not raw:
            raise PlanError(f"{where}: expected at least one value")
        levels = [_normalise(v, kind) for v in raw]
        seen: set[str] = set()
        for value, level in zip(raw, levels, strict=True):
            # canonical JSON: 1 and 1.0 of a float parameter are one value, true and 1 are not.
            text = canonical_json(level)
            if text in seen:
                raise PlanError(f"{where}: value {value!r} is listed twice")
            seen.add(text)
        return Factor(key=key, levels=tuple(levels), value_type=kind)
    if not isinstance(raw, dict):
        raise PlanError(
            f"{where}: expected a list of values or a table {{ range = [low, high] }}, got {raw!r}"
        )
    try:
        spec_range = FactorRange.model_validate(raw)
    except ValidationError as err:
        err0 = err.errors()[0]
        if err0["type"] == "extra_forbidden":
            names = list(FactorRange.model_fields)
            bad = str(err0["loc"][-1])
            hint = did_you_mean(bad, names) or f"; expected one of {', '.join(names)}"
            raise PlanError(f"{where}: unknown key {bad!r}{hint}") from None
        loc, message = describe_error(err0)
        raise PlanError(f"{where}.{format_loc(loc)}: {message}") from None
    if kind not in ("int", "float"):
        raise PlanError(
            f"{where}: a range needs a numeric parameter, but {key} takes {kind} values; "
            "give a list of values"
        )
    low, high = spec_range.range
    if not (math.isfinite(low) and math.isfinite(high)):
        raise PlanError(f"{where}.range: expected finite numbers, got [{low}, {high}]")
    if not low < high:
        raise PlanError(f"{where}.range: expected low < high, got [{low}, {high}]")
    if spec_range.scale == "log" and low <= 0:
        raise PlanError(f"{where}.range: a log scale needs low > 0, got {low}")
    if spec.design == "full_factorial" and spec_range.levels is None:
        raise PlanError(f"{where}: a range in a full_factorial design needs levels = N")
    if spec.design != "full_factorial" and spec_range.levels is not None:
        raise PlanError(
            f"{where}.levels: applies to full_factorial designs only; a {spec.design} design "
            "samples the range"
        )
    return Factor(
        key=key,
        low=float(low),
        high=float(high),
        scale=spec_range.scale,
        grid_levels=spec_range.levels,
        value_type=kind,
    )


def _check_levels(factor: Factor, base: ModelParams, label: str) -> None:
    """Every value of a list (or both ends of a range) must be accepted by the schema."""
    key = factor.key
    if factor.levels is not None:
        for value in factor.levels:
            _check_value(base, key, value, label, f"factors.{key}: value {value!r}")
        return
    for end in (factor.low, factor.high):
        value = _normalise(end, factor.value_type)
        _check_value(base, key, value, label, f"factors.{key}.range: {end!r}")


def _normalise(value: Any, value_type: str) -> Any:
    """A TOML value as the parameter's type, so that 1 and 1.0 are one level and one column type."""
    if value_type == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if value_type == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _check_value(base: ModelParams, key: str, value: Any, label: str, name: str) -> None:
    _resolve(base, {key: value}, label, {key: name})


def _check_design(spec: PlanFile, factors: list[Factor], label: str) -> None:
    if spec.design == "full_factorial":
        if spec.samples is not None:
            raise PlanError(
                f"{label}: samples: applies to latin_hypercube and sobol designs; a full_factorial "
                "design runs every combination of the factors' values"
            )
    elif spec.samples is None:
        raise PlanError(
            f"{label}: samples: required for a {spec.design} design (e.g. samples = 64)"
        )
    if spec.design == "sobol":
        assert spec.samples is not None
        if spec.samples & (spec.samples - 1):
            lower = 1 << (spec.samples.bit_length() - 1)
            raise PlanError(
                f"{label}: samples: a sobol design needs a power of 2 (Sobol' sequences are balanced "
                f"at powers of 2), got {spec.samples}; use {lower} or {lower * 2}"
            )
    elif spec.second_order:
        raise PlanError(f"{label}: second_order: applies to sobol designs only")


def _check_metrics(spec: PlanFile, label: str) -> tuple[list[str], list[str]]:
    known = summary_metric_names()
    summary = list(known) if spec.metrics.summary == "all" else list(spec.metrics.summary)
    for i, name in enumerate(summary):
        if name not in known:
            hint = did_you_mean(name, known) or f"; expected one of {', '.join(known)}"
            raise PlanError(f"{label}: metrics.summary[{i}]: unknown metric {name!r}{hint}")
    if not summary:
        raise PlanError(f"{label}: metrics.summary: expected at least one metric")
    for i, name in enumerate(spec.metrics.daily):
        if name not in METRICS:
            hint = did_you_mean(name, METRICS) or f"; expected one of {', '.join(METRICS)}"
            raise PlanError(f"{label}: metrics.daily[{i}]: unknown metric {name!r}{hint}")
    return list(dict.fromkeys(summary)), list(dict.fromkeys(spec.metrics.daily))


def _check_points(points: list[dict[str, Any]], base: ModelParams, label: str) -> None:
    """Every point must make valid parameters (some combinations break cross-field rules)."""
    for i, values in enumerate(points):
        settings = ", ".join(f"{k} = {v!r}" for k, v in values.items())
        try:
            resolve(base, values, label=label)
        except ParameterError as err:
            reason = str(err).removeprefix(f"{label}: ")
            raise PlanError(f"{label}: design point {i} ({settings}): {reason}") from None


def _check_networks(
    points: list[dict[str, Any]], base: ModelParams, base_dir: Path | None, label: str
) -> None:
    """Every distinct network of the design fits its market: refused at load time, not run by run."""
    seen: set[str] = set()
    for i, values in enumerate(points or [{}]):
        varied = {key: values[key] for key in NETWORK_KEYS if key in values}
        identity = canonical_json(varied)
        if identity in seen:
            continue
        seen.add(identity)
        where = label
        if varied:
            settings = ", ".join(f"{k} = {v!r}" for k, v in varied.items())
            where = f"{label}: design point {i} ({settings})"
        params = resolve(base, varied, label=label) if varied else base
        try:
            scenario.check_network(params, base_dir, where)
        except InputError as err:
            raise PlanError(str(err)) from None
