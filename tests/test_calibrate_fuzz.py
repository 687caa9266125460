"""Fuzzing calibration files: every malformed file gives one line naming it, exit 2, nothing on disk.

Each generated file is the good tiny calibration of ``tests/test_calibrate.py``
with one or more faults that make it invalid (an unknown key, a bound outside
the schema, a share outside [0, 1], a measurement that does not exist, a
wrong type, a missing field, ...), or arbitrary text. ``cxsim calibrate`` runs
in-process, so a bounded number of examples stays within the suite's time.
"""

from __future__ import annotations

import contextlib
import copy
import io
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxsim.calibrate.measures import MEASUREMENTS
from cxsim.calibrate.spec import CalibrationFile, TargetSpec
from cxsim.cli import main
from cxsim.params import field_paths
from tests.test_calibrate import TINY

GOOD: dict[str, Any] = tomllib.loads(TINY)
Fault = Callable[[dict[str, Any]], None]

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
outside_a_share = st.one_of(
    st.floats(min_value=1.0001, max_value=1e6), st.floats(min_value=-1e6, max_value=-0.0001)
)
not_a_number = st.one_of(st.text(max_size=5), st.booleans(), st.lists(st.integers(), max_size=2))


def parent(data: dict[str, Any], path: tuple[Any, ...]) -> Any:
    """The table holding ``path``'s last part, or ``None`` if an earlier fault removed it."""
    node: Any = data
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node if isinstance(node, dict | list) else None


def set_at(*path: Any) -> Callable[[Any], Fault]:
    def fault(value: Any) -> Fault:
        def apply(data: dict[str, Any]) -> None:
            node = parent(data, path)
            if node is not None:
                node[path[-1]] = value

        return apply

    return fault


def drop(*path: Any) -> Fault:
    def apply(data: dict[str, Any]) -> None:
        node = parent(data, path)
        if isinstance(node, dict):
            node.pop(path[-1], None)

    return apply


def unknown_key(where: tuple[Any, ...], known: set[str]) -> st.SearchStrategy[Fault]:
    return names.filter(lambda n: n not in known).map(lambda n: set_at(*where, n)(1))


PARAMETER = "behaviour.voice.minor"
FAULTS: st.SearchStrategy[Fault] = st.one_of(
    unknown_key((), set(CalibrationFile.model_fields)),
    unknown_key(("targets", 0), set(TargetSpec.model_fields)),
    names.filter(lambda n: n not in MEASUREMENTS).map(set_at("targets", 0, "measure")),
    names.filter(lambda n: n not in ("tpe", "cmaes")).map(set_at("sampler")),
    outside_a_share.map(set_at("targets", 0, "observed")),
    st.lists(outside_a_share, min_size=4, max_size=4).map(set_at("targets", 1, "observed")),
    st.lists(st.floats(0, 1), min_size=5, max_size=9).map(set_at("targets", 1, "observed")),
    st.floats(min_value=-1e6, max_value=-0.0001).map(set_at("parameters", PARAMETER, "low")),
    st.floats(min_value=1.0001, max_value=1e6).map(set_at("parameters", PARAMETER, "high")),
    st.floats(min_value=0.9, max_value=1.0).map(set_at("parameters", PARAMETER, "low")),
    st.floats(min_value=-1e6, max_value=0.0).map(set_at("targets", 1, "n")),
    st.floats(min_value=-1e6, max_value=0.0).map(set_at("targets", 2, "sd")),
    st.integers(max_value=0).map(set_at("replications")),
    st.integers(max_value=0).map(set_at("trials")),
    st.integers(max_value=0).map(set_at("batch_size")),
    not_a_number.map(set_at("replications")),
    not_a_number.map(set_at("targets", 0, "weight")),
    not_a_number.map(set_at("targets", 1, "args", "from_day")),
    st.integers(min_value=91, max_value=10**6).map(set_at("targets", 1, "args", "to_day")),
    st.sampled_from(["minr", "small", "", "serious "]).map(set_at("targets", 1, "args", "loss")),
    st.just(set_at("targets", 2, "variant", PARAMETER)(0.5)),
    st.just(set_at("fixed", "market.seed")(3)),
    st.just(set_at("fixed", PARAMETER)(0.5)),
    st.sampled_from(["binomial", "beta_binomial", "normal"]).map(
        set_at("targets", 2, "likelihood")
    ),
    st.sampled_from(
        [
            drop("base"),
            drop("parameters"),
            drop("targets"),
            drop("targets", 0, "measure"),
            drop("targets", 0, "likelihood"),
            drop("targets", 0, "name"),
            drop("targets", 1, "n"),
            drop("targets", 2, "low"),
        ]
    ),
    names.filter(lambda n: n not in {p.rsplit(".", 1)[-1] for p in field_paths()}).map(
        lambda n: set_at("parameters", f"behaviour.voice.{n}")({"low": 0.1, "high": 0.2})
    ),
    st.sampled_from(["no_such_story", "../nowhere.toml", "scenarios"]).map(set_at("base")),
)


def malformed(faults: list[Fault]) -> str:
    data = copy.deepcopy(GOOD)
    for fault in faults:
        fault(data)
    return tomli_w.dumps(data)


TEXTS = st.one_of(
    st.lists(FAULTS, min_size=1, max_size=3).map(malformed),
    st.text(max_size=200),  # arbitrary text: not TOML, or TOML that is no calibration
    st.just(TINY.replace("[fixed]", "[fixed")),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS)
def test_every_malformed_calibration_file_gives_one_line_exit_2_and_nothing_on_disk(
    text: str,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fit.toml"
        path.write_text(text, encoding="utf-8")
        out = Path(folder) / "out"
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            code = main(["calibrate", str(path), "--out", str(out), "-q"])
        err = stderr.getvalue().strip()
        assert code == 2, err
        assert err.startswith(f"{path}: "), err
        assert "\n" not in err
        assert "Traceback" not in err
        assert not out.exists()
        assert sorted(p.name for p in Path(folder).iterdir()) == ["fit.toml"]
