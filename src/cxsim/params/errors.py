"""Errors for people: a pydantic validation error as one line naming the file and the field.

Every input surface reports a parameter that the schema refuses the same way::

    scenarios/x.toml: companies[1].policy.refund_rule: expected one of never, policy, no_questions, got 'sometimes'

where the first part names the source (a file, or ``<scenario>`` for one made in
code) and the second the field, or the override that set it (``--set KEY``,
``factors.KEY``, a dashboard control's label).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from cxsim.errors import InputError
from cxsim.params.keys import DottedKeyError, did_you_mean, parse_key, submodel
from cxsim.params.retired import retired_message
from cxsim.params.schema import ModelParams


class ParameterError(InputError):
    """Parameters the schema refuses; the message is one line naming the source and the field."""


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


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop pydantic's union and function tags (``function-after[...]``, ``str``) from a location."""
    return tuple(p for p in loc if isinstance(p, int) or not re.search(r"[\[\]-]", p))


def _got(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as a scenario file (TOML) or JSON spells it
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_BOUNDS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}

_WORDS = {
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "finite_number": "expected a finite number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dict_type": "expected a table",
    "list_type": "expected a list (an array of tables [[...]])",
}


def expected(err: dict[str, Any]) -> str:
    """What a pydantic error says was expected, in words."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in _BOUNDS:
        (limit,) = ctx.values()
        return f"expected a number {_BOUNDS[kind]} {limit}"
    if kind in ("enum", "literal_error"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return (
            f"expected one of {', '.join(choices)}"
            if choices
            else f"expected {ctx.get('expected')}"
        )
    if kind in _WORDS:
        return _WORDS[kind]
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
        retired = retired_message(loc)
        if retired is not None:
            return loc, retired
        key = str(loc[-1])
        group = _schema_at(loc[:-1])
        names = list(group.model_fields) if group is not None else []
        hint = did_you_mean(key, names) or (
            f"; expected one of {', '.join(names)}" if names else ""
        )
        return loc, f"unknown key {key!r}{hint}"
    if kind == "missing":
        return loc, "required field is missing"
    if kind == "value_error":
        return loc, str(err.get("msg", "")).removeprefix("Value error, ")
    return loc, f"{expected(err)}, got {_got(err.get('input'))}"


def format_validation_error(
    error: ValidationError, label: str, names: Mapping[str, str] | None = None
) -> str:
    """One line for a failed validation: source, field (or the override that set it), what was expected.

    Args:
        error: the validation error.
        label: the source, e.g. the scenario file's path.
        names: dotted override key -> how to call it (``--set KEY``, ``--seed``); an error at or
            inside an overridden field names the override.

    """
    errors = error.errors()
    # Unknown keys first: a typo in a key is the likeliest cause of whatever else went wrong.
    errors.sort(key=lambda e: 0 if e["type"] == "extra_forbidden" else 1)
    loc, message = describe_error(errors[0])
    where = format_loc(loc)
    for key, name in (names or {}).items():
        try:
            parts = tuple(parse_key(key))
        except DottedKeyError:
            continue
        if parts == tuple(loc):
            where = name
        elif loc and parts[: len(loc)] == tuple(loc):
            where = f"{name}: {where}"
    if not where and names is not None and len(names) == 1:
        where = next(iter(names.values()))  # a rule across fields, broken by the one override
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{label}: {where}: {message}{more}" if where else f"{label}: {message}{more}"
