"""Bad input and exit codes: what every ``cxsim`` command and input surface share.

Every problem with something a person wrote (a scenario file, ``--set``, a
sweep plan, a calibration file, a dashboard control, an edge list) is raised
as an :class:`InputError` whose message is one line naming the file (or the
control) and the field, and what was expected. The commands print that line
and exit with :data:`EXIT_BAD_INPUT`, having written nothing.
"""

from __future__ import annotations

#: Everything went as asked.
EXIT_OK = 0
#: Something failed that is not the input's fault: a bug, a run that raised, a cluster not reached.
EXIT_FAILED = 1
#: Bad input: one line on stderr naming the file and the field; nothing written.
EXIT_BAD_INPUT = 2
#: An optional part of cxsim is not installed (``pip install 'cxsim[dashboard]'``).
EXIT_MISSING_EXTRA = 3
#: Interrupted (Ctrl+C); what finished is kept where the command says so.
EXIT_INTERRUPTED = 130


class InputError(ValueError):
    """Bad input: the message is one line naming the file (or control), the field and what was expected."""
