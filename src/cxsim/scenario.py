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

import hashlib
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxsim import networks
from cxsim.errors import InputError
from cxsim.params import DottedKeyError, ModelParams, NetworkKind, did_you_mean, parse_key, resolve
from cxsim.results import METRICS
from cxsim.shipped import SCENARIO_DIR, shipped_scenarios

#: Where what a network file's reading found is said (one warning line each).
network_log = logging.getLogger("cxsim.networks")

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


#: Bad input about a scenario (its file, a field, ``--set``): one line naming the file and the field.
ScenarioError = InputError


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


def find(name: str | os.PathLike[str]) -> Path:
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
        hint = did_you_mean(path.stem, names)
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
    names: Mapping[str, str] | None = None,
    check_network_file: bool = True,
) -> Scenario:
    """Read, parse and check a scenario file, with dotted-key ``overrides`` applied.

    Args:
        source: a path or a shipped scenario's bare name.
        overrides: dotted keys (``companies.0.policy.apology``) to values.
        names: how errors call each override (default ``--set KEY``).
        check_network_file: read a ``network.kind = "file"`` network and check it against
            the market (see :func:`check_network`).

    Returns:
        The checked scenario.

    Raises:
        ScenarioError: with one line naming the file, the field and what was expected.

    """
    path = find(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read: {err}") from None
    return from_text(text, path, overrides, names=names, check_network_file=check_network_file)


def from_text(
    text: str,
    path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    names: Mapping[str, str] | None = None,
    check_network_file: bool = True,
) -> Scenario:
    """Parse and check a scenario given as TOML text (``path`` names it in errors).

    The file is checked whole before ``overrides`` apply (see :func:`cxsim.params.resolve`);
    ``names`` says how errors call each override (default ``--set KEY``).
    """
    label = str(path) if path is not None else "<scenario>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{label}: not valid TOML: {err}") from None
    if not data:
        raise ScenarioError(
            f"{label}: has no settings; an empty scenario would silently run the default world "
            "(give at least one table, such as [market], or name a shipped scenario)"
        )
    overrides = dict(overrides or {})
    shown = {key: f"--set {key}" for key in overrides}
    shown.update(names or {})
    params = resolve(data, overrides, label=label, names=shown)
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
        check_network(scenario.params, scenario.base_dir, scenario.label)
    return scenario


def check_network(params: ModelParams, base_dir: Path | None, label: str) -> None:
    """Read the network file ``params`` name, if any, and check it against the market, at load time.

    The one check of a network file for every input that names one: scenario
    files (``cxsim run``, ``validate``, the dashboard's stories), every distinct
    network of a sweep plan's design, and calibration. What the reading found
    worth saying (a header skipped, self-loops and repeated contacts dropped,
    customers without contacts) goes to the ``cxsim.networks`` logger, one
    warning line each, naming ``label``.

    Raises:
        ScenarioError: ``LABEL: network.path: FILE[: line N]: what is wrong``.

    """
    net = params.network
    if net.kind != NetworkKind.file:
        return
    try:
        found = networks.read_network_file(
            networks.file_path(net, base_dir),
            params.market.customers,
            first_id=net.first_id,
            header=net.header,
        )
    except networks.NetworkFileError as err:
        raise ScenarioError(f"{label}: network.path: {err}") from None
    for note in found.notes:
        network_log.warning("%s: network.path: %s", label, note)


def network_path(scenario: Scenario) -> Path:
    """The network file of a scenario, resolved against the scenario's folder."""
    return networks.file_path(scenario.params.network, scenario.base_dir)


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
        parse_key(key)
    except DottedKeyError:
        raise ScenarioError(f"--set {text}: malformed key {key!r}") from None
    return key, parse_value(raw.strip())


