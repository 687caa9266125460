"""``cxsim new``: a commented scenario file with every parameter, written from the one schema.

:func:`scenario_text` writes every field of :class:`cxsim.params.ModelParams`,
grouped by table (``[market]``, ``[network]``, ``[behaviour.voice]``, one
``[[companies]]`` per company with its ``[companies.policy]``, ...), each with
its description and the values it accepts as comments, at its default or at a
story's value. Loading the file gives exactly those parameters (a test checks
it), so a researcher can start from it and change what matters. The fields, their
order, descriptions and bounds all come from the schema through
:mod:`cxsim.params.keys`; nothing here lists a parameter.
"""

from __future__ import annotations

import json
import os
import textwrap
from enum import Enum
from pathlib import Path
from typing import Any

from cxsim.errors import InputError
from cxsim.params import (
    WORLD_KEY,
    ModelParams,
    allowed_values,
    field_info,
    field_paths,
    get_dotted,
    resolve,
    submodel,
    value_type,
)
from cxsim.version import WORLD_VERSION

#: Width of comment lines.
WIDTH = 92

#: Where each kind of table sits in the file: a table of its own, or items of a list.
COMPANIES = "companies.N"
PROMOTIONS = "companies.N.promotions.N"


def _tables() -> dict[str, list[str]]:
    """Generic table path -> its fields' names, in the schema's order (lists written ``.N``)."""
    tables: dict[str, list[str]] = {}
    for path in field_paths():
        table, _, name = path.rpartition(".")
        tables.setdefault(table, []).append(name)
    return tables


