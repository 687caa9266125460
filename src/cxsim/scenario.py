"""Scenario files: loading, checking against the parameter schema, and errors for people.

A scenario file is TOML whose tables are exactly the fields of
:class:`cxsim.params.ModelParams` (``[market]``, ``[network]``,
``[behaviour.voice]``, ``[[companies]]`` with ``[companies.policy]``, ...). Its
first comment line says what the scenario shows; the comment header under it
says what result to expect.

Every problem with a scenario (a TOML syntax error, an unknown key, a value
out of range, a missing network file, a bad ``--set``, a market too large for
the machine) is raised as one :class:`ScenarioError` whose message is a single
line naming the file, the field and what was expected, for example::

    scenarios/x.toml: companies[1].policy.refund_rule: expected one of never, policy, no_questions, got 'sometimes'
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cxsim import networks
from cxsim.params import ModelParams, NetworkKind, parse_key, set_dotted, submodel

#: Where the shipped scenarios live. A wheel carries them inside the package (its build
#: copies the repository's top-level ``scenarios/`` there, see ``setup.py``); a checkout
#: (an editable install, or ``src`` on the path) has them at its top level.
_PACKAGED = Path(__file__).resolve().parent / "scenarios"
SCENARIO_DIR = (
    _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "scenarios"
)

#: Bytes per person that do not depend on companies or contacts: provider, join day, issue
#: state, issue day, severity, fault, ignored count, CRM fatigue, location (see ``Customers``).
BYTES_PER_PERSON = 1 + 4 + 1 + 4 + 1 + 1 + 1 + 4 + 4
#: Bytes per person and company: attitude (float32) and contacts who are its customers (uint16).
BYTES_PER_PERSON_COMPANY = 4 + 2
#: Network bytes per person (int64 row pointer, int32 degree) and per contact (int32 neighbour id).
BYTES_PER_NODE = 8 + 4
BYTES_PER_CONTACT = 4
#: Results: one float64 per day, company and metric (see ``cxsim.results``).
BYTES_PER_RESULT = 8
#: Peak memory while the network is built, per contact: int64 edge keys, their sort and the
#: row shuffle (measured: 10-12.5 bytes on small-world networks of 2x10^5-10^6 people, mean
#: degree 10-100; rounded up).
BUILD_BYTES_PER_CONTACT = 16
#: Peak temporaries per person (day 0's contact counting, a day's draws), measured ~24; rounded up.
TEMPORARY_BYTES_PER_PERSON = 32
#: Python, NumPy, pandas, Mesa and plotly themselves.
BASELINE_BYTES = 300 * 1024**2
#: Memory assumed free when the machine does not say (no /proc/meminfo nor sysconf).
FALLBACK_AVAILABLE = 4 * 1024**3


class ScenarioError(ValueError):
    """Bad input: the message is one line naming the file, the field and what was expected."""


@dataclass(eq=False)
class Scenario:
    """A checked scenario, ready to run.

    Attributes:
        path: the file, or ``None`` for a scenario made in code.
        text: the file's text, exactly as read (kept in provenance).
        data: the file's tables as a dict, before overrides.
        overrides: dotted-key overrides applied on top (from ``--set``, ``--seed``, ``--days``).
        params: the validated parameters, overrides applied.

    """

    path: Path | None
    text: str
    data: dict[str, Any]
    overrides: dict[str, Any]
    params: ModelParams
    description: str = ""
    header: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Short name: the file's stem."""
        return self.path.stem if self.path is not None else "scenario"

    @property
    def label(self) -> str:
        """How errors and reports name the scenario: its path as given."""
        return str(self.path) if self.path is not None else "<scenario>"

    @property
    def sha256(self) -> str:
        """SHA-256 of the scenario text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def base_dir(self) -> Path | None:
        """Folder against which relative paths in the scenario (a network file) are resolved."""
        return self.path.parent if self.path is not None else None


# --------------------------------------------------------------------------- finding files


def shipped_scenarios() -> list[Path]:
    """The shipped scenario files (in :data:`SCENARIO_DIR`), by name."""
    if not SCENARIO_DIR.is_dir():
        return []
    return sorted(SCENARIO_DIR.glob("*.toml"))


def resolve(name: str | os.PathLike[str]) -> Path:
    """Find a scenario file: a path, or a bare shipped name such as ``manage_vs_fix``.

    Raises:
        ScenarioError: if there is no such file.

    """
    path = Path(name)
    if path.is_file():
        return path
    if (
        path.parent.name == SCENARIO_DIR.name
        and not path.exists()
        and (SCENARIO_DIR / path.name).is_file()
    ):
        return SCENARIO_DIR / path.name  # scenarios/x.toml from outside the repository
    if path.parent == Path(".") and not path.exists():
        shipped = SCENARIO_DIR / (path.name if path.suffix == ".toml" else f"{path.name}.toml")
        if shipped.is_file():
            return shipped
        names = [p.stem for p in shipped_scenarios()]
        hint = _did_you_mean(path.stem, names)
        known = f"; shipped scenarios: {', '.join(names)}" if names and not hint else hint
        raise ScenarioError(f"{name}: no such scenario file{known}")
    if path.is_dir():
        raise ScenarioError(f"{name}: is a folder, not a scenario file")
    raise ScenarioError(f"{name}: no such scenario file")


def header_lines(text: str) -> list[str]:
    """The comment lines at the top of a scenario file, without ``#``."""
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            lines.append(stripped.lstrip("#").strip())
        elif stripped:
            break
        elif lines:
            lines.append("")
    while lines and not lines[-1]:
        lines.pop()
    return lines


