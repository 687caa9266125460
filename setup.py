"""Build hook: ship the top-level ``scenarios/`` folder inside the package as ``cxsim/scenarios/``.

Everything else about the package is in ``pyproject.toml``. The scenarios live
at the top of the repository, where researchers read and copy them; a wheel
(``pip install cxsim``, ``pip install .``) must carry them so that
``cxsim run manage_vs_fix`` works without a checkout. An editable install
reads them from the checkout instead (see ``cxsim.scenario.SCENARIO_DIR``).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithScenarios(build_py):
    """``build_py`` that also copies ``scenarios/*.toml`` into the built package."""

    def run(self) -> None:
        """Build the package, then add the scenarios (not for an editable install)."""
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "cxsim" / "scenarios"
        self.mkpath(str(target))
        for path in sorted((ROOT / "scenarios").glob("*.toml")):
            self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildPyWithScenarios})
