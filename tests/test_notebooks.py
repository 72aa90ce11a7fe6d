"""Run the notebooks' code cells, at a small size, so that they keep working."""

from __future__ import annotations

import json
import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs(path, monkeypatch, capsys):
    monkeypatch.setenv("AIHW_JAX_NOTEBOOK_SAMPLES", "256")
    monkeypatch.setenv("AIHW_JAX_NOTEBOOK_EPOCHS", "1")
    notebook = json.loads(path.read_text(encoding="utf-8"))
    namespace: dict = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), str(path), "exec"), namespace)
    output = capsys.readouterr().out
    assert "Epoch 1/1" in output or "wrote" in output
