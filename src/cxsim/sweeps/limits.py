"""How large a sweep may be unless its user says otherwise (a light module: the CLI's help reads it)."""

#: Most runs a plan may have unless ``--max-runs`` (``max_runs=``) raises it: a slip such as
#: ``levels = 10000`` for 10, or a zero too many in ``replications``, costs one line, not
#: days of computing or a machine out of memory.
DEFAULT_MAX_RUNS = 100_000