def toml_value(value: Any) -> str:
    """A value as TOML: ``true``, ``10_000``, ``0.5``, ``"fifo_queue"``."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _accepts(key: str) -> str:
    """What the field at generic ``key`` accepts, in words."""
    info = field_info(key)
    kind = value_type(info.annotation)
    limits = allowed_values(info)
    if kind == "bool":
        return "true or false"
    if kind == "str" and limits:
        return f"one of: {limits}"
    if kind == "str":
        return "text"
    noun = "a whole number" if kind == "int" else "a number"
    return f"{noun}, {limits}" if limits else noun


def _comment(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# ")


def _field_lines(table: str, name: str, value: Any, default: Any, commented: bool) -> list[str]:
    """A field: its description and what it accepts as comments, then ``name = value``."""
    key = f"{table}.{name}"
    info = field_info(key)
    lines = _comment(info.description or "")
    note = _accepts(key)
    if value != default:
        note += f"; default {toml_value(default) if default is not None else 'not set'}"
    lines += _comment(note)
    if value is None:
        lines.append(f"# {name} = ...  (not set)")
    else:
        lines.append(f"{'# ' if commented else ''}{name} = {toml_value(value)}")
    return lines


def _table_lines(
    header: str, table: str, fields: list[str], values: Any, defaults: Any, commented: bool = False
) -> list[str]:
    lines = [f"{'# ' if commented else ''}{header}"]
    for name in fields:
        default = get_dotted(defaults, [name]) if isinstance(defaults, dict) else None
        value = get_dotted(values, [name]) if values is not None else default
        lines += ["", *_field_lines(table, name, value, default, commented)]
    return lines


def _group_doc(table: str) -> str:
    """The first line of a table's docstring (its parameter group's meaning)."""
    group = submodel(field_info(table).annotation)
    doc = (group.__doc__ or "") if group is not None else ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _section(title: str) -> list[str]:
    return ["", "", f"# {'-' * 20} {title}"]


def _company_lines(
    tables: dict[str, list[str]], companies: list[dict[str, Any]], defaults: list[dict[str, Any]]
) -> list[str]:
    """Each company: its fields, its policy and its promotions (or how to add one)."""
    lines = _section("companies: one [[companies]] table per company, in position order (1 to 10)")
    policy_table = f"{COMPANIES}.policy"
    blank = _blank(COMPANIES)
    for position, company in enumerate(companies):
        default = defaults[position] if position < len(defaults) else blank
        lines += [
            "",
            *_table_lines("[[companies]]", COMPANIES, tables[COMPANIES], company, default),
        ]
        lines += ["", *_comment(_group_doc(policy_table))]
        lines += _comment(
            "preset fills in the fields below; a field given beside it overrides the preset's "
            "value. To start from the other preset, change it and delete the fields you did not "
            "mean to keep."
        )
        lines += _table_lines(
            "[companies.policy]",
            policy_table,
            tables[policy_table],
            company["policy"],
            _policy_default(company["policy"]["preset"]),
        )
        promotion_default = _blank(PROMOTIONS)
        for promotion in company.get("promotions") or []:
            lines += ["", *_table_lines("[[companies.promotions]]", PROMOTIONS,
                                        tables[PROMOTIONS], promotion, promotion_default)]  # fmt: skip
        if not company.get("promotions"):
            lines += ["", *_comment(f"No promotions. {_group_doc(PROMOTIONS)} To add one:")]
            lines += _table_lines("[[companies.promotions]]", PROMOTIONS, tables[PROMOTIONS],
                                  None, promotion_default, commented=True)  # fmt: skip
    return lines


def _blank(table: str) -> dict[str, Any]:
    """The defaults of one item of a list of groups (a company, a promotion)."""
    group = submodel(field_info(table.removesuffix(".N")).annotation)
    assert group is not None
    return group().model_dump(mode="json")


def _policy_default(preset: str) -> dict[str, Any]:
    """The policy of a company that gives only its preset (what ``default`` notes compare to)."""
    policy = submodel(field_info(f"{COMPANIES}.policy").annotation)
    assert policy is not None
    return policy.model_validate({"preset": preset}).model_dump(mode="json")


def _header(
    name: str,
    story: str | None,
    story_header: list[str],
    made_by: str | None = None,
    title: str | None = None,
) -> list[str]:
    at = f"the story's value ({story})" if story else "its default"
    if made_by is not None:  # written elsewhere than by cxsim new: its values are the writer's
        at = "the value it had when this file was written"
    made_by = made_by or f"cxsim new {name}" + (f" --from {story}" if story else "")
    title = title or "say in one line what this scenario shows (cxsim scenarios lists this line)."
    lines = [
        f"# {name}: {title}",
        "#",
        *_comment(
            "Say here what the market is and what result to expect when it runs; the run "
            "report shows this header. Every parameter is written below at "
            + at
            + f" for world {WORLD_VERSION}, with what it means and the values it accepts; "
            "change what matters and delete the rest, or keep it to be explicit."
        ),
        "#",
        f"# Made by: {made_by}",
    ]
    if story_header:
        lines += ["#", f"# The story {story} says:"]
        lines += [f"#   {line}" if line else "#" for line in story_header]
    return lines


def scenario_text(
    params: ModelParams | None = None,
    *,
    name: str = "scenario",
    story: str | None = None,
    story_header: list[str] | None = None,
    made_by: str | None = None,
    title: str | None = None,
) -> str:
    """A commented scenario file holding ``params`` (default: the defaults), every field written.

    Args:
        params: the parameters to write (a story's); ``None`` writes the defaults.
        name: the scenario's name, for its header.
        story: the shipped story ``params`` come from, named in the header.
        story_header: that story's header lines, quoted in the new file's header.
        made_by: what wrote the file, for its header (default: the ``cxsim new`` command).
        title: the header's first line after the name (default: a request to write one).

    """
    # The defaults as a scenario file gets them: with its seed (1) written, not left unset.
    defaults = resolve(None).model_dump(mode="json")
    values = params.model_dump(mode="json") if params is not None else defaults
    tables = _tables()
    lines = _header(name, story, story_header or [], made_by, title)
    lines += ["", *_comment("The model's world this file was written for (see CHANGELOG.md).")]
    lines.append(f'{WORLD_KEY} = "{WORLD_VERSION}"')
    for table, fields in tables.items():
        if table.startswith("companies."):
            continue
        lines += _section(f"{table}: {_group_doc(table)}")
        lines += ["", *_table_lines(f"[{table}]", table, fields, get_dotted(values, table),
                                    get_dotted(defaults, table))]  # fmt: skip
    lines += _company_lines(tables, values["companies"], defaults["companies"])
    return "\n".join(lines) + "\n"


def target_path(name: str) -> Path:
    """The file ``cxsim new NAME`` writes: ``NAME.toml`` (``NAME`` may hold a folder).

    Raises:
        InputError: for an empty name, a missing folder, or a file that exists.

    """
    path = Path(name)
    if path.suffix != ".toml":
        path = path.with_name(path.name + ".toml")
    if not path.stem or path.stem.startswith("."):
        raise InputError(f"{name}: expected a scenario name, such as my_market")
    if not path.parent.is_dir():
        raise InputError(f"{path}: the folder {path.parent} does not exist")
    if path.exists():
        raise InputError(
            f"{path}: exists; cxsim new never replaces a file (choose another name, or remove it)"
        )
    return path


def write_new(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, never over an existing file.

    Raises:
        InputError: if ``path`` exists (a writer got there first) or cannot be written.

    """
    from cxsim.files import atomic_write_text

    try:
        atomic_write_text(path, text, replace=False)
    except FileExistsError:
        raise InputError(f"{path}: exists; cxsim new never replaces a file") from None
    except OSError as err:
        raise InputError(f"{path}: cannot write: {err.strerror or err}") from None


def scenario_name(path: Path) -> str:
    """How the header names a new scenario: its file's stem."""
    return os.path.splitext(path.name)[0]
