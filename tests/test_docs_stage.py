"""docs/stage.py on small notebooks: which copy a page comes from, what a reader sees of nbdev's directives, and the
warning when executed outputs belong to older code. (The built site itself: tests/test_docs_site.py.)"""
import json
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers import ROOT

sys.path.insert(0, str(ROOT / "docs"))
import stage  # noqa: E402


def notebook(path, *cells, outputs=False):
    nb = new_notebook(cells=[new_markdown_cell("# 07 · Example\n\n> one line"), *cells])
    if outputs:
        for c in nb.cells:
            if c.cell_type == "code": c.outputs = [new_output("stream", name="stdout", text="ran\n")]
    nbformat.write(nb, path)
    return path


def test_hidden_cells_and_directives_are_not_shown(tmp_path):
    src = notebook(tmp_path / "07_example.ipynb", new_code_cell("#| default_exp example"),
                   new_code_cell("#| hide\nimport secret_test_helpers"),
                   new_code_cell("#|export\ndef f(): return 1"), new_code_cell("# | exporti\n\ndef _g(): pass"),
                   new_code_cell("assert f() == 1"))
    (tmp_path / "site").mkdir()
    title = stage.stage_notebook(src, None, "ignored", [], dest=tmp_path / "site")
    page = nbformat.read(tmp_path / "site" / src.name, as_version=4)
    code = [c.source for c in page.cells if c.cell_type == "code"]
    assert title == "07 · Example"
    assert code == ["def f(): return 1", "def _g(): pass", "assert f() == 1"]
    # the origin note sits under the title and says the page has no outputs
    assert page.cells[1].cell_type == "markdown" and "none" in page.cells[1].source


def test_an_executed_copy_is_used_and_stale_outputs_are_reported(tmp_path):
    src = notebook(tmp_path / "07_example.ipynb", new_code_cell("x = 1"), new_code_cell("print(x)"))
    (tmp_path / "run").mkdir(); (tmp_path / "site").mkdir()
    executed = notebook(tmp_path / "run" / src.name, new_code_cell("x = 1"), new_code_cell("print(x)"), outputs=True)
    executed_nb = nbformat.read(executed, as_version=4)
    executed_nb.cells.insert(1, new_code_cell("x = 2", metadata={"tags": ["injected-parameters"]}))
    nbformat.write(executed_nb, executed)
    stale = []
    stage.stage_notebook(src, executed, "executed in run r1", stale, dest=tmp_path / "site")
    page = nbformat.read(tmp_path / "site" / src.name, as_version=4)
    assert stale == [] and "run r1" in page.cells[1].source
    assert [c.source for c in page.cells if c.cell_type == "code"] == ["x = 2", "x = 1", "print(x)"]  # the run's parameters shown
    assert [o.text for c in page.cells if c.cell_type == "code" for o in c.outputs] == ["ran\n"] * 2
    # the same executed copy against changed code: still shown, but reported as stale
    notebook(src, new_code_cell("x = 1"), new_code_cell("print(x + 1)"))
    stage.stage_notebook(src, executed, "executed in run r1", stale, dest=tmp_path / "site")
    assert len(stale) == 1 and src.name in stale[0]


def test_newest_finished_run_skips_failed_and_running_ones(tmp_path):
    for run_id, status in [("20261130-100000-a", "finished"), ("20261130-110000-b", "finished"),
                           ("20261130-120000-c", "failed"), ("20261130-130000-d", "running")]:
        (tmp_path / "runs" / run_id).mkdir(parents=True)
        (tmp_path / "runs" / run_id / "status.json").write_text(json.dumps({"status": status}))
    (tmp_path / "runs" / "20261130-140000-e").mkdir()   # no status.json at all
    assert stage.newest_finished_run(tmp_path).name == "20261130-110000-b"
    assert stage.newest_finished_run(tmp_path / "nothing") is None