def description(text: str) -> str:
    """The one-line description of a scenario: its first comment line."""
    for line in header_lines(text):
        if line:
            return line
    return ""


# --------------------------------------------------------------------------- loading


def load(
    source: str | os.PathLike[str],
    overrides: dict[str, Any] | None = None,
    *,
    check_network_file: bool = True,
) -> Scenario:
    """Read, parse and check a scenario file, with dotted-key ``overrides`` applied.

    Args:
        source: a path or a shipped scenario's bare name.
        overrides: dotted keys (``companies.0.policy.apology``) to values.
        check_network_file: check that a ``network.kind = "file"`` path exists.

    Returns:
        The checked scenario.

    Raises:
        ScenarioError: with one line naming the file, the field and what was expected.

    """
    path = resolve(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read: {err}") from None
    return from_text(text, path, overrides, check_network_file=check_network_file)


def from_text(
    text: str,
    path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    check_network_file: bool = True,
) -> Scenario:
    """Parse and check a scenario given as TOML text (``path`` names it in errors)."""
    label = str(path) if path is not None else "<scenario>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{label}: not valid TOML: {err}") from None
    overrides = dict(overrides or {})
    params = validate(data, label, overrides)
    scenario = Scenario(
        path=path,
        text=text,
        data=data,
        overrides=overrides,
        params=params,
        description=description(text),
        header=header_lines(text),
    )
    if check_network_file:
        check_network(scenario)
    return scenario


def validate(
    data: dict[str, Any], label: str, overrides: dict[str, Any] | None = None
) -> ModelParams:
    """Check ``data`` (with ``overrides``) against :class:`~cxsim.params.ModelParams`.

    Raises:
        ScenarioError: naming ``label``, the field path and what was expected.

    """
    base = copy.deepcopy(data)
    overrides = overrides or {}
    if "companies" not in base and any(k.startswith("companies") for k in overrides):
        # Overrides of a file that keeps the default companies apply to those companies.
        base["companies"] = ModelParams().model_dump(mode="json")["companies"]
    # Presets first so that field overrides win regardless of the order given (as apply_overrides).
    for key, value in sorted(
        overrides.items(), key=lambda kv: 0 if kv[0].endswith(".preset") else 1
    ):
        try:
            set_dotted(base, key, value)
        except KeyError as err:
            message = str(err.args[0]) if err.args else key
            if message.startswith(f"{key}: "):
                message = message[len(key) + 2 :]
            raise ScenarioError(f"{label}: --set {key}: {message}") from None
    try:
        return ModelParams.model_validate(base)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(err, label, overrides)) from None


