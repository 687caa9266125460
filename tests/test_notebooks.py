"""The notebooks in notebooks/ run from top to bottom, as a reader would run them."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks_for_running_comparing_and_sweeping() -> None:
    assert [p.stem.split("_", 1)[1] for p in NOTEBOOKS] == [
        "run_a_scenario",
        "compare_two_policies",
        "read_a_sweep",
    ]


def test_notebooks_are_committed_without_outputs() -> None:
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs, f"{path.name}: clear the outputs before committing"
                assert cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_without_errors_and_shows_tables_and_figures(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Figures as plotly's JSON (what JupyterLab and VS Code render), not with plotly.js inlined.
    monkeypatch.setenv("PLOTLY_RENDERER", "plotly_mimetype")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on an error
    kinds = {
        kind
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        for kind in output.get("data", {})
    }
    assert "text/html" in kinds, f"{path.name} shows no table"
    assert "application/vnd.plotly.v1+json" in kinds, f"{path.name} shows no figure"
