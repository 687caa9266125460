"""Calibration files: the scenario, the parameters to fit, the targets, and how to search.

A calibration file is TOML::

    # Fit the attitude effects to TARP's repurchase table.
    name = "tarp"
    base = "tarp_repurchase"       # a path relative to this file, a shipped name, or a [base] table
    replications = 2               # runs per trial and variant: (seed, 0), ..., (seed, R - 1)
    trials = 120
    batch_size = 8                 # trials asked at a time, whatever the number of workers
    seed = 20240601                # the root seed of every run, and the sampler's seed
    sampler = "tpe"                # or "cmaes"
    cmaes_step = 0.05              # CMA-ES only: start at the start values, this step (share of range)

    [fixed]                        # dotted keys held at a value other than the base's
    "market.customers" = 20_000

    [parameters]                   # dotted keys of the scenario schema, with bounds inside the schema's
    "behaviour.attitude.problem_minor" = { low = -2.0, high = 0.0, start = -1.0 }
    "behaviour.retention.churn_width" = { low = 0.05, high = 1.0, log = true }

    [[targets]]
    name = "TARP, small losses"
    measure = "tarp_repurchase"    # a measurement of cxsim.calibrate.measures
    args = { loss = "minor", from_day = 366, to_day = 730 }
    likelihood = "binomial"        # binomial, beta_binomial, normal or band
    observed = [0.37, 0.46, 0.70, 0.95]
    n = 200                        # per cell, or one for all: a sample size or an effective one
    weight = 1.0
    variant = { "behaviour.word_of_mouth.negative_tell_probability" = 0.0 }  # this target's own overrides

Every problem is one :class:`CalibrationError` (an :class:`~cxsim.errors.InputError`)
whose message is one line naming the file, the field and what was expected, as
for scenario files and sweep plans; parameters go through the one resolver
(:func:`cxsim.params.resolve`) and the schema's bounds (:func:`cxsim.params.bounds`).
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cxsim import scenario
from cxsim.calibrate.likelihood import Likelihood
from cxsim.calibrate.measures import MEASUREMENTS, Measurement, argument_error
from cxsim.errors import InputError
from cxsim.params import (
    DottedKeyError,
    ModelParams,
    ParameterError,
    bounds,
    describe_error,
    did_you_mean,
    field_info,
    format_loc,
    leaf_annotation,
    resolve,
    value_type,
)
from cxsim.sweeps.plan import _flatten_keys, canonical_json

#: The default spread budget: trials after the search per fitted parameter (see
#: ``Calibration.spread_trials``).
SPREAD_PER_PARAMETER = 32
#: The default refine budget: trials of the local CMA-ES between the search and the spread, per
#: fitted parameter (see ``Calibration.refine_trials`` and :mod:`cxsim.calibrate.refine`).
REFINE_PER_PARAMETER = 24

#: Keys a calibration sets itself: neither fixed, varied by a target, nor fitted.
RESERVED_KEYS = {
    "market.seed": "market.seed is the calibration's seed (the root seed of every run)",
}


class CalibrationError(InputError):
    """Bad calibration file: one line naming the file, the field and what was expected."""


# --------------------------------------------------------------------------- the file's shape

Numbers = float | list[float]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ParameterSpec(_Table):
    """A fitted parameter: its range, scale and starting guess."""

    low: float = Field(description="Lowest value tried (inside the schema's bounds).")
    high: float = Field(description="Highest value tried (inside the schema's bounds).")
    log: bool = Field(False, description="Search on a log scale (low must be > 0).")
    start: float | None = Field(
        None,
        description="Starting guess: the first trial, and the 'before' of the report "
        "(default: the base scenario's value, or the middle of the range).",
    )


class TieSpec(_Table):
    """A tied parameter: not fitted, but held at a multiple of a fitted one."""

    of: str = Field(description="The fitted parameter it follows (a key of [parameters]).")
    times: float = Field(description="The factor: tied value = times x the fitted value.")


class TargetSpec(_Table):
    """One observed figure (or table of figures) the simulation should reproduce."""

    name: str = Field(min_length=1, max_length=80)
    measure: str = Field(description="A measurement of cxsim.calibrate.measures.")
    args: dict[str, Any] = Field(default_factory=dict, description="The measurement's arguments.")
    variant: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted-key overrides of this target's runs, on top of base and fixed.",
    )
    likelihood: Literal["binomial", "beta_binomial", "normal", "band"]
    observed: Numbers | None = None
    n: Numbers | None = Field(None, description="(Effective) sample size per cell, for shares.")
    overdispersion: float | None = Field(
        None, gt=0.0, lt=1.0, description="beta_binomial: the intra-class correlation."
    )
    sd: Numbers | None = Field(
        None, description="normal: standard error per cell; band: the steepness outside."
    )
    low: Numbers | None = None
    high: Numbers | None = None
    weight: float = Field(1.0, ge=0.0, le=1e6)
    note: str = Field("", description="Where the observed figures come from (for the report).")


class CalibrationFile(_Table):
    """The tables of a calibration file."""

    name: str | None = Field(None, min_length=1, max_length=80)
    description: str = ""
    base: str | dict[str, Any] = Field(
        description="Base scenario: a path relative to the file, a shipped scenario's name, "
        "or an inline table of scenario fields."
    )
    fixed: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, ParameterSpec] = Field(min_length=1)
    ties: dict[str, TieSpec] = Field(
        default_factory=dict,
        description="Parameters held at a multiple of a fitted one (a stated ratio, not a fit).",
    )
    targets: list[TargetSpec] = Field(min_length=1)
    replications: int = Field(2, ge=1, le=1000)
    trials: int = Field(100, ge=1, le=100_000)
    refine_trials: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="Trials of a local CMA-ES after the search, started from its best trials, "
        "before the spread (default: 24 per fitted parameter; 0: none).",
    )
    spread_trials: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="Trials after the search that map the region of good fits "
        "(default: 32 per fitted parameter).",
    )
    batch_size: int = Field(8, ge=1, le=1000)
    seed: int = Field(1, ge=0, le=2**32 - 1)
    sampler: Literal["tpe", "cmaes"] = "tpe"
    cmaes_step: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="CMA-ES only: search from the parameters' start values with this initial "
        "step, as a share of each parameter's range (default: from the middle of the bounds, "
        "a sixth of the range).",
    )

    @model_validator(mode="after")
    def _step_needs_cmaes(self) -> CalibrationFile:
        if self.cmaes_step is not None and self.sampler != "cmaes":
            raise ValueError('cmaes_step is for sampler = "cmaes" only')
        return self


# --------------------------------------------------------------------------- the checked calibration


@dataclass(frozen=True)
class Parameter:
    """A fitted parameter, checked against the schema."""

    key: str
    low: float
    high: float
    log: bool
    start: float
    value_type: str

    def distribution(self) -> Any:
        """The Optuna distribution of the parameter."""
        import optuna

        if self.value_type == "int":
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log)


@dataclass(frozen=True)
class Target:
    """A checked target."""

    index: int
    name: str
    measurement: Measurement
    args: dict[str, Any]
    variant: int
    cells: tuple[str, ...]
    share: bool
    likelihood: Likelihood
    weight: float
    note: str

    def deviance(self, simulated: np.ndarray) -> np.ndarray:
        """Weighted deviance per cell (the target's part of the objective)."""
        return self.weight * self.likelihood.deviance(simulated)


@dataclass(frozen=True)
class Tie:
    """A tied parameter, checked against the schema: ``key`` = ``times`` x fitted ``of``."""

    key: str
    of: str
    times: float
    value_type: str


@dataclass(eq=False)
class Calibration:
    """A checked calibration file, ready to run.

    Attributes:
        path: the file, or ``None`` for a calibration given as a dict.
        text: the file's text (kept with the results).
        spec: the file's tables, checked.
        base: the base scenario's parameters with ``fixed`` applied.
        base_tables: the base scenario's tables as written (for ``best.toml``).
        base_dir: the folder against which the base scenario's relative paths are resolved.
        parameters: the fitted parameters.
        ties: parameters held at a multiple of a fitted one.
        targets: the targets.
        variants: the overrides of each variant of the base (variant 0 is the base itself
            when a target has no variant).
        calibration_hash: SHA-256 of everything that decides a trial's value except the
            number of trials (so a finished study can be given more trials).

    """

    path: Path | None
    text: str
    spec: CalibrationFile
    base: ModelParams
    base_tables: dict[str, Any]
    base_dir: Path | None
    parameters: list[Parameter]
    ties: list[Tie]
    targets: list[Target]
    variants: list[dict[str, Any]]
    calibration_hash: str

    @property
    def label(self) -> str:
        """How errors name the calibration."""
        return str(self.path) if self.path is not None else "<calibration>"

    @property
    def name(self) -> str:
        """The calibration's name: its ``name`` field, else the file's stem."""
        if self.spec.name:
            return self.spec.name
        return self.path.stem if self.path is not None else "calibration"

    @property
    def seed(self) -> int:
        """The root seed of every run and the sampler's seed."""
        return self.spec.seed

    @property
    def refine_trials(self) -> int:
        """Trials of the local CMA-ES between the search and the spread (default: 24 per parameter).

        The search on sharp data does not arrive (:mod:`cxsim.calibrate.refine`); these trials
        take it most of the way, so that the spread trials mostly map the region of good fits.
        """
        given = self.spec.refine_trials
        return given if given is not None else REFINE_PER_PARAMETER * len(self.parameters)

    @property
    def spread_trials(self) -> int:
        """Trials after the search that map the region of good fits (default: 32 per parameter).

        The default is the budget at which the coverage study (``experiments/
        calibration_coverage.py``: the small recovery check on 12 draws) found the ranges of good
        fits holding the truth in every draw; with 8 per parameter they did in 7 of 12.
        """
        given = self.spec.spread_trials
        return given if given is not None else SPREAD_PER_PARAMETER * len(self.parameters)

    @property
    def start(self) -> dict[str, Any]:
        """The starting values of the fitted parameters."""
        return {p.key: _typed(p.start, p.value_type) for p in self.parameters}

    def with_ties(self, values: dict[str, Any]) -> dict[str, Any]:
        """The fitted ``values`` and the tied parameters that follow them."""
        return {**values, **tied_values(self.ties, values)}

    def params_for(self, values: dict[str, Any], variant: int) -> ModelParams:
        """The parameters of variant ``variant`` at fitted ``values`` (no journey log: measurements count online).

        The fitted (and tied) values apply to the base, then the variant's own overrides: a
        variant is a scenario that may choose its own companies, and choosing a company
        list replaces the base's, fitted company fields included.
        """
        return resolve(
            self.base,
            {
                **self.with_ties(values),
                **self.variants[variant],
                "market.seed": self.seed,
                "journey.sample_size": 0,
            },
            label=self.label,
        )

    def record(self) -> dict[str, Any]:
        """What the calibration folder keeps of the calibration."""
        return {
            "name": self.name,
            "description": self.spec.description,
            "file": self.label,
            "calibration_hash": self.calibration_hash,
            "seed": self.seed,
            "sampler": self.spec.sampler,
            "cmaes_step": self.spec.cmaes_step,
            "replications": self.spec.replications,
            "batch_size": self.spec.batch_size,
            "trials": self.spec.trials,
            "refine_trials": self.refine_trials,
            "spread_trials": self.spread_trials,
            "parameters": [vars(p) for p in self.parameters],
            "ties": [vars(t) for t in self.ties],
            "targets": [
                {
                    "name": t.name,
                    "measure": t.measurement.name,
                    "args": t.args,
                    "variant": self.variants[t.variant],
                    "cells": list(t.cells),
                    "likelihood": t.likelihood.kind,
                    "weight": t.weight,
                }
                for t in self.targets
            ],
            "base": self.base.model_dump(mode="json"),
            "text": self.text,
        }


def describe_variant(overrides: dict[str, Any]) -> str:
    """A variant's overrides in one line (``base`` for none)."""
    if not overrides:
        return "base"
    return "; ".join(f"{k} = {v!r}" for k, v in overrides.items())


def _typed(value: float, kind: str) -> Any:
    return round(value) if kind == "int" else float(value)


# --------------------------------------------------------------------------- loading


def load_calibration(path: str | os.PathLike[str]) -> Calibration:
    """Read and check a calibration file.

    Raises:
        CalibrationError: one line naming the file, the field and what was expected.

    """
    path = Path(path)
    if path.is_dir():
        raise CalibrationError(f"{path}: is a folder, not a calibration file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(f"{path}: no such calibration file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CalibrationError(f"{path}: cannot read: {err}") from None
    return calibration_from_text(text, path)


def calibration_from_text(text: str, path: Path | None = None) -> Calibration:
    """Parse and check a calibration given as TOML text (``path`` names it and anchors ``base``)."""
    label = str(path) if path is not None else "<calibration>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CalibrationError(f"{label}: not valid TOML: {err}") from None
    return calibration_from_dict(data, path, text)


def calibration_from_dict(
    data: dict[str, Any], path: Path | None = None, text: str = ""
) -> Calibration:
    """Check a calibration given as a dict of its tables (as parsed from TOML)."""
    label = str(path) if path is not None else "<calibration>"
    if not isinstance(data, dict):
        raise CalibrationError(f"{label}: expected a table of calibration settings")
    data = copy.deepcopy(data)
    if not text:  # a calibration given as a dict is kept as the file it would be
        text = _as_toml(data)
    for table in ("fixed", "parameters", "ties"):
        if isinstance(data.get(table), dict):
            data[table] = _flatten_keys(
                data[table], lambda _k, v: _is_parameter_spec(v) or _is_tie_spec(v)
            )
    for target in data.get("targets") or []:
        if isinstance(target, dict) and isinstance(target.get("variant"), dict):
            target["variant"] = _flatten_keys(target["variant"], lambda _k, _v: False)
    try:
        spec = CalibrationFile.model_validate(data)
    except ValidationError as err:
        raise CalibrationError(_format_file_error(err, label)) from None

    base_params, base_tables, base_dir = _load_base(spec, path, label)
    base = _apply_fixed(spec, base_params, label)
    parameters = [
        _check_parameter(spec, key, raw, base, label) for key, raw in spec.parameters.items()
    ]
    ties = [_check_tie(spec, key, raw, base, parameters, label) for key, raw in spec.ties.items()]
    variants: list[dict[str, Any]] = []
    targets = [
        _check_target(i, t, spec, base, parameters, ties, variants, label)
        for i, t in enumerate(spec.targets)
    ]
    names = [t.name for t in targets]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise CalibrationError(f"{label}: targets[{i}].name: {name!r} names two targets")
    if not any(t.weight > 0 for t in targets):
        raise CalibrationError(f"{label}: targets: every weight is 0; nothing would be fitted")
    digest = hashlib.sha256(
        canonical_json(
            {
                "base": base.model_dump(mode="json"),
                "parameters": [vars(p) for p in parameters],
                "ties": [vars(t) for t in ties],
                "targets": [t.model_dump() for t in spec.targets],
                "replications": spec.replications,
                "batch_size": spec.batch_size,
                "seed": spec.seed,
                "sampler": spec.sampler,
                "cmaes_step": spec.cmaes_step,
            }
        ).encode("utf-8")
    ).hexdigest()
    return Calibration(
        path=path,
        text=text,
        spec=spec,
        base=base,
        base_tables=base_tables,
        base_dir=base_dir,
        parameters=parameters,
        ties=ties,
        targets=targets,
        variants=variants,
        calibration_hash=digest,
    )


def _as_toml(data: dict[str, Any]) -> str:
    import tomli_w

    try:
        return tomli_w.dumps(data)
    except (TypeError, ValueError):  # not representable as TOML: the checks below will say why
        return ""


def _is_parameter_spec(value: Any) -> bool:
    return isinstance(value, dict) and ("low" in value or "high" in value)


def _is_tie_spec(value: Any) -> bool:
    return isinstance(value, dict) and ("of" in value or "times" in value)


def tied_values(ties: list[Tie], values: dict[str, Any]) -> dict[str, Any]:
    """The values of ``ties`` at fitted ``values``."""
    return {t.key: _typed(t.times * float(values[t.of]), t.value_type) for t in ties}


def _check_tie(
    spec: CalibrationFile,
    key: str,
    raw: TieSpec,
    base: ModelParams,
    parameters: list[Parameter],
    label: str,
) -> Tie:
    """A tied parameter: a numeric schema field, neither fitted nor fixed, following a fitted one."""
    where = f"ties.{key}"
    kind = value_type(_check_key(key, label, where))
    if kind not in ("int", "float"):
        raise CalibrationError(f"{label}: {where}: only numeric parameters can be tied")
    if key in spec.parameters:
        raise CalibrationError(
            f"{label}: {where}: is also fitted (parameters.{key}); fit it or tie it"
        )
    if key in spec.fixed:
        raise CalibrationError(f"{label}: {where}: is also fixed (fixed.{key}); fix it or tie it")
    fitted = {p.key: p for p in parameters}
    if raw.of not in fitted:
        hint = did_you_mean(raw.of, list(fitted))
        raise CalibrationError(
            f"{label}: {where}.of: {raw.of!r} is not a fitted parameter (a key of [parameters]){hint}"
        )
    if not math.isfinite(raw.times):
        raise CalibrationError(f"{label}: {where}.times: expected a finite number")
    tie = Tie(key, raw.of, float(raw.times), kind)
    source = fitted[raw.of]
    for end in ("low", "high", "start"):
        value = getattr(source, end)
        _resolve(
            base,
            tied_values([tie], {raw.of: value}),
            label,
            {key: f"{where} at parameters.{raw.of}.{end} = {value:g}"},
        )
    return tie


def _format_file_error(error: ValidationError, label: str) -> str:
    """One line for a calibration file that does not fit :class:`CalibrationFile`."""
    errors = error.errors()
    errors.sort(key=lambda e: 0 if e["type"] == "extra_forbidden" else 1)
    err = errors[0]
    # Drop pydantic's tags of union members (``float``, ``list[float]``) from the location.
    loc = tuple(
        p
        for p in err.get("loc", ())
        if isinstance(p, int) or not ("[" in p or p in ("float", "int", "str", "bool", "none"))
    )
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        group = _table_at(loc[:-1])
        names = list(group.model_fields) if group is not None else []
        hint = did_you_mean(key, names) or (
            f"; expected one of {', '.join(names)}" if names else ""
        )
        return f"{label}: {format_loc(loc)}: unknown key {key!r}{hint}{more}"
    if loc and loc[0] == "base" and len(loc) > 1:
        return f"{label}: base: expected a scenario file's path or a table of scenario fields{more}"
    if len(loc) == 1 and err["type"] == "too_short":
        return f"{label}: {loc[0]}: expected at least one entry{more}"
    _, message = describe_error(err)
    return f"{label}: {format_loc(loc)}: {message}{more}"


def _table_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The table of the file at ``loc``: the file itself, a target or a parameter."""
    if not loc:
        return CalibrationFile
    if len(loc) == 2 and loc[0] == "targets":
        return TargetSpec
    if len(loc) == 2 and loc[0] == "parameters":
        return ParameterSpec
    return None


def _load_base(
    spec: CalibrationFile, path: Path | None, label: str
) -> tuple[ModelParams, dict[str, Any], Path]:
    """The base scenario's parameters, its tables as written, and the folder of its relative paths."""
    here = path.parent if path is not None else Path.cwd()
    if isinstance(spec.base, dict):
        try:
            params = resolve(spec.base, {}, label=f"{label}: base")
        except ParameterError as err:
            raise CalibrationError(str(err)) from None
        return params, copy.deepcopy(spec.base), here.resolve()
    candidate = Path(spec.base)
    if not candidate.is_absolute():
        candidate = here / candidate
    if not candidate.is_file():
        bare = Path(spec.base).parent == Path(".") and not Path(spec.base).suffix
        if not bare:
            raise CalibrationError(f"{label}: base: no such scenario file {candidate}")
        candidate = Path(spec.base)  # a shipped scenario's name
    try:
        loaded = scenario.load(candidate)
    except InputError as err:
        raise CalibrationError(f"{label}: base: {err}") from None
    return loaded.params, copy.deepcopy(loaded.data), (loaded.base_dir or here).resolve()


def _resolve(
    base: ModelParams, values: dict[str, Any], label: str, names: dict[str, str]
) -> ModelParams:
    try:
        return resolve(base, values, label=label, names=names)
    except ParameterError as err:
        raise CalibrationError(str(err)) from None


def _check_key(key: str, label: str, where: str, *, groups: bool = False) -> Any:
    """The annotation of the parameter at ``key``; an error if it is not one the file may set.

    With ``groups``, a whole group may be set too (a variant's own ``companies`` list).
    """
    if key in RESERVED_KEYS:
        raise CalibrationError(f"{label}: {where}: {RESERVED_KEYS[key]}; it cannot be set here")
    try:
        return field_info(key).annotation if groups else leaf_annotation(key)
    except DottedKeyError as err:
        raise CalibrationError(f"{label}: {where}: {err}") from None


def _apply_fixed(spec: CalibrationFile, base: ModelParams, label: str) -> ModelParams:
    for key in spec.fixed:
        _check_key(key, label, f"fixed.{key}")
    return _resolve(base, spec.fixed, label, {key: f"fixed.{key}" for key in spec.fixed})


def _check_parameter(
    spec: CalibrationFile, key: str, raw: ParameterSpec, base: ModelParams, label: str
) -> Parameter:
    """A fitted parameter: numeric, not fixed, with a range inside the schema's bounds."""
    where = f"parameters.{key}"
    kind = value_type(_check_key(key, label, where))
    if kind not in ("int", "float"):
        raise CalibrationError(
            f"{label}: {where}: only numeric parameters can be fitted; {key} takes {kind} values"
        )
    if key in spec.fixed:
        raise CalibrationError(f"{label}: {where}: is also fixed (fixed.{key}); fit it or fix it")
    low, high = raw.low, raw.high
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise CalibrationError(f"{label}: {where}: {key} takes whole numbers; give whole low, high")
    if not low < high:
        raise CalibrationError(
            f"{label}: {where}: expected low < high, got low {low:g}, high {high:g}"
        )
    if raw.log and low <= 0:
        raise CalibrationError(f"{label}: {where}.low: a log scale needs low > 0, got {low:g}")
    _check_schema_bounds(key, low, high, label, where)
    start = raw.start
    if start is None:
        current = float(_value_at(base, key))
        middle = math.sqrt(low * high) if raw.log else (low + high) / 2.0
        start = current if low <= current <= high else middle
    elif not low <= start <= high:
        raise CalibrationError(
            f"{label}: {where}.start: expected a value from {low:g} to {high:g}, got {start:g}"
        )
    for name, value in (("low", low), ("high", high), ("start", start)):
        _resolve(base, {key: _typed(value, kind)}, label, {key: f"{where}.{name}"})
    return Parameter(key, float(low), float(high), raw.log, float(start), kind)


def _check_schema_bounds(key: str, low: float, high: float, label: str, where: str) -> None:
    """``low`` and ``high`` must lie within the schema's bounds of ``key``."""
    info = field_info(key)
    lowest, highest = bounds(info)
    exclusive_low = any(getattr(m, "gt", None) is not None for m in info.metadata)
    exclusive_high = any(getattr(m, "lt", None) is not None for m in info.metadata)
    if lowest is not None and (low < lowest or (exclusive_low and low == lowest)):
        sign = ">" if exclusive_low else ">="
        raise CalibrationError(
            f"{label}: {where}.low: the schema allows {key} {sign} {lowest:g}, got {low:g}"
        )
    if highest is not None and (high > highest or (exclusive_high and high == highest)):
        sign = "<" if exclusive_high else "<="
        raise CalibrationError(
            f"{label}: {where}.high: the schema allows {key} {sign} {highest:g}, got {high:g}"
        )


def _value_at(params: ModelParams, key: str) -> Any:
    from cxsim.params import parse_key

    node: Any = params
    for part in parse_key(key):
        node = node[part] if isinstance(part, int) else getattr(node, part)
    return node


def _check_target(
    i: int,
    raw: TargetSpec,
    spec: CalibrationFile,
    base: ModelParams,
    parameters: list[Parameter],
    ties: list[Tie],
    variants: list[dict[str, Any]],
    label: str,
) -> Target:
    """A target: a measurement that exists, arguments it accepts, observations its likelihood needs."""
    where = f"targets[{i}]"
    measurement = MEASUREMENTS.get(raw.measure)
    if measurement is None:
        names = sorted(MEASUREMENTS)
        hint = did_you_mean(raw.measure, names) or f"; expected one of {', '.join(names)}"
        raise CalibrationError(
            f"{label}: {where}.measure: unknown measurement {raw.measure!r}{hint}"
        )
    try:
        args = measurement.validate(raw.args)
    except ValidationError as err:
        field, message = argument_error(err)
        raise CalibrationError(f"{label}: {where}.args.{field}: {message}") from None
    params = _check_variant(where, raw.variant, spec, base, parameters, ties, label)
    if measurement.check is not None:
        try:
            measurement.check(params, **args)
        except ValueError as err:
            raise CalibrationError(f"{label}: {where}.args.{err}") from None
    cells = tuple(measurement.cells(**args))
    share = bool(measurement.share(**args))
    likelihood = _check_likelihood(raw, len(cells), share, f"{label}: {where}")
    key = canonical_json(raw.variant)
    known = [canonical_json(v) for v in variants]
    if key not in known:
        variants.append(dict(raw.variant))
        known.append(key)
    return Target(
        index=i,
        name=raw.name,
        measurement=measurement,
        args=args,
        variant=known.index(key),
        cells=cells,
        share=share,
        likelihood=likelihood,
        weight=raw.weight,
        note=raw.note,
    )


def _check_variant(
    where: str,
    overrides: dict[str, Any],
    spec: CalibrationFile,
    base: ModelParams,
    parameters: list[Parameter],
    ties: list[Tie],
    label: str,
) -> ModelParams:
    """A target's own overrides: schema keys that neither fix a fitted or tied parameter nor the seed.

    Returns the variant's parameters at the starting values, having checked that each fitted
    parameter's bounds make valid parameters in the variant too. The variant's overrides apply
    after the fitted values (as :meth:`Calibration.params_for` applies them).
    """
    tied = {t.key for t in ties}
    for key in overrides:
        _check_key(key, label, f"{where}.variant.{key}", groups=True)
        if key in spec.parameters or key in tied:
            kind = "fitted" if key in spec.parameters else "tied"
            raise CalibrationError(
                f"{label}: {where}.variant.{key}: is a {kind} parameter; every target shares the "
                "fitted values"
            )
    names = {key: f"{where}.variant.{key}" for key in overrides}
    start = {p.key: _typed(p.start, p.value_type) for p in parameters}
    for p in parameters:
        for end in ("low", "high"):
            value = {**start, p.key: _typed(getattr(p, end), p.value_type)}
            names[p.key] = f"parameters.{p.key}.{end} in {where}'s variant"
            _resolve(base, {**value, **tied_values(ties, value), **overrides}, label, names)
    return _resolve(
        base,
        {**start, **tied_values(ties, start), **overrides},
        label,
        {k: f"{where}.variant.{k}" for k in overrides},
    )


def _check_likelihood(raw: TargetSpec, cells: int, share: bool, where: str) -> Likelihood:
    """The likelihood's observations, per cell, as its kind needs them."""
    needs: dict[str, tuple[str, ...]] = {
        "binomial": ("observed", "n"),
        "beta_binomial": ("observed", "n", "overdispersion"),
        "normal": ("observed", "sd"),
        "band": ("low", "high", "sd"),
    }
    if raw.likelihood in ("binomial", "beta_binomial") and not share:
        raise CalibrationError(
            f"{where}.likelihood: a {raw.likelihood} likelihood needs a share in [0, 1], and "
            f"measure {raw.measure!r} with these arguments is not one; use normal or band"
        )
    required = needs[raw.likelihood]
    for name in ("observed", "n", "overdispersion", "sd", "low", "high"):
        given = getattr(raw, name) is not None
        if name in required and not given:
            raise CalibrationError(f"{where}.{name}: required for a {raw.likelihood} likelihood")
        if name not in required and given:
            raise CalibrationError(
                f"{where}.{name}: not used by a {raw.likelihood} likelihood (it takes "
                f"{', '.join(required)})"
            )

    def per_cell(name: str, check: Callable[[float], bool], expected: str) -> np.ndarray:
        value = getattr(raw, name)
        values = np.asarray(value if isinstance(value, list) else [value] * cells, np.float64)
        if values.size != cells:
            raise CalibrationError(
                f"{where}.{name}: expected one value or {cells} (one per cell: "
                f"{cells} values of measure {raw.measure!r}), got {values.size}"
            )
        for j, v in enumerate(values):
            if not check(float(v)):
                at = f"[{j}]" if isinstance(value, list) else ""
                raise CalibrationError(f"{where}.{name}{at}: expected {expected}, got {v:g}")
        return values

    if raw.likelihood == "band":
        low = per_cell("low", math.isfinite, "a number")
        high = per_cell("high", math.isfinite, "a number")
        for j in range(cells):
            if low[j] > high[j]:
                raise CalibrationError(
                    f"{where}.high: expected high >= low, got {high[j]:g} < {low[j]:g}"
                )
        sd = per_cell("sd", lambda v: v > 0, "a number > 0")
        return Likelihood("band", np.full(cells, np.nan), sd=sd, low=low, high=high)
    if raw.likelihood == "normal":
        observed = per_cell("observed", math.isfinite, "a number")
        sd = per_cell("sd", lambda v: v > 0, "a number > 0")
        return Likelihood("normal", observed, sd=sd)
    observed = per_cell("observed", lambda v: 0.0 <= v <= 1.0, "a share from 0 to 1")
    n = per_cell("n", lambda v: v > 0, "a sample size > 0")
    return Likelihood(raw.likelihood, observed, n=n, overdispersion=raw.overdispersion)