def check_network(scenario: Scenario) -> None:
    """Check that a network file named by the scenario exists.

    Raises:
        ScenarioError: naming the scenario file, ``network.path`` and the problem.

    """
    net = scenario.params.network
    if net.kind != NetworkKind.file or not net.path:
        return
    path = network_path(scenario)
    if not path.is_file():
        raise ScenarioError(f"{scenario.label}: network.path: no such file: {path}")


def network_path(scenario: Scenario) -> Path:
    """The network file of a scenario, resolved against the scenario's folder."""
    path = Path(scenario.params.network.path or "")
    if not path.is_absolute() and scenario.base_dir is not None:
        path = scenario.base_dir / path
    return path


def read_network(scenario: Scenario) -> None:
    """Read the scenario's network file, if any, to check it fully (``cxsim validate``).

    Raises:
        ScenarioError: naming the scenario file, ``network.path`` and what is wrong with it.

    """
    params = scenario.params
    if params.network.kind != NetworkKind.file:
        return
    try:
        net = networks.read_edge_list(network_path(scenario))
    except networks.NetworkFileError as err:
        raise ScenarioError(f"{scenario.label}: network.path: {err}") from None
    if net.n != params.market.customers:
        raise ScenarioError(
            f"{scenario.label}: market.customers: the network file has {net.n} nodes "
            f"but market.customers is {params.market.customers}"
        )


# --------------------------------------------------------------------------- overrides


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``--set key=value``; the value is a TOML value, or a bare word taken as a string.

    Raises:
        ScenarioError: if there is no ``=`` or the key is malformed (names no file: the caller adds it).

    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError(
            f"--set {text}: expected key=value, such as companies.0.policy.apology=false"
        )
    try:
        tuple(parse_key(key))
    except KeyError:
        raise ScenarioError(f"--set {text}: malformed key {key!r}") from None
    return key, parse_value(raw.strip())


def parse_value(raw: str) -> Any:
    """A TOML value (``false``, ``3``, ``0.5``, ``"x"``, ``[1, 2]``), else the bare text as a string."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


# --------------------------------------------------------------------------- errors for people


def format_loc(loc: tuple[int | str, ...]) -> str:
    """``('companies', 1, 'policy', 'refund_rule')`` -> ``companies[1].policy.refund_rule``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _schema_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The parameter group that holds the field at ``loc`` (``None`` if it is not a group)."""
    model: type[BaseModel] | None = ModelParams
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        model = submodel(info.annotation)
    return model


def _did_you_mean(word: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop pydantic's union and function tags (``function-after[...]``, ``str``) from a location."""
    return tuple(p for p in loc if isinstance(p, int) or not re.search(r"[\[\]-]", p))


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return repr(value)


