"""Property-based fuzzing of the input surfaces (issue 11): scenario files, edge lists, dashboard
requests. Each runs in-process, a bounded number of generated inputs, and checks the contract:
good input runs (or validates); bad input gets one line naming the file and exit 2 (a 4xx from
the dashboard), no traceback, nothing left on disk, and the server still up.

The contract checkers (``*_problem``) return what broke it, or ``None``, so that they can be
run over the same inputs against another commit.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxsim import cli, networks
from cxsim.params import field_paths

#: Generated inputs per surface: enough to meet every kind of fault the strategies make,
#: few enough that the three surfaces add well under a minute to the suite.
EXAMPLES = 200

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same inputs every run: a fuzz failure is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Exception class names, which a person must never be shown.
EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback|internal error")


@contextlib.contextmanager
def folder() -> Iterator[Path]:
    """A fresh temporary folder per generated input (pytest's tmp_path is one per test)."""
    with tempfile.TemporaryDirectory(prefix="cxsim-fuzz-") as name:
        yield Path(name)


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def bad_input_problem(code: int, err: str, *names: str) -> str | None:
    """What is wrong with a refusal: it must be exit 2 and one line naming ``names``."""
    if code != 2:
        return f"exit code {code}: {err[-300:]}"
    lines = err.strip().splitlines()
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr: {err[-300:]}"
    if "Traceback" in err:
        return "a traceback"
    missing = [name for name in names if name not in lines[0]]
    return f"the line does not name {missing}: {lines[0]}" if missing else None


# --------------------------------------------------------------------------- scenario files


def _tables() -> dict[str, list[str]]:
    """TOML table header -> its keys, from the parameter schema."""
    tables: dict[str, list[str]] = {}
    for path in field_paths():
        parts = path.split(".")
        if parts[0] == "companies":
            rest = [p for p in parts[1:] if p != "N"]
            if parts[2:3] == ["promotions"]:
                header = "[[companies.promotions]]"
            elif len(rest) > 1:
                header = f"[companies.{'.'.join(rest[:-1])}]"
            else:
                header = "[[companies]]"
            tables.setdefault(header, []).append(rest[-1])
        else:
            tables.setdefault(f"[{'.'.join(parts[:-1])}]", []).append(parts[-1])
    return tables


TABLES = _tables()

toml_value = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.integers(0, 40).map(str),
    st.sampled_from(["0", "1", "2", "10", "365", "-1", "1e400", "1_000", "0x1F", "+5"]),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda x: (
            "nan"
            if x != x
            else ("inf" if x == float("inf") else "-inf" if x == -float("inf") else repr(x))
        )
    ),
    st.floats(0, 1).map(repr),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=12).map(json.dumps),
    st.sampled_from(
        [
            '"manage"',
            '"fix"',
            '"custom"',
            '"file"',
            '"small_world"',
            '"fully_mixed"',
            '"scale_free"',
            '"never"',
            '"fifo_queue"',
            '"../../etc/passwd"',
            '"missing.edgelist"',
            "[1, 2]",
            "[]",
            "{ a = 1 }",
            "1979-05-27",
            '"abc"',
        ]
    ),
)


@st.composite
def scenario_texts(draw: st.DrawFn) -> str:
    """TOML text built from the schema's tables and keys, with wrong values, typos and junk."""
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        header = draw(st.sampled_from(sorted(TABLES)))
        lines.append(header)
        keys = TABLES[header]
        for _ in range(draw(st.integers(0, 4))):
            key = draw(
                st.one_of(st.sampled_from(keys), st.sampled_from(keys).map(lambda k: k[:-1]))
            )
            lines.append(f"{key} = {draw(toml_value)}")
    if draw(st.booleans()):
        junk = draw(st.text(max_size=30))
        lines.insert(draw(st.integers(0, len(lines))), junk)
    return "\n".join(lines) + "\n"


def scenario_problem(text: str, command: str) -> str | None:
    """The contract of ``cxsim run|validate`` on a scenario file holding ``text``."""
    with folder() as where:
        path = where / "s.toml"
        path.write_text(text, encoding="utf-8")
        out = where / "out"
        if command == "run":
            # Small and short, whatever the file says: a good file is run, quickly.
            fast = ["--days", "2", "--set", "market.customers=60", "--set", "network.mean_degree=4"]
            code, _, err = run_cli("run", path, "--out", out, "-q", *fast)
        else:
            code, _, err = run_cli("validate", path)
        left = sorted(p.name for p in where.iterdir())
        if code == 0:
            expected = ["out", "s.toml"] if command == "run" else ["s.toml"]
            return None if left == expected else f"left on disk: {left}"
        if left != ["s.toml"]:
            return f"exit {code} but left on disk: {left}"
        return bad_input_problem(code, err, str(path))


@pytest.mark.parametrize("command", ["validate", "run"])
@FUZZ
@given(text=scenario_texts())
def test_fuzzed_scenario_files_run_or_get_one_line(command: str, text: str) -> None:
    problem = scenario_problem(text, command)
    assert problem is None, f"{problem}\n--- scenario ---\n{text}"


