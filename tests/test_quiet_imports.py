"""A run's notebooks and the docs pages show no noise from importing MLflow: in a notebook kernel without ipywidgets,
`tqdm.autonotebook` (which MLflow imports) warns "IProgress not found"; `tracking._import_mlflow` keeps it out. Each
check runs its code in a fresh Jupyter kernel, as a run's step notebooks and `make docs` do."""
import importlib.util

import nbformat
import pytest
from nbclient import NotebookClient


def stderr_in_a_kernel(code: str) -> str:
    "What one code cell writes to stderr, run in a fresh python3 kernel."
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name="python3", timeout=180).execute()
    return "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("name") == "stderr")


def test_tqdm_warns_in_a_kernel_without_ipywidgets():
    "The control: the warning is real here, so the check below can fail."
    if importlib.util.find_spec("ipywidgets"):
        pytest.skip("ipywidgets is installed: tqdm draws its widget and never warns")
    assert "IProgress not found" in stderr_in_a_kernel("import tqdm.autonotebook")


def test_mlflow_is_imported_quietly():
    err = stderr_in_a_kernel("from aerial_nb.tracking import _import_mlflow\n"
                             "mlflow = _import_mlflow()\n"
                             "from mlflow.tracking import MlflowClient")
    assert "IProgress" not in err, err