def parse_value(raw: str) -> Any:
    """A TOML value (``false``, ``3``, ``0.5``, ``"x"``, ``[1, 2]``), else the bare text as a string."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


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
    results = BYTES_PER_RESULT * (params.market.days + 1) * k * len(METRICS)
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


def memory_terms(params: ModelParams, replications: int = 1) -> dict[str, int]:
    """Peak bytes of a run by cause, largest contributors named after what drives them.

    * ``people``: the customers' columns and a day's temporaries (``market.customers``);
    * ``contacts``: the network and building it (``market.customers`` x ``network.mean_degree``);
    * ``daily results``: one value per day, company and metric (``market.days``);
    * ``result tables``: the tidy tables of all replications, a column per metric plus day,
      company and replication, 8 bytes each, held twice while joined (``market.days`` x
      replications);
    * ``baseline``: Python and the libraries themselves.

    Their sum is :func:`peak_bytes`; measured peaks were 0.7-0.85 of it on networks of
    2x10^5-10^6 people (mean degree 10-100).
    """
    n = params.market.customers
    k = len(params.companies)
    days = params.market.days + 1
    has_edges = params.network.kind != NetworkKind.fully_mixed
    per_person = BYTES_PER_PERSON + 4 * k + (2 * k if has_edges else 0)
    contacts = n * params.network.mean_degree if has_edges else 0
    return {
        # 4 bytes of degree per person are kept even for a fully mixed population.
        "people": (per_person + 4 + TEMPORARY_BYTES_PER_PERSON) * n,
        "contacts": (BYTES_PER_NODE * n if has_edges else 0)
        + (BYTES_PER_CONTACT + BUILD_BYTES_PER_CONTACT) * contacts,
        "daily results": BYTES_PER_RESULT * days * k * len(METRICS),
        "result tables": 2 * replications * days * k * (len(METRICS) + 3) * 8,
        "baseline": BASELINE_BYTES,
    }


def peak_bytes(params: ModelParams, replications: int = 1) -> int:
    """Peak bytes of a run: the sum of :func:`memory_terms`."""
    return sum(memory_terms(params, replications).values())


#: What each term of :func:`memory_terms` is charged to: the field named, and what lowers it.
#: The people and their contacts are one cause (fewer people, or fewer contacts each).
_MEMORY_CAUSES = {
    "people": ("market.customers", "lower market.customers or network.mean_degree"),
    "daily results": ("market.days", "lower market.days"),
    "result tables": ("market.days", "lower the replications (-r) or market.days"),
    "baseline": ("market.customers", "free some memory"),
}


def _memory_causes(params: ModelParams, replications: int) -> list[tuple[str, int, str]]:
    """The terms of :func:`memory_terms` as (cause, bytes, what it is in words), largest first."""
    terms = memory_terms(params, replications)
    n, k, days = params.market.customers, len(params.companies), params.market.days
    causes = [
        (
            "people",
            terms["people"] + terms["contacts"],
            f"{n:,} people with mean degree {params.network.mean_degree} and {k} companies",
        ),
        (
            "daily results",
            terms["daily results"],
            f"{days:,} days of {len(METRICS)} daily results for {k} companies",
        ),
        (
            "result tables",
            terms["result tables"],
            f"the result tables of {replications:,} replications x {days:,} days x {k} companies",
        ),
        ("baseline", terms["baseline"], "cxsim and its libraries"),
    ]
    return sorted(causes, key=lambda cause: cause[1], reverse=True)


def check_memory(scenario: Scenario, replications: int = 1, available: int | None = None) -> None:
    """Refuse, before allocating anything, a scenario that needs more memory than is available.

    The message names what takes most of the memory (the people and their contacts,
    the daily results, or the result tables of all replications) and what lowers it,
    and a second cause when it takes a quarter or more.

    Raises:
        ScenarioError: naming the file and the field behind the largest term, with the estimate.

    """
    need = peak_bytes(scenario.params, replications)
    free = available_memory() if available is None else available
    if need <= free:
        return
    (cause, size, what), (cause2, size2, what2) = _memory_causes(scenario.params, replications)[:2]
    field, remedy = _MEMORY_CAUSES[cause]
    also = ""
    if size2 >= need / 4 and _MEMORY_CAUSES[cause2][1] != remedy:
        also = f"; {what2} need another {_gib(size2)}: {_MEMORY_CAUSES[cause2][1]}"
    raise ScenarioError(
        f"{scenario.label}: {field}: {what} need about {_gib(size)} of memory ({_gib(need)} in "
        f"all), but only {_gib(free)} is available; {remedy}{also}"
    )


# --------------------------------------------------------------------------- time

#: CPU seconds per simulated day whatever the market's size: a few dozen NumPy calls per stage
#: (README, "Performance": about 0.8 ms a day on the development machine).
SECONDS_PER_DAY = 0.8e-3
#: CPU seconds per customer-day beyond that (README: a 365-day run takes 0.30 s at 300
#: customers and 0.75 s at 50,000, so (0.75 - 0.30) / (49,700 x 365) = 2.5e-8).
SECONDS_PER_CUSTOMER_DAY = 2.5e-8


def estimate_seconds(params: ModelParams) -> float:
    """CPU seconds of one run on the development machine (within a factor of about 2)."""
    return params.market.days * (
        SECONDS_PER_DAY + SECONDS_PER_CUSTOMER_DAY * params.market.customers
    )
