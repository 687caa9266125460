"""Parameters that were renamed or removed: what to write instead.

A scenario file, ``--set``, a sweep factor or ``Market(**overrides)`` that names
a retired key is refused, as any unknown key is, but with a message that names
the parameter that replaced it and the world that changed it (see
``CHANGELOG.md``), instead of a guess at a similar name. The checks that report
unknown keys (:func:`cxsim.params.errors.describe_error` and
:func:`cxsim.params.keys.field_info`) ask :func:`retired_message`, so every
channel says the same.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Retired:
    """A parameter that no longer exists.

    Attributes:
        world: the world that retired it (see ``cxsim.version.WORLD_VERSION``).
        renamed_to: its new dotted key, for a parameter renamed with the same meaning.
        instead: for a parameter removed, what to write instead, in words.

    """

    world: str
    renamed_to: str | None = None
    instead: str = ""

    def message(self) -> str:
        """What a person reads: what happened to the key and what to write instead."""
        if self.renamed_to is not None:
            return (
                f"renamed to {self.renamed_to} in world {self.world}; write {self.renamed_to} "
                "instead (see CHANGELOG.md)"
            )
        return f"removed in world {self.world}: {self.instead} (see CHANGELOG.md)"


#: Retired keys, written generically (``companies.N.…`` for any company), and what became of them.
RETIRED: dict[str, Retired] = {
    "behaviour.attitude.problem_serious": Retired(
        world="2",
        instead="a serious problem now moves attitude by behaviour.attitude.problem_minor "
        "times behaviour.attitude.serious_loss_scale (which also scales what happens to the "
        "problem); set serious_loss_scale instead",
    ),
}


def retired_message(parts: tuple[str | int, ...] | list[str | int]) -> str | None:
    """The message for a retired key given as its parts (``('companies', 0, 'policy', 'x')``)."""
    generic = ".".join("N" if isinstance(p, int) or p == "N" else str(p) for p in parts)
    found = RETIRED.get(generic)
    return found.message() if found is not None else None