# --------------------------------------------------------------------------- edge lists

CUSTOMERS = 12


@st.composite
def edge_list_texts(draw: st.DrawFn, csv: bool = False, first_id: int = 0) -> str:
    """Contacts in range, and now and then an odd line: out of range, a header, a weight, junk."""
    in_range = st.integers(first_id, first_id + CUSTOMERS - 1)
    contact = st.tuples(in_range, in_range)
    separator = st.sampled_from([",", ", "]) if csv else st.sampled_from([" ", "\t", "  "])
    good = st.tuples(contact, separator).map(lambda e: f"{e[0][0]}{e[1]}{e[0][1]}")
    odd = st.one_of(
        st.tuples(st.integers(0, CUSTOMERS + 1), st.integers(0, CUSTOMERS + 1)).map(
            lambda e: f"{e[0]} {e[1]}"
        ),
        contact.map(lambda e: f"{e[0]},{e[1]}"),
        contact.map(lambda e: f"{e[0]}\t{e[1]}\t0.5"),
        contact.map(lambda e: f"{e[0]} {e[1]} {{'weight': 2}}"),
        st.integers(0, CUSTOMERS).map(str),
        st.sampled_from(
            ["source,target", "from to", "# a comment", "", "x 3", "3 -1", "1 2.0", "1_0 2", "٣ 4"]
        ),
        st.text(alphabet="0123456789 ,\t#-_.xe{}", max_size=12),
    )
    lines = draw(st.lists(good, max_size=20))
    for _ in range(draw(st.integers(0, 2))):
        lines.insert(draw(st.integers(0, len(lines))), draw(odd))
    return "\n".join(lines) + "\n"


@st.composite
def edge_list_files(draw: st.DrawFn) -> tuple[str, str, int]:
    """(text, suffix, first id) of an edge-list file."""
    suffix = draw(st.sampled_from([".txt", ".csv", ".edgelist", ".adjlist"]))
    first_id = draw(st.sampled_from([0, 1]))
    return draw(edge_list_texts(csv=suffix == ".csv", first_id=first_id)), suffix, first_id


ID = re.compile(r"[0-9]+")
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def edge_list_is_good(text: str, suffix: str, first_id: int, header: bool) -> bool:
    """Whether an edge list should be accepted, by the rules of docs/ODD.md section 3.2.

    Every line, after comments, is blank or a contact: two whole-number ids within
    first_id .. first_id + CUSTOMERS - 1, then at most numbers (weights) or a ``{...}``
    attribute dict; in an adjacency list, a customer and their contacts. The first such
    line may instead be a header (declared, or with no number in it). At least one contact.
    """
    contacts, first = 0, True
    good_id = lambda f: bool(ID.fullmatch(f)) and first_id <= int(f) < first_id + CUSTOMERS  # noqa: E731
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(",")] if suffix == ".csv" else line.split()
        if first:
            first = False
            if header or not any(NUMBER.fullmatch(f) for f in fields):
                continue
        if suffix == ".adjlist":
            if not all(good_id(f) for f in fields):
                return False
            contacts += len(fields) - 1
            continue
        rest = fields[2:]
        extra_ok = all(NUMBER.fullmatch(f) for f in rest) or (
            " ".join(rest).startswith("{") and " ".join(rest).endswith("}")
        )
        if len(fields) < 2 or not (good_id(fields[0]) and good_id(fields[1]) and extra_ok):
            return False
        contacts += 1
    return contacts > 0


def edge_list_problem(text: str, suffix: str, first_id: int, header: bool) -> str | None:
    """The contract of ``cxsim validate`` on a scenario whose contacts come from ``text``:
    a good list is accepted, any other refused in one line."""
    with folder() as where:
        edges = where / f"contacts{suffix}"
        edges.write_text(text, encoding="utf-8")
        network = f'kind = "file"\npath = "{edges.name}"\n'
        if first_id or header:  # spelled out only when not the defaults: main lacks both fields
            network += f"first_id = {first_id}\nheader = {'true' if header else 'false'}\n"
        path = where / "s.toml"
        path.write_text(
            f"[market]\ncustomers = {CUSTOMERS}\n[network]\n{network}", encoding="utf-8"
        )
        code, out, err = run_cli("validate", path)
        left = sorted(p.name for p in where.iterdir())
        if left != sorted([edges.name, "s.toml"]):
            return f"left on disk: {left}"
        good = edge_list_is_good(text, suffix, first_id, header)
        if code == 0:
            if not good:
                return "accepted a file with a line that is not a contact"
            return None if out.strip() == f"ok: {path}" else f"exit 0 but said {out!r}"
        if good:
            return f"refused a good file: {err.strip()}"
        return bad_input_problem(code, err, str(path), "network.path", edges.name)


