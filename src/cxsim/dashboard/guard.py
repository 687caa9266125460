"""What the server accepts from a browser: well-formed callback requests, and no file it names.

The page runs on a server that students' browsers (or anyone who can reach
``--host``) talk to, so every request is treated as untrusted:

* :func:`install` makes a request to ``/_dash-update-component`` that is not a
  well-formed call of one of the page's callbacks (not JSON, an unknown
  callback, inputs of the wrong number or shape) a ``400 Bad Request`` before
  Dash sees it, and any error Dash still raises while reading a request a
  ``400`` too: never a ``500``, and the server stays up. A callback that raises
  shows a message in words in the page's message bar instead (:func:`on_error`).
* :class:`StoryFiles` is the set of files the server may read once it has
  started: the network files of the stories it loaded at start-up (the shipped
  scenarios and the one named on the command line). Every run is checked
  against it before it is simulated.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
from dash import Dash, set_props
from werkzeug.exceptions import HTTPException

from cxsim import networks
from cxsim.dashboard.controls import ControlError
from cxsim.params import ModelParams, NetworkKind

log = logging.getLogger(__name__)

#: Dash's callback route.
CALLBACK_ROUTE = "_dash-update-component"

#: What the student reads when a callback fails for a reason that is not their input.
FAILED_MESSAGE = (
    "Something went wrong on the server while answering the page (the server's log has the "
    "details). The charts show the last good result; try again, or reload the page."
)


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class StoryFiles:
    """The network files the server may read: those of the stories loaded at start-up."""

    paths: frozenset[Path]

    @classmethod
    def of(cls, stories: Iterable[Any]) -> StoryFiles:
        """The network files of ``stories`` (each with ``params`` and ``base_dir``)."""
        return cls(
            frozenset(
                _real(networks.file_path(s.params.network, s.base_dir))
                for s in stories
                if s.params.network.kind == NetworkKind.file
            )
        )

    def check(self, params: ModelParams, base_dir: Path | None) -> None:
        """Refuse a run whose network file is not one of the stories' own.

        Raises:
            ControlError: naming the control, never the path.

        """
        if params.network.kind != NetworkKind.file:
            return
        if _real(networks.file_path(params.network, base_dir)) not in self.paths:
            raise ControlError("Who knows whom: the page reads no network file but a story's own")


def _real(path: Path) -> Path:
    return Path(path).resolve()


# --------------------------------------------------------------------------- requests


def _is_all(declared_id: str) -> bool:
    """Whether a declared (pattern-matching) id matches ALL components: the body sends a list."""
    return declared_id.startswith("{") and '["ALL"]' in declared_id


def _is_item(item: Any) -> bool:
    """One input, state or output of a request: ``{"id": ..., "property": str, ...}``."""
    return (
        isinstance(item, dict)
        and isinstance(item.get("property"), str)
        and isinstance(item.get("id"), str | dict)
    )


def _items_problem(sent: Any, declared: list[dict[str, Any]], what: str) -> str | None:
    if not isinstance(sent, list) or len(sent) != len(declared):
        return f"{what}: expected a list of {len(declared)}"
    for i, (item, spec) in enumerate(zip(sent, declared, strict=True)):
        if _is_all(str(spec.get("id", ""))):
            if not isinstance(item, list) or not all(_is_item(x) for x in item):
                return f"{what}[{i}]: expected a list of components"
        elif not _is_item(item) or item["property"] != spec.get("property"):
            return f"{what}[{i}]: expected the component {spec.get('id')}.{spec.get('property')}"
    return None


def _declared_outputs(output: str) -> list[dict[str, str]]:
    """The outputs named by a callback's key (``..a.b...c.d..`` when it has several)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    specs = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        specs.append({"id": ident, "property": prop})
    return specs


def request_problem(body: Any, callback_map: dict[str, Any]) -> str | None:
    """Why ``body`` is not a well-formed call of one of the page's callbacks, or ``None``."""
    if not isinstance(body, dict):
        return "expected a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return "output: not a callback of this page"
    callback = callback_map[output]
    for key, declared in (("inputs", callback["inputs"]), ("state", callback["state"])):
        problem = _items_problem(body.get(key, []), declared, key)
        if problem:
            return problem
    outputs = _declared_outputs(output)
    sent = body.get("outputs")
    if len(outputs) == 1 and not output.startswith(".."):
        sent = [sent]
    problem = _items_problem(sent, outputs, "outputs")
    if problem:
        return problem
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds: expected a list of strings"
    return None


def _bad_request(reason: str) -> flask.Response:
    return flask.Response(
        json.dumps({"error": f"bad request: {reason}"}),
        status=400,
        mimetype="application/json",
    )


def install(app: Dash) -> None:
    """Answer malformed callback requests with ``400`` (never ``500``) on ``app``'s server."""
    server = app.server
    route = f"{app.config.requests_pathname_prefix}{CALLBACK_ROUTE}"

    @server.before_request
    def check_callback_request() -> flask.Response | None:
        if flask.request.method != "POST" or flask.request.path != route:
            return None
        body = flask.request.get_json(silent=True)
        if body is None:
            return _bad_request("expected a JSON body")
        problem = request_problem(body, app.callback_map)
        return _bad_request(problem) if problem else None

    @server.errorhandler(Exception)
    def answer_error(error: Exception) -> Any:
        if isinstance(error, HTTPException):
            return error
        if flask.request.path == route:
            # The request passed the shape check but Dash could not use it: still the client's.
            log.warning("refused a callback request Dash could not use", exc_info=error)
            return _bad_request("the page's request could not be used")
        log.error("dashboard request failed", exc_info=error)
        return flask.Response("internal error", status=500, mimetype="text/plain")


def on_error(error: Exception) -> None:
    """Dash's handler of a callback that raised: log it, tell the student in words, change nothing."""
    log.error("dashboard callback failed", exc_info=error)
    set_props("message", {"children": FAILED_MESSAGE, "className": "cx-message cx-error"})
