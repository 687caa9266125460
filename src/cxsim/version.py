"""The version of cxsim and of its default world, importable without importing the model.

The **world** is the model's rules and default parameters: what a scenario file
means. It has its own version, :data:`WORLD_VERSION`, raised whenever a rule or a
default changes what a scenario's results are (not for a new feature, a faster
engine or a new output). A scenario file may pin the world it was written for
(``world = "3"`` at its top); :func:`cxsim.params.resolve` refuses a file pinned
to another world, so an old file never silently gives new numbers.
``CHANGELOG.md`` says what each world changed.
"""

__version__ = "0.1.0"

#: The world this cxsim runs (see CHANGELOG.md): 1 was cxsim 0.1.0's; 2 had the behavioural
#: core of two-time-scale attitudes, loss size, referral and CFO economics, with provisional
#: defaults; 3 is that core with the defaults fitted jointly (experiments/world_fit.toml).
WORLD_VERSION = "3"