def _expected(err: dict[str, Any]) -> str:
    """What a pydantic error says was expected, in words."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    bounds = {
        "greater_than_equal": ">=",
        "greater_than": ">",
        "less_than_equal": "<=",
        "less_than": "<",
    }
    if kind in bounds:
        (limit,) = ctx.values()
        return f"expected a number {bounds[kind]} {limit}"
    if kind in ("enum", "literal_error"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return (
            f"expected one of {', '.join(choices)}"
            if choices
            else f"expected {ctx.get('expected')}"
        )
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "expected a whole number"
    if kind in ("float_parsing", "float_type"):
        return "expected a number"
    if kind in ("bool_parsing", "bool_type"):
        return "expected true or false"
    if kind in ("string_type",):
        return "expected a string"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a table"
    if kind == "list_type":
        return "expected a list (an array of tables [[...]])"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"expected at most {ctx.get('max_length')} item(s)"
    if kind == "string_too_short":
        return f"expected at least {ctx.get('min_length')} character(s)"
    if kind == "string_too_long":
        return f"expected at most {ctx.get('max_length')} characters"
    msg = str(err.get("msg", "invalid value"))
    return msg[0].lower() + msg[1:] if msg else "invalid value"


def describe_error(err: dict[str, Any]) -> tuple[tuple[int | str, ...], str]:
    """One pydantic error as (location, message for people)."""
    loc = _clean_loc(tuple(err.get("loc", ())))
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        group = _schema_at(loc[:-1])
        names = list(group.model_fields) if group is not None else []
        hint = _did_you_mean(key, names) or (
            f"; expected one of {', '.join(names)}" if names else ""
        )
        return loc, f"unknown key {key!r}{hint}"
    if kind == "missing":
        return loc, "required field is missing"
    if kind == "value_error":
        msg = str(err.get("msg", ""))
        msg = msg.removeprefix("Value error, ")
        return loc, msg
    return loc, f"{_expected(err)}, got {_got(err.get('input'))}"


def format_validation_error(
    error: ValidationError, label: str, overrides: dict[str, Any] | None = None
) -> str:
    """One line for a failed validation: file, field path, what was expected (and how many more)."""
    errors = error.errors()
    # Unknown keys first: a typo in a key is the likeliest cause of whatever else went wrong.
    errors.sort(key=lambda e: 0 if e["type"] == "extra_forbidden" else 1)
    loc, message = describe_error(errors[0])
    where = format_loc(loc)
    for key in overrides or {}:
        parts = tuple(parse_key(key))
        if parts == tuple(loc):
            where = f"--set {key}"
        elif loc and parts[: len(loc)] == tuple(loc):
            where = f"--set {key}: {where}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{label}: {where}: {message}{more}" if where else f"{label}: {message}{more}"


# --------------------------------------------------------------------------- memory


def estimate_bytes(params: ModelParams) -> int:
    """Bytes a market of these parameters holds while it runs (customers, network, results).

    Within a factor of 2 of ``customers.nbytes() + network.nbytes()`` of the real
    :class:`~cxsim.model.Market` (tested); a fully mixed network holds no edges and
    no per-company contact counts.
    """
    n = params.market.customers
    k = len(params.companies)
    per_person = BYTES_PER_PERSON + 4 * k  # attitude toward each company
    network = 4 * n  # degrees, kept even for a fully mixed population
    if params.network.kind != NetworkKind.fully_mixed:
        per_person += 2 * k  # contacts who are each company's customers
        network += BYTES_PER_NODE * n + BYTES_PER_CONTACT * n * params.network.mean_degree
    results = BYTES_PER_RESULT * (params.market.days + 1) * k * 30
    return int(per_person * n + network + results)


def available_memory() -> int:
    """Bytes of memory available to a new run: MemAvailable from /proc/meminfo, else a fallback."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return FALLBACK_AVAILABLE


def _gib(n: float) -> str:
    return f"{n / 1024**3:.1f} GiB"


def peak_bytes(params: ModelParams, replications: int = 1) -> int:
    """Peak bytes of a run: the steady state, building the network, temporaries, results tables.

    Measured peaks were 0.7-0.85 of this on networks of 2x10^5-10^6 people (mean degree 10-100).
    """
    n = params.market.customers
    contacts = (
        0 if params.network.kind == NetworkKind.fully_mixed else n * params.network.mean_degree
    )
    # The tidy tables of all replications (about 35 columns of 8 bytes), held twice while joined.
    tables = 2 * replications * (params.market.days + 1) * len(params.companies) * 35 * 8
    return int(
        estimate_bytes(params)
        + BUILD_BYTES_PER_CONTACT * contacts
        + TEMPORARY_BYTES_PER_PERSON * n
        + tables
        + BASELINE_BYTES
    )


def check_memory(scenario: Scenario, replications: int = 1, available: int | None = None) -> None:
    """Refuse, before allocating anything, a scenario that needs more memory than is available.

    Raises:
        ScenarioError: naming the file and ``market.customers``, with the estimate.

    """
    need = peak_bytes(scenario.params, replications)
    free = available_memory() if available is None else available
    if need > free:
        p = scenario.params
        raise ScenarioError(
            f"{scenario.label}: market.customers: {p.market.customers:,} people with mean degree "
            f"{p.network.mean_degree} and {len(p.companies)} companies need about {_gib(need)} "
            f"of memory, but only {_gib(free)} is available; lower market.customers or network.mean_degree"
        )
