"""A griffe extension for the API pages: Sphinx roles in docstrings shown as code.

cxsim's docstrings name other objects the Sphinx way (``:func:`cxsim.run.run_market```,
``:class:`~cxsim.params.ModelParams```), which Markdown would print literally. This
extension rewrites each role as inline code (``~`` keeps the last part of the name, as in
Sphinx) before mkdocstrings renders the docstring. mkdocs.yml loads it; it is not a page.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

#: ``:role:`target``` with the Sphinx roles the docstrings use.
ROLE = re.compile(r":(?:func|class|mod|meth|data|attr|exc|obj|const):`(~?)([^`]+)`")


def _plain(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring as inline code."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_plain, obj.docstring.value)
