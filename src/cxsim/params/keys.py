"""Dotted keys into the parameter schema: parsing, walking the schema, and suggestions.

A dotted key names one field of :class:`~cxsim.params.schema.ModelParams`:
``market.customers``, ``behaviour.voice.minor``, ``companies.1.policy.refund_rule``
(``companies[1].policy.refund_rule`` is the same key). This module is the one
place that walks the schema: every input surface (scenario files, ``--set``,
sweep factors, calibration parameters, dashboard controls) asks it what a key
means and what to suggest for a key that does not exist.
"""

from __future__ import annotations

import difflib
import functools
import typing
from collections.abc import Iterable
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cxsim.params.retired import retired_message
from cxsim.params.schema import ModelParams


class DottedKeyError(KeyError):
    """A dotted key that does not name a field; ``str(err)`` is the reason, for people."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "malformed key"


def parse_key(key: str) -> list[str | int]:
    """``companies.0.policy.apology`` or ``companies[0].policy.apology`` -> its parts.

    Raises:
        DottedKeyError: for an empty part (``market..days``) or an empty key.

    """
    parts: list[str | int] = []
    for part in str(key).replace("[", ".").replace("]", "").split("."):
        part = part.strip()
        if part == "":
            raise DottedKeyError(f"malformed key {key!r}")
        parts.append(int(part) if part.isdigit() else part)
    return parts


def generic(key: str) -> str:
    """The key with list indices written ``N``: ``companies.1.price`` -> ``companies.N.price``."""
    return ".".join("N" if isinstance(p, int) else p for p in parse_key(key))


def submodel(annotation: Any) -> type[BaseModel] | None:
    """The parameter group a field holds (directly, as list items, or optionally), if any."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def is_list(annotation: Any) -> bool:
    """Whether a field holds a list (of parameter groups)."""
    return typing.get_origin(annotation) is list


@functools.cache
def field_paths(model: type[BaseModel] = ModelParams, prefix: str = "") -> tuple[str, ...]:
    """All dotted field paths of the schema, list items written ``N``."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = submodel(info.annotation)
        if sub is not None:
            paths.extend(field_paths(sub, f"{path}.N." if is_list(info.annotation) else f"{path}."))
        else:
            paths.append(path)
    return tuple(paths)


def field_info(key: str) -> FieldInfo:
    """The schema's field at a dotted ``key`` (indices or ``N`` for list items).

    Raises:
        DottedKeyError: if ``key`` is not a field of the schema, or names a group of fields.

    """
    model: type[BaseModel] = ModelParams
    info: FieldInfo | None = None
    parts = [-1 if p == "N" else p for p in parse_key(key)]  # N: any item of a list
    for depth, part in enumerate(parts):
        if isinstance(part, int):
            if info is None or not is_list(info.annotation):
                raise DottedKeyError(f"{_joined(parts[:depth])} is not a list")
            continue
        if info is not None:
            group = submodel(info.annotation)
            if group is None:
                raise DottedKeyError(f"{_joined(parts[:depth])} is a parameter, not a group")
            if is_list(info.annotation) and not isinstance(parts[depth - 1], int):
                raise DottedKeyError(
                    f"{_joined(parts[:depth])} is a list; name an item, such as "
                    f"{_joined(parts[:depth])}.0"
                )
            model = group
        found = model.model_fields.get(part)
        if found is None:
            retired = retired_message(parts[: depth + 1])
            if retired is not None:
                raise DottedKeyError(retired)
            raise DottedKeyError("not a parameter of the scenario schema" + suggest_key(str(key)))
        info = found
    if info is None:
        raise DottedKeyError(f"malformed key {key!r}")
    return info


def leaf_annotation(key: str) -> Any:
    """The type annotation of the parameter (not a group) at dotted ``key``.

    Raises:
        DottedKeyError: if ``key`` is not a parameter, or names a group of parameters.

    """
    info = field_info(key)
    if submodel(info.annotation) is not None:
        raise DottedKeyError(f"{key} is a group of parameters; name one of its fields")
    return info.annotation


def value_type(annotation: Any) -> str:
    """``int``, ``float``, ``bool`` or ``str`` for a leaf annotation (optional values unwrapped)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if args and typing.get_origin(annotation) is not Literal:
        annotation = args[0]
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    return "str"  # strings, enums (refund_rule, handling) and literals (preset)


def bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    """The (lowest, highest) values the schema allows for a numeric field (``None``: unbounded)."""
    low = high = None
    for meta in info.metadata:
        for attr in ("ge", "gt"):
            if getattr(meta, attr, None) is not None:
                low = getattr(meta, attr)
        for attr in ("le", "lt"):
            if getattr(meta, attr, None) is not None:
                high = getattr(meta, attr)
    return low, high


def allowed_values(info: FieldInfo, separator: str = " | ") -> str:
    """What a field accepts, for people: ``≥ 0, ≤ 1``, or its choices joined by ``separator``."""
    parts = []
    for meta in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            limit = getattr(meta, attr, None)
            if limit is not None:
                shown = _number(limit) if isinstance(limit, int | float) else str(limit)
                parts.append(f"{sign} {shown}")
    annotation = info.annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        parts.append(separator.join(m.value for m in annotation))
    elif typing.get_origin(annotation) is Literal:
        parts.append(separator.join(str(a) for a in typing.get_args(annotation)))
    return ", ".join(parts)


def _number(value: float) -> str:
    """A bound for people: ``50,000,000``, ``0.5``."""
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return f"{value:g}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean X?`` for the choice nearest to a misspelt ``word``, or an empty string."""
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def suggest_key(key: str) -> str:
    """``; did you mean companies.0.policy.callback_kept?`` for a misspelt dotted key."""
    try:
        parts = parse_key(key)
    except DottedKeyError:
        return ""
    generic_key = ".".join("N" if isinstance(p, int) else p for p in parts)
    match = difflib.get_close_matches(generic_key, field_paths(), n=1, cutoff=0.6)
    if not match:
        return ""
    indices = iter(str(p) for p in parts if isinstance(p, int))
    suggestion = ".".join(next(indices, "0") if p == "N" else p for p in match[0].split("."))
    return f"; did you mean {suggestion}?"


def _joined(parts: list[str | int]) -> str:
    return ".".join("N" if p == -1 else str(p) for p in parts)
