"""The version of cxsim, importable without importing the model."""

__version__ = "0.1.0"
