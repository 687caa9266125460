"""The stages of the simulated day, one module each; :mod:`cxsim.day` runs them in order."""
