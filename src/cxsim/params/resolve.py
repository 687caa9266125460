"""The one path from input to parameters: a base, dotted-key overrides, validated once.

Scenario files (with ``--set``, ``--seed`` and ``--days``), sweep plans
(``fixed`` values and factor levels), calibration files (fitted parameters),
dashboard controls and ``Market(**overrides)`` all call :func:`resolve`, so
every channel accepts and rejects the same things with the same words.

Rules, in order:

1. A base given as tables (a scenario file) is validated whole before any
   override is applied: an invalid field in a file is reported even when an
   override would replace it.
2. Overrides that choose a policy preset (``companies.N.policy.preset``) are
   applied first, so a field override wins whatever the order given; choosing a
   preset replaces the company's whole policy, so the old preset's values do
   not leak into the new one.
3. The result is validated; an error at (or inside) an overridden field names
   the override as its source called it (``--set KEY``, ``factors.KEY``, a
   control's label).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cxsim.params.errors import ParameterError, format_validation_error
from cxsim.params.keys import DottedKeyError, generic, parse_key
from cxsim.params.schema import POLICY_PRESETS, ModelParams
from cxsim.version import WORLD_VERSION

#: The top-level key of a scenario file that pins its world (it is not a parameter).
WORLD_KEY = "world"

#: Parameters as a plain tree of tables (what a scenario file parses to).
Tables = dict[str, Any]


class WorldPinError(ParameterError):
    """Tables pinned to a world other than the one this cxsim runs."""


@dataclass(frozen=True)
class Allowed:
    """What an allowlist accepts for one field: a numeric range, or a set of values.

    Attributes:
        low: smallest number accepted (``None``: as the schema says).
        high: largest number accepted (``None``: as the schema says).
        options: the only values accepted (``None``: any value the schema accepts).

    """

    low: float | None = None
    high: float | None = None
    options: tuple[Any, ...] | None = None

    def refusal(self, value: Any) -> str | None:
        """Why ``value`` is refused, or ``None`` if it is accepted."""
        if self.options is not None:
            if any(value == o and type(value) is type(o) for o in self.options):
                return None
            choices = ", ".join(
                str(o).lower() if isinstance(o, bool) else str(o) for o in self.options
            )
            return f"expected one of {choices}, got {_shown(value)}"
        if self.low is None and self.high is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            return f"expected a number, got {_shown(value)}"
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            if self.low is not None and self.high is not None:
                span = f"from {self.low:g} to {self.high:g}"
            elif self.low is not None:
                span = f"of at least {self.low:g}"
            else:
                span = f"of at most {self.high:g}"
            return f"expected a number {span}, got {value:g}"
        return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@functools.cache
def _defaults() -> Tables:
    return ModelParams().model_dump(mode="json")


def defaults() -> Tables:
    """The default parameters as tables (a fresh copy)."""
    return copy.deepcopy(_defaults())


def get_dotted(data: Any, key: str | list[str | int]) -> Any:
    """The value at dotted ``key`` (or its parts) in a tree of tables; ``None`` where there is none."""
    node: Any = data
    for part in parse_key(key) if isinstance(key, str) else key:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
            node = node[part]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def _default_at(parts: list[str | int]) -> Any:
    """The default value at a path of the schema (``None`` where there is none)."""
    return copy.deepcopy(get_dotted(_defaults(), parts))


def set_dotted(data: Tables, key: str, value: Any) -> None:
    """Set ``value`` at dotted ``key`` in a tree of tables.

    Missing groups are created (a missing list, such as ``companies`` in a file
    that keeps the default companies, is filled with the defaults); list
    indices must exist. A policy given as a preset name (``policy = "fix"``) is
    opened up into ``{"preset": "fix"}`` so one of its fields can be
    overridden, and choosing a preset clears the policy first.

    Raises:
        DottedKeyError: a malformed key, an index out of range, or a path through a value.

    """
    parts = parse_key(key)
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(map(str, parts[: depth + 1]))
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                size = len(node) if isinstance(node, list) else 0
                raise DottedKeyError(
                    f"index {part} is out of range: there are {size} {parts[depth - 1]}"
                )
            child = node[part]
        else:
            if not isinstance(node, dict):
                raise DottedKeyError(f"{where} is not a group")
            child = node.get(part)
            if child is None:
                if isinstance(parts[depth + 1], int):
                    default = _default_at(parts[: depth + 1])
                    child = default if isinstance(default, list) else []
                else:
                    child = {}
                node[part] = child
            elif isinstance(child, str) and child in POLICY_PRESETS:
                child = {"preset": child}
                node[part] = child
        if not isinstance(child, dict | list):
            raise DottedKeyError(f"{where} is a value, not a group")
        node = child
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            size = len(node) if isinstance(node, list) else 0
            raise DottedKeyError(f"index {last} is out of range: there are {size} {parts[-2]}")
        node[last] = value
        return
    if not isinstance(node, dict):
        raise DottedKeyError(f"{'.'.join(map(str, parts[:-1]))} is not a group")
    if last == "preset" and value in POLICY_PRESETS:
        node.clear()
    node[last] = value


def _presets_first(item: tuple[str, Any]) -> int:
    return 0 if item[0].endswith(".preset") else 1


def resolve(
    base: ModelParams | Tables | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    label: str = "<parameters>",
    names: Mapping[str, str] | None = None,
    limits: Mapping[str, Allowed] | None = None,
) -> ModelParams:
    """Validated parameters: ``base`` with dotted-key ``overrides`` applied.

    Args:
        base: the defaults (``None``), checked parameters, or tables (a scenario file's).
        overrides: dotted key -> value.
        label: the source, for errors (a file's path).
        names: dotted key -> how the source calls that override in errors (``--set KEY``).
        limits: an allowlist: generic key (``companies.N.price``) -> what it accepts
            (:class:`Allowed`). Keys not in it are refused.

    Raises:
        ParameterError: one line naming the source, the field or override, and what was expected.

    """
    overrides = dict(overrides or {})
    shown = {key: (names or {}).get(key, key) for key in overrides}
    if isinstance(base, ModelParams):
        if not overrides:
            return base
        data = base.model_dump(mode="json")
    elif base is None:
        data = defaults()
    else:
        if not isinstance(base, dict):
            raise ParameterError(
                f"{label}: expected a table of parameters, got {type(base).__name__}"
            )
        data = copy.deepcopy(base)
        check_world(data, label)
        try:
            ModelParams.model_validate(data)
        except ValidationError as err:
            raise ParameterError(format_validation_error(err, label)) from None
    for key, value in sorted(overrides.items(), key=_presets_first):
        if limits is not None:
            _check_limits(key, value, limits, label, shown[key])
        try:
            set_dotted(data, key, value)
        except DottedKeyError as err:
            raise ParameterError(f"{label}: {shown[key]}: {err}") from None
    try:
        return ModelParams.model_validate(data)
    except ValidationError as err:
        raise ParameterError(format_validation_error(err, label, shown)) from None


def check_world(data: Tables, label: str) -> None:
    """Refuse tables pinned to another world; remove the pin (``world``, not a parameter).

    A scenario file may pin the world it was written for with a top-level
    ``world = "N"`` (see :data:`cxsim.version.WORLD_VERSION`). A matching pin is
    removed and the tables resolve as usual.

    Raises:
        WorldPinError: one line naming the source, the pinned and the current world, and
            what to do.

    """
    if WORLD_KEY not in data:
        return
    pinned = data.pop(WORLD_KEY)
    if isinstance(pinned, bool) or not isinstance(pinned, str | int):
        raise WorldPinError(
            f'{label}: {WORLD_KEY}: expected a world version such as "{WORLD_VERSION}", '
            f"got {_shown(pinned)}"
        )
    if str(pinned) != WORLD_VERSION:
        raise WorldPinError(
            f"{label}: {WORLD_KEY}: the file is pinned to world {pinned}, but this cxsim "
            f"runs world {WORLD_VERSION}; run it with a cxsim of world {pinned}, "
            f"or read what world {WORLD_VERSION} changed (CHANGELOG.md) and set world = "
            f'"{WORLD_VERSION}"'
        )


def _check_limits(
    key: str, value: Any, limits: Mapping[str, Allowed], label: str, shown: str
) -> None:
    """Refuse a key outside the allowlist, or a value the allowlist does not accept."""
    try:
        generic_key = generic(key)
    except DottedKeyError as err:
        raise ParameterError(f"{label}: {shown}: {err}") from None
    allowed = limits.get(generic_key)
    if allowed is None:
        raise ParameterError(f"{label}: {shown}: not a setting that can be changed here")
    refusal = allowed.refusal(value)
    if refusal is not None:
        raise ParameterError(f"{label}: {shown}: {refusal}")