@FUZZ
@given(file=edge_list_files(), header=st.booleans())
def test_fuzzed_edge_lists_are_read_or_refused_in_one_line(
    file: tuple[str, str, int], header: bool
) -> None:
    text, suffix, first_id = file
    problem = edge_list_problem(text, suffix, first_id, header)
    assert problem is None, (
        f"{problem}\n--- {suffix}, first_id {first_id}, header {header} ---\n{text}"
    )


@FUZZ
@given(
    contacts=st.lists(st.tuples(st.integers(0, CUSTOMERS - 1), st.integers(0, CUSTOMERS - 1))),
    first_id=st.sampled_from([0, 1]),
)
def test_an_edge_list_of_good_contacts_gives_exactly_their_network(
    contacts: list[tuple[int, int]], first_id: int
) -> None:
    pairs = {(min(u, v), max(u, v)) for u, v in contacts if u != v}
    with folder() as where:
        path = where / "contacts.txt"
        path.write_text("".join(f"{u + first_id} {v + first_id}\n" for u, v in contacts))
        if not contacts:
            with pytest.raises(networks.NetworkFileError, match="holds no contacts"):
                networks.read_network_file(path, CUSTOMERS, first_id=first_id)
            return
        found = networks.read_network_file(path, CUSTOMERS, first_id=first_id)
    net = found.network
    rows = np.repeat(np.arange(net.n), np.diff(net.indptr))
    assert {(int(a), int(b)) for a, b in zip(rows, net.indices, strict=True) if a < b} == pairs
    assert net.n == CUSTOMERS
    loops = sum(u == v for u, v in contacts)
    repeats = len(contacts) - loops - len(pairs)
    lonely = int(np.count_nonzero(net.degree == 0))
    said = " ".join(found.notes)
    assert (f"dropped {loops:,} self-loop" in said) == bool(loops)
    assert (f"kept {repeats:,} repeated contact" in said) == bool(repeats)
    assert (f"{lonely:,} of {CUSTOMERS} customers have no contacts" in said) == bool(lonely)
    assert all("\n" not in note for note in found.notes)


# --------------------------------------------------------------------------- dashboard requests

json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value, as a path of keys and indices."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    value = copy.copy(value)
    value[path[0]] = _replace(value[path[0]], path[1:], new)
    return value


def _is_value(path: tuple[Any, ...]) -> bool:
    """Whether a place is a component's value (what the page's own requests vary)."""
    return bool(path) and path[-1] == "value"


@st.composite
def dashboard_bodies(draw: st.DrawFn, valid: list[dict[str, Any]]) -> Any:
    """A request the page makes, with one to three places replaced (mostly values); or any JSON."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_value)
    body = draw(st.sampled_from(valid))
    for _ in range(draw(st.integers(1, 3))):
        places = _paths(body)
        values = [p for p in places if _is_value(p)]
        where = draw(st.sampled_from(values if values and draw(st.integers(0, 3)) else places))
        body = _replace(body, where, draw(json_value))
    return body


def dashboard_problem(client: Any, body: Any) -> str | None:
    """The contract of the dashboard's callback route: 2xx or 4xx, and words for people."""
    answer = client.post("/_dash-update-component", json=body)
    if answer.status_code >= 500:
        return f"HTTP {answer.status_code}"
    if answer.status_code != 200:
        return None if answer.status_code in (204, 400, 415) else f"HTTP {answer.status_code}"
    payload = answer.get_json()
    shown = [payload.get("sideUpdate", {}).get("message", {}).get("children")]
    response = payload.get("response", {})
    shown.append(response.get("message", {}).get("children"))
    shown.append(json.dumps(response.get("journey-story", {}).get("children")))
    for text in shown:
        if isinstance(text, str) and EXCEPTION_NAME.search(text):
            return f"the page shows {text[:200]!r}"
    return None


@pytest.fixture(scope="module")
def dashboard() -> tuple[Any, Any, list[dict[str, Any]]]:
    pytest.importorskip("dash", reason="the dashboard extra (dash) is not installed")
    from cxsim.dashboard.app import create_app

    from .test_dashboard import journey_request, run_request

    app = create_app()
    client = app.server.test_client()
    tiny = {"market.customers": 100, "market.days": 10, "drawn": 50}
    run = run_request(app, market=tiny)
    ref = client.post("/_dash-update-component", json=run).get_json()["response"]["run-ref"]["data"]
    valid = [run, run_request(app, market=tiny, compare=True), journey_request(app, ref, 3)]
    return app, client, valid


def test_fuzzed_dashboard_requests_get_2xx_or_4xx_and_the_server_stays_up(
    dashboard: tuple[Any, Any, list[dict[str, Any]]],
) -> None:
    _, client, valid = dashboard

    @FUZZ
    @given(body=dashboard_bodies(valid))
    def answered(body: Any) -> None:
        problem = dashboard_problem(client, body)
        assert problem is None, f"{problem}\n--- request ---\n{json.dumps(body)[:2000]}"

    answered()
    assert client.get("/").status_code == 200
    answer = client.post("/_dash-update-component", json=valid[0]).get_json()
    assert "cx-ok" in answer["response"]["message"]["className"]
