"""Public names imported on first use (PEP 562), so that importing a package stays fast."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(
    package: str, names: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose ``names`` map to the modules defining them.

    Args:
        package: the package's name (for the error of an unknown name).
        names: public name -> the module that defines it.
        namespace: the package's ``globals()``, where a name is cached once imported.

    """

    def getattr_(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(module)
        # A name that is the module itself is a package called as a function (cxsim.calibrate).
        value = imported if module == f"{package}.{name}" else getattr(imported, name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace.get("__all__", ()), *names})

    return getattr_, dir_
