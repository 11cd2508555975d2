"""The notebooks in notebooks/: executed against a real smoke run, so
they never rot, and committed without output.

Each notebook takes its run directories from a cell tagged
``parameters``; the tests put a cell with their own values right after
it, as papermill does, and run the notebook with nbclient in a fresh
kernel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
BASELINE = NOTEBOOKS.parent / "reports" / "baselines" / "smoke"
TIMEOUT_S = 600
"""Per cell: the machine may be busy."""


def _execute(name: str, parameters: dict[str, Any]) -> Any:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [
        index
        for index, cell in enumerate(notebook.cells)
        if "parameters" in cell.metadata.get("tags", [])
    ]
    assert len(tagged) == 1, f"{name}: one cell must be tagged parameters"
    source = "\n".join(
        f"{key} = {value!r}" for key, value in parameters.items()
    )
    injected = nbformat.v4.new_code_cell(source)
    notebook.cells.insert(tagged[0] + 1, injected)

    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    return notebook


def _outputs(notebook: Any) -> list[dict[str, Any]]:
    return [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    ]


def _text(notebook: Any) -> str:
    parts = []
    for output in _outputs(notebook):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.timeout(900)
def test_run_analysis_runs_on_a_smoke_run(smoke_run: Path) -> None:
    """The analysis notebook runs through on a real run without error,
    draws its plots, and reports the run it was given."""
    notebook = _execute("run_analysis.ipynb", {"run_dir": str(smoke_run)})

    outputs = _outputs(notebook)
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4
    assert "scenario smoke, seeds (1,)" in _text(notebook)


@pytest.mark.timeout(900)
def test_run_comparison_runs_on_two_runs(smoke_run: Path) -> None:
    """The comparison notebook runs through on the committed baseline
    and a shorter smoke run, plots both and prints the gate's verdict."""
    notebook = _execute(
        "run_comparison.ipynb",
        {"baseline_dir": str(BASELINE), "candidate_dir": str(smoke_run)},
    )

    outputs = _outputs(notebook)
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert "verdict: " in _text(notebook)


@pytest.mark.parametrize(
    "path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name
)
def test_notebooks_are_committed_without_output(path: Path) -> None:
    """No committed notebook holds outputs or execution counts."""
    notebook = nbformat.read(path, as_version=4)

    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has output"
            assert cell.execution_count is None, path.name


def test_there_are_notebooks() -> None:
    """notebooks/ holds the analysis of one run and the comparison."""
    names = {path.name for path in NOTEBOOKS.glob("*.ipynb")}

    assert {"run_analysis.ipynb", "run_comparison.ipynb"} <= names
